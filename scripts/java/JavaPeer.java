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
 *           [--transactional-id ID [--abort | --hold] [--offsets-group G]] [--timeout S] [-X key=value ...]
 *       Sends the records read from stdin and prints, in input order, one line
 *       per acknowledged record: {"topic":..,"partition":..,"offset":..}.
 *       With --transactional-id: init, begin, send all, flush, then commit
 *       (or abort with --abort; the acks of the aborted records are printed).
 *       --offsets-group G also commits offset 0 of partition 0 for group G in
 *       the transaction (sendOffsetsToTransaction), as a consume-transform-
 *       produce loop would.
 *       --hold keeps the transaction open until told: the records end at a
 *       line "hold" on stdin; once they are acknowledged (their acks printed)
 *       it prints {"event":"open"} and waits for a line "commit" or "abort"
 *       (end of input aborts), ends the transaction that way and prints
 *       {"event":"committed"} or {"event":"aborted"}.
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
 *   share-consume --bootstrap B --topic T --count N --group G [--timeout S] [-X ...]
 *       A share group member (KIP-932): sets the group's share.auto.offset.reset
 *       to earliest, reads N records, acknowledges them (accept), prints them
 *       as they arrive. Exit 2 if fewer than N arrived within the timeout.
 *   admin --bootstrap B --topic T [--group G[,G...]] [--timeout S] [-X key=value ...]
 *       The Admin client's everyday calls, in this order: create topic T
 *       (2 partitions, a config), describe it, describe the cluster, list
 *       groups, describe the topic's and the broker's configs, alter a topic
 *       config, add a partition, list offsets, and with --group describe
 *       the groups and list their committed offsets. Then delete records,
 *       describe log dirs, producers and transactions, create, describe and
 *       delete an ACL (needs the authorizer), describe SCRAM users and
 *       client quotas, reset and delete the groups, delete T. Prints one
 *       line per call, {"op": name, "result": ...}; fails on the first error.
 *       (scripts/capture_golden.py records this traffic as golden bytes.)
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
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.quota.ClientQuotaFilter;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
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
                throw fail("usage: JavaPeer produce|consume|admin --bootstrap B --topic T ... (see the header of JavaPeer.java)");
            }
            Set<String> flags = switch (argv[0]) {
                case "produce" -> Set.of("--abort", "--hold");
                case "consume" -> Set.of("--commit", "--until-eof");
                case "admin", "share-consume" -> Set.of();
                default -> throw fail("unknown subcommand " + argv[0] + " (produce, consume, share-consume, admin)");
            };
            Set<String> valued = switch (argv[0]) {
                case "produce" -> Set.of("--bootstrap", "--topic", "--timeout", "--compression", "--acks",
                        "--idempotence", "--transactional-id", "--linger-ms", "--offsets-group");
                case "consume" -> Set.of("--bootstrap", "--topic", "--timeout", "--count", "--group",
                        "--group-protocol", "--isolation-level");
                case "share-consume" -> Set.of("--bootstrap", "--topic", "--timeout", "--count", "--group");
                default -> Set.of("--bootstrap", "--topic", "--timeout", "--group");
            };
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
            switch (argv[0]) {
                case "produce" -> produce(opts, extra);
                case "consume" -> consume(opts, extra);
                case "share-consume" -> shareConsume(opts, extra);
                default -> admin(opts, extra);
            }
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

    static final BufferedReader STDIN = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));

    /** Records from stdin, up to its end or a line equal to stopAt (null: none). */
    static List<ProducerRecord<byte[], byte[]>> readRecords(String topic, String stopAt) throws Exception {
        BufferedReader in = STDIN;
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        String line;
        int n = 0;
        while ((line = in.readLine()) != null) {
            n++;
            if (line.equals(stopAt)) break;
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
        boolean hold = opts.containsKey("--hold");
        if (hold && (txId == null || abort)) throw fail("--hold needs --transactional-id and no --abort");
        String offsetsGroup = opts.get("--offsets-group");
        if (offsetsGroup != null && txId == null) throw fail("--offsets-group needs --transactional-id");
        List<ProducerRecord<byte[], byte[]>> recs = readRecords(topic, hold ? "hold" : null);

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
            if (offsetsGroup != null) {
                producer.sendOffsetsToTransaction(Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(0)),
                        new ConsumerGroupMetadata(offsetsGroup));
            }
            if (hold) {
                for (RecordMetadata m : acked) {
                    ObjectNode o = JSON.createObjectNode();
                    o.put("topic", m.topic());
                    o.put("partition", m.partition());
                    o.put("offset", m.offset());
                    emit(o);
                }
                emit(JSON.createObjectNode().put("event", "open"));
                String cmd = STDIN.readLine();
                abort = !"commit".equals(cmd);
                if (cmd != null && !cmd.equals("commit") && !cmd.equals("abort")) {
                    producer.abortTransaction();
                    throw fail("--hold wants \"commit\" or \"abort\", got " + cmd + " (aborted)");
                }
            }
            if (txId != null) {
                if (abort) producer.abortTransaction();
                else producer.commitTransaction();
            }
            if (hold) emit(JSON.createObjectNode().put("event", abort ? "aborted" : "committed"));
        }
        for (RecordMetadata m : hold ? List.<RecordMetadata>of() : acked) {
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

    // --- admin ------------------------------------------------------------

    /** Prints {"op": op, "result": result} for one finished Admin call. */
    static void adminStep(String op, Object result) throws Exception {
        ObjectNode o = JSON.createObjectNode();
        o.put("op", op);
        o.put("result", String.valueOf(result));
        emit(o);
    }

    static void admin(Map<String, String> opts, Properties extra) throws Exception {
        String topic = need(opts, "--topic");
        String group = opts.get("--group");
        long timeout = timeoutMs(opts);
        Properties p = new Properties();
        p.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, need(opts, "--bootstrap"));
        p.setProperty(AdminClientConfig.CLIENT_ID_CONFIG, "purekafka-java-peer");
        p.setProperty(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Long.toString(Math.max(timeout, 1000)));
        p.putAll(extra);
        long deadline = System.currentTimeMillis() + timeout;
        ConfigResource topicRes = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        try (Admin a = Admin.create(p)) {
            a.createTopics(List.of(new NewTopic(topic, 2, (short) 1)
                    .configs(Map.of("retention.ms", "3600000")))).all().get();
            adminStep("create_topics", topic);
            // The new topic's partitions may take a moment to get leaders.
            var desc = a.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            while (desc.partitions().stream().anyMatch(pi -> pi.leader() == null)
                    && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
                desc = a.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            }
            adminStep("describe_topics", desc.partitions().size() + " partitions");
            var cluster = a.describeCluster();
            adminStep("describe_cluster", cluster.clusterId().get() + " controller "
                    + cluster.controller().get().id() + ", " + cluster.nodes().get().size() + " nodes");
            adminStep("list_groups", a.listGroups().all().get().size() + " groups");
            ConfigResource brokerRes = new ConfigResource(ConfigResource.Type.BROKER,
                    Integer.toString(cluster.nodes().get().iterator().next().id()));
            var configs = a.describeConfigs(List.of(topicRes, brokerRes)).all().get();
            adminStep("describe_configs", configs.get(topicRes).get("retention.ms").value()
                    + ", " + configs.get(brokerRes).entries().size() + " broker entries");
            a.incrementalAlterConfigs(Map.of(topicRes, List.of(new AlterConfigOp(
                    new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET)))).all().get();
            adminStep("incremental_alter_configs", "retention.ms=7200000");
            a.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all().get();
            adminStep("create_partitions", 3);
            Map<TopicPartition, OffsetSpec> specs = new HashMap<>();
            specs.put(new TopicPartition(topic, 0), OffsetSpec.latest());
            specs.put(new TopicPartition(topic, 1), OffsetSpec.earliest());
            adminStep("list_offsets", a.listOffsets(specs).all().get().size() + " partitions");
            if (group != null) {
                List<String> groups = List.of(group.split(","));
                var gs = a.describeConsumerGroups(groups).all().get();
                for (String g : groups) {
                    adminStep("describe_consumer_groups", g + " " + gs.get(g).groupState() + " " + gs.get(g).type());
                    adminStep("list_consumer_group_offsets",
                            a.listConsumerGroupOffsets(g).partitionsToOffsetAndMetadata().get().size()
                                    + " partitions");
                }
            }
            a.deleteRecords(Map.of(new TopicPartition(topic, 0), RecordsToDelete.beforeOffset(0))).all().get();
            adminStep("delete_records", topic + "-0 before 0");
            int broker = cluster.nodes().get().iterator().next().id();
            adminStep("describe_log_dirs", a.describeLogDirs(List.of(broker)).allDescriptions().get()
                    .get(broker).size() + " log dirs");
            adminStep("describe_producers", a.describeProducers(List.of(new TopicPartition(topic, 0))).all().get()
                    .size() + " partitions");
            var txs = a.listTransactions().all().get();
            adminStep("list_transactions", txs.size() + " transactions");
            if (!txs.isEmpty()) {
                List<String> ids = new ArrayList<>();
                txs.forEach(t -> ids.add(t.transactionalId()));
                adminStep("describe_transactions", a.describeTransactions(ids).all().get().keySet());
            }
            AclBinding acl = new AclBinding(new ResourcePattern(ResourceType.TOPIC, topic, PatternType.LITERAL),
                    new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW));
            a.createAcls(List.of(acl)).all().get();
            adminStep("create_acls", acl);
            adminStep("describe_acls", a.describeAcls(AclBindingFilter.ANY).values().get().size() + " ACLs");
            adminStep("delete_acls", a.deleteAcls(List.of(acl.toFilter())).all().get().size() + " deleted");
            adminStep("describe_user_scram_credentials",
                    a.describeUserScramCredentials().all().get().keySet());
            adminStep("describe_client_quotas",
                    a.describeClientQuotas(ClientQuotaFilter.all()).entities().get().size() + " entities");
            if (group != null) {
                List<String> groups = List.of(group.split(","));
                for (String g : groups) {
                    a.alterConsumerGroupOffsets(g, Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(0)))
                            .all().get();
                    adminStep("alter_consumer_group_offsets", g);
                }
                a.deleteConsumerGroups(groups).all().get();
                adminStep("delete_consumer_groups", groups);
            }
            a.deleteTopics(List.of(topic)).all().get();
            adminStep("delete_topics", topic);
        } catch (java.util.concurrent.ExecutionException e) {
            throw fail("admin call failed: " + e.getCause());
        }
    }

    // --- share-consume ----------------------------------------------------

    static void shareConsume(Map<String, String> opts, Properties extra) throws Exception {
        String topic = need(opts, "--topic");
        String group = need(opts, "--group");
        long count = Long.parseLong(need(opts, "--count"));
        long timeout = timeoutMs(opts);
        String bootstrap = need(opts, "--bootstrap");
        // A share group starts at the log end unless its config says otherwise.
        Properties ap = new Properties();
        ap.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        ap.setProperty(AdminClientConfig.CLIENT_ID_CONFIG, extra.getProperty("client.id", "purekafka-java-peer"));
        try (Admin a = Admin.create(ap)) {
            a.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.GROUP, group),
                    List.of(new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"),
                            AlterConfigOp.OpType.SET)))).all().get();
        }
        Properties p = new Properties();
        p.setProperty("bootstrap.servers", bootstrap);
        p.setProperty("client.id", "purekafka-java-peer");
        p.setProperty("group.id", group);
        p.setProperty("share.acknowledgement.mode", "explicit");
        p.setProperty("key.deserializer", ByteArrayDeserializer.class.getName());
        p.setProperty("value.deserializer", ByteArrayDeserializer.class.getName());
        p.putAll(extra);
        long deadline = System.currentTimeMillis() + timeout;
        long got = 0;
        try (KafkaShareConsumer<byte[], byte[]> c = new KafkaShareConsumer<>(p)) {
            c.subscribe(List.of(topic));
            while (got < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> m : c.poll(Duration.ofMillis(200))) {
                    emit(recordJson(m));
                    c.acknowledge(m, AcknowledgeType.ACCEPT);
                    got++;
                }
                c.commitSync();
            }
        }
        if (got < count) {
            throw new Fail("got " + got + " of " + count + " records from " + topic
                    + " within " + timeout + " ms", 2);
        }
        System.err.println("java-peer: share-consumed " + got + " records from " + topic + " in group " + group);
    }
}
