#!/usr/bin/env bash
# Runs every test: lints, native engine tests (cargo test, with property tests), browser tests of
# the engine against IndexedDB (wasm-pack test in headless Chromium), then the built package in
# headless Chromium (Playwright). Runs all suites, then repeats each runner's summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CHROMEDRIVER=/usr/bin/chromedriver

bash scripts/setup.sh || exit 1
LOG=target/test-logs
rm -rf "$LOG" && mkdir -p "$LOG"
failed=()
step() {
  local name=$1
  shift
  echo "=== $name: $*"
  if ! "$@" 2>&1 | tee "$LOG/$name.log"; then
    failed+=("$name")
  fi
}

step arch bash scripts/check-arch.sh
step fmt cargo fmt --check
step clippy cargo clippy --all-targets --quiet -- -D warnings
step clippy-wasm cargo clippy --target wasm32-unknown-unknown --all-targets --quiet -- -D warnings
# the local engine build (without the `sync` feature: README "Two engine builds")
step clippy-wasm-local cargo clippy --target wasm32-unknown-unknown --lib --no-default-features --quiet -- -D warnings
step cargo-test cargo test
# Sync server (server/): its S3 tier runs against a real SeaweedFS on 127.0.0.1 (installed into
# .venv-seaweedfs/ on first use). The S3 tests are #[ignore]d for a plain `cargo test` (no S3 server
# there) and run here with --include-ignored; they fail without FERROPROOF_S3_ENDPOINT, and a failed
# start fails the run.
if weed_env=$(bash scripts/seaweedfs.sh start target/seaweedfs); then
  eval "$weed_env"
  trap 'bash scripts/seaweedfs.sh stop target/seaweedfs' EXIT
else
  failed+=("seaweedfs")
fi
step clippy-server cargo clippy -p ferroproof-server --all-targets --quiet -- -D warnings
step server-test cargo test -p ferroproof-server -- --include-ignored
step clippy-cli cargo clippy -p ferroproof-cli --all-targets --quiet -- -D warnings
step cli-test cargo test -p ferroproof-cli
bash scripts/seaweedfs.sh stop target/seaweedfs
step wasm-test wasm-pack test --headless --chrome -- --test web
step build bash scripts/build.sh
step size-budget bash scripts/size-budget.sh
step build-www bash scripts/build-www.sh
step build-hook-page bash -c "tsc -p tests/react/tsconfig.json && vite build --config tests/react/vite.config.ts"
step build-migrate-page bash -c "tsc -p tests/migrate/tsconfig.json && vite build --config tests/migrate/vite.config.ts"
step build-compat-page bash -c "tsc -p tests/compat/tsconfig.json && vite build --config tests/compat/vite.config.ts"
step browser node tests/browser/run.mjs
step packaging bash scripts/packaging-test.sh

echo
echo "=== summary"
grep -h "^\[build\]" "$LOG"/build.log 2>/dev/null
grep -h "^\[size\]" "$LOG"/size-budget.log 2>/dev/null
for f in cargo-test server-test cli-test wasm-test browser packaging; do
  grep -hE "^test result:|[0-9]+ passed, [0-9]+ failed" "$LOG/$f.log" 2>/dev/null | sed "s/^/$f: /"
done
if [ ${#failed[@]} -gt 0 ]; then
  # the failing browser tests by name, so a short excerpt of this output says which
  grep -h -A1 "^  ✗ " "$LOG/browser.log" 2>/dev/null | grep -v "^--" | cut -c1-240 | sed "s/^  ✗ /FAILED test: /"
  echo "FAILED steps: ${failed[*]}"
  exit 1
fi
