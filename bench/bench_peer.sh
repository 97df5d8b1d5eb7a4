#!/usr/bin/env bash
# The gateway beside PostGraphile v5 on the same tables, in one run with interleaved rounds (issue 9.6).
#
#   bash bench/bench_peer.sh [ROUNDS]        # from the project root, after .venv is installed
#
# Runs the shared peer kit (../shared/perf/peer-bench; PEER_KIT overrides where it is) twice:
#   1. 10k deals: check, statement counts (round trips, from PostgreSQL's log_statement=all), ROUNDS
#      interleaved rounds of [board query c=8] and [1000-row page c=1] for gateway 1 worker, PostGraphile
#      v5 and gateway 2 workers, with server and PostgreSQL CPU per request and the load average; then
#      RSS of the 1-worker gateway before/after MEM_REQUESTS (default 5000) board requests, twice.
#   SMOKE=1 only checks that the kit runs (1k deals: same answers, statement counts).
#   2. 100k deals (OPPS_BIG): the same board query and page, one round, gateway 1 worker vs PostGraphile
#      (BIG=0 skips it; PHASES_10K="check count rounds" skips the memory phase of the 10k run).
# Each run's log is copied to bench/peer-logs/ and its summary printed; bench/results-reads.md records them.
# The kit installs what it needs once (PostGraphile with npm into $TMPDIR/og-peer, wrk and PostgreSQL
# via apt when missing); every server it starts binds 127.0.0.1 and is stopped by its pid at exit.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ROUNDS="${1:-3}"
KIT="${PEER_KIT:-}"
if [ -z "$KIT" ]; then
  for k in ../shared/perf ../../shared/perf /work/shared/perf; do [ -x "$k/peer-bench" ] || [ -f "$k/peer-bench" ] && { KIT="$k"; break; }; done
fi
[ -n "$KIT" ] && [ -f "$KIT/peer-bench" ] || { echo "peer kit not found; set PEER_KIT=/path/to/shared/perf" >&2; exit 2; }
WORK="${OG_PEER_DIR:-${TMPDIR:-/tmp}/og-peer}"
# The kit counts PostgreSQL's CPU as that of every process of the OS user `postgres`; on a machine
# where another PostgreSQL runs as that user (a shared dev server), that counts its load too. So the
# kit's cluster runs as its own OS user (PERF_PG_OSUSER, created by pg.sh when missing) and a copy of
# the kit counts that user's processes only.
export PERF_PG_OSUSER="${PERF_PG_OSUSER:-ogbench}"
COPY="$(mktemp -d "${TMPDIR:-/tmp}/og-peer-kit.XXXXXX")"
trap 'rm -rf "$COPY"' EXIT
(cd "$KIT" && tar cf - --exclude=node_modules --exclude=.venv --exclude=results .) | (cd "$COPY" && tar xf -)
sed -i 's/cpu_ticks user:postgres/cpu_ticks "user:$PERF_PG_OSUSER"/g' "$COPY/bench_product.sh"
grep -q 'user:$PERF_PG_OSUSER' "$COPY/bench_product.sh" || { echo "the kit changed: cannot point its CPU count at $PERF_PG_OSUSER" >&2; exit 2; }
KIT="$COPY"
export PERF_PG_DIR="${PERF_PG_DIR:-$WORK/pg-$PERF_PG_OSUSER}"
mkdir -p bench/peer-logs
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; commit $(git rev-parse --short HEAD)"

run() {  # LABEL, then VAR=VALUE... for the kit; the kit's log is the newest results/product-*.log
  local label=$1; shift
  env "$@" bash "$KIT/peer-bench" "${ROUNDS_OF:-$ROUNDS}"
  local log; log="$(ls -t "$WORK"/results/product-*.log | head -n1)"
  cp "$log" "bench/peer-logs/$label.log"
  echo "== $label: bench/peer-logs/$label.log"
}

if [ "${SMOKE:-0}" = 1 ]; then  # SMOKE=1: does the kit run here? 1k deals, same answers, statement counts
  run "peer-smoke" OPPS=1000 GW_WORKERS2=0 PHASES="check count"
  "$WORK/pg.sh" stop
  exit 0
fi
run "peer-10k" OPPS=10000 PHASES="${PHASES_10K:-check count rounds memory}" MEM_REPEAT=1 MEM_REQUESTS="${MEM_REQUESTS:-5000}"
if [ "${BIG:-1}" = 1 ]; then  # BIG=0 skips the 100k run (when time is short; say so with the figures)
  ROUNDS_OF=1 run "peer-100k" OPPS="${OPPS_BIG:-100000}" GW_WORKERS2=0 PHASES="check count rounds"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$WORK/pg.sh" stop   # the kit leaves its throwaway cluster running
