#!/usr/bin/env python3
"""Writes the interop fixtures under compression/tests/data/.

Each fixture is a realistic JSON-events payload compressed the way a Kafka
peer does it, mostly through kafka-python's own codec module (kafka.codec),
which wraps the same C libraries the Java client and librdkafka use
(zlib, snappy via cramjam, liblz4, libzstd):

  <payload>.json                  the plain bytes every fixture must decode to
  <payload>.json.gzip             kafka.codec.gzip_encode (level 9, kafka-python's default)
  <payload>.json.gzip-l1          kafka.codec.gzip_encode(compresslevel=1)
  <payload>.json.snappy-xerial    kafka.codec.snappy_encode (xerial framing, 32 KiB blocks: Java's format)
  <payload>.json.snappy-raw       snappy.compress, one raw block (librdkafka's format)
  <payload>.json.lz4              kafka.codec.lz4_encode (LZ4 frame, independent blocks)
  <payload>.json.lz4-linked       lz4.frame: linked blocks, block + content checksums, content size
  <payload>.json.zstd             kafka.codec.zstd_encode (level 3, content size)
  <payload>.json.zstd-l19-nosize  level 19, checksum, no content size
  <payload>.json.zstd-l22         level 22
  <payload>.json.zstd-neg5        level -5 (fast mode)
  <payload>.json.zstd-stream      streaming compressobj with a block flush midway (no content size)
  <payload>.json.zstd-multiframe  two frames with a skippable frame between them
  bomb-100MiB-zeros.gzip          100 MiB of zeros, gzip -9
  bomb-100MiB-zeros.zstd          100 MiB of zeros, zstd level 19, content size declared
  bomb-100MiB-zeros-nosize.zstd   100 MiB of zeros, zstd streamed (no content size)

Run from anywhere with the project venv (./scripts/setup-python.sh):
    .venv/bin/python compression/tests/make_fixtures.py
The output is deterministic except for gzip's header timestamp
(kafka-python's gzip_encode stamps the current time).
"""

import json
import os
import random
import struct
import sys

import kafka
import kafka.codec as codec
import lz4
import lz4.frame
import snappy
import zstandard

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def events(seed, target_bytes):
    """Deterministic pseudo-random click-stream events, one JSON object per line."""
    rng = random.Random(seed)
    types = ["page_view", "click", "add_to_cart", "purchase", "search", "login"]
    agents = [
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15",
        "okhttp/4.12.0",
    ]
    lines, size, i = [], 0, 0
    while size < target_bytes:
        ev = {
            "event_id": "%016x-%08d" % (rng.getrandbits(64), i),
            "user": "user-%d" % rng.randrange(50_000),
            "ts": 1_732_300_000_000 + i * 37 + rng.randrange(30),
            "type": rng.choice(types),
            "path": "/products/%d" % rng.randrange(10_000),
            "session": "%012x" % rng.getrandbits(48),
            "ua": rng.choice(agents),
            "amount_cents": rng.randrange(100_000),
            "country": rng.choice(["DE", "US", "FR", "JP", "BR", "IN"]),
        }
        line = json.dumps(ev, separators=(",", ":")) + "\n"
        lines.append(line)
        size += len(line)
        i += 1
    return "".join(lines).encode()


def skippable_frame(payload):
    return struct.pack("<II", 0x184D2A50, len(payload)) + payload


def write(name, blob):
    with open(os.path.join(DATA, name), "wb") as f:
        f.write(blob)


def main():
    assert codec.has_snappy() and codec.has_lz4() and codec.has_zstd(), "codec libraries missing"
    os.makedirs(DATA, exist_ok=True)
    payloads = {
        # > 4 xerial blocks (32 KiB) and > 2 lz4 blocks (64 KiB).
        "events.json": events(20241123, 150 * 1024),
        # One record's worth: a single block everywhere.
        "small.json": events(7, 1)[:300],
    }
    for name, plain in payloads.items():
        write(name, plain)
        write(name + ".gzip", codec.gzip_encode(plain))
        write(name + ".gzip-l1", codec.gzip_encode(plain, compresslevel=1))
        write(name + ".snappy-xerial", codec.snappy_encode(plain))
        write(name + ".snappy-raw", snappy.compress(plain))
        write(name + ".lz4", codec.lz4_encode(plain))
        write(
            name + ".lz4-linked",
            lz4.frame.compress(plain, block_linked=True, content_checksum=True,
                               block_checksum=True, store_size=True),
        )
        write(name + ".zstd", codec.zstd_encode(plain))
        write(
            name + ".zstd-l19-nosize",
            zstandard.ZstdCompressor(level=19, write_checksum=True,
                                     write_content_size=False).compress(plain),
        )
        write(name + ".zstd-l22", zstandard.ZstdCompressor(level=22).compress(plain))
        write(name + ".zstd-neg5", zstandard.ZstdCompressor(level=-5).compress(plain))
        cobj = zstandard.ZstdCompressor(level=3, write_checksum=True).compressobj()
        half = len(plain) // 2
        stream = cobj.compress(plain[:half])
        stream += cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        stream += cobj.compress(plain[half:]) + cobj.flush()
        write(name + ".zstd-stream", stream)
        write(
            name + ".zstd-multiframe",
            zstandard.ZstdCompressor(level=1).compress(plain[:half])
            + skippable_frame(b"kafka ignores this")
            + zstandard.ZstdCompressor(level=9, write_checksum=True).compress(plain[half:]),
        )

    zeros = bytes(100 * 1024 * 1024)
    write("bomb-100MiB-zeros.gzip", codec.gzip_encode(zeros, compresslevel=9))
    write("bomb-100MiB-zeros.zstd", zstandard.ZstdCompressor(level=19).compress(zeros))
    cobj = zstandard.ZstdCompressor(level=19, write_content_size=False).compressobj()
    write("bomb-100MiB-zeros-nosize.zstd", cobj.compress(zeros) + cobj.flush())

    with open(os.path.join(DATA, "VERSIONS.txt"), "w") as f:
        f.write("python %s\n" % sys.version.split()[0])
        f.write("kafka-python %s\n" % kafka.__version__)
        f.write("python-snappy %s\n" % getattr(snappy, "__version__", "?"))
        f.write("lz4 %s (liblz4 %s)\n" % (lz4.__version__, lz4.library_version_string()))
        f.write("zstandard %s (libzstd %s)\n" % (zstandard.__version__,
                                                ".".join(map(str, zstandard.ZSTD_VERSION))))


if __name__ == "__main__":
    main()
