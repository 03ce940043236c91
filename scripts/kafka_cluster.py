#!/usr/bin/env python3
"""Runs a real Apache Kafka (KRaft) cluster for the tests and drives it from stdin.

    kafka_cluster.py --home DIR --dir WORKDIR [--nodes 1|3] [--no-security]
                     [--heap 512m] [--start-timeout SECS]

--home is what scripts/install-kafka.sh prints (lib/ and conf/ inside).
Every node is a combined broker+controller JVM, listening on 127.0.0.1 only,
on ports picked free at start. Its data, configs and logs go under WORKDIR:
  WORKDIR/node<N>/{server.properties,data/,logs/server.log,stdout.log}
  WORKDIR/certs/   (security on) CA, broker and client certificates, PEM

With one node (and security on, the default) the node has these listeners:
  PLAINTEXT       no auth (principal User:ANONYMOUS, a super user)
  SSL             TLS, client certificate REQUIRED (principal User:CN=client, a super user)
  SSL_NOAUTH      TLS, no client certificate (principal User:ANONYMOUS)
  SASL_PLAINTEXT  PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (unsecured JWS)
  SASL_SSL        the same over TLS
Users (PLAIN and both SCRAMs): admin/admin-secret (super user), alice/alice-secret,
bob/bob-secret (no ACLs: denied until a test grants them). StandardAuthorizer,
allow.everyone.if.no.acl.found=false. Transactions v2, KIP-848 groups and share
groups are on (the 4.4 defaults: transaction.version=2, group.version=1, share.version=2).

With three nodes: PLAINTEXT only, replication 3, min.insync.replicas 2, for
failure tests (kill a node, start it again).

Protocol (line based): the first stdout line is ``READY <json>`` with
bootstrap, listeners, nodes, certs and users (or ``ERR <reason>``, exit 1).
Then each stdin line is a JSON object ``{"cmd": NAME, ...}`` answered by one
line, ``OK``, ``OK <json>`` or ``ERR <reason>``:
  ping
  create_topic topic partitions [replication] [configs={k: v}]
        CreateTopics, then waits until every live node's metadata has a leader
        for every partition
  leader topic partition          -> OK {"leader": node id, "isr": [...], "replicas": [...]}
  coordinator key [key_type=group|transaction]  -> OK {"node": id}
        (FindCoordinator; retried while the internal topic is being created)
  move_leader topic partition node
        makes node the leader without a failure (replica order by
        ReassignPartitionsCommand, then a preferred leader election)
  kill node                       SIGKILL (a crash: no controlled shutdown)
  stop node                       SIGTERM, waits for the JVM to exit
  start node                      starts a stopped node, waits until it serves
  wait_ready [node]               waits until the node (or all live ones) serve
  status                          -> OK {"alive": [ids]}
  acl action=add|remove principal operations=[..] (topic|group|transactional_id|cluster=true)
        [pattern=literal|prefixed]
        AclCommand over PLAINTEXT: allows (or removes) the operations
        (Read, Write, Describe, Create, IdempotentWrite, ...) for the
        principal (User:alice) on one resource
  feature name level              -> OK {"previous": level}
        FeatureCommand upgrade/downgrade of a finalized feature
        (transaction.version=1, ...)
  quit
stdin EOF (the test binary exited, panicked or was killed), SIGTERM, SIGINT
or SIGHUP stop every JVM. Each JVM also gets PR_SET_PDEATHSIG, so even a
SIGKILL of this launcher leaves no broker behind.
"""

import argparse
import base64
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid

USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}
SCRAM_MECHS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
SASL_MECHS = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"


def log(msg):
    sys.stderr.write("kafka_cluster.py: %s\n" % msg)
    sys.stderr.flush()


def reply(line):
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass


def ephemeral_range():
    """The kernel's range of local ports for outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(n):
    """n ports free on 127.0.0.1 now, outside the kernel's ephemeral range.

    A port the kernel hands out for bind(0) comes from the range it also
    uses for the local end of outgoing connections: with tests running
    beside the launcher, one took a node's port in the seconds before the
    JVM bound it (CI: "Socket server failed to bind ... Address already in
    use"), and one can take it while a killed node is down. Ports outside
    that range are only ever taken by a bind, which the check below sees."""
    lo, hi = ephemeral_range()
    candidates = [p for p in range(10000, 65536) if not lo <= p <= hi]
    rng = random.SystemRandom()
    socks, ports = [], []
    try:
        for _ in range(200 * n):
            if len(ports) == n:
                break
            if len(candidates) >= 1000:
                port = rng.choice(candidates)
                if port in ports:
                    continue
            else:
                port = 0
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    if len(ports) < n:
        raise RuntimeError("found only %d of %d free ports" % (len(ports), n))
    return ports


# --------------------------------------------------------------------------
# Just enough of the Kafka protocol (non-flexible versions) for readiness,
# topic creation and leader lookup, so none of it needs a client library.


class Reader:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, n):
        if self.i + n > len(self.b):
            raise ValueError("short response")
        v = self.b[self.i : self.i + n]
        self.i += n
        return v

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def array(self, f):
        n = self.i32()
        return [] if n < 0 else [f() for _ in range(n)]


def enc_str(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def request(port, api_key, version, body, timeout=5.0):
    """Sends one request on a fresh connection; returns the response body."""
    hdr = struct.pack(">hhi", api_key, version, 1) + enc_str("purekafka-harness")
    msg = hdr + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">i", len(msg)) + msg)
        size = struct.unpack(">i", recv_exact(s, 4))[0]
        data = recv_exact(s, size)
    return data[4:]  # skip the correlation id


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("connection closed")
        out += chunk
    return out


def metadata(port, topics=None, timeout=5.0):
    """Metadata v4: (brokers {id: port}, controller, {topic: (err, {part: (err, leader, isr)})})."""
    if topics is None:
        body = struct.pack(">i", 0)
    else:
        body = struct.pack(">i", len(topics)) + b"".join(enc_str(t) for t in topics)
    body += struct.pack(">b", 0)  # allow_auto_topic_creation
    r = Reader(request(port, 3, 4, body, timeout))
    r.i32()  # throttle

    def broker():
        nid, _host, bport, _rack = r.i32(), r.string(), r.i32(), r.string()
        return nid, bport

    brokers = dict(r.array(broker))
    r.string()  # cluster id
    controller = r.i32()

    def partition():
        err, idx, leader = r.i16(), r.i32(), r.i32()
        replicas = r.array(r.i32)
        isr = r.array(r.i32)
        return idx, (err, leader, isr, replicas)

    def topic():
        err, name, _internal = r.i16(), r.string(), r.i8()
        return name, (err, dict(r.array(partition)))

    return brokers, controller, dict(r.array(topic))


def find_coordinator(port, key, key_type=0):
    """FindCoordinator v1 (key_type 0 group, 1 transaction): (error, node id)."""
    r = Reader(request(port, 10, 1, enc_str(key) + struct.pack(">b", key_type)))
    r.i32()  # throttle
    err, _msg, node = r.i16(), r.string(), r.i32()
    return err, node


def create_topics(port, name, partitions, replication, configs, timeout_ms=30000):
    """CreateTopics v4; returns (error_code, message)."""
    cfg = b"".join(enc_str(k) + enc_str(v) for k, v in configs.items())
    body = struct.pack(">i", 1) + enc_str(name) + struct.pack(">ih", partitions, replication)
    body += struct.pack(">i", 0)  # assignments
    body += struct.pack(">i", len(configs)) + cfg
    body += struct.pack(">ib", timeout_ms, 0)
    r = Reader(request(port, 19, 4, body, timeout=timeout_ms / 1000 + 5))
    r.i32()
    res = r.array(lambda: (r.string(), r.i16(), r.string()))
    if not res:
        return -1, "empty CreateTopics response"
    return res[0][1], res[0][2]


# --------------------------------------------------------------------------
# Certificates (openssl CLI; only test setup uses it, never the library)


def run(argv, cwd=None, what=None):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (what or argv[0], p.returncode, p.stdout.decode(errors="replace")[-2000:]))
    return p.stdout.decode(errors="replace")


def make_certs(d):
    """A CA; a broker certificate for localhost/127.0.0.1; client certificates
    (RSA, EC, an encrypted PKCS#8 key); and, for failure tests, a certificate
    for another host and an expired one. Everything PEM, keys PKCS#8."""
    os.makedirs(d, exist_ok=True)
    o = lambda *a: run(["openssl", *a], cwd=d, what="openssl " + a[0])  # noqa: E731
    o("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
      "-days", "3650", "-subj", "/CN=purekafka-test-ca",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def leaf(name, cn, key_alg, san, days="3650", ext_usage="serverAuth,clientAuth", start=None):
        if key_alg == "rsa":
            o("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", name + ".key")
        else:
            o("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + ".key")
        o("req", "-new", "-key", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n")
            f.write("extendedKeyUsage=%s\n" % ext_usage)
            if san:
                f.write("subjectAltName=%s\n" % san)
        args = ["x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".crt", "-days", days, "-extfile", name + ".ext"]
        o(*args)
        os.remove(os.path.join(d, name + ".csr"))
        os.remove(os.path.join(d, name + ".ext"))

    leaf("broker", "localhost", "rsa", "DNS:localhost,IP:127.0.0.1")
    leaf("client", "client", "rsa", None)
    leaf("client-ec", "client-ec", "ec", None)
    leaf("wronghost", "wrong.example", "rsa", "DNS:wrong.example")
    # Expired: a broker-style certificate valid for one day in 2020, signed
    # through `openssl ca` (the only openssl 3.0 command that takes a start date).
    db = os.path.join(d, "ca-db")
    os.makedirs(db, exist_ok=True)
    open(os.path.join(db, "index.txt"), "w").close()
    with open(os.path.join(db, "serial"), "w") as f:
        f.write("1000\n")
    with open(os.path.join(db, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca=t\n[t]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\n"
                "default_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n[ext]\nbasicConstraints=CA:FALSE\n"
                "subjectAltName=DNS:localhost,IP:127.0.0.1\n" % (db, db, db))
    o("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "expired.key")
    o("req", "-new", "-key", "expired.key", "-out", "expired.csr", "-subj", "/CN=localhost")
    o("ca", "-batch", "-config", os.path.join(db, "ca.cnf"), "-cert", "ca.crt", "-keyfile", "ca.key",
      "-in", "expired.csr", "-out", "expired.crt", "-startdate", "20200101000000Z",
      "-enddate", "20200102000000Z", "-extensions", "ext", "-notext")
    os.remove(os.path.join(d, "expired.csr"))
    # The client key again, encrypted (PKCS#8, AES-256) for ssl.key.password.
    o("pkcs8", "-topk8", "-in", "client.key", "-out", "client-encrypted.key", "-v2", "aes-256-cbc",
      "-passout", "pass:client-key-secret")
    # Broker keystore: its key and chain in one PEM file (ssl.keystore.type=PEM).
    with open(os.path.join(d, "broker.pem"), "w") as out:
        for f in ("broker.key", "broker.crt", "ca.crt"):
            out.write(open(os.path.join(d, f)).read())
    return {
        "ca": os.path.join(d, "ca.crt"),
        "client_cert": os.path.join(d, "client.crt"),
        "client_key": os.path.join(d, "client.key"),
        "client_key_encrypted": os.path.join(d, "client-encrypted.key"),
        "client_key_password": "client-key-secret",
        "client_ec_cert": os.path.join(d, "client-ec.crt"),
        "client_ec_key": os.path.join(d, "client-ec.key"),
        "broker_cert": os.path.join(d, "broker.crt"),
        "wronghost_cert": os.path.join(d, "wronghost.crt"),
        "wronghost_key": os.path.join(d, "wronghost.key"),
        "expired_cert": os.path.join(d, "expired.crt"),
        "expired_key": os.path.join(d, "expired.key"),
    }


# --------------------------------------------------------------------------
# Nodes


def jaas(listener, mech):
    prefix = "listener.name.%s.%s.sasl.jaas.config=" % (listener, mech.lower())
    if mech == "PLAIN":
        users = " ".join('user_%s="%s"' % kv for kv in USERS.items())
        return prefix + ('org.apache.kafka.common.security.plain.PlainLoginModule required '
                         'username="admin" password="admin-secret" %s;' % users)
    if mech.startswith("SCRAM"):
        return prefix + "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    return prefix + ('org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required '
                     'unsecuredLoginStringClaim_sub="admin";')


class Node:
    def __init__(self, nid, workdir, ports):
        self.id = nid
        self.dir = os.path.join(workdir, "node%d" % nid)
        self.ports = ports  # listener name -> port
        self.proc = None

    @property
    def port(self):
        return self.ports["PLAINTEXT"]


class KafkaCluster:
    def __init__(self, home, workdir, nodes, security, heap, start_timeout):
        self.home, self.workdir = os.path.abspath(home), os.path.abspath(workdir)
        self.security = security and nodes == 1
        self.heap, self.start_timeout = heap, start_timeout
        self.lock = threading.Lock()
        names = ["PLAINTEXT", "CONTROLLER"]
        if self.security:
            names += ["SSL", "SSL_NOAUTH", "SASL_PLAINTEXT", "SASL_SSL"]
        ports = free_ports(len(names) * nodes)
        self.nodes = {}
        for i in range(nodes):
            nid = i + 1
            self.nodes[nid] = Node(nid, self.workdir, dict(zip(names, ports[i * len(names) : (i + 1) * len(names)])))
        self.certs = make_certs(os.path.join(self.workdir, "certs")) if self.security else None
        self.cluster_id = self.random_id()

    @staticmethod
    def random_id():
        while True:
            s = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            if not s.startswith("-"):
                return s

    def java(self, heap, log_cfg):
        cp = os.path.join(self.home, "lib", "*")
        return ["java", "-Xms" + heap, "-Xmx" + heap, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
                "-Djava.awt.headless=true",
                "-Dlog4j2.configurationFile=" + os.path.join(self.home, "conf", log_cfg), "-cp", cp]

    def properties(self, node):
        n = len(self.nodes)
        voters = ",".join("%d@127.0.0.1:%d" % (x.id, x.ports["CONTROLLER"]) for x in self.nodes.values())
        listeners = ",".join("%s://127.0.0.1:%d" % (k, v) for k, v in node.ports.items())
        advertised = ",".join("%s://127.0.0.1:%d" % (k, v) for k, v in node.ports.items() if k != "CONTROLLER")
        protomap = {"PLAINTEXT": "PLAINTEXT", "CONTROLLER": "PLAINTEXT", "SSL": "SSL",
                    "SSL_NOAUTH": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL"}
        rf, isr = (1, 1) if n == 1 else (3, 2)
        p = [
            "process.roles=broker,controller",
            "node.id=%d" % node.id,
            "controller.quorum.voters=" + voters,
            "controller.listener.names=CONTROLLER",
            "listeners=" + listeners,
            "advertised.listeners=" + advertised,
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=" + ",".join("%s:%s" % (k, protomap[k]) for k in node.ports),
            "log.dirs=" + os.path.join(node.dir, "data"),
            "offsets.topic.replication.factor=%d" % rf,
            "transaction.state.log.replication.factor=%d" % rf,
            "transaction.state.log.min.isr=%d" % isr,
            "share.coordinator.state.topic.replication.factor=%d" % rf,
            "share.coordinator.state.topic.min.isr=%d" % isr,
            "default.replication.factor=%d" % rf,
            "min.insync.replicas=%d" % isr,
            "num.partitions=1",
            "auto.create.topics.enable=true",
            # Small-box tuning, as Kafka's own test kits do.
            "group.initial.rebalance.delay.ms=0",
            "offsets.topic.num.partitions=5",
            "transaction.state.log.num.partitions=5",
            "share.coordinator.state.topic.num.partitions=5",
            "log.cleaner.dedupe.buffer.size=2097152",
            "num.network.threads=2",
            "background.threads=2",
            "num.io.threads=4",
            "log.initial.task.delay.ms=100",
            # Fast tests of KIP-848 and share groups (defaults 5 s / 45 s).
            "group.consumer.min.heartbeat.interval.ms=500",
            "group.consumer.heartbeat.interval.ms=1000",
            "group.consumer.min.session.timeout.ms=3000",
            "group.consumer.session.timeout.ms=10000",
            "group.share.min.heartbeat.interval.ms=500",
            "group.share.heartbeat.interval.ms=1000",
            "group.share.min.session.timeout.ms=3000",
            "group.share.session.timeout.ms=10000",
            "group.share.min.record.lock.duration.ms=1000",
            "group.share.record.lock.duration.ms=5000",
            # Classic groups: allow the short session timeouts tests use.
            "group.min.session.timeout.ms=1000",
            # Transactions: short timeouts so an abandoned transaction ends soon.
            "transaction.abort.timed.out.transaction.cleanup.interval.ms=2000",
            "transaction.max.timeout.ms=900000",
        ]
        if n > 1:
            p += ["broker.heartbeat.interval.ms=1000", "broker.session.timeout.ms=4000",
                  "replica.lag.time.max.ms=5000", "unclean.leader.election.enable=false"]
        if self.security:
            c = os.path.join(self.workdir, "certs")
            p += [
                "ssl.keystore.type=PEM",
                "ssl.keystore.location=" + os.path.join(c, "broker.pem"),
                "ssl.truststore.type=PEM",
                "ssl.truststore.location=" + os.path.join(c, "ca.crt"),
                "ssl.endpoint.identification.algorithm=",
                "listener.name.ssl.ssl.client.auth=required",
                "listener.name.ssl_noauth.ssl.client.auth=none",
                "listener.name.sasl_ssl.ssl.client.auth=none",
                "sasl.enabled.mechanisms=" + SASL_MECHS,
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found=false",
                # Inter-broker and controller traffic is PLAINTEXT (User:ANONYMOUS),
                # so ANONYMOUS must be a super user: PLAINTEXT clients bypass ACLs;
                # ACL tests use alice and bob over SASL.
                "super.users=User:admin;User:ANONYMOUS;User:CN=client",
                # KIP-368: SASL sessions last 20 s, so the tests see clients
                # re-authenticate on live connections (tests/tests/sasl_reauth.rs).
                "connections.max.reauth.ms=20000",
            ]
            for listener in ("sasl_plaintext", "sasl_ssl"):
                for mech in SASL_MECHS.split(","):
                    p.append(jaas(listener, mech))
        return "\n".join(p) + "\n"

    def format(self, node):
        os.makedirs(os.path.join(node.dir, "logs"), exist_ok=True)
        path = os.path.join(node.dir, "server.properties")
        with open(path, "w") as f:
            f.write(self.properties(node))
        argv = self.java("256m", "log4j2-tools.properties") + [
            "-XX:TieredStopAtLevel=1", "kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", path]
        if self.security:
            for mech in SCRAM_MECHS:
                for u, pw in USERS.items():
                    argv += ["--add-scram", "%s=[name=%s,password=%s]" % (mech, u, pw)]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def start_node(self, node):
        logs = os.path.join(node.dir, "logs")
        os.makedirs(logs, exist_ok=True)
        argv = self.java(self.heap, "log4j2-server.properties") + [
            "-Dkafka.logs.dir=" + logs, "kafka.Kafka", os.path.join(node.dir, "server.properties")]
        out = open(os.path.join(node.dir, "stdout.log"), "ab")
        node.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     preexec_fn=die_with_parent, start_new_session=True)
        out.close()

    def start(self):
        fmts = [(n, self.format(n)) for n in self.nodes.values()]
        for n, p in fmts:
            out = p.communicate()[0].decode(errors="replace")
            if p.returncode != 0:
                raise RuntimeError("StorageTool format of node %d failed: %s" % (n.id, out[-2000:]))
        for n in self.nodes.values():
            self.start_node(n)
        self.wait_ready(None, self.start_timeout)

    def alive(self):
        return [n.id for n in self.nodes.values() if n.proc is not None and n.proc.poll() is None]

    def wait_ready(self, nid, timeout):
        """Until each wanted node answers Metadata listing every live node."""
        want = [nid] if nid is not None else self.alive()
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            for w in want:
                n = self.nodes[w]
                if n.proc is None or n.proc.poll() is not None:
                    raise RuntimeError("node %d exited (%s); last log lines:\n%s" % (
                        w, n.proc and n.proc.returncode, tail(os.path.join(n.dir, "stdout.log"), 20)))
            try:
                ok = True
                live = set(self.alive())
                for w in want:
                    brokers, _ctl, _t = metadata(self.nodes[w].port, timeout=2.0)
                    if not live.issubset(set(brokers)):
                        ok, last = False, "node %d sees brokers %s of %s" % (w, sorted(brokers), sorted(live))
                    # Kafka opens the inter-broker listener (PLAINTEXT) first
                    # and the others only once its authorizer is ready: a
                    # test once met "Connection refused" on SASL_PLAINTEXT of
                    # a node PLAINTEXT said was up.
                    for name, port in self.nodes[w].ports.items():
                        if name == "CONTROLLER":
                            continue
                        try:
                            socket.create_connection(("127.0.0.1", port), timeout=2.0).close()
                        except OSError as e:
                            ok, last = False, "node %d: listener %s (port %d): %s" % (w, name, port, e)
                if ok:
                    return
            except (OSError, ValueError) as e:
                last = str(e)
            if time.monotonic() > deadline:
                raise RuntimeError("not ready within %ds: %s" % (timeout, last))
            time.sleep(0.2)

    def any_port(self):
        for nid in self.alive():
            return self.nodes[nid].port
        raise RuntimeError("no node is alive")

    def create_topic(self, topic, partitions, replication, configs):
        if replication is None:
            replication = 1 if len(self.nodes) == 1 else 3
        err, msg = create_topics(self.any_port(), topic, partitions, replication, configs)
        if err not in (0, 36):  # 36 TOPIC_ALREADY_EXISTS
            raise RuntimeError("CreateTopics %s: error %d %s" % (topic, err, msg or ""))
        deadline = time.monotonic() + 30
        while True:
            ready = True
            for nid in self.alive():
                try:
                    _b, _c, topics = metadata(self.nodes[nid].port, [topic])
                except (OSError, ValueError):
                    ready = False
                    break
                t = topics.get(topic)
                if t is None or t[0] != 0 or len(t[1]) != partitions or any(
                        pe != 0 or leader < 0 for pe, leader, _isr, _r in t[1].values()):
                    ready = False
                    break
            if ready:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("topic %s not ready on every node within 30 s" % topic)
            time.sleep(0.05)

    def leader(self, topic, partition):
        # A node's answer can lack a topic another node (or it, a moment
        # ago) already showed (CI once: right after create_topic): ask again
        # for a few seconds before saying there is none.
        deadline = time.monotonic() + 10
        while True:
            _b, _c, topics = metadata(self.any_port(), [topic])
            t = topics.get(topic)
            if t is not None and partition in t[1]:
                err, leader, isr, replicas = t[1][partition]
                return {"leader": leader, "isr": isr, "replicas": replicas, "error": err}
            if time.monotonic() > deadline:
                raise RuntimeError("no metadata for %s-%d" % (topic, partition))
            time.sleep(0.1)

    def coordinator(self, key, key_type, timeout=60.0):
        """The coordinator node of a group (0) or transactional id (1). The
        first lookup creates the internal topic, so it retries until ready."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                err, node = find_coordinator(self.any_port(), key, key_type)
                if err == 0:
                    return {"node": node}
                last = "error %d" % err
            except (OSError, ValueError) as e:
                last = str(e)
            if time.monotonic() > deadline:
                raise RuntimeError("no coordinator for %r within %ds: %s" % (key, timeout, last))
            time.sleep(0.2)

    def tool(self, argv, what):
        cmd = self.java("256m", "log4j2-tools.properties") + ["-XX:TieredStopAtLevel=1"] + argv
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode(errors="replace")
        if p.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (what, p.returncode, out[-1500:]))
        return out

    def move_leader(self, topic, partition, node, timeout=60.0):
        """Makes `node` the leader of topic/partition without a failure: puts it
        first in the replica list (ReassignPartitionsCommand), then runs a
        preferred leader election (LeaderElectionCommand), as an operator would."""
        if node not in self.nodes:
            raise RuntimeError("no node %d" % node)
        cur = self.leader(topic, partition)
        if cur["leader"] == node:
            return cur
        replicas = cur["replicas"]
        if node not in replicas:
            raise RuntimeError("node %d holds no replica of %s-%d (replicas %s)" % (node, topic, partition, replicas))
        order = [node] + [r for r in replicas if r != node]
        bootstrap = ",".join("127.0.0.1:%d" % self.nodes[n].port for n in self.alive())
        plan = os.path.join(self.workdir, "reassign-%s-%d.json" % (topic, partition))
        with open(plan, "w") as f:
            json.dump({"version": 1, "partitions": [{"topic": topic, "partition": partition, "replicas": order}]}, f)
        self.tool(["org.apache.kafka.tools.reassign.ReassignPartitionsCommand", "--bootstrap-server", bootstrap,
                   "--reassignment-json-file", plan, "--execute"], "ReassignPartitionsCommand")
        deadline = time.monotonic() + timeout
        while self.leader(topic, partition)["replicas"] != order:
            if time.monotonic() > deadline:
                raise RuntimeError("reassignment of %s-%d to %s did not finish" % (topic, partition, order))
            time.sleep(0.1)
        self.tool(["org.apache.kafka.tools.LeaderElectionCommand", "--bootstrap-server", bootstrap,
                   "--election-type", "PREFERRED", "--topic", topic, "--partition", str(partition)],
                  "LeaderElectionCommand")
        while True:
            cur = self.leader(topic, partition)
            if cur["leader"] == node:
                return cur
            if time.monotonic() > deadline:
                raise RuntimeError("node %d did not become leader of %s-%d: %s" % (node, topic, partition, cur))
            time.sleep(0.1)

    def acl(self, req):
        """Adds or removes ACLs with Kafka's AclCommand (over PLAINTEXT, whose
        ANONYMOUS principal is a super user), as an operator would."""
        action = req.get("action", "add")
        if action not in ("add", "remove"):
            raise RuntimeError("action must be add or remove")
        ops = req.get("operations") or []
        if not ops:
            raise RuntimeError("acl needs operations")
        argv = ["org.apache.kafka.tools.AclCommand", "--bootstrap-server", "127.0.0.1:%d" % self.any_port(),
                "--" + action, "--allow-principal", req["principal"]]
        if action == "remove":
            argv.append("--force")
        for op in ops:
            argv += ["--operation", op]
        kinds = [k for k in ("topic", "group", "transactional_id") if req.get(k) is not None]
        if req.get("cluster"):
            kinds.append("cluster")
        if len(kinds) != 1:
            raise RuntimeError("acl needs exactly one of topic, group, transactional_id, cluster")
        k = kinds[0]
        if k == "cluster":
            argv.append("--cluster")
        else:
            argv += ["--" + k.replace("_", "-"), req[k]]
        argv += ["--resource-pattern-type", req.get("pattern", "literal")]
        self.tool(argv, "AclCommand")
        # The ACL is committed to the metadata log when AclCommand returns;
        # give the broker's authorizer a moment to apply it.
        time.sleep(0.5)

    def set_feature(self, req):
        """Upgrades or downgrades a finalized feature (transaction.version,
        group.version, ...) with Kafka's FeatureCommand, as an operator would."""
        name, level = req["name"], int(req["level"])
        bootstrap = "127.0.0.1:%d" % self.any_port()
        out = self.tool(["org.apache.kafka.tools.FeatureCommand", "--bootstrap-server", bootstrap, "describe"],
                        "FeatureCommand describe")
        m = re.search(r"Feature:\s*%s\s.*?FinalizedVersionLevel:\s*(\d+)" % re.escape(name), out)
        current = int(m.group(1)) if m else 0
        if current != level:
            action = "upgrade" if level > current else "downgrade"
            self.tool(["org.apache.kafka.tools.FeatureCommand", "--bootstrap-server", bootstrap, action,
                       "--feature", "%s=%d" % (name, level)], "FeatureCommand " + action)
        # Brokers learn the new level from the metadata log; give them a moment.
        time.sleep(0.5)
        return {"previous": current}

    def stop_node(self, nid, sig, wait=30.0):
        n = self.nodes[nid]
        if n.proc is None or n.proc.poll() is not None:
            return
        try:
            os.killpg(n.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            n.proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(n.proc.pid, signal.SIGKILL)
            n.proc.wait()

    def shutdown(self):
        for nid in self.alive():
            n = self.nodes[nid]
            try:
                os.killpg(n.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        for n in self.nodes.values():
            if n.proc is None:
                continue
            try:
                n.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(n.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                n.proc.wait()

    def info(self):
        first = self.nodes[1]
        listeners = {k: ",".join("127.0.0.1:%d" % n.ports[k] for n in self.nodes.values())
                     for k in first.ports if k != "CONTROLLER"}
        return {
            "bootstrap": listeners["PLAINTEXT"],
            "listeners": listeners,
            "nodes": {str(n.id): n.port for n in self.nodes.values()},
            "dir": self.workdir,
            "certs": self.certs,
            "users": USERS if self.security else {},
            "cluster_id": self.cluster_id,
        }

    def handle(self, req):
        cmd = req.get("cmd")
        if cmd == "ping":
            return None
        if cmd == "create_topic":
            self.create_topic(req["topic"], int(req["partitions"]), req.get("replication"), req.get("configs") or {})
            return None
        if cmd == "leader":
            return self.leader(req["topic"], int(req["partition"]))
        if cmd == "coordinator":
            kt = {"group": 0, "transaction": 1}.get(req.get("key_type", "group"))
            if kt is None:
                raise RuntimeError("key_type must be group or transaction")
            return self.coordinator(req["key"], kt)
        if cmd == "move_leader":
            return self.move_leader(req["topic"], int(req["partition"]), int(req["node"]))
        if cmd in ("kill", "stop", "start", "wait_ready"):
            nid = req.get("node")
            if nid is not None:
                nid = int(nid)
                if nid not in self.nodes:
                    raise RuntimeError("no node %d (nodes: %s)" % (nid, sorted(self.nodes)))
            if cmd == "kill":
                self.stop_node(nid, signal.SIGKILL)
            elif cmd == "stop":
                self.stop_node(nid, signal.SIGTERM)
            elif cmd == "start":
                n = self.nodes[nid]
                if n.proc is None or n.proc.poll() is not None:
                    self.start_node(n)
                self.wait_ready(nid, self.start_timeout)
            else:
                self.wait_ready(nid, float(req.get("timeout", self.start_timeout)))
            return None
        if cmd == "status":
            return {"alive": self.alive()}
        if cmd == "feature":
            return self.set_feature(req)
        if cmd == "acl":
            if not self.security:
                raise RuntimeError("acl needs the secured single-node cluster")
            self.acl(req)
            return None
        raise RuntimeError("unknown command %r" % cmd)


def tail(path, n):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log at %s)" % path


def die_with_parent():
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--no-security", action="store_true")
    ap.add_argument("--heap", default="512m")
    ap.add_argument("--start-timeout", type=float, default=120.0)
    a = ap.parse_args()
    if a.nodes < 1:
        reply("ERR --nodes must be at least 1")
        return 1
    if not os.path.isdir(os.path.join(a.home, "lib")):
        reply("ERR %s has no lib/: run scripts/install-kafka.sh" % a.home)
        return 1
    cluster = None
    stopping = threading.Event()

    def stop(_signum, _frame):
        stopping.set()
        if cluster is not None:
            cluster.shutdown()
        os._exit(0)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, stop)
    t0 = time.monotonic()
    for attempt in range(1, 4):
        # A later attempt gets fresh ports and a directory of its own (the
        # nodes of the failed one are formatted with the old ports).
        workdir = a.dir if attempt == 1 else os.path.join(a.dir, "retry%d" % attempt)
        try:
            cluster = KafkaCluster(a.home, workdir, a.nodes, not a.no_security, a.heap, a.start_timeout)
            cluster.start()
            log("%d node(s) ready in %.1f s" % (a.nodes, time.monotonic() - t0))
            break
        except Exception as e:  # noqa: BLE001 - reported to the parent
            if cluster is not None:
                cluster.shutdown()
            if "Address already in use" in str(e) and attempt < 3:
                # Another process bound a port between free_ports and the JVM.
                log("attempt %d: a port was taken before the node bound it; again on other ports" % attempt)
                cluster = None
                continue
            reply("ERR %s" % str(e).replace("\n", " | "))
            return 1
    reply("READY " + json.dumps(cluster.info()))
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                req = json.loads(line)
                if req.get("cmd") == "quit":
                    reply("OK")
                    break
                with cluster.lock:
                    res = cluster.handle(req)
                reply("OK" if res is None else "OK " + json.dumps(res))
            except Exception as e:  # noqa: BLE001 - one bad command must not kill the cluster
                reply("ERR %s" % str(e).replace("\n", " | "))
    finally:
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
