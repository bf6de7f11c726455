#!/usr/bin/env bash
# `npm run bench`: builds pkg/ (unless SKIP_BUILD=1), bundles the bench pages with Vite into
# target/bench-dist/, then runs them in headless Chromium (bench/run.mjs), which prints the table
# and writes target/bench-results.md and target/bench-results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

if [ "${SKIP_BUILD:-0}" != "1" ]; then
  bash scripts/build.sh
fi
[ -f pkg/index.js ] || { echo "pkg/ is missing: run scripts/build.sh (or drop SKIP_BUILD=1)" >&2; exit 1; }

echo "[bench] bundling bench pages → target/bench-dist/"
vite build --config bench/vite.config.js
exec node bench/run.mjs
