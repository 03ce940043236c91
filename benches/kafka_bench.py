#!/usr/bin/env python3
"""purekafka beside the Java client (kafka-clients 4.4.0, through Kafka's own
ProducerPerformance and ConsumerPerformance) on one single-node Apache Kafka
4.4, same workload, one after the other in one run:

    N x 100-byte values with keys, acks=all, idempotence on, linger.ms=5,
    batch.size 16384 (the Java default), 8 partitions.

Keys: ProducerPerformance can only write the decimal text of a random int
(its --record-key-range is an int), so both clients write that: integers
below 2*10^9, 10 bytes for 95% of records (the issue asked for 16-byte keys;
the Java tool cannot make them).

Produce: each client writes its own topic. Consume: each client reads the
topic purekafka wrote, from the beginning (Java in a group, purekafka by
assignment). Printed per client: records/s, MB/s (keys and values) and
client CPU-seconds per million records.

CPU is measured two ways. "process" is the whole client process's
user+system time from the kernel (getrusage of the child), start-up
included: for the JVM that includes starting the JVM and JIT-compiling the
client, for purekafka its set-up (the runtime, key formatting); it is the
figure both can be measured by. purekafka's own timed-section figure is
printed beside it. The broker runs in its own process and is not counted.

TLS: every measurement runs twice, over PLAINTEXT and over TLS (the
SSL_NOAUTH listener: server-authenticated TLS, which Java and purekafka
both verify, with TLS 1.3 negotiated), on the same broker.

Transactions: one more produce row per client over PLAINTEXT, the same
workload in transactions of 100 ms (TXN_MS): ProducerPerformance with
--transactional-id and --transaction-duration-ms 100, produce_bench with
PUREKAFKA_BENCH_TRANSACTION_MS=100; both commit from the send loop once a
transaction has run that long, and wait for the commit.

Usage: .venv/bin/python benches/kafka_bench.py [records] [--only txn]   (default 1000000)
--only txn runs the transactional rows alone.
Needs: scripts/install-kafka.sh (Kafka 4.4.0 and the tools), a release build
of the bench binaries (this script runs cargo build --release for them).
"""
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

ARGS = [a for a in sys.argv[1:] if not a.startswith("--") and a != "txn"]
N = int(ARGS[0]) if ARGS else 1_000_000
ONLY_TXN = "--only" in sys.argv[1:] and sys.argv[sys.argv.index("--only") + 1:][:1] == ["txn"]
if "--only" in sys.argv[1:] and not ONLY_TXN:
    sys.exit("kafka_bench: --only takes txn")
PARTITIONS = 8
TXN_MS = 100
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, **kw).stdout


def timed(argv, env=None):
    """Runs argv; returns (stdout+stderr, wall seconds, child CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        sys.exit("kafka_bench: %s failed (%d):\n%s" % (argv[0], p.returncode, p.stdout[-3000:]))
    return p.stdout, wall, cpu


def main():
    home = sh([os.path.join(ROOT, "scripts", "install-kafka.sh")]).strip().splitlines()[-1]
    sys.stderr.write("kafka_bench: building the purekafka bench binaries (release)\n")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "purekafka-benches",
                    "--bin", "produce_bench", "--bin", "consume_bench"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="purekafka-kbench-")
    kafka = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "kafka_cluster.py"), "--home", home,
                              "--dir", work, "--nodes", "1", "--heap", "1g"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = kafka.stdout.readline()
    if not line.startswith("READY "):
        sys.exit("kafka_bench: Kafka did not start: %s" % line)
    ready = json.loads(line[6:])
    ca = ready["certs"]["ca"]

    def cmd(**c):
        kafka.stdin.write(json.dumps(c) + "\n")
        kafka.stdin.flush()
        r = kafka.stdout.readline().strip()
        if not r.startswith("OK"):
            sys.exit("kafka_bench: %s: %s" % (c, r))

    rows = []
    if not ONLY_TXN:
        for transport in ("PLAINTEXT", "SSL"):
            measure(transport, cmd, home, ready, ca, rows)
    measure_txn(cmd, home, ready, rows)

    kafka.stdin.close()
    kafka.wait(30)
    print("%d x (~10 B key + 100 B value), acks=all, idempotent, linger.ms=5, batch.size=16384, %d partitions, "
          "one Apache Kafka 4.4.0 node on this machine" % (N, PARTITIONS))
    print("| | transport | client | records/s | MB/s | CPU-s / M (process) | CPU-s / M (timed part) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for what, transport, who, rps, mbs, cpu_m, own_m in rows:
        print("| %s | %s | %s | %s | %.1f | %.2f | %s |" % (what, transport, who, "{:,.0f}".format(rps), mbs, cpu_m,
                                                         "%.2f" % own_m if own_m is not None else "-"))
    for transport in () if ONLY_TXN else ("PLAINTEXT", "SSL"):
        for what in ("produce", "consume"):
            pk = [r for r in rows if r[:2] == (what, transport) and r[2] == "purekafka"][0]
            jv = [r for r in rows if r[:2] == (what, transport) and r[2] != "purekafka"][0]
            print("%s %s: purekafka/Java records/s %.2fx, process CPU per record %.2fx" % (
                what, transport, pk[3] / jv[3], pk[5] / jv[5]))
    what = "produce, %d ms transactions" % TXN_MS
    pk = [r for r in rows if r[0] == what and r[2] == "purekafka"][0]
    jv = [r for r in rows if r[0] == what and r[2] != "purekafka"][0]
    print("%s PLAINTEXT: purekafka/Java records/s %.2fx, process CPU per record %.2fx" % (
        what, pk[3] / jv[3], pk[5] / jv[5]))


def java_cmd(home):
    return ["java", "-Xms512m", "-Xmx512m", "-XX:+UseG1GC",
            "-Dlog4j2.configurationFile=" + os.path.join(home, "conf", "log4j2-tools.properties"),
            "-cp", os.path.join(home, "lib", "*")]


def measure_txn(cmd, home, ready, rows):
    """Transactional produce, TXN_MS per transaction, over PLAINTEXT; appends rows."""
    what = "produce, %d ms transactions" % TXN_MS
    bootstrap = ready["listeners"]["PLAINTEXT"]
    pure_t, java_t = "bench-purekafka-txn", "bench-java-txn"
    for t in (pure_t, java_t):
        cmd(cmd="create_topic", topic=t, partitions=PARTITIONS)
    env = dict(os.environ, PUREKAFKA_BENCH_KEY_BYTES="java", PUREKAFKA_BENCH_BATCH_SIZE="16384",
               PUREKAFKA_BENCH_PARTITIONS=str(PARTITIONS), PUREKAFKA_BENCH_PROPERTIES="",
               PUREKAFKA_BENCH_TRANSACTION_MS=str(TXN_MS), PUREKAFKA_BENCH_TOPIC=pure_t)
    out, wall, cpu = timed([os.path.join(ROOT, "target", "release", "produce_bench"), str(N), bootstrap], env)
    m = re.search(r", (\d+) transactions of \d+ ms: (\d+) records/s, [\d.]+ MB/s, client CPU ([\d.]+) s", out)
    if not m:
        sys.exit("kafka_bench: produce_bench (transactional) said:\n" + out)
    rps, own = float(m.group(2)), float(m.group(3))
    sys.stderr.write("kafka_bench: purekafka committed %s transactions\n" % m.group(1))
    rows.append((what, "PLAINTEXT", "purekafka", rps, rps * 110 / 1e6, cpu / (N / 1e6), own / (N / 1e6)))

    out, wall, cpu = timed(java_cmd(home) + [
        "org.apache.kafka.tools.ProducerPerformance", "--bootstrap-server", bootstrap,
        "--topic", java_t, "--num-records", str(N), "--record-size", "100",
        "--throughput", "-1", "--key-distribution", "random", "--record-key-range", "2000000000",
        "--transactional-id", "bench-java-txn", "--transaction-duration-ms", str(TXN_MS),
        "--command-property", "acks=all", "enable.idempotence=true", "linger.ms=5", "batch.size=16384"])
    m = re.findall(r"(\d+) records sent, ([\d.]+) records/sec", out)
    if not m:
        sys.exit("kafka_bench: ProducerPerformance (transactional) said:\n" + out)
    rps = float(m[-1][1])
    rows.append((what, "PLAINTEXT", "Java 4.4.0", rps, rps * 110 / 1e6, cpu / (N / 1e6), None))


def measure(transport, cmd, home, ready, ca, rows):
    """One produce and one consume per client over `transport`; appends rows."""
    tls = transport == "SSL"
    bootstrap = ready["listeners"]["SSL_NOAUTH" if tls else "PLAINTEXT"]
    suffix = "-tls" if tls else ""
    pure_t, java_t = "bench-purekafka" + suffix, "bench-java" + suffix
    for t in (pure_t, java_t):
        cmd(cmd="create_topic", topic=t, partitions=PARTITIONS)
    java_tls = (["security.protocol=SSL", "ssl.truststore.type=PEM", "ssl.truststore.location=" + ca]
                if tls else [])
    java_conf = os.path.join(tempfile.mkdtemp(prefix="purekafka-kbench-java-"), "client.properties")
    with open(java_conf, "w") as f:
        f.write("".join(p + "\n" for p in java_tls))
    java = ["java", "-Xms512m", "-Xmx512m", "-XX:+UseG1GC",
            "-Dlog4j2.configurationFile=" + os.path.join(home, "conf", "log4j2-tools.properties"),
            "-cp", os.path.join(home, "lib", "*")]
    bench = lambda name: os.path.join(ROOT, "target", "release", name)  # noqa: E731
    env = dict(os.environ, PUREKAFKA_BENCH_KEY_BYTES="java", PUREKAFKA_BENCH_BATCH_SIZE="16384",
               PUREKAFKA_BENCH_PARTITIONS=str(PARTITIONS),
               PUREKAFKA_BENCH_PROPERTIES="security.protocol=ssl;ssl.ca.location=" + ca if tls else "")

    out, wall, cpu = timed([bench("produce_bench"), str(N), bootstrap], dict(env, PUREKAFKA_BENCH_TOPIC=pure_t))
    m = re.search(r": (\d+) records/s, [\d.]+ MB/s, client CPU ([\d.]+) s", out)
    if not m:
        sys.exit("kafka_bench: produce_bench said:\n" + out)
    rps, own = float(m.group(1)), float(m.group(2))
    rows.append(("produce", transport, "purekafka", rps, rps * 110 / 1e6, cpu / (N / 1e6), own / (N / 1e6)))

    out, wall, cpu = timed(java + ["org.apache.kafka.tools.ProducerPerformance", "--bootstrap-server", bootstrap,
                                   "--topic", java_t, "--num-records", str(N), "--record-size", "100",
                                   "--throughput", "-1", "--key-distribution", "random",
                                   "--record-key-range", "2000000000", "--command-property",
                                   "acks=all", "enable.idempotence=true", "linger.ms=5", "batch.size=16384"] + java_tls)
    m = re.findall(r"(\d+) records sent, ([\d.]+) records/sec", out)
    if not m:
        sys.exit("kafka_bench: ProducerPerformance said:\n" + out)
    rps = float(m[-1][1])
    rows.append(("produce", transport, "Java 4.4.0", rps, rps * 110 / 1e6, cpu / (N / 1e6), None))

    out, wall, cpu = timed([bench("consume_bench"), str(N), bootstrap, str(PARTITIONS)],
                           dict(env, PUREKAFKA_BENCH_TOPIC=pure_t))
    m = re.search(r": (\d+) records/s, ([\d.]+) MB/s, client CPU ([\d.]+) s", out)
    if not m:
        sys.exit("kafka_bench: consume_bench said:\n" + out)
    rps, own = float(m.group(1)), float(m.group(3))
    rows.append(("consume", transport, "purekafka", rps, float(m.group(2)), cpu / (N / 1e6), own / (N / 1e6)))

    out, wall, cpu = timed(java + ["org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", bootstrap,
                                   "--topic", pure_t, "--num-records", str(N), "--group", "bench-java-group" + suffix,
                                   "--timeout", "120000", "--command-config", java_conf])
    # CSV: start, end, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
    m = [l for l in out.splitlines() if re.match(r"^\d{4}-\d\d-\d\d", l)]
    if not m:
        sys.exit("kafka_bench: ConsumerPerformance said:\n" + out)
    f = [x.strip() for x in m[-1].split(",")]
    rps, mbs = float(f[5]), float(f[3]) * 1.048576  # its MB are MiB
    rows.append(("consume", transport, "Java 4.4.0", rps, mbs, cpu / (N / 1e6), None))


if __name__ == "__main__":
    main()
