/*
 * JavaPeer: the Apache Kafka Java client (kafka-clients 4.4.0) as a reference
 * peer for purekafka's interop tests, next to scripts/peer.py (kafka-python,
 * confluent-kafka). scripts/install-kafka.sh compiles it into
 * ~/.cache/purekafka/kafka-4.4.0/peer/; run it with
 *
 *   java -Dlog4j2.configurationFile=<home>/conf/log4j2-tools.properties \
 *        -cp '<home>/peer:<home>/lib/*' JavaPeer <subcommand> [options]
 *
 * Record format (JSON lines, both directions, as peer.py); bytes are base64,
 * null = absent:
 *   {"key": b64|null, "value": b64|null, "headers": [[name, b64|null], ...],
 *    "partition": int|null, "timestamp": ms|null}
 * consume adds "topic", "offset" and "timestamp_type" (0 create, 1 log-append).
 *
 * Subcommands:
 *   produce --bootstrap B --topic T [--compression none|gzip|snappy|lz4|zstd]
 *           [--acks 0|1|all] [--idempotence true|false] [--linger-ms N]
 *           [--transactional-id ID [--abort]] [--timeout S] [-X key=value ...]
 *       Sends the records read from stdin and prints, in input order, one line
 *       per acknowledged record: {"topic":..,"partition":..,"offset":..}.
 *       With --transactional-id: init, begin, send all, flush, then commit
 *       (or abort with --abort; the acks of the aborted records are printed).
 *   consume --bootstrap B --topic T --count N [--group G]
 *           [--group-protocol classic|consumer]
 *           [--isolation-level read_committed|read_uncommitted]
 *           [--commit] [--until-eof] [--timeout S] [-X key=value ...]
 *       Without --group: assigns every partition from the beginning, reads N
 *       records and prints them ordered by partition then offset.
 *       With --group: subscribes (auto.offset.reset=earliest), prints each
 *       record as it arrives, and after every rebalance a line
 *       {"event":"assigned","partitions":[..]}; --commit commits (sync) after
 *       each poll that returned records and on exit. --until-eof also stops,
 *       successfully, when stdin is closed (the caller's way to end a member).
 *       Exit 2 if fewer than N records arrived within the timeout.
 *
 * Common: --timeout S overall deadline in seconds (default 30); -X sets any
 * client property (after the options above, so it wins).
 * Exit status: 0 ok, 1 usage or client error, 2 timeout / fewer records.
 */

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class JavaPeer {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A usage or input error: exit 1 with the message. */
    static final class Fail extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int code;

        Fail(String msg, int code) {
            super(msg);
            this.code = code;
        }
    }

    static Fail fail(String msg) {
        return new Fail(msg, 1);
    }

    public static void main(String[] argv) {
        try {
            if (argv.length == 0) {
                throw fail("usage: JavaPeer produce|consume --bootstrap B --topic T ... (see the header of JavaPeer.java)");
            }
            Set<String> flags = switch (argv[0]) {
                case "produce" -> Set.of("--abort");
                case "consume" -> Set.of("--commit", "--until-eof");
                default -> throw fail("unknown subcommand " + argv[0] + " (produce, consume)");
            };
            Set<String> valued = argv[0].equals("produce")
                    ? Set.of("--bootstrap", "--topic", "--timeout", "--compression", "--acks",
                            "--idempotence", "--transactional-id", "--linger-ms")
                    : Set.of("--bootstrap", "--topic", "--timeout", "--count", "--group",
                            "--group-protocol", "--isolation-level");
            Map<String, String> opts = new HashMap<>();
            Properties extra = new Properties();
            for (int i = 1; i < argv.length; i++) {
                String a = argv[i];
                if (flags.contains(a)) {
                    opts.put(a, "true");
                } else if (a.equals("-X") || valued.contains(a)) {
                    if (i + 1 >= argv.length) throw fail(a + " needs a value");
                    String v = argv[++i];
                    if (a.equals("-X")) {
                        int eq = v.indexOf('=');
                        if (eq <= 0) throw fail("-X wants key=value, got " + v);
                        extra.setProperty(v.substring(0, eq), v.substring(eq + 1));
                    } else {
                        opts.put(a, v);
                    }
                } else {
                    throw fail("unknown option " + a + " for " + argv[0]);
                }
            }
            if (argv[0].equals("produce")) produce(opts, extra);
            else consume(opts, extra);
            System.exit(0);
        } catch (Fail f) {
            System.err.println("java-peer: " + f.getMessage());
            System.exit(f.code);
        } catch (Exception e) {
            System.err.println("java-peer: " + argv[0] + " failed: " + e);
            System.exit(1);
        }
    }

    static String need(Map<String, String> opts, String name) {
        String v = opts.get(name);
        if (v == null) throw fail(name + " is required");
        return v;
    }

    static long timeoutMs(Map<String, String> opts) {
        double s = Double.parseDouble(opts.getOrDefault("--timeout", "30"));
        if (s <= 0) throw fail("--timeout must be > 0");
        return (long) (s * 1000);
    }

    static byte[] unb64(JsonNode n, String what) {
        if (n == null || n.isNull()) return null;
        if (!n.isTextual()) throw fail(what + " must be a base64 string or null");
        return Base64.getDecoder().decode(n.asText());
    }

    static String b64(byte[] b) {
        return b == null ? null : Base64.getEncoder().encodeToString(b);
    }

    static void emit(ObjectNode o) throws Exception {
        System.out.println(JSON.writeValueAsString(o));
        System.out.flush();
    }

    // --- produce ----------------------------------------------------------

    static List<ProducerRecord<byte[], byte[]>> readRecords(String topic) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        String line;
        int n = 0;
        while ((line = in.readLine()) != null) {
            n++;
            if (line.isBlank()) continue;
            try {
                JsonNode r = JSON.readTree(line);
                if (!r.isObject()) throw fail("not a JSON object");
                List<Header> headers = new ArrayList<>();
                JsonNode hs = r.get("headers");
                if (hs != null && !hs.isNull()) {
                    for (JsonNode h : hs) {
                        if (!h.isArray() || h.size() != 2 || !h.get(0).isTextual()) {
                            throw fail("headers must be [[name, b64|null], ...]");
                        }
                        headers.add(new RecordHeader(h.get(0).asText(), unb64(h.get(1), "header value")));
                    }
                }
                JsonNode p = r.get("partition");
                JsonNode ts = r.get("timestamp");
                out.add(new ProducerRecord<>(topic,
                        p == null || p.isNull() ? null : p.asInt(),
                        ts == null || ts.isNull() ? null : ts.asLong(),
                        unb64(r.get("key"), "key"), unb64(r.get("value"), "value"), headers));
            } catch (Fail | IllegalArgumentException | com.fasterxml.jackson.core.JacksonException e) {
                throw fail("input line " + n + ": " + e.getMessage());
            }
        }
        return out;
    }

    static void produce(Map<String, String> opts, Properties extra) throws Exception {
        String topic = need(opts, "--topic");
        long timeout = timeoutMs(opts);
        String txId = opts.get("--transactional-id");
        boolean abort = opts.containsKey("--abort");
        if (abort && txId == null) throw fail("--abort needs --transactional-id");
        List<ProducerRecord<byte[], byte[]>> recs = readRecords(topic);

        Properties p = new Properties();
        p.setProperty("bootstrap.servers", need(opts, "--bootstrap"));
        p.setProperty("client.id", "purekafka-java-peer");
        p.setProperty("key.serializer", ByteArraySerializer.class.getName());
        p.setProperty("value.serializer", ByteArraySerializer.class.getName());
        p.setProperty("compression.type", opts.getOrDefault("--compression", "none"));
        p.setProperty("acks", opts.getOrDefault("--acks", "all"));
        p.setProperty("delivery.timeout.ms", Long.toString(Math.max(timeout, 1000)));
        p.setProperty("request.timeout.ms", Long.toString(Math.min(Math.max(timeout, 1000), 30_000)));
        p.setProperty("max.block.ms", Long.toString(timeout));
        if (opts.containsKey("--idempotence")) p.setProperty("enable.idempotence", opts.get("--idempotence"));
        if (opts.containsKey("--linger-ms")) p.setProperty("linger.ms", opts.get("--linger-ms"));
        if (txId != null) p.setProperty("transactional.id", txId);
        p.putAll(extra);

        List<RecordMetadata> acked = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            if (txId != null) {
                producer.initTransactions();
                producer.beginTransaction();
            }
            List<Future<RecordMetadata>> futures = new ArrayList<>();
            for (ProducerRecord<byte[], byte[]> r : recs) futures.add(producer.send(r));
            // Flush first: an abort would fail the sends still buffered.
            producer.flush();
            long deadline = System.currentTimeMillis() + timeout;
            for (Future<RecordMetadata> f : futures) {
                try {
                    acked.add(f.get(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS));
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new Fail("records still unacknowledged after " + timeout + " ms", 2);
                } catch (java.util.concurrent.ExecutionException e) {
                    throw fail("produce failed: " + e.getCause());
                }
            }
            if (txId != null) {
                if (abort) producer.abortTransaction();
                else producer.commitTransaction();
            }
        }
        for (RecordMetadata m : acked) {
            ObjectNode o = JSON.createObjectNode();
            o.put("topic", m.topic());
            o.put("partition", m.partition());
            o.put("offset", m.offset());
            emit(o);
        }
        System.err.println("java-peer: produced " + acked.size() + " records to " + topic
                + (txId == null ? "" : abort ? " (transaction aborted)" : " (transaction committed)"));
    }

    // --- consume ----------------------------------------------------------

    static ObjectNode recordJson(ConsumerRecord<byte[], byte[]> m) {
        ObjectNode o = JSON.createObjectNode();
        o.put("topic", m.topic());
        o.put("partition", m.partition());
        o.put("offset", m.offset());
        o.put("key", b64(m.key()));
        o.put("value", b64(m.value()));
        ArrayNode hs = o.putArray("headers");
        for (Header h : m.headers()) {
            ArrayNode pair = hs.addArray();
            pair.add(h.key());
            pair.add(b64(h.value()));
        }
        o.put("timestamp", m.timestamp());
        if (m.timestampType() == TimestampType.NO_TIMESTAMP_TYPE) {
            o.putNull("timestamp_type");
        } else {
            o.put("timestamp_type", m.timestampType().id);
        }
        return o;
    }

    static void consume(Map<String, String> opts, Properties extra) throws Exception {
        String topic = need(opts, "--topic");
        long count = Long.parseLong(need(opts, "--count"));
        long timeout = timeoutMs(opts);
        String group = opts.get("--group");
        boolean commit = opts.containsKey("--commit");
        boolean untilEof = opts.containsKey("--until-eof");
        if (group == null && (commit || opts.containsKey("--group-protocol"))) {
            throw fail("--commit and --group-protocol need --group");
        }

        Properties p = new Properties();
        p.setProperty("bootstrap.servers", need(opts, "--bootstrap"));
        p.setProperty("client.id", "purekafka-java-peer");
        p.setProperty("key.deserializer", ByteArrayDeserializer.class.getName());
        p.setProperty("value.deserializer", ByteArrayDeserializer.class.getName());
        p.setProperty("enable.auto.commit", "false");
        p.setProperty("auto.offset.reset", "earliest");
        p.setProperty("fetch.max.wait.ms", "100");
        p.setProperty("isolation.level", opts.getOrDefault("--isolation-level", "read_uncommitted"));
        if (group != null) {
            p.setProperty("group.id", group);
            p.setProperty("group.protocol", opts.getOrDefault("--group-protocol", "classic"));
        }
        p.putAll(extra);

        long deadline = System.currentTimeMillis() + timeout;
        AtomicBoolean eof = new AtomicBoolean(false);
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            if (untilEof) {
                Thread t = new Thread(() -> {
                    try {
                        while (System.in.read() >= 0) { /* drain */ }
                    } catch (java.io.IOException e) { /* treat as closed */ }
                    eof.set(true);
                    c.wakeup(); // the one KafkaConsumer method safe from another thread
                }, "stdin-watch");
                t.setDaemon(true);
                t.start();
            }
            if (group == null) {
                List<TopicPartition> tps = new ArrayList<>();
                while (tps.isEmpty() && System.currentTimeMillis() < deadline) {
                    List<PartitionInfo> parts = c.partitionsFor(topic, Duration.ofMillis(
                            Math.max(1, Math.min(5000, deadline - System.currentTimeMillis()))));
                    for (PartitionInfo pi : parts) tps.add(new TopicPartition(topic, pi.partition()));
                    if (tps.isEmpty()) Thread.sleep(200);
                }
                if (tps.isEmpty()) throw new Fail("topic " + topic + " not found within " + timeout + " ms", 2);
                c.assign(tps);
                c.seekToBeginning(tps);
            } else {
                c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                    @Override
                    public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                        if (commit && !parts.isEmpty()) c.commitSync();
                    }

                    @Override
                    public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                        ObjectNode o = JSON.createObjectNode();
                        ArrayNode a = o.put("event", "assigned").putArray("partitions");
                        TreeSet<Integer> mine = new TreeSet<>();
                        for (TopicPartition tp : c.assignment()) mine.add(tp.partition());
                        mine.forEach(a::add);
                        try {
                            emit(o);
                        } catch (Exception e) {
                            throw new RuntimeException(e);
                        }
                    }
                });
            }
            while (got.size() < count && !eof.get() && System.currentTimeMillis() < deadline) {
                try {
                    var batch = c.poll(Duration.ofMillis(200));
                    for (ConsumerRecord<byte[], byte[]> m : batch) {
                        got.add(m);
                        if (group != null) emit(recordJson(m));
                    }
                    if (commit && !batch.isEmpty()) c.commitSync();
                } catch (WakeupException e) {
                    // stdin closed: the loop condition ends it
                }
            }
            if (commit) {
                try {
                    c.commitSync();
                } catch (WakeupException e) {
                    c.commitSync(); // the stdin watcher's wakeup landed here, not in poll
                }
            }
        }
        if (group == null) {
            got.sort(Comparator.<ConsumerRecord<byte[], byte[]>>comparingInt(ConsumerRecord::partition)
                    .thenComparingLong(ConsumerRecord::offset));
            for (ConsumerRecord<byte[], byte[]> m : got) emit(recordJson(m));
        }
        if (got.size() < count && !eof.get()) {
            throw new Fail("got " + got.size() + " of " + count + " records from " + topic
                    + " within " + timeout + " ms", 2);
        }
        System.err.println("java-peer: consumed " + got.size() + " records from " + topic
                + (group == null ? "" : " in group " + group));
    }
}
