#!/usr/bin/env bash
# Makes sure an nginx binary with the auth_request module is there for the
# tests, which start their own nginx processes on loopback
# (internal/nginxtest). Installs Debian's nginx with apt-get when the machine
# is Debian-like and we are root; otherwise says what to install and fails.
set -euo pipefail

find_nginx() {
  if [ -n "${AUTHGATE_NGINX:-}" ] && [ -x "${AUTHGATE_NGINX}" ]; then
    echo "${AUTHGATE_NGINX}"
  elif command -v nginx >/dev/null 2>&1; then
    command -v nginx
  elif [ -x /usr/sbin/nginx ]; then
    echo /usr/sbin/nginx
  fi
}

has_auth_request() {
  "$1" -V 2>&1 | grep -q -- '--with-http_auth_request_module'
}

bin=$(find_nginx)
if [ -n "$bin" ] && has_auth_request "$bin"; then
  exit 0
fi

if [ -z "$bin" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-nginx: nginx not found; installing it with apt-get" >&2
  "$(dirname "$0")/apt-install.sh" nginx || true
  bin=$(find_nginx)
  if [ -n "$bin" ] && has_auth_request "$bin"; then
    exit 0
  fi
fi

cat >&2 <<'MSG'
ensure-nginx: the tests need an nginx binary built with the auth_request
module (ngx_http_auth_request_module), and none was found.
Install it, then run the tests again:
  Debian/Ubuntu:  sudo apt-get install nginx
  Fedora/RHEL:    sudo dnf install nginx
  macOS:          brew install nginx
(or set AUTHGATE_NGINX to the path of an nginx binary)
MSG
exit 1
