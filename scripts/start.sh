#!/usr/bin/env bash
# The main job: installs what is missing, builds the package, the demo app (Vite + React) and the
# sync server, starts ferroproof-server on http://127.0.0.1:${SYNC_PORT:-8787} with its default
# filesystem store (./ferroproof-data) and UCAN authorization on (docs/auth.md: each browser profile
# gets a device key, the one that creates the ledger is its admin, Share makes a one-time invite),
# and serves the demo on http://127.0.0.1:${PORT:-8080}/ (data in IndexedDB, synced through the
# server). SYNC_OPEN=1 runs the server with --open instead: no authorization, for development only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
bash scripts/build-www.sh
cargo build -p ferroproof-server --quiet
target/debug/ferroproof-server --listen "127.0.0.1:${SYNC_PORT:-8787}" ${SYNC_OPEN:+--open} &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT INT TERM
node scripts/serve.mjs target/www "${PORT:-8080}"
