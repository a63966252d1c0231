# The README's two commands are `make demo` and `make test`; CI runs `make test`.
.PHONY: setup demo test lint format db-up audit

GRIDMAP := .venv/bin/gridmap
# setup.sh installs uv into ~/.local/bin when it is not on PATH.
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

setup:
	bash scripts/setup.sh

demo: setup
	$(GRIDMAP) db up
	$(GRIDMAP) sample load
	$(GRIDMAP) serve

test: setup lint
	$(GRIDMAP) db up
	.venv/bin/pytest
	@# The dependency audit reports in every CI run; a finding does not fail the tests
	@# (run `make audit` on its own for a gate before a release).
	-@$(MAKE) --no-print-directory audit

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

db-up:
	$(GRIDMAP) db up

# Known vulnerabilities in the locked dependencies. Offline (no vulnerability DB
# reachable) it warns and succeeds, so intranet builds are not blocked.
audit:
	@req=$$(mktemp); out=$$(mktemp); \
	$(UV) export --frozen --format requirements-txt --no-emit-project > $$req || exit 1; \
	.venv/bin/pip-audit -r $$req --disable-pip --progress-spinner off > $$out 2>&1; \
	rc=$$?; \
	if [ $$rc -ne 0 ] && grep -qiE "connection|resolve|timed out|network|offline|max retries|ssl" $$out; then \
		echo "warning: vulnerability database unreachable from here; dependency audit skipped (run make audit where it is reachable)"; \
		rc=0; else grep -vE "could not be audited|^Name +Skip Reason$$|^-+ +-+$$" $$out || true; fi; \
	n=$$(grep -c "could not be audited" $$out); if [ "$$n" -gt 0 ]; then \
		echo "warning: $$n package(s) not found in the vulnerability database (private index or offline?); not audited"; fi; \
	rm -f $$req $$out; exit $$rc
