#!/usr/bin/env python3
"""Reference Kafka clients (kafka-python, confluent-kafka) for interop tests.

Tests use it to write what purekafka's consumer must read, and to read back
what purekafka's producer wrote. Run it with the venv python
(./scripts/setup-python.sh prints its path).

Record format (JSON lines, both directions); bytes are base64, null = absent:
  {"key": b64|null, "value": b64|null, "headers": [[name, b64|null], ...],
   "partition": int|null, "timestamp": ms|null}
consume adds "topic", "offset" and "timestamp_type" (0 create, 1 log-append).

Subcommands:
  produce      --bootstrap B --topic T [--client C] [--compression Z]
               [--acks A] [--input FILE]     records from FILE or stdin;
               prints one line per record acknowledged:
               {"topic":..,"partition":..,"offset":..}
               confluent only: --transactional-id ID sends every record in
               one transaction and commits it (--abort: aborts it, printing
               the acks of the aborted records); --hold keeps it open until
               told: the records end at a line "hold", their acks are
               printed, then {"event":"open"}; a line "commit" or "abort"
               (end of input aborts) ends it, then {"event":"committed"} or
               {"event":"aborted"}.
  consume      --bootstrap B --topic T --count N [--client C] [--timeout S]
               reads N records from every partition from the beginning
               (no consumer group, no commits) and prints them, ordered by
               partition then offset; exit 2 if fewer than N arrived in time.
               --isolation-level read_committed|read_uncommitted (default
               read_uncommitted, as the Java peer).
  create-topic --bootstrap B --topic T --partitions N [--replication R]
               CreateTopics through kafka-python's admin client
               (real brokers and tansu; the mock has no admin API).
  partitions   --bootstrap B --topic T     prints {"partitions": [0, 1, ...]}

Common options:
  --client kafka-python|confluent   (default kafka-python)
  --compression none|gzip|snappy|lz4|zstd
  --api-version X.Y.Z   kafka-python only: skip version probing. The librdkafka
                        mock answers ApiVersions v3+ with UNSUPPORTED_VERSION,
                        which kafka-python 3 does not fall back from: use 2.3.0
                        (the newest that works there) against the mock.
  --timeout S           overall deadline in seconds (default 30)
Exit status: 0 ok, 1 usage or client error, 2 timeout / fewer records.
"""

import argparse
import base64
import json
import sys
import time
import uuid


def b64(b):
    return None if b is None else base64.b64encode(bytes(b)).decode("ascii")


def unb64(s, what):
    if s is None:
        return None
    if not isinstance(s, str):
        raise ValueError("%s must be a base64 string or null" % what)
    return base64.b64decode(s, validate=True)


def fail(msg, code=1):
    print("peer: " + msg, file=sys.stderr, flush=True)
    sys.exit(code)


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def parse_api_version(s):
    if not s:
        return None
    try:
        return tuple(int(x) for x in s.split("."))
    except ValueError:
        fail("--api-version must look like 2.3.0, got %r" % s)


def read_records(path, stop_at=None):
    src = sys.stdin if path in (None, "-") else open(path, encoding="utf-8")
    out = []
    for n, line in enumerate(src, 1):
        line = line.strip()
        if stop_at is not None and line == stop_at:
            break
        if not line:
            continue
        try:
            r = json.loads(line)
            if not isinstance(r, dict):
                raise ValueError("not a JSON object")
            headers = []
            for h in r.get("headers") or []:
                if not (isinstance(h, list) and len(h) == 2 and isinstance(h[0], str)):
                    raise ValueError("headers must be [[name, b64|null], ...]")
                headers.append((h[0], unb64(h[1], "header value")))
            out.append(
                {
                    "key": unb64(r.get("key"), "key"),
                    "value": unb64(r.get("value"), "value"),
                    "headers": headers,
                    "partition": r.get("partition"),
                    "timestamp": r.get("timestamp"),
                }
            )
        except (ValueError, TypeError) as e:
            fail("input line %d: %s" % (n, e))
    return out


def kp_common(args):
    kw = {"bootstrap_servers": args.bootstrap.split(","), "client_id": "purekafka-peer"}
    av = parse_api_version(args.api_version)
    if av:
        kw["api_version"] = av
    return kw


# --- produce -----------------------------------------------------------------


def produce(args):
    txn = args.transactional_id
    if (args.abort or args.hold) and not txn:
        fail("--abort and --hold need --transactional-id")
    if args.abort and args.hold:
        fail("--abort and --hold exclude each other")
    if txn and args.client != "confluent":
        fail("--transactional-id needs --client confluent")
    recs = read_records(args.input, "hold" if args.hold else None)
    comp = None if args.compression == "none" else args.compression
    deadline = time.monotonic() + args.timeout
    acked = []
    if args.client == "kafka-python":
        from kafka import KafkaProducer

        acks = {"all": "all", "-1": "all", "1": 1, "0": 0}[args.acks]
        p = KafkaProducer(
            compression_type=comp,
            acks=acks,
            max_block_ms=int(args.timeout * 1000),
            request_timeout_ms=int(min(args.timeout, 30) * 1000),
            **kp_common(args),
        )
        for r in recs:
            if any(v is None for _k, v in r["headers"]):
                p.close(timeout=1)
                fail("kafka-python cannot send a header with a null value; use --client confluent")
        futs = [
            p.send(
                args.topic,
                key=r["key"],
                value=r["value"],
                headers=r["headers"] or None,
                partition=r["partition"],
                timestamp_ms=r["timestamp"],
            )
            for r in recs
        ]
        p.flush(timeout=max(0.1, deadline - time.monotonic()))
        for f in futs:
            try:
                md = f.get(timeout=max(0.1, deadline - time.monotonic()))
            except Exception as e:  # noqa: BLE001
                p.close(timeout=1)
                fail("kafka-python produce failed: %s: %s" % (type(e).__name__, e))
            acked.append({"topic": md.topic, "partition": md.partition, "offset": md.offset})
        p.close(timeout=5)
    else:
        from confluent_kafka import Producer

        p = Producer(
            {
                "bootstrap.servers": args.bootstrap,
                "client.id": "purekafka-peer",
                "compression.type": args.compression,
                "acks": args.acks,
                "message.timeout.ms": int(args.timeout * 1000),
                "linger.ms": 5,
                # librdkafka wants message.timeout.ms <= transaction.timeout.ms.
                **({"transactional.id": txn, "transaction.timeout.ms": max(60000, int(args.timeout * 1000))} if txn else {}),
            }
        )
        if txn:
            p.init_transactions(max(0.1, deadline - time.monotonic()))
            p.begin_transaction()
        results = [None] * len(recs)

        def cb(i):
            def on_delivery(err, msg):
                results[i] = (err, msg)

            return on_delivery

        for i, r in enumerate(recs):
            kw = {"key": r["key"], "value": r["value"], "on_delivery": cb(i)}
            if r["headers"]:
                kw["headers"] = r["headers"]
            if r["partition"] is not None:
                kw["partition"] = r["partition"]
            if r["timestamp"] is not None:
                kw["timestamp"] = r["timestamp"]
            while True:
                try:
                    p.produce(args.topic, **kw)
                    break
                except BufferError:
                    p.poll(0.1)
        left = p.flush(max(0.1, deadline - time.monotonic()))
        if left:
            fail("confluent-kafka: %d records still undelivered after %.0fs" % (left, args.timeout), 2)
        for res in results:
            err, msg = res
            if err is not None:
                fail("confluent-kafka produce failed: %s" % err)
            acked.append({"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset()})
        if txn:
            abort = args.abort
            if args.hold:
                for a in acked:
                    emit(a)
                emit({"event": "open"})
                cmd = sys.stdin.readline().strip()
                if cmd not in ("commit", "abort", ""):
                    p.abort_transaction(max(0.1, deadline - time.monotonic()))
                    fail("--hold wants 'commit' or 'abort', got %r (aborted)" % cmd)
                abort = cmd != "commit"
            left = max(0.1, deadline - time.monotonic())
            if abort:
                p.abort_transaction(left)
            else:
                p.commit_transaction(left)
            if args.hold:
                emit({"event": "aborted" if abort else "committed"})
    for a in [] if args.hold else acked:
        emit(a)
    print("peer: %s produced %d records to %s" % (args.client, len(acked), args.topic), file=sys.stderr)


# --- consume -----------------------------------------------------------------


def consume(args):
    deadline = time.monotonic() + args.timeout
    got = []
    if args.client == "kafka-python":
        from kafka import KafkaConsumer, TopicPartition

        # A short fetch wait: tansu holds every Fetch for at least half of it.
        c = KafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            isolation_level=args.isolation_level,
            **kp_common(args),
        )
        parts = None
        while time.monotonic() < deadline:
            parts = c.partitions_for_topic(args.topic)
            if parts:
                break
            time.sleep(0.2)
        if not parts:
            c.close()
            fail("topic %s not found within %.0fs" % (args.topic, args.timeout), 2)
        tps = [TopicPartition(args.topic, p) for p in sorted(parts)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        while len(got) < args.count and time.monotonic() < deadline:
            batch = c.poll(timeout_ms=200)
            for _tp, msgs in batch.items():
                for m in msgs:
                    got.append(
                        {
                            "topic": m.topic,
                            "partition": m.partition,
                            "offset": m.offset,
                            "key": b64(m.key),
                            "value": b64(m.value),
                            "headers": [[k, b64(v)] for k, v in (m.headers or [])],
                            "timestamp": m.timestamp,
                            "timestamp_type": m.timestamp_type,
                        }
                    )
        c.close()
    else:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

        c = Consumer(
            {
                "bootstrap.servers": args.bootstrap,
                "group.id": "purekafka-peer-" + uuid.uuid4().hex,
                "enable.auto.commit": False,
                "enable.partition.eof": False,
                "client.id": "purekafka-peer",
                # A short fetch wait: tansu holds every Fetch for at least half of it.
                "fetch.wait.max.ms": 20,
                "isolation.level": args.isolation_level,
            }
        )
        parts = None
        while time.monotonic() < deadline:
            try:
                md = c.list_topics(args.topic, timeout=max(0.1, min(5, deadline - time.monotonic())))
                t = md.topics.get(args.topic)
                if t is not None and t.error is None and t.partitions:
                    parts = sorted(t.partitions)
                    break
            except KafkaException:
                pass
            time.sleep(0.2)
        if not parts:
            c.close()
            fail("topic %s not found within %.0fs" % (args.topic, args.timeout), 2)
        c.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in parts])
        while len(got) < args.count and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                print("peer: consume error (continuing): %s" % m.error(), file=sys.stderr)
                continue
            ts_type, ts = m.timestamp()
            got.append(
                {
                    "topic": m.topic(),
                    "partition": m.partition(),
                    "offset": m.offset(),
                    "key": b64(m.key()),
                    "value": b64(m.value()),
                    "headers": [[k, b64(v)] for k, v in (m.headers() or [])],
                    "timestamp": ts,
                    # librdkafka: 1 create time, 2 log-append time -> Kafka's 0/1
                    "timestamp_type": ts_type - 1 if ts_type in (1, 2) else None,
                }
            )
        c.close()
    got.sort(key=lambda r: (r["partition"], r["offset"]))
    for r in got:
        emit(r)
    if len(got) < args.count:
        fail("got %d of %d records from %s within %.0fs" % (len(got), args.count, args.topic, args.timeout), 2)
    print("peer: %s consumed %d records from %s" % (args.client, len(got), args.topic), file=sys.stderr)


# --- admin -------------------------------------------------------------------


def create_topic(args):
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    a = KafkaAdminClient(request_timeout_ms=int(args.timeout * 1000), **kp_common(args))
    try:
        a.create_topics(
            [NewTopic(args.topic, num_partitions=args.partitions, replication_factor=args.replication)],
            timeout_ms=int(args.timeout * 1000),
        )
    except TopicAlreadyExistsError:
        fail("topic %s already exists" % args.topic)
    finally:
        a.close()
    # Wait until metadata shows every partition, so the caller can use it at once.
    from kafka import KafkaConsumer

    c = KafkaConsumer(group_id=None, **kp_common(args))
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline:
            c.topics()  # forces a metadata refresh for all topics
            parts = c.partitions_for_topic(args.topic)
            if parts and len(parts) == args.partitions:
                emit({"topic": args.topic, "partitions": sorted(parts)})
                return
            time.sleep(0.2)
    finally:
        c.close()
    fail("topic %s created but its %d partitions did not appear in metadata" % (args.topic, args.partitions), 2)


def partitions(args):
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "purekafka-peer-" + uuid.uuid4().hex})
    try:
        md = c.list_topics(args.topic, timeout=args.timeout)
        t = md.topics.get(args.topic)
        if t is None or t.error is not None:
            fail("topic %s: %s" % (args.topic, None if t is None else t.error), 2)
        emit({"partitions": sorted(t.partitions)})
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser(description="Reference Kafka clients for purekafka interop tests")
    sub = ap.add_subparsers(dest="sub", required=True)

    def common(p):
        p.add_argument("--bootstrap", required=True)
        p.add_argument("--topic", required=True)
        p.add_argument("--client", choices=["kafka-python", "confluent"], default="kafka-python")
        p.add_argument("--api-version")
        p.add_argument("--timeout", type=float, default=30.0)

    p = sub.add_parser("produce")
    common(p)
    p.add_argument("--compression", choices=["none", "gzip", "snappy", "lz4", "zstd"], default="none")
    p.add_argument("--acks", choices=["all", "-1", "1", "0"], default="all")
    p.add_argument("--input")
    p.add_argument("--transactional-id")
    p.add_argument("--abort", action="store_true")
    p.add_argument("--hold", action="store_true")
    p = sub.add_parser("consume")
    common(p)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--isolation-level", choices=["read_committed", "read_uncommitted"], default="read_uncommitted")
    p = sub.add_parser("create-topic")
    common(p)
    p.add_argument("--partitions", type=int, default=1)
    p.add_argument("--replication", type=int, default=1)
    p = sub.add_parser("partitions")
    common(p)
    args = ap.parse_args()
    if args.timeout <= 0:
        fail("--timeout must be > 0")
    try:
        {"produce": produce, "consume": consume, "create-topic": create_topic, "partitions": partitions}[args.sub](args)
    except ImportError as e:
        fail("%s; run ./scripts/setup-python.sh and use the python it prints" % e)
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - one clear line instead of a traceback
        fail("%s failed: %s: %s" % (args.sub, type(e).__name__, e))


if __name__ == "__main__":
    main()
