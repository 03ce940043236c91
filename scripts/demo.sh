#!/usr/bin/env bash
# The demo: starts a local broker, creates a topic, streams JSON events through
# it and reads them back, printing counts and rates, then stops the broker.
#
#   ./scripts/demo.sh [--broker kafka|mock] [--events N] [--partitions N]
#
# kafka (default) is Apache Kafka 4.4.0, one KRaft node on loopback, resolved
# from Maven Central the first time (~1-2 minutes; needs java 17+ and mvn) and
# cached in ~/.cache/purekafka; it starts in ~5-10 s. --broker mock uses
# librdkafka's mock cluster instead, ready in a second.
#
# purekafka produces the events and consumes them back in a consumer group;
# confluent-kafka (librdkafka) then reads them too, as a cross-check.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

BROKER="${PUREKAFKA_DEMO_BROKER:-kafka}"
EVENTS=10000
PARTITIONS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --broker) BROKER="${2:?--broker needs kafka or mock}"; shift 2 ;;
    --events) EVENTS="${2:?--events needs a number}"; shift 2 ;;
    --partitions) PARTITIONS="${2:?--partitions needs a number}"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "demo: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
case "$BROKER" in kafka|mock) ;; *) echo "demo: --broker must be kafka or mock, not $BROKER" >&2; exit 2 ;; esac
[[ "$EVENTS" =~ ^[0-9]+$ ]] && [ "$EVENTS" -gt 0 ] || { echo "demo: --events must be a positive number" >&2; exit 2; }
[[ "$PARTITIONS" =~ ^[0-9]+$ ]] && [ "$PARTITIONS" -gt 0 ] || { echo "demo: --partitions must be a positive number" >&2; exit 2; }

say() { echo "demo: $*"; }
command -v python3 >/dev/null 2>&1 || { echo "demo: python3 is not on PATH: install Python 3.11 (apt-get install python3 python3-venv)" >&2; exit 1; }

PY="$(./scripts/setup-python.sh | tail -n 1)"
WORK="$(mktemp -d -t purekafka-demo.XXXXXX)"
BROKER_PID=""
cleanup() {
  # Closing fd 3 is the broker's stop signal (stdin EOF); wait for it to go.
  exec 3>&- 2>/dev/null || true
  if [ -n "$BROKER_PID" ]; then
    for _ in $(seq 100); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
    kill "$BROKER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_line() { # file timeout_s -> first line
  local f="$1" t="$2" i
  for i in $(seq $(( t * 10 ))); do
    if [ -s "$f" ]; then head -n 1 "$f"; return 0; fi
    [ -n "$BROKER_PID" ] && ! kill -0 "$BROKER_PID" 2>/dev/null && break
    sleep 0.1
  done
  return 1
}

TOPIC="purekafka-demo-$(date +%s)"
if [ "$BROKER" = "kafka" ]; then
  say "broker: Apache Kafka 4.4.0 (fetched from Maven Central the first time: ~1-2 min, once)"
  KAFKA_HOME="$(./scripts/install-kafka.sh | tail -n 1)"
  # The launcher holds the JVM; it stops it when fd 3 closes (this script exits, however it exits).
  exec 3> >(exec "$PY" scripts/kafka_cluster.py --home "$KAFKA_HOME" --dir "$WORK/kafka" --nodes 1 --no-security \
      > "$WORK/ctl.out" 2> "$WORK/kafka.log")
  BROKER_PID=$!
  LINE="$(wait_line "$WORK/ctl.out" 180)" || LINE="ERR no answer from kafka_cluster.py"
  case "$LINE" in
    READY\ *) BOOTSTRAP="$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1][6:])["bootstrap"])' "$LINE")" ;;
    *) echo "demo: Kafka did not start: $LINE" >&2; cat "$WORK/kafka.log" >&2 || true; exit 1 ;;
  esac
  say "Kafka listening on $BOOTSTRAP"
  PEER_ARGS=()
else
  say "broker: librdkafka mock cluster, 3 brokers"
  exec 3> >(exec "$PY" scripts/mock_cluster.py --brokers 3 > "$WORK/ctl.out" 2> "$WORK/mock.log")
  BROKER_PID=$!
  LINE="$(wait_line "$WORK/ctl.out" 30)" || LINE="ERR no answer from mock_cluster.py"
  case "$LINE" in
    BOOTSTRAP\ *) BOOTSTRAP="${LINE#BOOTSTRAP }" ;;
    *) echo "demo: mock cluster did not start: $LINE" >&2; cat "$WORK/mock.log" >&2 || true; exit 1 ;;
  esac
  say "mock cluster at $BOOTSTRAP"
  PEER_ARGS=(--api-version 2.3.0)
fi
# Both launchers take the same create_topic command; the answer is ctl.out's second line.
echo "{\"cmd\":\"create_topic\",\"topic\":\"$TOPIC\",\"partitions\":$PARTITIONS}" >&3
for _ in $(seq 300); do [ "$(wc -l < "$WORK/ctl.out")" -ge 2 ] && break; sleep 0.1; done
ANSWER="$(sed -n 2p "$WORK/ctl.out")"
[ "$ANSWER" = "OK" ] || { echo "demo: create_topic: ${ANSWER:-no answer}" >&2; exit 1; }
say "topic $TOPIC, $PARTITIONS partitions"

rate() { # count seconds -> "N events/s"
  "$PY" -c "import sys; c,s=int(sys.argv[1]),float(sys.argv[2]); print('%d events in %.2fs = %.0f events/s' % (c, s, c/s if s > 0 else 0))" "$1" "$2"
}
now() { "$PY" -c 'import time; print(time.monotonic())'; }

say "building the demo (purekafka producer and consumer; first build takes a few minutes)"
# PUREKAFKA_DEMO_PROFILE=dev (scripts/test.sh uses it) takes the debug build
# the tests already made instead of compiling a release one.
PROFILE="${PUREKAFKA_DEMO_PROFILE:-release}"
case "$PROFILE" in dev) PROFILE_DIR=debug ;; *) PROFILE_DIR="$PROFILE" ;; esac
cargo build --profile "$PROFILE" -q -p purekafka-examples --bin demo
# purekafka produces the JSON events (lz4, acks=all, idempotent) and reads
# them back in a consumer group; it prints what it did and how fast.
"${CARGO_TARGET_DIR:-$REPO/target}/$PROFILE_DIR/demo" --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --events "$EVENTS" \
  || { echo "demo: FAILED (see above)" >&2; exit 1; }

# A reference client reads what purekafka wrote, as a cross-check.
T0=$(now)
CONSUMED=$("$PY" scripts/peer.py consume --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --client confluent \
  --count "$EVENTS" --timeout 120 2>>"$WORK/peer.log" | wc -l) || true
T1=$(now)
say "cross-check: confluent-kafka (librdkafka) read $(rate "$CONSUMED" "$("$PY" -c "print($T1-$T0)")") of what purekafka wrote"
if [ "$CONSUMED" -ne "$EVENTS" ]; then
  echo "demo: FAILED: $EVENTS events sent, $CONSUMED read back by confluent-kafka" >&2
  grep -v '^%' "$WORK/peer.log" | tail -n 5 >&2 || true
  exit 1
fi
say "ok: $EVENTS events in, $EVENTS out; stopping the broker"
