#!/usr/bin/env bash
# The package as users meet it: npm pack the built pkg/, install the tarball into a fresh copy of
# a stock Vite + React app (tests/packaging/app), type-check and build it, then drive it in
# headless Chromium. Also checks that the published type declarations contain no `any`.
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -nE '(:|=>|<|\|)\s*any\b|\bany\[\]' pkg/*.d.ts pkg/wasm/*.d.ts pkg/wasm-sync/*.d.ts; then
  echo "published .d.ts files use any" >&2
  exit 1
fi
mkdir -p target
tarball=$(cd target && npm pack ../pkg --silent 2>/dev/null | tail -1)
app=target/packaging-app
rm -rf "$app"
cp -r tests/packaging/app "$app"
(cd "$app" && npm install --no-audit --no-fund --silent "../$tarball" && npx tsc --noEmit && npx vite build --logLevel warn)
port=5199
(cd "$app" && exec ./node_modules/.bin/vite --port $port --strictPort --host 127.0.0.1 --logLevel warn) &
dev=$!
trap 'kill $dev 2>/dev/null || true' EXIT
node tests/packaging/e2e.mjs "$app/dist" "http://127.0.0.1:$port/"
