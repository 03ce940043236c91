#!/usr/bin/env bash
# Creates <repo>/.venv with the Python peers the integration tests use:
#   confluent-kafka (its wheel bundles librdkafka, whose mock cluster we drive),
#   kafka-python (a second, independent client), and the codec libraries
#   kafka-python's kafka/codec.py imports: python-snappy (backed by cramjam),
#   lz4 (lz4.frame) and zstandard; gzip is the stdlib.
# Idempotent: when the venv already holds exactly these pins it returns at once.
# Prints the venv's python path as the last line on stdout.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PUREKAFKA_VENV:-$REPO/.venv}"
PY="$VENV/bin/python"
PINS=(
  "confluent-kafka==2.16.1"
  "kafka-python==3.0.12"
  "python-snappy==0.7.3"
  "cramjam==2.14.0"
  "lz4==4.4.5"
  "zstandard==0.25.0"
)
STAMP="$VENV/.purekafka-pins"
WANT="$(printf '%s\n' "${PINS[@]}")"

if [ -x "$PY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "$PY"
  exit 0
fi

HOST_PY="${PYTHON:-}"
if [ -z "$HOST_PY" ]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1; then HOST_PY="$(command -v "$c")"; break; fi
  done
fi
if [ -z "$HOST_PY" ]; then
  echo "setup-python: no python3 on PATH; install Python 3.11 (e.g. apt-get install python3 python3-venv)" >&2
  exit 1
fi
if [ ! -x "$PY" ]; then
  echo "setup-python: creating $VENV with $HOST_PY" >&2
  if ! "$HOST_PY" -m venv "$VENV" >&2; then
    rm -rf "$VENV"
    # Debian splits venv/ensurepip into python3-venv: install it when we can.
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "setup-python: venv failed; installing python3-venv with apt-get" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2 || true
    fi
    if ! "$HOST_PY" -m venv "$VENV" >&2; then
      echo "setup-python: '$HOST_PY -m venv' failed; on Debian: apt-get install python3-venv" >&2
      rm -rf "$VENV"
      exit 1
    fi
  fi
fi
echo "setup-python: installing ${PINS[*]}" >&2
"$PY" -m pip install --disable-pip-version-check -q "${PINS[@]}" >&2
# Fail now, not in a test, if a wheel is broken or librdkafka is missing.
"$PY" - >&2 <<'PYEOF'
import confluent_kafka, kafka, kafka.codec as codec, snappy, lz4.frame, zstandard
assert codec.has_snappy() and codec.has_lz4() and codec.has_zstd() and codec.has_gzip()
print("setup-python: confluent-kafka %s (librdkafka %s), kafka-python %s" % (
    confluent_kafka.__version__, confluent_kafka.libversion()[0], kafka.__version__))
PYEOF
printf '%s\n' "$WANT" > "$STAMP"
echo "$PY"
