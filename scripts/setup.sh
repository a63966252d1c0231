#!/usr/bin/env bash
# One-time (and idempotent) setup: system packages, uv, and the locked Python venv.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9   # pinned: the lock file's format follows the uv that wrote it

bash scripts/install-system-packages.sh all

find_uv() {
  for c in "$(command -v uv 2>/dev/null || true)" "$HOME/.local/bin/uv"; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}

if ! uv=$(find_uv); then
  echo "installing uv $UV_VERSION (Python package manager)"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq python3-pip python3-venv
    else sudo apt-get install -y -qq python3-pip python3-venv; fi
  fi
  # Debian marks the system Python "externally managed"; uv alone goes to ~/.local.
  python3 -m pip install -q --user "uv==$UV_VERSION" 2>/dev/null \
    || python3 -m pip install -q --user --break-system-packages "uv==$UV_VERSION" \
    || python3 -m pip install -q "uv==$UV_VERSION"
  uv=$(find_uv) || { echo "error: uv did not install; see the pip output above" >&2; exit 1; }
fi

# Exactly the locked versions; fails loudly if pyproject.toml and uv.lock disagree.
"$uv" sync --frozen --python 3.11 --quiet
echo "setup done: .venv ready ($(.venv/bin/python --version))"
