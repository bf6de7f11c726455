#!/usr/bin/env bash
# The main job: installs what is missing, builds the package and the demo, and serves the demo on
# http://127.0.0.1:${PORT:-8080}/ with the embedded default storage (IndexedDB in the browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
rm -rf target/www && mkdir -p target/www
cp -r www/* target/www/
cp -r pkg target/www/pkg
exec node scripts/serve.mjs target/www "${PORT:-8080}"
