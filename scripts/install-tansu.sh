#!/usr/bin/env bash
# Installs tansu 0.6.0 (a Kafka-compatible broker in Rust) into a cache outside
# the checkout, so later runs on the same machine reuse it. A cold build takes
# about 30 minutes on 2 cores. Prints the path of the binary on stdout.
set -euo pipefail
VERSION=0.6.0
CACHE="${PUREKAFKA_CACHE:-$HOME/.cache/purekafka}"
ROOT="$CACHE/tansu-$VERSION"
BIN="$ROOT/bin/tansu"
if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "install-tansu: cargo is not on PATH; install a Rust toolchain (rustup) first" >&2
  exit 1
fi
mkdir -p "$ROOT"
echo "install-tansu: building tansu $VERSION into $ROOT (about 30 minutes cold on 2 cores)" >&2
# A separate target dir in the cache keeps tansu's build out of the checkout and
# lets an interrupted build resume where it stopped.
CARGO_TARGET_DIR="$CACHE/tansu-target" nice -n 10 cargo install tansu --locked \
  --version "$VERSION" --features libsql --root "$ROOT" >&2
if [ ! -x "$BIN" ]; then
  echo "install-tansu: cargo install finished but $BIN is missing" >&2
  exit 1
fi
echo "$BIN"
