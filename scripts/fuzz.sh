#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a short while (default 10s each).
# Usage: scripts/fuzz.sh [duration]
set -euo pipefail
fuzztime=${1:-10s}
cd "$(dirname "$0")/.."

found=0
for pkg in $(go list ./...); do
  targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
  for target in $targets; do
    found=1
    echo "== $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
[ "$found" -eq 1 ] || echo "no fuzz targets yet"
