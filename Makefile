# The README's two commands are `make demo` and `make test`; CI runs `make test`.
.PHONY: setup demo test lint format db-up

GRIDMAP := .venv/bin/gridmap

setup:
	bash scripts/setup.sh

demo: setup
	$(GRIDMAP) db up
	$(GRIDMAP) sample load
	$(GRIDMAP) serve

test: setup lint
	$(GRIDMAP) db up
	.venv/bin/pytest

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

db-up:
	$(GRIDMAP) db up
