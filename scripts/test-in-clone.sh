#!/usr/bin/env bash
# `npm run test:clone`: the whole suite from a fresh clone in a private directory, as a new user or
# a CI job would run it: clone the committed HEAD into `mktemp -d` (mode 0700), `npm ci` (from the
# local npm cache when it can), `npm test`. Exits with the code of `npm test`; removes the clone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "test-in-clone: $(git -C "$root" rev-parse --short HEAD) cloned into $dir/hitl-runs ($(stat -c %a "$dir"))"
git clone --quiet "$root" "$dir/hitl-runs"
cd "$dir/hitl-runs"
npm ci --prefer-offline --no-audit --no-fund
npm test -- "$@"
