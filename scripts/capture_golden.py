#!/usr/bin/env python3
"""Captures real Kafka traffic for purekafka's golden protocol tests.

Runs confluent-kafka (librdkafka) and kafka-python against a broker the
project starts (librdkafka's mock cluster by default, or tansu with
--broker tansu), or the Java client (kafka-clients 4.4.0: producer, consumer,
admin, through scripts/java/JavaPeer.java) against a real Apache Kafka 4.4
(--broker kafka, one node by scripts/kafka_cluster.py), records the loopback
traffic with tcpdump, splits it into frames and writes them under
protocol/tests/golden/<client>-<broker>/ (java-kafka44/ for the Java one) as

    NNNN-<Api>-v<version>-req.bin    request frame (header + body, no size)
    NNNN-<Api>-v<version>-resp.bin   its response frame

The tests decode each frame and re-encode it byte for byte. This script is a
developer tool (it needs root for tcpdump: apt-get install tcpdump, and dpkt:
.venv/bin/pip install dpkt; --broker kafka also scripts/install-kafka.sh); the
captured files are committed, the tests do not run it.

Usage: .venv/bin/python scripts/capture_golden.py [--broker mock|tansu|kafka]
"""

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "protocol", "tests", "golden")

API_NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
    10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
    15: "DescribeGroups", 16: "ListGroups", 17: "SaslHandshake", 18: "ApiVersions",
    19: "CreateTopics", 20: "DeleteTopics", 21: "DeleteRecords", 22: "InitProducerId",
    23: "OffsetForLeaderEpoch", 24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn", 26: "EndTxn",
    28: "TxnOffsetCommit", 29: "DescribeAcls", 30: "CreateAcls", 31: "DeleteAcls",
    32: "DescribeConfigs", 35: "DescribeLogDirs", 36: "SaslAuthenticate", 37: "CreatePartitions",
    42: "DeleteGroups", 44: "IncrementalAlterConfigs", 48: "DescribeClientQuotas",
    50: "DescribeUserScramCredentials", 60: "DescribeCluster", 61: "DescribeProducers",
    65: "DescribeTransactions", 66: "ListTransactions", 68: "ConsumerGroupHeartbeat",
    69: "ConsumerGroupDescribe", 71: "GetTelemetrySubscriptions", 72: "PushTelemetry",
    75: "DescribeTopicPartitions", 76: "ShareGroupHeartbeat", 77: "ShareGroupDescribe",
    78: "ShareFetch", 79: "ShareAcknowledge",
}
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
MAX_PER_KEY = 2          # frames kept per (api, version, direction) per client
MAX_FRAME = 256 * 1024   # skip larger frames (keeps the repository small)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mock():
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "mock_cluster.py"), "--brokers", "1"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("BOOTSTRAP "):
        raise SystemExit("mock cluster did not start: " + line)
    bootstrap = line.split(" ", 1)[1]

    def cmd(**kw):
        p.stdin.write(json.dumps(kw) + "\n")
        p.stdin.flush()
        ans = p.stdout.readline().strip()
        if not ans.startswith("OK"):
            raise SystemExit("mock: %s -> %s" % (kw, ans))

    return p, bootstrap, cmd


def start_tansu(workdir):
    tansu = os.environ.get("PUREKAFKA_TANSU") or os.path.expanduser("~/.cache/purekafka/tansu-0.6.0/bin/tansu")
    port = free_port()
    p = subprocess.Popen([tansu, "broker", "--listener-url", "tcp://127.0.0.1:%d" % port,
                          "--advertised-listener-url", "tcp://127.0.0.1:%d" % port,
                          "--storage-engine", "sqlite://golden.db"], cwd=workdir,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return p, "127.0.0.1:%d" % port


def records(n, tag):
    return [("key-%d" % (i % 7), json.dumps({"event": tag, "i": i, "user": "u%03d" % (i * 37 % 101),
                                             "path": "/products/%d" % (i * 13)}),
             [("trace", b"t-%d" % i)]) for i in range(n)]


def run_confluent(bootstrap, topic, broker):
    from confluent_kafka import Consumer, Producer, TopicPartition
    for codec in CODECS:
        if broker == "tansu" and codec == "snappy":
            continue  # tansu 0.6.0 on sqlite cannot store snappy batches
        p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 5,
                      "enable.idempotence": True, "acks": "all", "client.id": "golden-confluent"})
        for k, v, h in records(20, codec):
            p.produce(topic, key=k, value=v, headers=h)
        p.produce(topic, key="tombstone", value=None)
        p.flush(10)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "golden-confluent", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "client.id": "golden-confluent", "fetch.wait.max.ms": 100})
    c.subscribe([topic])
    got, deadline = 0, time.time() + 20
    while got < 100 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got += 1
    c.commit(asynchronous=False)
    c.get_watermark_offsets(TopicPartition(topic, 0))
    c.offsets_for_times([TopicPartition(topic, 0, int(time.time() * 1000) - 60000)])
    c.close()
    return got


def run_kafka_python(bootstrap, topic, broker):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    extra = {"api_version": (2, 3, 0)} if broker == "mock" else {}
    for codec in CODECS:
        if broker == "tansu" and codec == "snappy":
            continue
        p = KafkaProducer(bootstrap_servers=bootstrap, compression_type=None if codec == "none" else codec,
                          linger_ms=5, acks="all", client_id="golden-kafka-python", **extra)
        for k, v, h in records(20, codec):
            p.send(topic, key=k.encode(), value=v.encode(), headers=h)
        p.flush(10)
        p.close()
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="golden-kafka-python",
                      auto_offset_reset="earliest", enable_auto_commit=False, client_id="golden-kafka-python",
                      fetch_max_wait_ms=100, consumer_timeout_ms=5000, **extra)
    got = 0
    for _ in c:
        got += 1
        if got >= 80:
            break
    c.commit()
    c.end_offsets([TopicPartition(topic, 0)])
    c.close()
    if broker != "mock":
        from kafka.admin import KafkaAdminClient, NewTopic
        a = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="golden-kafka-python")
        a.create_topics([NewTopic("golden-created", num_partitions=3, replication_factor=1)])
        a.close()
    return got


def tcp_streams(pcap_path, port):
    """Reassembles client->broker and broker->client byte streams per connection."""
    import dpkt
    conns = {}
    with open(pcap_path, "rb") as f:
        for _, buf in dpkt.pcap.Reader(f):
            # Linux loopback captures use Ethernet framing (or SLL with -i any).
            try:
                eth = dpkt.ethernet.Ethernet(buf)
                ip = eth.data
            except Exception:
                continue
            if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            if tcp.dport == port:
                key, direction = tcp.sport, "c2s"
            elif tcp.sport == port:
                key, direction = tcp.dport, "s2c"
            else:
                continue
            st = conns.setdefault(key, {"c2s": {}, "s2c": {}})
            if tcp.data:
                st[direction].setdefault(tcp.seq, bytes(tcp.data))
    out = []
    for key in sorted(conns):
        streams = {}
        for d in ("c2s", "s2c"):
            segs = conns[key][d]
            data, nxt = b"", None
            for seq in sorted(segs):
                seg = segs[seq]
                if nxt is not None and seq < nxt:
                    seg = seg[nxt - seq:]
                data += seg
                nxt = seq + len(segs[seq])
            streams[d] = data
        out.append(streams)
    return out


def frames(data):
    i = 0
    while i + 4 <= len(data):
        (n,) = struct.unpack(">i", data[i:i + 4])
        if n < 0 or i + 4 + n > len(data):
            break
        yield data[i + 4:i + 4 + n]
        i += 4 + n


def client_id(req):
    """The request header's client id (header v1+; every API here has one)."""
    (n,) = struct.unpack(">h", req[8:10])
    return req[10:10 + n].decode("utf-8", "replace") if n >= 0 else None


def write_frames(streams, outdir, client_prefix=None):
    if os.path.isdir(outdir):
        shutil.rmtree(outdir)
    os.makedirs(outdir)
    counts, seq, written = {}, 0, 0
    for st in streams:
        pending = {}
        for req in frames(st["c2s"]):
            api, ver, corr = struct.unpack(">hhi", req[:8])
            # A real broker also talks to itself on its client listener
            # (transaction markers, AddPartitionsToTxn verification) and the
            # launcher creates topics: keep only the client under test.
            if client_prefix is not None and not (client_id(req) or "").startswith(client_prefix):
                continue
            pending[corr] = (api, ver, req)
        for resp in frames(st["s2c"]):
            (corr,) = struct.unpack(">i", resp[:4])
            if corr not in pending:
                continue
            api, ver, req = pending.pop(corr)
            name = API_NAMES.get(api, "Api%d" % api)
            k = (api, ver)
            # Keep every produce request (one per codec) and fetches with data
            # (the mock returns one batch per partition per fetch, so it takes
            # several to see every codec), a few of everything else.
            limit = 10 if api in (0, 1) else MAX_PER_KEY
            if counts.get(k, 0) >= limit or len(req) > MAX_FRAME or len(resp) > MAX_FRAME:
                continue
            # Prefer frames with content: skip empty fetch responses after the first.
            if api == 1 and len(resp) < 200:
                continue
            counts[k] = counts.get(k, 0) + 1
            seq += 1
            base = os.path.join(outdir, "%04d-%s-v%d" % (seq, name, ver))
            with open(base + "-req.bin", "wb") as f:
                f.write(req)
            with open(base + "-resp.bin", "wb") as f:
                f.write(resp)
            written += 1
    return written


def java_records(n, tag):
    """JavaPeer's input: JSON lines, bytes in base64."""
    b64 = lambda b: None if b is None else base64.b64encode(b).decode()
    return "".join(json.dumps({"key": b64(k.encode()), "value": b64(v.encode()),
                               "headers": [[hk, b64(hv)] for hk, hv in h]}) + "\n"
                   for k, v, h in records(n, tag))


def run_java(home, bootstrap, topic):
    """The Java client's producer, consumer, share consumer and admin traffic, few small records."""
    java = ["java", "-Dlog4j2.configurationFile=%s/conf/log4j2-tools.properties" % home,
            "-cp", "%s/peer:%s/lib/*" % (home, home), "JavaPeer"]

    def peer(args, stdin="", client="golden-java"):
        r = subprocess.run(java + args + ["--bootstrap", bootstrap, "--timeout", "60", "-X", "client.id=" + client],
                           input=stdin, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("JavaPeer %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr[-2000:]))
        return r.stdout.splitlines()

    produced = 0
    for codec in CODECS:  # idempotent, one small batch per codec, and a tombstone
        inp = java_records(10, codec) + json.dumps({"key": base64.b64encode(b"tombstone").decode(), "value": None}) + "\n"
        produced += len(peer(["produce", "--topic", topic, "--compression", codec, "--idempotence", "true",
                              "--acks", "all", "--linger-ms", "5"], inp, "golden-java-producer"))
    committed = produced
    for abort in (False, True):  # transactions (v2 on Kafka 4.4): commit, then abort
        n = len(peer(["produce", "--topic", topic, "--transactional-id", "golden-java-tx", "--compression", "lz4"]
                     + (["--abort"] if abort else ["--offsets-group", "golden-java-txgroup"]),
                     java_records(4, "tx-abort" if abort else "tx"),
                     "golden-java-tx"))
        produced += n
        committed += 0 if abort else n
    # The classic group reads committed records only, the KIP-848 member everything.
    got = peer(["consume", "--topic", topic, "--count", str(committed), "--group", "golden-java-classic",
                "--group-protocol", "classic", "--isolation-level", "read_committed", "--commit"],
               client="golden-java-classic")
    got848 = peer(["consume", "--topic", topic, "--count", str(produced), "--group", "golden-java-848",
                   "--group-protocol", "consumer", "--commit"], client="golden-java-848")
    shared = peer(["share-consume", "--topic", topic, "--count", str(produced), "--group", "golden-java-share"],
                  client="golden-java-share")
    peer(["admin", "--topic", "golden-admin", "--group", "golden-java-classic,golden-java-848"],
         client="golden-java-admin")
    records_in = lambda lines: sum(1 for l in lines if '"offset"' in l)
    return records_in(got) + records_in(got848) + records_in(shared)


def capture_java_kafka(workdir):
    home = subprocess.run([os.path.join(ROOT, "scripts", "install-kafka.sh")], capture_output=True, text=True,
                          check=True).stdout.strip().splitlines()[-1]
    kdir = os.path.join(workdir, "kafka")
    shutil.rmtree(kdir, ignore_errors=True)
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "kafka_cluster.py"), "--home", home,
                             "--dir", kdir, "--nodes", "1"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        raise SystemExit("kafka_cluster.py did not start: " + line)
    bootstrap = json.loads(line.split(" ", 1)[1])["bootstrap"]
    proc.stdin.write(json.dumps({"cmd": "create_topic", "topic": "golden", "partitions": 1}) + "\n")
    proc.stdin.flush()
    ans = proc.stdout.readline().strip()
    if not ans.startswith("OK"):
        raise SystemExit("create_topic: " + ans)
    port = int(bootstrap.rsplit(":", 1)[1])
    pcap = os.path.join(workdir, "java-kafka44.pcap")
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", pcap, "tcp port %d" % port],
                            stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    try:
        got = run_java(home, bootstrap, "golden")
    finally:
        time.sleep(1.0)
        dump.send_signal(signal.SIGINT)
        dump.wait()
        proc.stdin.close()  # EOF stops the cluster
        proc.wait()
    n = write_frames(tcp_streams(pcap, port), os.path.join(OUT, "java-kafka44"), client_prefix="golden-java")
    print("java on kafka 4.4: consumed %d records, wrote %d request/response pairs" % (got, n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", choices=["mock", "tansu", "kafka"], default="mock")
    args = ap.parse_args()
    if not shutil.which("tcpdump"):
        raise SystemExit("tcpdump is needed: apt-get install tcpdump")
    workdir = os.path.join("/tmp", "purekafka-golden")
    os.makedirs(workdir, exist_ok=True)
    if args.broker == "kafka":
        capture_java_kafka(workdir)
        return
    for client in ("confluent", "kafka-python"):
        if args.broker == "mock":
            proc, bootstrap, cmd = start_mock()
            cmd(cmd="create_topic", topic="golden", partitions=1)
        else:
            if os.path.exists(os.path.join(workdir, "golden.db")):
                os.remove(os.path.join(workdir, "golden.db"))
            proc, bootstrap = start_tansu(workdir)
            from kafka.admin import KafkaAdminClient, NewTopic
            a = KafkaAdminClient(bootstrap_servers=bootstrap)
            a.create_topics([NewTopic("golden", num_partitions=1, replication_factor=1)])
            a.close()
        port = int(bootstrap.split(",")[0].rsplit(":", 1)[1])
        pcap = os.path.join(workdir, "%s-%s.pcap" % (client, args.broker))
        dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", pcap, "tcp port %d" % port],
                                stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        try:
            got = (run_confluent if client == "confluent" else run_kafka_python)(bootstrap, "golden", args.broker)
        finally:
            time.sleep(1.0)
            dump.send_signal(signal.SIGINT)
            dump.wait()
            proc.terminate()
            proc.wait()
        n = write_frames(tcp_streams(pcap, port), os.path.join(OUT, "%s-%s" % (client, args.broker)))
        print("%s on %s: consumed %d records, wrote %d request/response pairs" % (client, args.broker, got, n))


if __name__ == "__main__":
    main()
