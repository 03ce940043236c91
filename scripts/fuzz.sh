#!/usr/bin/env bash
# Runs every cargo-fuzz target of protocol/fuzz (record_batch, request,
# response) for a bounded time each; exits non-zero when one finds a crash,
# naming the target and the input that crashed it. scripts/test.sh calls it.
#
#   - cargo-fuzz is installed from crates.io when missing
#     (`cargo install cargo-fuzz --locked`, ~2 min once, then ~/.cargo/bin);
#   - the nightly toolchain is used when rustup has one, else stable with
#     RUSTC_BOOTSTRAP=1 (nothing is downloaded but cargo-fuzz);
#   - the targets are built once (~2 min cold: release, debug assertions,
#     AddressSanitizer), into protocol/fuzz/target;
#   - each runs PUREKAFKA_FUZZ_SECONDS (default 60) from its corpus in
#     protocol/fuzz/corpus/<target> (kept between local runs) plus seeds made
#     from the golden frames and record batches (protocol/fuzz/target/seeds);
#   - a crash, leak, timeout or out-of-memory input lands in
#     protocol/fuzz/artifacts/<target>/ (all of these dirs are gitignored).
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROTO="$REPO/protocol"
FUZZ="$PROTO/fuzz"
SECONDS_EACH="${PUREKAFKA_FUZZ_SECONDS:-60}"
TARGETS=(record_batch request response)
START=$(date +%s)
log() { echo "fuzz.sh [+$(( $(date +%s) - START ))s] $*" >&2; }
die() { echo "fuzz.sh: $*" >&2; exit 1; }

command -v cargo >/dev/null 2>&1 || die "cargo is not on PATH"
command -v python3 >/dev/null 2>&1 || die "python3 is not on PATH (it writes the seed corpora)"

# The fuzz crate builds into its own target dir, never the workspace's.
unset CARGO_TARGET_DIR

if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz from crates.io (once; ~2 min on 2 cores)"
  cargo install cargo-fuzz --locked || die "cargo install cargo-fuzz --locked failed (see above)"
fi
log "$(cargo fuzz --version)"

# libFuzzer needs -Z flags: nightly if it is there, else stable allowed to take them.
if command -v rustup >/dev/null 2>&1 && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  CARGO=(cargo +nightly)
  log "toolchain: $(rustup run nightly rustc --version)"
else
  CARGO=(cargo)
  export RUSTC_BOOTSTRAP=1
  log "toolchain: $(rustc --version) with RUSTC_BOOTSTRAP=1 (no nightly installed)"
fi

cd "$PROTO" || die "no $PROTO"

# Seeds, rewritten each run: the kafka-python record sets, each with the CRC
# check on (first byte 0) and off (1); and every golden request and response
# as `api key, version, body` (with and without one byte for the header's
# tagged fields, which flexible versions have).
SEEDS="$FUZZ/target/seeds"
rm -rf "$SEEDS"
python3 - "$PROTO" "$SEEDS" <<'EOF' || die "could not write the seed corpora"
import pathlib, struct, sys
proto, seeds = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for t in ("record_batch", "request", "response"):
    (seeds / t).mkdir(parents=True, exist_ok=True)
n = 0
def seed(target, data):
    global n
    n += 1
    (seeds / target / f"seed-{n:05}").write_bytes(data)
for f in sorted((proto / "src/records/testdata").rglob("*.bin")):
    data = f.read_bytes()
    seed("record_batch", b"\x00" + data)
    seed("record_batch", b"\x01" + data)
for req in sorted((proto / "tests/golden").rglob("*-req.bin")):
    data = req.read_bytes()
    if len(data) < 10:
        continue
    head = data[:4]  # api key, version
    (client_id_len,) = struct.unpack(">h", data[8:10])
    body = data[10 + max(client_id_len, 0):]
    seed("request", head + body)
    seed("request", head + body[1:])
    resp = req.with_name(req.name[: -len("-req.bin")] + "-resp.bin")
    if resp.exists():
        rdata = resp.read_bytes()
        seed("response", head + rdata[4:])
        seed("response", head + rdata[5:])
print(f"{n} seeds", file=sys.stderr)
EOF

log "building the fuzz targets (release, debug assertions, AddressSanitizer)"
"${CARGO[@]}" fuzz build --target-dir "$FUZZ/target" || die "the fuzz targets do not build (see above)"

FAILED=()
for t in "${TARGETS[@]}"; do
  mkdir -p "$FUZZ/corpus/$t" "$FUZZ/artifacts/$t"
  LOGF="$FUZZ/target/fuzz-$t.log"
  EXTRA=()
  [ "$t" = record_batch ] && EXTRA=(-max_len=65536)
  log "$t: fuzzing for ${SECONDS_EACH}s (log: ${LOGF#"$REPO"/})"
  "${CARGO[@]}" fuzz run --target-dir "$FUZZ/target" "$t" "$FUZZ/corpus/$t" "$SEEDS/$t" -- \
    -max_total_time="$SECONDS_EACH" -timeout=30 -print_final_stats=1 "${EXTRA[@]}" >"$LOGF" 2>&1
  RC=$?
  RUNS=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$LOGF" | grep -oE '[0-9]+$' | tail -n 1)
  COV=$(grep -oE 'cov: [0-9]+' "$LOGF" | tail -n 1)
  if [ "$RC" -eq 0 ]; then
    log "$t: no crash in ${RUNS:-?} runs (${COV:-cov: ?}); corpus $(find "$FUZZ/corpus/$t" -type f | wc -l) inputs"
    continue
  fi
  FAILED+=("$t")
  ARTIFACT=$(grep -oE 'Test unit written to [^ ]+' "$LOGF" | tail -n 1 | sed 's/^Test unit written to //')
  echo "---- fuzz.sh: $t, last 60 lines of its log ----" >&2
  tail -n 60 "$LOGF" >&2
  echo "----" >&2
  if [ -n "$ARTIFACT" ] && [ -f "$ARTIFACT" ]; then
    ARTIFACT="$(cd "$(dirname "$ARTIFACT")" && pwd)/$(basename "$ARTIFACT")"
    log "$t: CRASH (exit $RC); input: $ARTIFACT ($(wc -c <"$ARTIFACT") bytes), first 512 bytes:"
    od -A x -t x1z -v "$ARTIFACT" | head -n 32 >&2
    log "$t: replay with: cd protocol && ${CARGO[*]} fuzz run $t $ARTIFACT"
  else
    log "$t: FAILED (exit $RC) without a crash artifact (a build error or libFuzzer error: see the log above)"
  fi
done

if [ "${#FAILED[@]}" -gt 0 ]; then
  log "FAILED: ${FAILED[*]} ($(( $(date +%s) - START ))s)"
  exit 1
fi
log "all ${#TARGETS[@]} targets ran ${SECONDS_EACH}s each without a crash ($(( $(date +%s) - START ))s)"
