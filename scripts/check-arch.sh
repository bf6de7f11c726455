#!/usr/bin/env bash
# Fails if JS-facing names (wasm_bindgen, js_sys, web_sys, JsValue) appear in the engine core:
# only src/bindings* and the IndexedDB store (src/store/idb.rs, src/store/idb/) may name them.
set -euo pipefail
cd "$(dirname "$0")/.."
leaks=$(grep -rlE '\b(wasm_bindgen|js_sys|web_sys|JsValue)\b' src | grep -vE '^src/(bindings(\.rs|/)|store/idb(\.rs$|/))' || true)
if [ -n "$leaks" ]; then
  echo "JS names outside src/bindings and the IndexedDB store:"
  echo "$leaks"
  exit 1
fi
echo "check-arch: engine core is free of JS names"
