#!/usr/bin/env bash
# Runs every test of the workspace against real brokers, installing what the
# tests need on a fresh machine first:
#   1. the Python peers and librdkafka's mock cluster  (scripts/setup-python.sh, ~20 s)
#   2. tansu 0.6.0                                     (scripts/install-tansu.sh, ~30 min cold, cached after)
#   3. cargo test over the workspace's default members (brokers start inside the tests)
# Exits non-zero on any failure. The last line is "test.sh: N passed, N failed, N skipped".
#
# Environment: PUREKAFKA_SKIP_TANSU=1 skips the tansu install (its tests then
# skip, or fail under CI=true); PUREKAFKA_TEST_BOOTSTRAP adds an external
# cluster; PUREKAFKA_TEST_TIMEOUT caps the cargo test run in seconds (default 3000).
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
START=$(date +%s)
log() { echo "test.sh [+$(( $(date +%s) - START ))s] $*" >&2; }
die() { echo "test.sh: $*" >&2; exit 1; }

command -v cargo >/dev/null 2>&1 || die "cargo is not on PATH: install a Rust toolchain (https://rustup.rs, or apt-get install cargo) and retry"
command -v python3 >/dev/null 2>&1 || die "python3 is not on PATH: install Python 3.11 (apt-get install python3 python3-venv) and retry"

log "step 1/3: Python peers (confluent-kafka with librdkafka's mock cluster, kafka-python)"
PY="$(./scripts/setup-python.sh | tail -n 1)" || die "scripts/setup-python.sh failed (see above)"
export PUREKAFKA_PYTHON="$PY"
log "python: $PUREKAFKA_PYTHON"

if [ "${PUREKAFKA_SKIP_TANSU:-0}" = "1" ]; then
  log "step 2/3: tansu install skipped (PUREKAFKA_SKIP_TANSU=1)"
else
  log "step 2/3: tansu 0.6.0 (cached after the first build; a cold build takes ~30 min on 2 cores)"
  # Heartbeat, so a long cold build shows it is alive even between cargo lines.
  ( while sleep 60; do log "still installing tansu..."; done ) &
  HEARTBEAT=$!
  TANSU="$(./scripts/install-tansu.sh | tail -n 1)"
  RC=$?
  kill "$HEARTBEAT" 2>/dev/null; wait "$HEARTBEAT" 2>/dev/null
  if [ $RC -ne 0 ] || [ ! -x "$TANSU" ]; then
    die "scripts/install-tansu.sh failed (exit $RC); rerun it alone to see why, or set PUREKAFKA_SKIP_TANSU=1 outside CI"
  fi
  export PUREKAFKA_TANSU="$TANSU"
  log "tansu: $PUREKAFKA_TANSU"
fi

log "step 3/3: cargo test (default workspace members)"
OUT="$(mktemp -t purekafka-test.XXXXXX)"
trap 'rm -f "$OUT"' EXIT
# Brokers are children of the test binaries and stop when those exit (their
# stdin pipe closes), so a timeout or a crash here leaves none behind.
timeout -k 30 "${PUREKAFKA_TEST_TIMEOUT:-3000}" cargo test --no-fail-fast 2>&1 | tee "$OUT"
RC=${PIPESTATUS[0]}
[ "$RC" -eq 124 ] && log "cargo test exceeded ${PUREKAFKA_TEST_TIMEOUT:-3000}s and was stopped"

# Leftover check: a broker helper of this checkout whose parent is gone leaked.
sleep 1
command -v pgrep >/dev/null 2>&1 || log "pgrep missing (apt-get install procps): leftover-broker check skipped"
for pid in $(command -v pgrep >/dev/null 2>&1 && pgrep -f "$REPO/scripts/(mock_cluster|supervise)\.py" || true); do
  if [ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" = "1" ]; then
    log "leaked broker helper pid $pid: $(ps -o args= -p "$pid"); stopping it"
    kill "$pid" 2>/dev/null
    [ "$RC" -eq 0 ] && RC=1
  fi
done

read -r PASSED FAILED IGNORED < <(awk '/^test result:/ {
    for (i = 2; i <= NF; i++) {
      if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1); if ($i ~ /^ignored/) g += $(i-1)
    } } END { print p+0, f+0, g+0 }' "$OUT")
SKIPPED=$(grep -cE '^SKIP ' "$OUT" || true)
# Tests that skipped themselves (SKIP lines) were counted as passed by libtest.
REAL_PASSED=$(( PASSED - SKIPPED ))
[ "$REAL_PASSED" -lt 0 ] && REAL_PASSED=0
if [ "$RC" -ne 0 ] && [ "$FAILED" -eq 0 ]; then
  log "cargo test exited $RC without a failed test: a build error or a crash (see above)"
fi
log "done in $(( $(date +%s) - START ))s, exit $RC"
echo "test.sh: $REAL_PASSED passed, $FAILED failed, $(( SKIPPED + IGNORED )) skipped"
exit "$RC"
