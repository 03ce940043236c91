#!/usr/bin/env python3
"""Writes murmur2_vectors.json: keys with their Java-compatible murmur2 hash
and default partitions, computed by kafka-python's port of the Java client's
Utils.murmur2 (kafka.partitioner.default.murmur2).

Run with the project venv:  .venv/bin/python client/tests/data/make_murmur2_vectors.py
The output is deterministic (fixed seed); checked by client/tests/partitioner_vectors.rs.
"""
import json
import os
import random

import kafka
from kafka.partitioner.default import murmur2

PARTITION_COUNTS = [1, 3, 12, 100]


def to_signed(h):
    """kafka-python returns the hash as an unsigned 32-bit int; Java's is an int."""
    h &= 0xFFFFFFFF
    return h - (1 << 32) if h >= (1 << 31) else h


def keys():
    rng = random.Random(794)  # KIP-794, for luck
    out = []
    # Java's UtilsTest vectors.
    out += [b"21", b"foobar", b"a-little-bit-long-string", b"a-little-bit-longer-string",
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", b"abc"]
    # Edge bytes in every tail length.
    for n in range(0, 9):
        out.append(bytes([0xFF] * n))
        out.append(bytes([0x80] * n))
        out.append(bytes([0x00] * n))
        out.append(bytes(range(0x7C, 0x7C + n)))  # crosses 0x7f -> 0x80
    # ASCII keys as applications write them.
    out += [("key-%d" % i).encode() for i in range(400)]
    out += [("user:%d" % rng.randrange(10**9)).encode() for i in range(50)]
    # UTF-8 keys.
    out += [s.encode("utf-8") for s in ["h\u00e9llo", "\u65e5\u672c\u8a9e", "\U0001F600", "\u00ff\u00fe"]]
    # Random bytes, lengths 0..64, every byte value possible.
    for _ in range(600):
        n = rng.randrange(0, 65)
        out.append(bytes(rng.randrange(256) for _ in range(n)))
    # Random bytes forced high (>= 0x80), lengths 1..64.
    for _ in range(100):
        n = rng.randrange(1, 65)
        out.append(bytes(rng.randrange(0x80, 256) for _ in range(n)))
    seen = set()
    return [k for k in out if not (k in seen or seen.add(k))]  # dedupe, keep order


def main():
    vectors = []
    for key in keys():
        h = to_signed(murmur2(key))
        vectors.append({
            "key": key.hex(),
            "murmur2": h,
            "partitions": [(h & 0x7FFFFFFF) % n for n in PARTITION_COUNTS],
        })
    doc = {
        "generator": "client/tests/data/make_murmur2_vectors.py",
        "reference": "kafka-python %s kafka.partitioner.default.murmur2 (port of Java Utils.murmur2)" % kafka.__version__,
        "partition_counts": PARTITION_COUNTS,
        "vectors": vectors,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "murmur2_vectors.json")
    # One vector per line: reviewable diffs, small file.
    head = {k: v for k, v in doc.items() if k != "vectors"}
    with open(path, "w") as f:
        f.write(json.dumps(head)[:-1] + ', "vectors": [\n')
        f.write(",\n".join(json.dumps(v, separators=(",", ":")) for v in vectors))
        f.write("\n]}\n")
    print("wrote %d vectors to %s" % (len(vectors), path))


if __name__ == "__main__":
    main()
