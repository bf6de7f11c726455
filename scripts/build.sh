#!/usr/bin/env bash
# Builds the npm package into pkg/: release wasm (opt-level z, LTO, SIMD) → wasm-bindgen (web target)
# → wasm-opt (binaryen from npm; Debian's 108 breaks the output) → tsc → pkg/ with the template
# manifest. Prints the shipped sizes (raw and gzip -9).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/version = "\(.*\)"/\1/p')
if [ "$(wasm-bindgen --version)" != "wasm-bindgen $BINDGEN_VERSION" ]; then
  echo "wasm-bindgen CLI must be $BINDGEN_VERSION (run scripts/setup.sh)" >&2
  exit 1
fi

# The release wasm: the pinned nightly (scripts/setup.sh installs it) rebuilds the standard library
# for size, and a panic is a bare trap (the module never had a panic message to show: wasm32 has
# no stderr). −12.4 KB gz against the stable build of the same code (docs/benchmarks.md "Size").
# Its own target directory: the standard library it builds differs from stable's.
WASM_NIGHTLY=$(sed -n 's/^WASM_NIGHTLY=//p' scripts/setup.sh)
# Two builds of the engine (Cargo.toml, feature `sync`): js/wasm, the local engine every page
# loads, and js/wasm-sync, the full one a ledger loads when it attaches to a remote or starts from
# an archive (README "Two engine builds").
build_wasm() { # <out dir> <cargo feature args…>
  local out=$1
  shift
  RUSTFLAGS="-C target-feature=+simd128 -Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none" \
    cargo "+$WASM_NIGHTLY" build --release --target wasm32-unknown-unknown --lib --quiet "$@" \
    --target-dir target/wasm-size -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size
  rm -rf "$out"
  wasm-bindgen --target web --weak-refs --out-dir "$out" --out-name ferroproof \
    target/wasm-size/wasm32-unknown-unknown/release/ferroproof.wasm
  # short import, export and module names in the wasm and its glue (the hashed ones do not
  # compress): −2 KB gz
  node scripts/minify-wasm-names.mjs "$out"
  # --low-memory-unused: Rust never touches the lowest 1 KiB of memory (the stack sits below 1 MiB and
  # grows down from there; address 0 is null), so loads and stores can fold their offsets: −1.3 KB gz.
  # --ignore-implicit-traps: safe Rust checks bounds, division by zero and overflow itself, so no
  # load, store or division traps on its own; binaryen may then move or drop such code: −0.2 KB gz.
  # --strip-target-features goes last (binaryen reads the features from that section; browsers
  # ignore it).
  wasm-opt -Oz --low-memory-unused --converge --ignore-implicit-traps --strip-debug --strip-producers \
    --strip-target-features "$out/ferroproof_bg.wasm" -o "$out/ferroproof_bg.wasm"
}
build_wasm js/wasm --no-default-features
build_wasm js/wasm-sync
# Both builds share one IndexedDB module (the same source file, src/store/idb/idb.js): the glues
# import `wasm/idb.js` instead of their own snippet copies, so the package's `idbPreopen` (called
# while the engine compiles) hands its open database to whichever build opens the ledger.
cp js/wasm/snippets/ferroproof-*/src/store/idb/idb.js js/wasm/idb.js
rm -r js/wasm/snippets js/wasm-sync/snippets/ferroproof-*/src
sed -i -E "s#'\./snippets/ferroproof-[0-9a-f]+/src/store/idb/idb\.js'#'./idb.js'#" js/wasm/ferroproof.js
sed -i -E "s#'\./snippets/ferroproof-[0-9a-f]+/src/store/idb/idb\.js'#'../wasm/idb.js'#" js/wasm-sync/ferroproof.js
grep -q "'./idb.js'" js/wasm/ferroproof.js && grep -q "'../wasm/idb.js'" js/wasm-sync/ferroproof.js
printf '%s\n' '/** Opens (creating if needed) IndexedDB database `name` ahead of the engine (src/store/idb/idb.js). */' \
  'export function idbPreopen(name: string): void;' > js/wasm/idb.d.ts

rm -rf target/js-dist pkg
tsc -p js/tsconfig.json
mkdir -p pkg/wasm
cp target/js-dist/*.js target/js-dist/*.d.ts pkg/
mkdir -p pkg/connectors
cp target/js-dist/connectors/*.js target/js-dist/connectors/*.d.ts pkg/connectors/
mkdir -p pkg/auth
cp target/js-dist/auth/*.js target/js-dist/auth/*.d.ts pkg/auth/
for w in wasm wasm-sync; do
  mkdir -p pkg/$w
  cp js/$w/ferroproof.js js/$w/ferroproof_bg.wasm pkg/$w/
  if [ -d js/$w/snippets ]; then cp -r js/$w/snippets pkg/$w/; fi
  # The glue's internal InitOutput signatures say `any`: the published types say `unknown`. Its
  # `[Symbol.dispose]` declaration needs lib esnext; consumers on es2022 must type-check too.
  sed -E -e 's/\bany\b/unknown/g' -e '/\[Symbol\.dispose\]/d' js/$w/ferroproof.d.ts > pkg/$w/ferroproof.d.ts
done
cp js/wasm/idb.js js/wasm/idb.d.ts pkg/wasm/
# Ship minified modules (with source maps).
node scripts/minify.mjs pkg/*.js pkg/connectors/*.js pkg/auth/*.js $(find pkg/wasm pkg/wasm-sync -name "*.js")
cp pkg-template/package.json pkg/
cp README.md pkg/ 2>/dev/null || true

bash scripts/size-budget.sh --report
