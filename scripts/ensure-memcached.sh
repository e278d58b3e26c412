#!/usr/bin/env bash
# Makes sure a memcached binary is on PATH for the tests, which start their own
# memcached processes on loopback (internal/memcachedtest). Installs it with
# apt-get when the machine is Debian-like and we are root; otherwise says what
# to install and fails.
set -euo pipefail

if [ -n "${AUTHGATE_MEMCACHED:-}" ] && [ -x "${AUTHGATE_MEMCACHED}" ]; then
  exit 0
fi
if command -v memcached >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-memcached: memcached not found; installing it with apt-get" >&2
  "$(dirname "$0")/apt-install.sh" memcached || true
  command -v memcached >/dev/null 2>&1 && exit 0
fi

cat >&2 <<'MSG'
ensure-memcached: the tests need a memcached binary on PATH and none was found.
Install it, then run the tests again:
  Debian/Ubuntu:  sudo apt-get install memcached
  Fedora/RHEL:    sudo dnf install memcached
  macOS:          brew install memcached
(or set AUTHGATE_MEMCACHED to the path of a memcached binary)
MSG
exit 1
