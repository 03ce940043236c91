#!/usr/bin/env python3
"""Writes record batches built by kafka-python (an independent
implementation) for purekafka's decoder tests.

Run with the project's venv (scripts/setup-python.sh):
    .venv/bin/python protocol/src/records/testdata/gen_kafka_python.py

Every file holds the same 40 records (see `recipe`, mirrored by
`kafka_python_recipe` in ../tests.rs), written as one v2 batch or as a legacy
v0/v1 message set, with each codec kafka-python supports for that format (not lz4 with
magic v0, whose old framing needs the xxhash module).
Offsets are set as a broker would: base offset 1000.
"""
import os
import struct

from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.legacy_records import LegacyRecordBatchBuilder

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "kafka_python")
BASE_OFFSET = 1000
COUNT = 40
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def recipe(i):
    key = None if i % 5 == 0 else f"key-{i}".encode()
    value = None if i % 7 == 3 else (f"value-{i}-" * (1 + (i * 37) % 200)).encode()
    headers = [(f"h{j}", None if j == 1 else f"hv{i}-{j}".encode()) for j in range(i % 3)]
    timestamp = 1_700_000_000_000 + i * 13 - (i % 4) * 5
    return key, value, headers, timestamp


def v2(codec):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=CODECS[codec], is_transactional=False,
                                  producer_id=4242, producer_epoch=7, base_sequence=100, batch_size=1 << 30)
    for i in range(COUNT):
        key, value, headers, ts = recipe(i)
        assert b.append(i, timestamp=ts, key=key, value=value, headers=headers) is not None
    data = bytearray(b.build())
    struct.pack_into(">q", data, 0, BASE_OFFSET)  # not covered by the CRC
    return bytes(data)


def legacy(magic, codec):
    if CODECS[codec] == 0:
        # Uncompressed: one message per record, each its own entry.
        out = bytearray()
        for i in range(COUNT):
            b = LegacyRecordBatchBuilder(magic=magic, compression_type=0, batch_size=1 << 30)
            key, value, _, ts = recipe(i)
            b.append(0, timestamp=ts, key=key, value=value)
            msg = bytearray(b.build())
            struct.pack_into(">q", msg, 0, BASE_OFFSET + i)
            out += msg
        return bytes(out)
    b = LegacyRecordBatchBuilder(magic=magic, compression_type=CODECS[codec], batch_size=1 << 30)
    for i in range(COUNT):
        key, value, _, ts = recipe(i)
        # v0 inner offsets are absolute; v1 inner offsets are relative.
        b.append(BASE_OFFSET + i if magic == 0 else i, timestamp=ts, key=key, value=value)
    data = bytearray(b.build())
    # The wrapper carries the offset of the last inner message.
    struct.pack_into(">q", data, 0, BASE_OFFSET + COUNT - 1)
    return bytes(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {}
    for codec in CODECS:
        files[f"v2_{codec}.bin"] = v2(codec)
    for magic in (0, 1):
        for codec in ("none", "gzip", "snappy", "lz4"):
            if magic == 0 and codec == "lz4":
                continue  # kafka-python needs xxhash for Kafka 0.8's lz4 framing
            files[f"v{magic}_{codec}.bin"] = legacy(magic, codec)
    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(name, len(data))


if __name__ == "__main__":
    main()
