#!/usr/bin/env python3
"""librdkafka (through confluent-kafka) on the same terms as purekafka's
produce_bench/consume_bench: 100-byte records, acks=all, idempotence on,
against a librdkafka mock cluster started here. Client CPU is this process's
user+system time (the broker runs in the launcher process). The numbers
include the Python binding's per-record cost, as any librdkafka binding has some.

Usage: .venv/bin/python benches/librdkafka_bench.py [records]
"""
import json, os, resource, subprocess, sys, time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    from confluent_kafka import Consumer, Producer, TopicPartition
    mock = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "mock_cluster.py"), "--brokers", "1"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    bootstrap = mock.stdout.readline().split(" ", 1)[1].strip()
    parts = 32
    mock.stdin.write(json.dumps({"cmd": "create_topic", "topic": "bench", "partitions": parts}) + "\n")
    mock.stdin.flush()
    mock.stdout.readline()
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
                  "batch.size": 262144, "queue.buffering.max.messages": 2_000_000})
    value = b"x" * 100
    c0, t0 = cpu(), time.monotonic()
    for i in range(N):
        while True:
            try:
                p.produce("bench", key=i.to_bytes(4, "big"), value=value)
                break
            except BufferError:
                p.poll(0.01)
        if i % 10000 == 0:
            p.poll(0)
    p.flush(60)
    wall, used = time.monotonic() - t0, cpu() - c0
    print("librdkafka %s produce %d x 100 B: %.0f records/s, %.1f MB/s, %.3f CPU-s per million records"
          % (__import__("confluent_kafka").libversion()[0], N, N / wall, N * 100 / wall / 1e6, used / (N / 1e6)))
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition("bench", i, 0) for i in range(parts)])
    got, c0, t0 = 0, cpu(), time.monotonic()
    while got < N and time.monotonic() - t0 < 120:
        for m in c.consume(num_messages=10000, timeout=0.5):
            if not m.error():
                got += 1
    wall, used = time.monotonic() - t0, cpu() - c0
    print("librdkafka consume %d x 100 B: %.0f records/s, %.1f MB/s, %.3f CPU-s per million records"
          % (got, got / wall, got * 100 / wall / 1e6, used / (got / 1e6)))
    c.close()
    mock.stdin.close()
    mock.wait()


if __name__ == "__main__":
    main()
