#!/usr/bin/env bash
# The main job: installs what is missing, builds the package and the demo app (Vite + React), and
# serves the demo on http://127.0.0.1:${PORT:-8080}/ with the embedded default storage (IndexedDB).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
bash scripts/build-www.sh
exec node scripts/serve.mjs target/www "${PORT:-8080}"
