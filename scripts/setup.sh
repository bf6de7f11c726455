#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine, idempotently:
# the wasm32 target, a pinned nightly with rust-src (for the release wasm only), wasm-bindgen-cli pinned to the crate's exact wasm-bindgen version,
# wasm-pack, Debian's Chromium + ChromeDriver, and the npm packages.
# Re-running it with everything present takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130
# The release wasm is built by this pinned nightly with the standard library rebuilt for size
# (scripts/build.sh; docs/benchmarks.md "Size"): it needs the rust-src component. Everything else
# (tests, clippy, the server and the CLI) uses the stable toolchain.
WASM_NIGHTLY=nightly-2026-05-20
WASM_PACK_VERSION=0.15.1
log() { printf '[setup] %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! rustup component list --toolchain "$WASM_NIGHTLY" --installed 2>/dev/null | grep -q '^rust-src'; then
  log "installing $WASM_NIGHTLY with rust-src (the size-optimised release wasm)"
  rustup toolchain install "$WASM_NIGHTLY" --profile minimal --component rust-src
fi

install_bindgen() {
  if [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $WASM_BINDGEN_VERSION" ] \
     && command -v wasm-bindgen-test-runner >/dev/null; then
    return
  fi
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # --locked can fail when the registry mirror lacks a locked transitive version; retry unlocked.
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --locked \
    || cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"
}

install_wasm_pack() {
  if [ "$(wasm-pack --version 2>/dev/null)" = "wasm-pack $WASM_PACK_VERSION" ]; then
    return
  fi
  log "installing wasm-pack $WASM_PACK_VERSION"
  cargo install wasm-pack --version "=$WASM_PACK_VERSION" --locked \
    || cargo install wasm-pack --version "=$WASM_PACK_VERSION"
}

install_chromium() {
  if dpkg -s chromium chromium-driver >/dev/null 2>&1; then
    return
  fi
  log "installing chromium + chromium-driver from Debian"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  $sudo apt-get install -y -q chromium chromium-driver
}

# apt runs while cargo compiles: they use different resources.
install_chromium > /tmp/setup-chromium.log 2>&1 &
apt_pid=$!
install_bindgen
install_wasm_pack
if ! wait "$apt_pid"; then
  cat /tmp/setup-chromium.log
  exit 1
fi

if [ -x /usr/bin/wasm-opt ]; then
  log "warning: /usr/bin/wasm-opt (Debian binaryen) breaks wasm-bindgen output; the build uses node_modules/.bin/wasm-opt"
fi

if [ -f package-lock.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund
  fi
else
  npm install --no-audit --no-fund
fi
log "done"
