#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the project needs, only those missing.
# Usage: scripts/install-system-packages.sh [db|all]   (default: all)
#   db  : PostgreSQL + PostGIS (what `gridmap db up` needs)
#   all : also GDAL tools and Chromium (browser tests)
# Idempotent: with everything present it installs nothing and needs no network.
set -euo pipefail
what="${1:-all}"

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "error: need root (or sudo) to install: $*" >&2; exit 1; fi
}

updated=0
apt_install() {
  [ "$#" -eq 0 ] && return 0
  echo "installing system packages: $*"
  if [ "$updated" -eq 0 ]; then as_root apt-get update -qq; updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

missing=()
have_pkg postgresql || missing+=(postgresql)
have_pkg postgresql-contrib || missing+=(postgresql-contrib)
apt_install "${missing[@]+"${missing[@]}"}"

# PostGIS must match the server's major version (15 on Debian 12, 14/16 on Ubuntu).
pgver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
if [ -z "$pgver" ]; then echo "error: PostgreSQL server did not install" >&2; exit 1; fi
missing=()
have_pkg "postgresql-$pgver-postgis-3" || missing+=("postgresql-$pgver-postgis-3")
if [ "$what" = all ]; then
  have_pkg gdal-bin || missing+=(gdal-bin)
  have_pkg chromium || missing+=(chromium)
  have_pkg fonts-noto-cjk || missing+=(fonts-noto-cjk)  # Chinese text in screenshots
fi
apt_install "${missing[@]+"${missing[@]}"}"
