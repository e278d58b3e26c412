#!/usr/bin/env bash
# Runs every Go fuzz target of the main and grpcauth modules for a short while
# (default 10s each).
# Usage: scripts/fuzz.sh [duration]
set -euo pipefail
fuzztime=${1:-10s}
cd "$(dirname "$0")/.."

found=0
for module in . grpcauth; do
  for pkg in $(cd "$module" && go list ./...); do
    targets=$(cd "$module" && go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
    for target in $targets; do
      found=1
      echo "== $pkg $target ($fuzztime)"
      (cd "$module" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg")
    done
  done
done
[ "$found" -eq 1 ] || echo "no fuzz targets yet"
