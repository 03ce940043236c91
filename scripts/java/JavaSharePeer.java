/*
 * JavaSharePeer: the Apache Kafka Java client's KafkaShareConsumer (KIP-932,
 * kafka-clients 4.4.0) as a reference member of a share group, for
 * purekafka's share group tests (tests/tests/share_groups.rs, through
 * tests/src/java.rs). scripts/install-kafka.sh compiles it beside JavaPeer
 * into ~/.cache/purekafka/kafka-4.4.0/peer/; run it with
 *
 *   java -Dlog4j2.configurationFile=<home>/conf/log4j2-tools.properties \
 *        -cp '<home>/peer:<home>/lib/*' JavaSharePeer <subcommand> [options]
 *
 * Subcommands:
 *   group-config --bootstrap B --group G --set key=value [--set ...] [--timeout S]
 *       Sets configs of group G with IncrementalAlterConfigs (a GROUP
 *       resource): share.auto.offset.reset, share.record.lock.duration.ms...
 *   member --bootstrap B --topic T --group G [--timeout S] [-X key=value ...]
 *       A member in explicit acknowledgement mode: subscribes to T, polls
 *       until stdin ends (or the timeout), prints one JSON line per record
 *       it gets:
 *         {"topic":..,"partition":..,"offset":..,"delivery_count":..,
 *          "value":b64|null,"ack":"accept"|"release"|"reject"}
 *       and acknowledges it by its value, the rule the tests share with
 *       purekafka's members: a value starting with "release" is released
 *       on its first delivery (accepted later), one starting with "reject"
 *       is rejected, anything else accepted. commitSync after every poll
 *       that returned records; closes (final acknowledgements, leave) at the
 *       end. After a line "hang" on stdin it polls once more, prints what
 *       it gets with "ack":"held" and never acknowledges it, then stops
 *       polling (the process and its connections stay) and prints
 *       {"event":"hanging"}: what it holds is redelivered once the locks
 *       time out. It prints {"event":"assigned"} after its first poll.
 *       -X peer.pause.ms=N (a peer option, not given to the consumer):
 *       sleeps N ms after each commitSync, so that what the consumer holds
 *       in its buffer can outlive its acquisition locks.
 *
 * Exit status: 0 ok, 1 usage or client error.
 */

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class JavaSharePeer {
    static final ObjectMapper JSON = new ObjectMapper();

    static final class Fail extends RuntimeException {
        Fail(String m) {
            super(m);
        }
    }

    public static void main(String[] argv) {
        try {
            if (argv.length == 0) throw new Fail("usage: JavaSharePeer group-config|member [options]");
            String cmd = argv[0];
            Map<String, List<String>> opts = new HashMap<>();
            Properties extra = new Properties();
            for (int i = 1; i < argv.length; i++) {
                String a = argv[i];
                if (i + 1 >= argv.length) throw new Fail(a + " needs a value");
                String v = argv[++i];
                if (a.equals("-X")) {
                    int eq = v.indexOf('=');
                    if (eq <= 0) throw new Fail("-X wants key=value, got " + v);
                    extra.setProperty(v.substring(0, eq), v.substring(eq + 1));
                } else {
                    opts.computeIfAbsent(a, k -> new ArrayList<>()).add(v);
                }
            }
            switch (cmd) {
                case "group-config" -> groupConfig(opts);
                case "member" -> member(opts, extra);
                default -> throw new Fail("unknown subcommand " + cmd);
            }
        } catch (Fail e) {
            System.err.println("java-share-peer: " + e.getMessage());
            System.exit(1);
        } catch (Exception e) {
            System.err.println("java-share-peer: " + e);
            e.printStackTrace(System.err);
            System.exit(1);
        }
        System.exit(0);
    }

    static String need(Map<String, List<String>> opts, String k) {
        List<String> v = opts.get(k);
        if (v == null || v.isEmpty()) throw new Fail(k + " is required");
        return v.get(v.size() - 1);
    }

    static long timeoutMs(Map<String, List<String>> opts) {
        List<String> v = opts.get("--timeout");
        double s = v == null ? 60 : Double.parseDouble(v.get(v.size() - 1));
        return (long) (s * 1000);
    }

    static synchronized void emit(ObjectNode o) throws Exception {
        System.out.println(JSON.writeValueAsString(o));
        System.out.flush();
    }

    static void groupConfig(Map<String, List<String>> opts) throws Exception {
        String group = need(opts, "--group");
        List<AlterConfigOp> ops = new ArrayList<>();
        for (String kv : opts.getOrDefault("--set", List.of())) {
            int eq = kv.indexOf('=');
            if (eq <= 0) throw new Fail("--set wants key=value, got " + kv);
            ops.add(new AlterConfigOp(new ConfigEntry(kv.substring(0, eq), kv.substring(eq + 1)),
                    AlterConfigOp.OpType.SET));
        }
        if (ops.isEmpty()) throw new Fail("group-config needs at least one --set");
        Properties p = new Properties();
        p.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, need(opts, "--bootstrap"));
        p.setProperty(AdminClientConfig.CLIENT_ID_CONFIG, "purekafka-java-share-peer");
        try (Admin a = Admin.create(p)) {
            a.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.GROUP, group), ops))
                    .all()
                    .get(timeoutMs(opts), java.util.concurrent.TimeUnit.MILLISECONDS);
        }
    }

    /** The acknowledgement rule the tests share: by the record's value. */
    static AcknowledgeType decide(byte[] value, int deliveryCount) {
        String v = value == null ? "" : new String(value, StandardCharsets.UTF_8);
        if (v.startsWith("reject")) return AcknowledgeType.REJECT;
        if (v.startsWith("release") && deliveryCount <= 1) return AcknowledgeType.RELEASE;
        return AcknowledgeType.ACCEPT;
    }

    static int deliveryCount(ConsumerRecord<byte[], byte[]> m) {
        return m.deliveryCount().map(Short::intValue).orElse(0);
    }

    static ObjectNode recordJson(ConsumerRecord<byte[], byte[]> m, String ack) {
        ObjectNode o = JSON.createObjectNode();
        o.put("topic", m.topic());
        o.put("partition", m.partition());
        o.put("offset", m.offset());
        o.put("delivery_count", deliveryCount(m));
        o.put("value", m.value() == null ? null : Base64.getEncoder().encodeToString(m.value()));
        o.put("ack", ack);
        return o;
    }

    static void member(Map<String, List<String>> opts, Properties extra) throws Exception {
        String topic = need(opts, "--topic");
        String group = need(opts, "--group");
        long deadline = System.currentTimeMillis() + timeoutMs(opts);
        Properties p = new Properties();
        p.setProperty("bootstrap.servers", need(opts, "--bootstrap"));
        p.setProperty("client.id", "purekafka-java-share-peer");
        p.setProperty("group.id", group);
        p.setProperty("share.acknowledgement.mode", "explicit");
        p.setProperty("key.deserializer", ByteArrayDeserializer.class.getName());
        p.setProperty("value.deserializer", ByteArrayDeserializer.class.getName());
        long pauseMs = Long.parseLong((String) extra.getOrDefault("peer.pause.ms", "0"));
        extra.remove("peer.pause.ms");
        p.putAll(extra);

        AtomicBoolean stop = new AtomicBoolean(false);
        AtomicBoolean hang = new AtomicBoolean(false);
        Thread stdin = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.trim().equals("hang")) hang.set(true);
                }
            } catch (Exception e) {
                // stdin gone: stop
            }
            stop.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();

        KafkaShareConsumer<byte[], byte[]> c = new KafkaShareConsumer<>(p);
        c.subscribe(List.of(topic));
        boolean announced = false;
        boolean hanging = false;
        while (!stop.get() && System.currentTimeMillis() < deadline) {
            if (hang.get()) {
                if (!hanging) {
                    hanging = true;
                    // Acquire one more batch and hold it: never acknowledged.
                    long until = System.currentTimeMillis() + 5000;
                    while (System.currentTimeMillis() < until) {
                        var held = c.poll(Duration.ofMillis(200));
                        for (ConsumerRecord<byte[], byte[]> m : held) emit(recordJson(m, "held"));
                        if (!held.isEmpty()) break;
                    }
                    ObjectNode o = JSON.createObjectNode();
                    o.put("event", "hanging");
                    emit(o);
                }
                Thread.sleep(50);
                continue;
            }
            var records = c.poll(Duration.ofMillis(200));
            if (!announced) {
                announced = true;
                ObjectNode o = JSON.createObjectNode();
                o.put("event", "assigned");
                emit(o);
            }
            if (records.isEmpty()) continue;
            for (ConsumerRecord<byte[], byte[]> m : records) {
                AcknowledgeType t = decide(m.value(), deliveryCount(m));
                emit(recordJson(m, t.toString().toLowerCase(java.util.Locale.ROOT)));
                c.acknowledge(m, t);
            }
            c.commitSync();
            if (pauseMs > 0) Thread.sleep(pauseMs);
        }
        if (hanging) {
            // Never acknowledge what is held: exit without close.
            Runtime.getRuntime().halt(0);
        }
        c.close(Duration.ofSeconds(10));
    }
}
