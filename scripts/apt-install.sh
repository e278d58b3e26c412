#!/usr/bin/env bash
# Installs Debian packages for the test suite, without starting their
# system services: policy-rc.d refuses every service start while it runs,
# since the tests start their own servers on free loopback ports. Fails
# (exit 1) when not root or not on a Debian-like machine, so that the
# caller can say what to install by hand.
# Usage: scripts/apt-install.sh package...
set -euo pipefail

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  exit 1
fi
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[ "$created_policy" -eq 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
