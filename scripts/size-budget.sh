#!/usr/bin/env bash
# The built package's size as pages download it (each set of files concatenated, gzip -9), for the
# two engine builds (README "Two engine builds"):
#   local page: the local engine (pkg/wasm) and every JS module a page that does not sync loads,
#               without a bundler too (index.js's static imports, with react.js and img-file.js);
#   sync page:  the full engine (pkg/wasm-sync, its glue and the IndexedDB module both glues
#               import) and every JS module, with the sync module, the server connector and the auth
#               client; not the local build (a page whose ledgers sync never loads it).
# pkg/migrate.js is loaded only by migrateFromFireproof (a dynamic import): reported on its own.
#   size-budget.sh           fails when a total is over its budget (gzipped bytes).
#                            The local page: 165,000 B (the sync issue's budget). The sync page:
#                            its issue allowed 165,000 B too; it measures ~193.6 KB (docs/benchmarks.md
#                            "Size"), so its guard sits just above that to stop growth. Only ever
#                            lower either, except for a fix that cannot be had for free (session 25:
#                            +170 B for bounds on untrusted lengths and tree shapes, which trapped
#                            the engine, and +42 B of JS for a syncing profile whose full build cannot
#                            be downloaded, which could no longer open its ledger; the guard went from
#                            191,750 to 191,980; session 26: +146 B of JS for a handle opened while
#                            the last one closes, attachments that outlived their ledger or ended
#                            with the wrong handle, another tab's destroy unheard, and an aborted
#                            archive download reused, +9 B for a destroy() after an unawaited close(),
#                            which failed with a bare DOMException, +257 B for the server connector
#                            on browsers without AbortSignal.any/timeout (no sync at all there),
#                            answers that are not JSON, a damaged remote record that held every
#                            push, attach() after an unawaited detach(), and another tab's destroy
#                            ending this tab's attachments; 192,400; +210 B for the leading tab's
#                            sync state shown in the other tabs, which said "attached" for ever;
#                            192,610; +12 B for useDocument's fixes; 192,620; +673 B of wasm for a
#                            pull that merges the other records when a remote CAR one of them
#                            needs is damaged, where one damaged CAR kept every other replica's
#                            data out for ever (the remote is create-only); 193,290; +10 B for a
#                            push that skips CARs it already pushed (another tab's commits carried
#                            them back into the outbox, and each of its writes re-sent all the
#                            earlier ones); 193,300; session 27: +156 B of wasm for the header's
#                            revision in the commit compare-and-set (a commit in another tab undid
#                            a push's outbox update or an index update that kept the header's car)
#                            and +37 B of JS for sync() calls settling on detach() (they stayed
#                            pending for ever behind a connector call that hung); 193,490; +95 B
#                            of JS for skipping the real-time notice of a head record the tab
#                            pushed itself (each push made a pull: a list and a get on the
#                            server, for nothing); 193,590; −13 B: the push's skip of names it
#                            already pushed is gone, the revision made it dead; 193,580; session 28:
#                            +31 B of JS for pendingUp counted after each commit, which read as
#                            before the writes while the attachment could not push; 193,620;
#                            +183 B (22 of wasm) for Fireproof's query behaviours: open range
#                            ends, NaN emitted as null, numeric-string limits, a listener
#                            subscribed twice called once, db.onClosed; 193,810; +769 B of wasm
#                            for puts of the stored documents committing nothing, as in Fireproof
#                            (each made a commit, a changes() row and a push); 194,580; +429 B
#                            of JS: one loop cycle at a time (after a 1 s outage each queued
#                            write's failure counted, so sync backed off for 30 s), no failure
#                            reported for a detach, an invite to another ledger on the attached
#                            server joined in the same page, an invite whose key does not open
#                            the remote refused before re-keying (it pushed under a key nobody
#                            had), toServer's timing options checked; 195,010; +931 B (890 of wasm):
#                            branches never close at their first entry (ids of ~740 bytes and
#                            more lost acknowledged writes, long index keys trapped the engine),
#                            emitted index rows bounded (1 MiB a document), and a reload that
#                            finds no header takes the stored key, a commit checks the stored key
#                            is its own (another tab's destroy() racing a write left the ledger
#                            DECRYPT for everyone); 195,940).
#   size-budget.sh --report  prints the sizes only (scripts/build.sh ends with it)
set -euo pipefail
cd "$(dirname "$0")/.."
LOCAL_BUDGET=${SIZE_BUDGET_LOCAL_BYTES:-165000}
SYNC_BUDGET=${SIZE_BUDGET_BYTES:-195940}
wrapper=($(ls pkg/*.js | grep -v -e '^pkg/migrate' -e '^pkg/sync\.js$'))
local_js=("${wrapper[@]}" pkg/connectors/connector.js pkg/connectors/server.js $(find pkg/wasm -name "*.js"))
sync_js=("${wrapper[@]}" pkg/sync.js pkg/connectors/*.js pkg/auth/*.js $(find pkg/wasm-sync -name "*.js") pkg/wasm/idb.js)
gz() { cat "$@" | gzip -9c | wc -c; }
migrate_gz=$(gz pkg/migrate*.js)
local_wasm=$(gz pkg/wasm/ferroproof_bg.wasm)
local_jsgz=$(gz "${local_js[@]}")
sync_wasm=$(gz pkg/wasm-sync/ferroproof_bg.wasm)
sync_jsgz=$(gz "${sync_js[@]}")
local_total=$((local_wasm + local_jsgz))
sync_total=$((sync_wasm + sync_jsgz))
if [ "${1:-}" = "--report" ]; then
  echo "[build] local page: wasm $(stat -c %s pkg/wasm/ferroproof_bg.wasm) B (${local_wasm} B gz) + js ${local_jsgz} B gz = ${local_total} B gz"
  echo "[build] sync page: wasm $(stat -c %s pkg/wasm-sync/ferroproof_bg.wasm) B (${sync_wasm} B gz) + js ${sync_jsgz} B gz = ${sync_total} B gz"
  echo "[size] migrate.js (loaded only by migrateFromFireproof): ${migrate_gz} B gz"
  exit 0
fi
echo "[size] local page: wasm ${local_wasm} B + js ${local_jsgz} B = ${local_total} B gzipped (budget ${LOCAL_BUDGET} B)"
echo "[size] sync page: wasm ${sync_wasm} B + js ${sync_jsgz} B = ${sync_total} B gzipped (guard ${SYNC_BUDGET} B; the issue's 165,000 B: not met)"
echo "[size] migrate.js (loaded only by migrateFromFireproof): ${migrate_gz} B gz"
fail=0
if [ "$local_total" -gt "$LOCAL_BUDGET" ]; then
  echo "[size] local page over budget by $((local_total - LOCAL_BUDGET)) B" >&2
  fail=1
fi
if [ "$sync_total" -gt "$SYNC_BUDGET" ]; then
  echo "[size] sync page over its guard by $((sync_total - SYNC_BUDGET)) B" >&2
  fail=1
fi
exit $fail
