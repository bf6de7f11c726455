#!/usr/bin/env bash
# `npm run bench`: builds pkg/ (unless SKIP_BUILD=1), bundles the bench pages with Vite into
# target/bench-dist/, then runs them in headless Chromium (bench/run.mjs), which prints the table
# and writes target/bench-results.md and target/bench-results.json.
# BENCH_PKG=DIR benchmarks the built package in DIR instead of pkg/ (e.g. a copy taken with
# `cp -r pkg target/bench-pkg`, so a concurrent rebuild of pkg/ cannot change it mid-run).
# BENCH_DIST=DIR bundles into and serves DIR instead of target/bench-dist/; BENCH_RESULTS=PATH
# writes PATH.md and PATH.json instead of target/bench-results.{md,json} (two runs apart).
# Selection and caps (all documented at the top of bench/run.mjs): BENCH_ENGINES=ferroproof,dexie
# BENCH_WORKLOADS=a,…,k,s  BENCH_CAP_S=120  BENCH_BIG_CAP_S=900  BENCH_TIMEOUT_S=3600
# BENCH_G_ROUNDS=3  BENCH_F_ROUNDS=3  BENCH_K_UPDATES=bulk|single  BENCH_K_IDLE_MS=1500
# BENCH_K_ROWS=k1,k2,k3,k4.
# Cold open with 1k/10k/100k ledgers, then the storage footprint, for two engines:
#   SKIP_BUILD=1 BENCH_ENGINES=ferroproof,dexie BENCH_WORKLOADS=f,k npm run bench
# Workload s (sync) spawns the optimised server binary, target/server/ferroproof-server (built here
# when missing; FERROPROOF_SERVER_BIN=PATH uses another). Only the sync workload:
#   SKIP_BUILD=1 BENCH_WORKLOADS=s npm run bench     (BENCH_SYNC=1,2,3,4 picks its parts)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

if [ "${SKIP_BUILD:-0}" != "1" ]; then
  bash scripts/build.sh
fi
PKG_DIR="${BENCH_PKG:-$PWD/pkg}"
[ -f "$PKG_DIR/index.js" ] || { echo "$PKG_DIR is missing index.js: run scripts/build.sh (or drop SKIP_BUILD=1)" >&2; exit 1; }
echo "[bench] package under test: $PKG_DIR"

case ",${BENCH_WORKLOADS:-s}," in
  *,s,*)
    if [ -z "${FERROPROOF_SERVER_BIN:-}" ] && [ ! -x target/server/ferroproof-server ]; then
      echo "[bench] building the sync server: cargo build --profile server -p ferroproof-server"
      cargo build --profile server -p ferroproof-server
    fi
    ;;
esac

echo "[bench] bundling bench pages → ${BENCH_DIST:-target/bench-dist}/"
vite build --config bench/vite.config.js
exec node bench/run.mjs
