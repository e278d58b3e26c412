#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries (initdb, postgres) are installed for
# the tests, which start their own throw-away servers on loopback
# (internal/pgtest). Installs Debian's postgresql package with apt-get when
# the machine is Debian-like and we are root; otherwise says what to install
# and fails.
set -euo pipefail

found() {
  if [ -n "${AUTHGATE_POSTGRES_BIN:-}" ]; then
    [ -x "${AUTHGATE_POSTGRES_BIN}/initdb" ] && [ -x "${AUTHGATE_POSTGRES_BIN}/postgres" ]
    return
  fi
  if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
    return 0
  fi
  # Debian keeps them off PATH, in /usr/lib/postgresql/<major>/bin.
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

found && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-postgres: PostgreSQL not found; installing it with apt-get" >&2
  "$(dirname "$0")/apt-install.sh" postgresql || true
  found && exit 0
fi

cat >&2 <<'MSG'
ensure-postgres: the tests need PostgreSQL's initdb and postgres binaries and none were found.
Install them, then run the tests again:
  Debian/Ubuntu:  sudo apt-get install postgresql
  Fedora/RHEL:    sudo dnf install postgresql-server
  macOS:          brew install postgresql
(or set AUTHGATE_POSTGRES_BIN to the directory holding initdb and postgres)
MSG
exit 1
