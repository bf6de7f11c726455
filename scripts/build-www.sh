#!/usr/bin/env bash
# Type-checks and builds the demo app (www/) against the built package into target/www.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
tsc -p www/tsconfig.json
vite build --config www/vite.config.ts --logLevel warn
