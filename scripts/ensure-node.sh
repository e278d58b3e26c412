#!/usr/bin/env bash
# Makes sure Node.js (20.19 or later) and npm are on PATH for `make interop`,
# which runs panva's oidc-provider. Installs them with apt-get when missing
# and the machine is Debian-like and we are root; otherwise says what to
# install and fails. oidc-provider 9 supports Node 22 LTS and later and
# warns on Node 20, on which it runs.
set -euo pipefail

have_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}

if have_node; then
  exit 0
fi

if ! command -v node >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-node: node not found; installing nodejs and npm with apt-get" >&2
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  have_node && exit 0
fi

cat >&2 <<MSG
ensure-node: make interop needs Node.js 20.19 or later (22 LTS recommended) and npm;
found: $(node --version 2>/dev/null || echo "no node"), $(npm --version 2>/dev/null || echo "no npm").
Install them, then run make interop again:
  Debian/Ubuntu:  sudo apt-get install nodejs npm
  Fedora/RHEL:    sudo dnf install nodejs npm
  macOS:          brew install node
MSG
exit 1
