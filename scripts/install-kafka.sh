#!/usr/bin/env bash
# Installs Apache Kafka 4.4.0 (broker, tools, Java client) for the tests, from
# Maven Central, into a cache outside the checkout, and compiles the Java peer.
#
#   scripts/install-kafka.sh        prints the install directory as its last line
#
# Layout of $PUREKAFKA_CACHE/kafka-4.4.0 (default ~/.cache/purekafka/kafka-4.4.0):
#   lib/        every runtime jar (kafka_2.13, kafka-tools, kafka-clients, log4j2 + slf4j binding)
#   conf/       log4j2 configs for the broker and the tools
#   peer/       JavaPeer.class, the Java reference client (scripts/java/JavaPeer.java),
#               and JavaSharePeer.class, its share group member (scripts/java/JavaSharePeer.java)
# Reused when scripts/kafka/pom.xml and the peer source are unchanged (a stamp
# holds their hashes). Cold: ~1-2 minutes of downloads; warm: under a second.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=4.4.0
CACHE="${PUREKAFKA_CACHE:-${HOME:?HOME is unset; set PUREKAFKA_CACHE}/.cache/purekafka}"
DEST="$CACHE/kafka-$VERSION"
POM="$REPO/scripts/kafka/pom.xml"
PEER_SRC="$REPO/scripts/java/JavaPeer.java"
SHARE_PEER_SRC="$REPO/scripts/java/JavaSharePeer.java"
say() { echo "install-kafka.sh: $*" >&2; }
die() { say "$*"; exit 1; }

command -v java >/dev/null 2>&1 || die "java is not on PATH: Kafka $VERSION needs a JDK 17+ (apt-get install openjdk-17-jdk-headless)"
command -v javac >/dev/null 2>&1 || die "javac is not on PATH: the Java peer needs a JDK, not only a JRE (apt-get install openjdk-17-jdk-headless)"
command -v mvn >/dev/null 2>&1 || die "mvn is not on PATH: Kafka is resolved from Maven Central with Maven (apt-get install maven)"
JV="$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
case "$JV" in 1.*|9|10|11|12|13|14|15|16) die "java $JV is too old: Kafka $VERSION brokers need Java 17+";; esac

STAMP_WANT="$( (cat "$POM" "$REPO/scripts/kafka/"*.properties; if [ -f "$PEER_SRC" ]; then cat "$PEER_SRC"; fi; if [ -f "$SHARE_PEER_SRC" ]; then cat "$SHARE_PEER_SRC"; fi) | sha256sum | cut -d" " -f1)"
if [ -f "$DEST/.stamp" ] && [ "$(cat "$DEST/.stamp")" = "$STAMP_WANT" ] && [ -f "$DEST/lib/kafka_2.13-$VERSION.jar" ]; then
  echo "$DEST"
  exit 0
fi

mkdir -p "$CACHE"
TMP="$(mktemp -d "$CACHE/.kafka-install.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
if [ -f "$DEST/lib/kafka_2.13-$VERSION.jar" ] && [ -f "$DEST/.pom.sha" ] && [ "$(cat "$DEST/.pom.sha")" = "$(sha256sum "$POM" | cut -d' ' -f1)" ]; then
  cp -a "$DEST/lib" "$TMP/lib"          # jars are current; only configs or the peer changed
else
  say "resolving Apache Kafka $VERSION from Maven Central (first run: ~1-2 minutes)"
  mvn -B -q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$TMP/lib" -Dmdep.useRepositoryLayout=false >"$TMP/mvn.log" 2>&1 \
    || { tail -n 30 "$TMP/mvn.log" >&2; die "mvn could not resolve $POM (is Maven Central reachable? see above)"; }
fi
# Exactly one version of each Kafka jar, the binding that matches slf4j-api 1.7,
# and the two main classes where Kafka's scripts expect them.
[ -f "$TMP/lib/kafka_2.13-$VERSION.jar" ] || die "kafka_2.13-$VERSION.jar missing after resolution"
[ -f "$TMP/lib/kafka-tools-$VERSION.jar" ] || die "kafka-tools-$VERSION.jar missing after resolution"
[ -f "$TMP/lib/kafka-clients-$VERSION.jar" ] || die "kafka-clients-$VERSION.jar missing after resolution"
if ls "$TMP/lib" | grep -E '^kafka' | grep -v -- "-$VERSION\.jar$" | grep -q .; then
  die "more than one Kafka version resolved: $(ls "$TMP/lib" | grep -E '^kafka' | grep -v -- "-$VERSION\.jar$" | tr '\n' ' ')"
fi
ls "$TMP/lib" | grep -q '^log4j-slf4j-impl-' || die "log4j-slf4j-impl missing: the broker would log nothing"
mkdir -p "$TMP/conf"
cp "$REPO/scripts/kafka/"*.properties "$TMP/conf/"

if [ -f "$PEER_SRC" ]; then
  mkdir -p "$TMP/peer"
  javac -nowarn -d "$TMP/peer" -cp "$TMP/lib/*" "$PEER_SRC" >"$TMP/javac.log" 2>&1 \
    || { cat "$TMP/javac.log" >&2; die "javac could not compile $PEER_SRC"; }
fi
if [ -f "$SHARE_PEER_SRC" ]; then
  mkdir -p "$TMP/peer"
  javac -nowarn -d "$TMP/peer" -cp "$TMP/lib/*" "$SHARE_PEER_SRC" >"$TMP/javac.log" 2>&1 \
    || { cat "$TMP/javac.log" >&2; die "javac could not compile $SHARE_PEER_SRC"; }
fi

rm -rf "$DEST.old"
[ -d "$DEST" ] && mv "$DEST" "$DEST.old"
mv "$TMP" "$DEST"
rm -rf "$DEST.old" "$DEST/mvn.log" "$DEST/javac.log"
sha256sum "$POM" | cut -d' ' -f1 >"$DEST/.pom.sha"
echo "$STAMP_WANT" >"$DEST/.stamp"
trap - EXIT
say "Apache Kafka $VERSION ready in $DEST ($(ls "$DEST/lib" | wc -l) jars)"
echo "$DEST"
