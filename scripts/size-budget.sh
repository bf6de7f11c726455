#!/usr/bin/env bash
# Fails when the built package (pkg/: wasm + every JS module, each gzip -9) is over its budget:
# 150 KB = 150,000 bytes gzipped (issue 2, point 10; docs/benchmarks.md "Size").
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${SIZE_BUDGET_BYTES:-150000}
wasm_gz=$(gzip -9c pkg/wasm/ferroproof_bg.wasm | wc -c)
js_gz=$(cat pkg/*.js $(find pkg/wasm -name "*.js") | gzip -9c | wc -c)
total=$((wasm_gz + js_gz))
echo "[size] wasm ${wasm_gz} B + js ${js_gz} B = ${total} B gzipped (budget ${BUDGET} B)"
if [ "$total" -gt "$BUDGET" ]; then
  echo "[size] over budget by $((total - BUDGET)) B" >&2
  exit 1
fi
