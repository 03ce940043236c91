#!/usr/bin/env python3
"""Runs librdkafka's mock Kafka cluster and drives it from stdin.

The mock cluster lives in librdkafka (the copy bundled in the confluent-kafka
wheel, found under site-packages) and is reached through ctypes, so it needs
no JVM, no Docker and no build step. It runs inside this process: when this
process ends, the brokers end.

Protocol (line based, UTF-8):
  * First stdout line:  ``BOOTSTRAP host:port,host:port,...``
    (or ``ERR <reason>`` and exit status 1 if the cluster could not start).
  * Then each stdin line is one JSON object ``{"cmd": NAME, ...}`` and gets
    exactly one stdout line: ``OK`` or ``OK <json>`` on success,
    ``ERR <reason>`` on failure. Blank lines are ignored.
  * stdin EOF or ``{"cmd":"quit"}`` destroys the cluster and exits 0. stdin EOF
    is how a dead parent (a test binary that panicked or was killed) is noticed,
    so no broker outlives the test run.

Error codes in commands are Kafka / librdkafka error codes, either as integers
(6, -195) or as names as librdkafka spells them ("NOT_LEADER_FOR_PARTITION",
"_TRANSPORT"; names are matched case-insensitively, with or without the
leading underscore of librdkafka-internal codes).

Commands (fields in brackets are optional):
  ping
  bootstrap                                  -> OK {"bootstrap": "..."}
  create_topic topic partitions [replication=1]
  push_request_errors api_key errors=[e,...]  (cluster-wide error stack)
  clear_request_errors api_key
  broker_push_request_errors broker api_key errors=[[e, rtt_ms], ...]
                                              (per-broker stack, with delays;
                                               takes precedence over cluster)
  error_stack_count broker api_key            -> OK {"count": n}
  set_rtt broker ms                           (broker -1 = all brokers)
  broker_down broker / broker_up broker       (broker -1 = all brokers)
  disconnect broker [api_key]                 drop connections: without
        api_key, broker_set_down + broker_set_up (every open connection to that
        broker is closed, new ones are accepted again); with api_key, pushes
        _TRANSPORT on that broker's stack so its next request of that API
        is answered by closing the connection.
  broker_add broker / broker_decommission broker
  set_rack broker rack
  set_leader topic partition broker           (broker -1 = leaderless)
  set_follower topic partition broker
  set_follower_wmarks topic partition lo hi
  coordinator_set key_type ("group"|"transaction") key broker
  group_initial_rebalance_delay ms           (set to 0 at start)
  (At start, JoinGroup/SyncGroup/LeaveGroup are capped at v5/v3/v2: the
   mock mis-parses its newer, announced versions; see Mock.__init__.)
  topic_set_error topic error
  set_apiversion api_key min max             (-1 -1 disables the API)
  start_request_tracking / stop_request_tracking / clear_requests
  get_requests                                -> OK {"requests":
        [{"broker": id, "api_key": k, "ts_us": t}, ...]}
  error_name code / error_code name           -> OK {"name":..,"code":..}
  quit

Known limits of the mock (librdkafka's, not ours): no admin APIs
(CreateTopics etc.: use create_topic here), no TLS/SASL, ApiVersions v3+
requests are answered with UNSUPPORTED_VERSION (clients fall back to v0),
ListOffsets by timestamp returns -1, 5 MiB of log per partition, transaction
markers are not real control batches.

Usage: mock_cluster.py [--brokers N]   (run with the venv's python)
"""

import argparse
import ctypes
import glob
import json
import os
import signal
import sys
import sysconfig

RD_KAFKA_PRODUCER = 0


def find_librdkafka():
    """Returns the path of the librdkafka bundled with confluent_kafka."""
    override = os.environ.get("PUREKAFKA_LIBRDKAFKA")
    if override:
        return override
    roots = set()
    try:
        import confluent_kafka  # noqa: F401  (only to locate the wheel)

        roots.add(os.path.dirname(os.path.dirname(confluent_kafka.__file__)))
    except ImportError:
        pass
    roots.add(sysconfig.get_paths()["purelib"])
    roots.add(sysconfig.get_paths()["platlib"])
    for root in sorted(roots):
        for pattern in ("confluent_kafka.libs/librdkafka*.so*", "confluent_kafka/.dylibs/librdkafka*"):
            hits = sorted(glob.glob(os.path.join(root, pattern)))
            if hits:
                return hits[0]
    raise RuntimeError(
        "librdkafka not found in the confluent-kafka wheel; run ./scripts/setup-python.sh "
        "and start this script with <repo>/.venv/bin/python"
    )


class Mock:
    def __init__(self, lib_path, brokers):
        lib = ctypes.CDLL(lib_path)
        self.lib = lib
        vp, cp, i16, i32, i64, ci = (
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int16,
            ctypes.c_int32,
            ctypes.c_int64,
            ctypes.c_int,
        )
        sz = ctypes.c_size_t

        def sig(name, res, *args):
            f = getattr(lib, name)
            f.restype = res
            f.argtypes = list(args)
            return f

        sig("rd_kafka_conf_new", vp)
        sig("rd_kafka_conf_set", ci, vp, cp, cp, cp, sz)
        sig("rd_kafka_new", vp, ci, vp, cp, sz)
        sig("rd_kafka_destroy", None, vp)
        sig("rd_kafka_err2name", cp, ci)
        sig("rd_kafka_version_str", cp)
        sig("rd_kafka_mock_cluster_new", vp, vp, ci)
        sig("rd_kafka_mock_cluster_destroy", None, vp)
        sig("rd_kafka_mock_cluster_bootstraps", cp, vp)
        sig("rd_kafka_mock_topic_create", ci, vp, cp, ci, ci)
        sig("rd_kafka_mock_push_request_errors_array", None, vp, i16, sz, ctypes.POINTER(ci))
        sig("rd_kafka_mock_clear_request_errors", None, vp, i16)
        # Variadic: (mcluster, broker_id, ApiKey, cnt, err0, rtt0, err1, rtt1...).
        # Only the fixed part gets argtypes; the pairs are passed as c_int.
        sig("rd_kafka_mock_broker_push_request_error_rtts", ci, vp, i32, i16, sz)
        sig("rd_kafka_mock_broker_error_stack_cnt", ci, vp, i32, i16, ctypes.POINTER(sz))
        sig("rd_kafka_mock_broker_set_rtt", ci, vp, i32, ci)
        sig("rd_kafka_mock_broker_set_down", ci, vp, i32)
        sig("rd_kafka_mock_broker_set_up", ci, vp, i32)
        sig("rd_kafka_mock_broker_set_rack", ci, vp, i32, cp)
        sig("rd_kafka_mock_broker_add", ci, vp, i32)
        sig("rd_kafka_mock_broker_decommission", ci, vp, i32)
        sig("rd_kafka_mock_partition_set_leader", ci, vp, cp, i32, i32)
        sig("rd_kafka_mock_partition_set_follower", ci, vp, cp, i32, i32)
        sig("rd_kafka_mock_partition_set_follower_wmarks", ci, vp, cp, i32, i64, i64)
        sig("rd_kafka_mock_coordinator_set", ci, vp, cp, cp, i32)
        sig("rd_kafka_mock_group_initial_rebalance_delay_ms", None, vp, i32)
        sig("rd_kafka_mock_topic_set_error", None, vp, cp, ci)
        sig("rd_kafka_mock_set_apiversion", ci, vp, i16, i16, i16)
        sig("rd_kafka_mock_start_request_tracking", None, vp)
        sig("rd_kafka_mock_stop_request_tracking", None, vp)
        sig("rd_kafka_mock_clear_requests", None, vp)
        sig("rd_kafka_mock_get_requests", ctypes.POINTER(vp), vp, ctypes.POINTER(sz))
        sig("rd_kafka_mock_request_id", i32, vp)
        sig("rd_kafka_mock_request_api_key", i16, vp)
        sig("rd_kafka_mock_request_timestamp", i64, vp)
        sig("rd_kafka_mock_request_destroy_array", None, ctypes.POINTER(vp), sz)

        self.names = {}
        for code in list(range(-200, -99)) + list(range(0, 200)):
            raw = lib.rd_kafka_err2name(code)
            if raw:
                name = raw.decode()
                if not name.startswith("ERR_") and "Unknown" not in name:
                    self.names[code] = name

        self.rk = None
        self.mc = None
        errstr = ctypes.create_string_buffer(512)
        conf = lib.rd_kafka_conf_new()
        # The handle only hosts the cluster; keep it quiet and offline.
        for k, v in (("log_level", "3"), ("bootstrap.servers", "")):
            if lib.rd_kafka_conf_set(conf, k.encode(), v.encode(), errstr, len(errstr)) != 0:
                raise RuntimeError("rd_kafka_conf_set %s: %s" % (k, errstr.value.decode()))
        self.rk = lib.rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, len(errstr))
        if not self.rk:
            raise RuntimeError("rd_kafka_new: " + errstr.value.decode())
        self.mc = lib.rd_kafka_mock_cluster_new(self.rk, brokers)
        if not self.mc:
            lib.rd_kafka_destroy(self.rk)
            self.rk = None
            raise RuntimeError("rd_kafka_mock_cluster_new(%d) failed" % brokers)
        lib.rd_kafka_mock_group_initial_rebalance_delay_ms(self.mc, 0)
        # The mock announces group API versions its handlers parse wrongly:
        # JoinGroup v6 and SyncGroup v4 (flexible) read their arrays with
        # classic int32 counts, and LeaveGroup v3+ is read in the v0-2 layout
        # (one member id instead of the member list); it drops the connection
        # on each. librdkafka itself never sends them (JoinGroup v5, SyncGroup
        # v3, LeaveGroup v1), so announce only the versions it really speaks,
        # and every client negotiates those.
        for api_key, lo, hi in ((11, 0, 5), (14, 0, 3), (13, 0, 2)):
            lib.rd_kafka_mock_set_apiversion(self.mc, api_key, lo, hi)
        self.bootstrap = lib.rd_kafka_mock_cluster_bootstraps(self.mc).decode()
        self.version = lib.rd_kafka_version_str().decode()

    def close(self):
        if self.mc:
            self.lib.rd_kafka_mock_cluster_destroy(self.mc)
            self.mc = None
        if self.rk:
            self.lib.rd_kafka_destroy(self.rk)
            self.rk = None

    # -- helpers ---------------------------------------------------------

    def code(self, v):
        if isinstance(v, bool):
            raise ValueError("error code must be an integer or a name, not %r" % v)
        if isinstance(v, int):
            return v
        if isinstance(v, str):
            want = v.strip().upper().lstrip("_")
            if want.lstrip("-").isdigit():
                return int(want)
            for c, n in self.names.items():
                if n.upper().lstrip("_") == want:
                    return c
            # Kafka's current names for codes librdkafka still spells the old way.
            aliases = {"NOT_LEADER_OR_FOLLOWER": 6, "NETWORK_EXCEPTION": 13}
            if want in aliases:
                return aliases[want]
            raise ValueError("unknown error name %r" % v)
        raise ValueError("error code must be an integer or a name, not %r" % (v,))

    def check(self, what, err):
        if err != 0:
            raise RuntimeError("%s: %s (%d)" % (what, self.names.get(err, "?"), err))

    # -- commands --------------------------------------------------------

    def run(self, req):
        L, mc = self.lib, self.mc
        cmd = req.get("cmd")

        def s(k):
            v = req[k]
            if not isinstance(v, str):
                raise ValueError("field %r must be a string" % k)
            return v.encode()

        def n(k, default=None):
            if k not in req:
                if default is None:
                    raise KeyError(k)
                return default
            v = req[k]
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError("field %r must be an integer" % k)
            return v

        if cmd == "ping":
            return None
        if cmd == "bootstrap":
            return {"bootstrap": self.bootstrap}
        if cmd == "create_topic":
            p = n("partitions")
            if p < 1:
                raise ValueError("partitions must be >= 1")
            self.check("topic_create", L.rd_kafka_mock_topic_create(mc, s("topic"), p, n("replication", 1)))
            return None
        if cmd == "push_request_errors":
            errs = [self.code(e) for e in req["errors"]]
            arr = (ctypes.c_int * len(errs))(*errs)
            L.rd_kafka_mock_push_request_errors_array(mc, n("api_key"), len(errs), arr)
            return None
        if cmd == "clear_request_errors":
            L.rd_kafka_mock_clear_request_errors(mc, n("api_key"))
            return None
        if cmd == "broker_push_request_errors":
            pairs = []
            for item in req["errors"]:
                if isinstance(item, (list, tuple)) and len(item) == 2:
                    e, rtt = item
                else:
                    e, rtt = item, 0
                pairs += [ctypes.c_int(self.code(e)), ctypes.c_int(int(rtt))]
            err = L.rd_kafka_mock_broker_push_request_error_rtts(
                mc, n("broker"), n("api_key"), len(pairs) // 2, *pairs
            )
            self.check("broker_push_request_error_rtts", err)
            return None
        if cmd == "error_stack_count":
            cnt = ctypes.c_size_t(0)
            self.check(
                "broker_error_stack_cnt",
                L.rd_kafka_mock_broker_error_stack_cnt(mc, n("broker"), n("api_key"), ctypes.byref(cnt)),
            )
            return {"count": cnt.value}
        if cmd == "set_rtt":
            self.check("broker_set_rtt", L.rd_kafka_mock_broker_set_rtt(mc, n("broker"), n("ms")))
            return None
        if cmd == "broker_down":
            self.check("broker_set_down", L.rd_kafka_mock_broker_set_down(mc, n("broker")))
            return None
        if cmd == "broker_up":
            self.check("broker_set_up", L.rd_kafka_mock_broker_set_up(mc, n("broker")))
            return None
        if cmd == "disconnect":
            if "api_key" in req:
                err = L.rd_kafka_mock_broker_push_request_error_rtts(
                    mc, n("broker"), n("api_key"), 1, ctypes.c_int(self.code("_TRANSPORT")), ctypes.c_int(0)
                )
                self.check("broker_push_request_error_rtts(_TRANSPORT)", err)
            else:
                self.check("broker_set_down", L.rd_kafka_mock_broker_set_down(mc, n("broker")))
                self.check("broker_set_up", L.rd_kafka_mock_broker_set_up(mc, n("broker")))
            return None
        if cmd == "broker_add":
            self.check("broker_add", L.rd_kafka_mock_broker_add(mc, n("broker")))
            return None
        if cmd == "broker_decommission":
            self.check("broker_decommission", L.rd_kafka_mock_broker_decommission(mc, n("broker")))
            return None
        if cmd == "set_rack":
            self.check("broker_set_rack", L.rd_kafka_mock_broker_set_rack(mc, n("broker"), s("rack")))
            return None
        if cmd == "set_leader":
            self.check(
                "partition_set_leader",
                L.rd_kafka_mock_partition_set_leader(mc, s("topic"), n("partition"), n("broker")),
            )
            return None
        if cmd == "set_follower":
            self.check(
                "partition_set_follower",
                L.rd_kafka_mock_partition_set_follower(mc, s("topic"), n("partition"), n("broker")),
            )
            return None
        if cmd == "set_follower_wmarks":
            self.check(
                "partition_set_follower_wmarks",
                L.rd_kafka_mock_partition_set_follower_wmarks(mc, s("topic"), n("partition"), n("lo"), n("hi")),
            )
            return None
        if cmd == "coordinator_set":
            kt = req["key_type"]
            if kt not in ("group", "transaction"):
                raise ValueError('key_type must be "group" or "transaction"')
            self.check(
                "coordinator_set",
                L.rd_kafka_mock_coordinator_set(mc, kt.encode(), s("key"), n("broker")),
            )
            return None
        if cmd == "group_initial_rebalance_delay":
            L.rd_kafka_mock_group_initial_rebalance_delay_ms(mc, n("ms"))
            return None
        if cmd == "topic_set_error":
            L.rd_kafka_mock_topic_set_error(mc, s("topic"), self.code(req["error"]))
            return None
        if cmd == "set_apiversion":
            self.check(
                "set_apiversion",
                L.rd_kafka_mock_set_apiversion(mc, n("api_key"), n("min"), n("max")),
            )
            return None
        if cmd == "start_request_tracking":
            L.rd_kafka_mock_start_request_tracking(mc)
            return None
        if cmd == "stop_request_tracking":
            L.rd_kafka_mock_stop_request_tracking(mc)
            return None
        if cmd == "clear_requests":
            L.rd_kafka_mock_clear_requests(mc)
            return None
        if cmd == "get_requests":
            cnt = ctypes.c_size_t(0)
            arr = L.rd_kafka_mock_get_requests(mc, ctypes.byref(cnt))
            out = []
            if arr:
                try:
                    for i in range(cnt.value):
                        r = arr[i]
                        out.append(
                            {
                                "broker": L.rd_kafka_mock_request_id(r),
                                "api_key": L.rd_kafka_mock_request_api_key(r),
                                "ts_us": L.rd_kafka_mock_request_timestamp(r),
                            }
                        )
                finally:
                    L.rd_kafka_mock_request_destroy_array(arr, cnt.value)
            return {"requests": out}
        if cmd == "error_name":
            c = self.code(req["code"])
            return {"code": c, "name": self.names.get(c)}
        if cmd == "error_code":
            c = self.code(req["name"])
            return {"code": c, "name": self.names.get(c)}
        raise ValueError("unknown cmd %r" % (cmd,))


def reply(line):
    try:
        sys.stdout.write(line.replace("\n", " ") + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Whoever started us is gone: stop the brokers and leave.
        raise SystemExit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--brokers", type=int, default=3, help="number of mock brokers (ids 1..N)")
    args = ap.parse_args()
    if args.brokers < 1:
        reply("ERR --brokers must be >= 1")
        return 1

    try:
        mock = Mock(find_librdkafka(), args.brokers)
    except Exception as e:  # noqa: BLE001 - reported to the parent verbatim
        reply("ERR %s" % e)
        return 1

    # SIGTERM/SIGINT/SIGHUP: leave through the same clean path as stdin EOF.
    def stop(signum, _frame):
        raise SystemExit(0)

    for sgn in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sgn, stop)

    try:
        reply("BOOTSTRAP " + mock.bootstrap)
        print(
            "mock_cluster: %d brokers at %s (librdkafka %s), pid %d"
            % (args.brokers, mock.bootstrap, mock.version, os.getpid()),
            file=sys.stderr,
            flush=True,
        )
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                req = json.loads(line)
                if not isinstance(req, dict):
                    raise ValueError("command must be a JSON object")
                if req.get("cmd") == "quit":
                    reply("OK")
                    break
                out = mock.run(req)
                reply("OK" if out is None else "OK " + json.dumps(out))
            except SystemExit:
                raise
            except KeyError as e:
                reply("ERR missing field %s" % e)
            except Exception as e:  # noqa: BLE001 - every failure becomes one ERR line
                reply("ERR %s" % e)
    finally:
        mock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
