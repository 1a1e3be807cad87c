#!/usr/bin/env bash
# One sitting, side by side: the reference baseline (a naive insert-and-broadcast server of
# the same public contract) and this service as deployed (default configuration, send
# limit on, every user paced under it), measured with the same load generator, the same
# pairs and the same steps, one after the other. Prints each one's highest held rate
# (p99 send→ack ≤ 100 ms, nothing lost, refused or out of order) and every step's p99.
#
#   scripts/bench-sitting.sh /path/to/reference-baseline
#   BASELINE_DIR=/path/to/reference-baseline scripts/bench-sitting.sh
#
# Settings (environment): BENCH_DATABASE_URL (admin URL of the PostgreSQL server both use,
# default postgres://postgres@127.0.0.1:5432/postgres), START_RATE (400), MAX_RATE (3200),
# STEP_SECONDS (8), ROUNDS (1: baseline then service; 2 adds a second pair of runs),
# SITTING_OUT (a directory for the raw outputs; default a temporary one).
# The baseline is copied to a temporary directory and installed there (npm ci): its own
# directory is left as it is. Everything it starts, it stops; every run is bounded in time.
set -euo pipefail

BASELINE_DIR="${1:-${BASELINE_DIR:-}}"
if [[ -z "$BASELINE_DIR" || ! -f "$BASELINE_DIR/server.mjs" ]]; then
  echo "usage: scripts/bench-sitting.sh <reference baseline directory> (or BASELINE_DIR=...)" >&2
  exit 2
fi
BASELINE_DIR="$(cd "$BASELINE_DIR" && pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ADMIN_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
START_RATE="${START_RATE:-400}"
MAX_RATE="${MAX_RATE:-3200}"
STEP_SECONDS="${STEP_SECONDS:-8}"
ROUNDS="${ROUNDS:-1}"
WORK="$(mktemp -d -t bench-sitting-XXXXXX)"
OUT="${SITTING_OUT:-$WORK/out}"
mkdir -p "$OUT"
BASELINE_PID=""
BASELINE_DB="baseline_bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
export BENCH_JWT_SECRET="sitting-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export BENCH_INTERNAL_TOKEN="sitting-internal-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

admin_sql() { node -e '
  const { Client } = require("pg");
  const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 5000 });
  c.connect().then(() => c.query(process.argv[2])).then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });
' "$ADMIN_URL" "$1"; }

cleanup() {
  if [[ -n "$BASELINE_PID" ]] && kill -0 "$BASELINE_PID" 2>/dev/null; then
    kill "$BASELINE_PID" 2>/dev/null || true
    wait "$BASELINE_PID" 2>/dev/null || true
  fi
  (cd "$ROOT" && admin_sql "DROP DATABASE IF EXISTS $BASELINE_DB WITH (FORCE)") || true
  rm -rf "$WORK/baseline"
}
trap cleanup EXIT

echo "== $(date -u +%FT%TZ) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== building the service"
(cd "$ROOT" && npm run build --silent >"$OUT/build.log" 2>&1) || { tail -20 "$OUT/build.log"; exit 1; }

echo "== installing the reference baseline in $WORK/baseline"
mkdir -p "$WORK/baseline"
cp "$BASELINE_DIR/server.mjs" "$BASELINE_DIR/package.json" "$BASELINE_DIR/package-lock.json" "$WORK/baseline/"
(cd "$WORK/baseline" && timeout 300 npm ci --no-audit --no-fund --silent >"$OUT/baseline-install.log" 2>&1) || { tail -20 "$OUT/baseline-install.log"; exit 1; }

PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
BASELINE_DB_URL="$(node -e 'const u=new URL(process.argv[1]);u.pathname="/"+process.argv[2];console.log(u.toString())' "$ADMIN_URL" "$BASELINE_DB")"

# Same generator, same pairs (sized for MAX_RATE with users paced under the send limit), same steps.
LOAD_ARGS=(--step --rate "$START_RATE" --max-rate "$MAX_RATE" --duration "$STEP_SECONDS")

start_baseline() {
  (cd "$ROOT" && admin_sql "DROP DATABASE IF EXISTS $BASELINE_DB WITH (FORCE)" && admin_sql "CREATE DATABASE $BASELINE_DB")
  # As its README starts it.
  (cd "$WORK/baseline" && PORT="$PORT" DATABASE_URL="$BASELINE_DB_URL" JWT_SECRET="$BENCH_JWT_SECRET" \
    INTERNAL_API_TOKEN="$BENCH_INTERNAL_TOKEN" SEND_RATE_LIMIT=0 exec node server.mjs >"$OUT/baseline-server.log" 2>&1) &
  BASELINE_PID=$!
  for _ in $(seq 1 100); do
    if node -e 'fetch(process.argv[1]).then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))' "http://127.0.0.1:$PORT/readyz"; then return 0; fi
    sleep 0.3
  done
  echo "the reference baseline did not answer /readyz; its log:" >&2
  tail -20 "$OUT/baseline-server.log" >&2
  exit 1
}

stop_baseline() {
  kill "$BASELINE_PID" 2>/dev/null || true
  wait "$BASELINE_PID" 2>/dev/null || true
  BASELINE_PID=""
}

run_load() { # <label> [extra args]
  local label="$1"
  shift
  echo "== $label: bench:load ${LOAD_ARGS[*]} $*   (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  (cd "$ROOT" && BENCH_DATABASE_URL="$ADMIN_URL" timeout 420 node dist/bench/load.js "${LOAD_ARGS[@]}" "$@" >"$OUT/$label.txt" 2>&1) || true
  grep -E '^(offered|  send→ack|  checks|  CPU)' "$OUT/$label.txt" || tail -5 "$OUT/$label.txt"
}

for round in $(seq 1 "$ROUNDS"); do
  start_baseline
  run_load "baseline-$round" --url "http://127.0.0.1:$PORT" --server-pid "$BASELINE_PID"
  stop_baseline
  run_load "service-$round"
done

echo
echo "== summary (highest rate held: p99 send→ack ≤ 100 ms, nothing lost, refused or out of order; same generator, pairs and steps)"
node -e '
  const fs = require("fs"), path = require("path");
  const dir = process.argv[1];
  for (const f of fs.readdirSync(dir).filter((f) => /^(baseline|service)-\d+\.txt$/.test(f)).sort()) {
    const last = fs.readFileSync(path.join(dir, f), "utf8").trim().split("\n").pop();
    let j; try { j = JSON.parse(last); } catch { console.log(f.replace(".txt", "").padEnd(12), "no result (see", path.join(dir, f) + ")"); continue; }
    const steps = j.steps.map((s) => `${s.rate}/s ${s.held ? "held" : "not held"} p99 ${s.ackMs.p99.toFixed(0)} ms` + (s.check.lost + s.check.duplicates + s.check.reordered + s.check.gaps > 0 ? " CHECKS FAILED" : "")).join("; ");
    console.log(f.replace(".txt", "").padEnd(12), `held ${j.highestHeld}/s`.padEnd(14), `pairs ${j.pairs}:`, steps);
  }
' "$OUT"
echo "raw outputs: $OUT"
