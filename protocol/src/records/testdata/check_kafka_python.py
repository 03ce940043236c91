#!/usr/bin/env python3
"""Reads the batches purekafka wrote (tests.rs, write_batches_for_kafka_python)
with kafka-python and checks CRC, header and records against `recipe`.

    PUREKAFKA_INTEROP_OUT=/tmp/pk-interop cargo test -p purekafka-protocol \
        write_batches_for_kafka_python -- --ignored
    .venv/bin/python protocol/src/records/testdata/check_kafka_python.py /tmp/pk-interop
"""
import os
import sys

from kafka.record.default_records import DefaultRecordBatch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_kafka_python import recipe  # noqa: E402

d = sys.argv[1]
for name in sorted(os.listdir(d)):
    data = open(os.path.join(d, name), "rb").read()
    batch = DefaultRecordBatch(bytearray(data))
    assert batch.validate_crc(), name
    assert (batch.base_offset, batch.producer_id, batch.producer_epoch, batch.base_sequence) == (1000, 4242, 7, 100), name
    n = 0
    for i, r in enumerate(batch):
        key, value, headers, ts = recipe(i)
        assert r.offset == 1000 + i, (name, i)
        assert r.timestamp == ts, (name, i)
        assert r.key == key and r.value == value, (name, i)
        assert list(r.headers) == headers, (name, i, r.headers, headers)
        n += 1
    assert n == 40, name
    print(name, "ok", batch.compression_type)
