#!/usr/bin/env python3
"""A kafka-python member of a consumer group, for mixed-group tests.

Joins GROUP subscribed to TOPIC, polls for SECONDS, and prints a JSON line
{"assignment": [partitions...], "records": n} each time its assignment
changes, then a final {"final": [...], "records": n} line, and leaves.

Usage: group_peer.py --bootstrap B --topic T --group G --seconds S [--api-version X.Y.Z]
"""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--api-version")
    args = ap.parse_args()
    from kafka import KafkaConsumer
    extra = {}
    if args.api_version:
        extra["api_version"] = tuple(int(x) for x in args.api_version.split("."))
    c = KafkaConsumer(args.topic, bootstrap_servers=args.bootstrap, group_id=args.group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      heartbeat_interval_ms=300, session_timeout_ms=6000,
                      fetch_max_wait_ms=100, **extra)
    last, n = None, 0
    deadline = time.time() + args.seconds
    while time.time() < deadline:
        for recs in c.poll(timeout_ms=200).values():
            n += len(recs)
        now = sorted(tp.partition for tp in c.assignment())
        if now != last:
            print(json.dumps({"assignment": now, "records": n}), flush=True)
            last = now
    print(json.dumps({"final": sorted(tp.partition for tp in c.assignment()), "records": n}), flush=True)
    c.close()


if __name__ == "__main__":
    sys.exit(main())
