//! The Apache Kafka Java client (kafka-clients 4.4.0) as a third interop peer,
//! next to the Python peers: `scripts/java/JavaPeer.java`, compiled by
//! `scripts/install-kafka.sh`, speaking the same JSON lines as `scripts/peer.py`.
//!
//! - [`java_produce`]: the Java producer writes [`Record`]s (any codec, acks,
//!   idempotence, a committed or aborted transaction); returns the [`Acked`]s.
//! - [`java_consume`]: the Java consumer reads `count` records, without a
//!   group (every partition from the beginning) or in one.
//! - [`JavaGroupMember`]: a Java consumer running in the background in a
//!   group, next to purekafka consumers in the same test.
//!
//! Every function fails with [`Error::NotInstalled`] (so [`crate::cluster_or_skip`]
//! style skips work) when Kafka or the compiled peer is missing.

use crate::{
    Acked, Cluster, Codec, Consumed, Error, Record, Result, java_peer_classpath, kafka_home,
    parse_all_acked, parse_consumed, peer_input,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Options of the Java producer (`JavaPeer produce`). `Default`: no
/// compression, acks=all, the Java defaults for idempotence and linger.
#[derive(Clone, Debug, Default)]
pub struct JavaProduce {
    /// `compression.type` (`None`: none).
    pub codec: Option<Codec>,
    /// `acks`: `"0"`, `"1"` or `"all"` (`None`: all).
    pub acks: Option<String>,
    /// `enable.idempotence` (`None`: the Java default, on with acks=all).
    pub idempotence: Option<bool>,
    /// `linger.ms` (`None`: the Java default, 5).
    pub linger_ms: Option<u64>,
    /// Send every record in one transaction with this `transactional.id`.
    pub transactional_id: Option<String>,
    /// Abort that transaction instead of committing it.
    pub abort: bool,
    /// Any other producer property.
    pub extra: Vec<(String, String)>,
}

/// Options of the Java consumer (`JavaPeer consume`). `Default`: no group,
/// read_uncommitted.
#[derive(Clone, Debug, Default)]
pub struct JavaConsume {
    /// `group.id`: subscribe in this group (`None`: assign every partition).
    pub group: Option<String>,
    /// `group.protocol`: `"classic"` or `"consumer"` (`None`: classic).
    pub group_protocol: Option<String>,
    /// `isolation.level`: `"read_committed"` or `"read_uncommitted"`.
    pub isolation_level: Option<String>,
    /// Commit (sync) after every poll that returned records, and on exit.
    pub commit: bool,
    /// Any other consumer property.
    pub extra: Vec<(String, String)>,
}

impl JavaConsume {
    /// A group member of `group` with the classic protocol.
    pub fn in_group(group: impl Into<String>) -> JavaConsume {
        JavaConsume {
            group: Some(group.into()),
            ..JavaConsume::default()
        }
    }
}

fn extra_args(args: &mut Vec<String>, extra: &[(String, String)]) {
    for (k, v) in extra {
        args.push("-X".into());
        args.push(format!("{k}={v}"));
    }
}

/// `java`, from `JAVA_HOME` when set.
fn java_binary() -> PathBuf {
    match std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        Some(h) => PathBuf::from(h).join("bin").join("java"),
        None => PathBuf::from("java"),
    }
}

/// The command that runs `JavaPeer <args> --bootstrap <cluster> --timeout <s>`,
/// logging warnings only, to stderr.
pub fn java_peer_command(cluster: &Cluster, args: &[String], timeout: Duration) -> Result<Command> {
    peer_class_command(cluster, "JavaPeer", args, timeout)
}

/// The command that runs the compiled peer `class` (`JavaPeer`,
/// `JavaSharePeer`) with `args --bootstrap <cluster> --timeout <s>`.
fn peer_class_command(
    cluster: &Cluster,
    class: &str,
    args: &[impl AsRef<std::ffi::OsStr>],
    timeout: Duration,
) -> Result<Command> {
    let cp = java_peer_classpath()?;
    let home = kafka_home()?;
    let compiled = home.join("peer").join(format!("{class}.class"));
    if !compiled.exists() {
        return Err(Error::NotInstalled(format!(
            "the Java peer {class} is not compiled ({} missing): run ./scripts/install-kafka.sh",
            compiled.display()
        )));
    }
    let log4j = home.join("conf").join("log4j2-tools.properties");
    let mut cmd = Command::new(java_binary());
    // A short-lived client: C1 only and one GC thread start fastest on a small machine.
    cmd.arg("-XX:TieredStopAtLevel=1")
        .arg("-XX:+UseSerialGC")
        .arg(format!("-Dlog4j2.configurationFile={}", log4j.display()))
        .arg("-cp")
        .arg(cp)
        .arg(class)
        .args(args)
        .arg("--bootstrap")
        .arg(cluster.bootstrap())
        .arg("--timeout")
        .arg(timeout.as_secs().max(1).to_string());
    Ok(cmd)
}

fn spawn(mut cmd: Command) -> Result<Child> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotInstalled(format!(
                "java is not on PATH ({e}): install a JDK 17+ and run ./scripts/install-kafka.sh"
            ))
        } else {
            Error::Peer(format!("cannot run the Java peer: {e}"))
        }
    })
}

fn read_all(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// Waits for `child` until `deadline`; kills it past that (`None`).
fn wait_until(child: &mut Child, deadline: Instant) -> Result<Option<ExitStatus>> {
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn failure(what: &str, status: Option<ExitStatus>, stderr: &str, timeout: Duration) -> Error {
    match status {
        Some(st) => Error::Peer(format!("JavaPeer {what} ({st}): {}", stderr.trim_end())),
        None => Error::Peer(format!(
            "JavaPeer {what} hung past {}s and was killed; stderr: {}",
            timeout.as_secs() + 30,
            stderr.trim_end()
        )),
    }
}

/// Runs `JavaPeer <args>` feeding `input` on stdin; returns its stdout lines.
pub fn run_java_peer(
    cluster: &Cluster,
    args: &[String],
    input: Option<String>,
    timeout: Duration,
) -> Result<Vec<String>> {
    let mut child = spawn(java_peer_command(cluster, args, timeout)?)?;
    let mut stdin = child.stdin.take();
    let writer = thread::spawn(move || {
        if let (Some(s), Some(text)) = (stdin.as_mut(), input) {
            let _ = s.write_all(text.as_bytes());
        }
    });
    let out = read_all(
        child
            .stdout
            .take()
            .ok_or_else(|| Error::Io("no stdout".into()))?,
    );
    let err = read_all(
        child
            .stderr
            .take()
            .ok_or_else(|| Error::Io("no stderr".into()))?,
    );
    // The peer enforces its own --timeout; this is the backstop for a hang.
    let status = wait_until(
        &mut child,
        Instant::now() + timeout + Duration::from_secs(30),
    )?;
    let _ = writer.join();
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    match status {
        Some(st) if st.success() => Ok(stdout.lines().map(str::to_owned).collect()),
        _ => Err(failure(&args.join(" "), status, &stderr, timeout)),
    }
}

/// Produces `records` to `topic` with the Java producer; returns where each
/// landed, in input order.
pub fn java_produce(
    cluster: &Cluster,
    topic: &str,
    opts: &JavaProduce,
    records: &[Record],
) -> Result<Vec<Acked>> {
    let mut args: Vec<String> = vec!["produce".into(), "--topic".into(), topic.into()];
    if let Some(c) = opts.codec {
        args.extend(["--compression".into(), c.flag().into()]);
    }
    if let Some(a) = &opts.acks {
        args.extend(["--acks".into(), a.clone()]);
    }
    if let Some(i) = opts.idempotence {
        args.extend(["--idempotence".into(), i.to_string()]);
    }
    if let Some(l) = opts.linger_ms {
        args.extend(["--linger-ms".into(), l.to_string()]);
    }
    if let Some(t) = &opts.transactional_id {
        args.extend(["--transactional-id".into(), t.clone()]);
    }
    if opts.abort {
        args.push("--abort".into());
    }
    extra_args(&mut args, &opts.extra);
    let timeout = Duration::from_secs(60 + records.len() as u64 / 2000);
    let lines = run_java_peer(cluster, &args, Some(peer_input(records)), timeout)?;
    parse_all_acked(&lines, records.len(), "the Java producer")
}

fn consume_args(topic: &str, opts: &JavaConsume, count: usize) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "consume".into(),
        "--topic".into(),
        topic.into(),
        "--count".into(),
        count.to_string(),
    ];
    if let Some(g) = &opts.group {
        args.extend(["--group".into(), g.clone()]);
    }
    if let Some(p) = &opts.group_protocol {
        args.extend(["--group-protocol".into(), p.clone()]);
    }
    if let Some(i) = &opts.isolation_level {
        args.extend(["--isolation-level".into(), i.clone()]);
    }
    if opts.commit {
        args.push("--commit".into());
    }
    extra_args(&mut args, &opts.extra);
    args
}

/// Reads `count` records of `topic` with the Java consumer. Without a group:
/// every partition from the beginning, ordered by partition then offset; in a
/// group: in the order they arrived. Fails if fewer arrive within `timeout`.
pub fn java_consume(
    cluster: &Cluster,
    topic: &str,
    opts: &JavaConsume,
    count: usize,
    timeout: Duration,
) -> Result<Vec<Consumed>> {
    let lines = run_java_peer(cluster, &consume_args(topic, opts, count), None, timeout)?;
    lines
        .iter()
        .filter(|l| !l.starts_with("{\"event\""))
        .map(|l| parse_consumed(l))
        .collect()
}

#[derive(Default)]
struct MemberState {
    assignment: Option<Vec<i32>>,
    rebalances: usize,
    records: Vec<Consumed>,
    bad_line: Option<String>,
}

/// A peer process running in the background: each stdout line goes to
/// `on_line` with the shared state `S`, stderr is collected; [`finish`]
/// closes its stdin and waits for it, drop kills it. Both background Java
/// members ([`JavaGroupMember`], [`JavaShareMember`]) are one of these.
///
/// [`finish`]: BackgroundPeer::finish
struct BackgroundPeer<S> {
    child: Child,
    stdin: Option<ChildStdin>,
    state: Arc<Mutex<S>>,
    reader: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<String>>,
}

/// How a [`BackgroundPeer`] ended: its exit status (`None`: it hung and
/// was killed), its stderr, and the state its lines made.
struct Finished<S> {
    status: Option<ExitStatus>,
    stderr: String,
    state: S,
}

impl<S: Default + Send + 'static> BackgroundPeer<S> {
    fn start(cmd: Command, on_line: impl Fn(&mut S, String) + Send + 'static) -> Result<Self> {
        let mut child = spawn(cmd)?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::Io("no stdout".into()))?;
        let stderr = read_all(
            child
                .stderr
                .take()
                .ok_or_else(|| Error::Io("no stderr".into()))?,
        );
        let state = Arc::new(Mutex::new(S::default()));
        let st = Arc::clone(&state);
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                on_line(&mut st.lock().unwrap_or_else(|e| e.into_inner()), line);
            }
        });
        Ok(BackgroundPeer {
            child,
            stdin,
            state,
            reader: Some(reader),
            stderr: Some(stderr),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `line` to its stdin.
    fn send(&mut self, line: &str) -> Result<()> {
        let s = self
            .stdin
            .as_mut()
            .ok_or_else(|| Error::Peer("the peer's stdin is closed".into()))?;
        s.write_all(line.as_bytes())?;
        s.write_all(b"\n")?;
        s.flush()?;
        Ok(())
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills it (SIGKILL) and takes what it read.
    fn kill(&mut self) -> S {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        std::mem::take(&mut *self.state())
    }

    /// Closes its stdin and waits (30 s at most, then kills it).
    fn finish(&mut self) -> Result<Finished<S>> {
        drop(self.stdin.take());
        let status = wait_until(&mut self.child, Instant::now() + Duration::from_secs(30))?;
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let state = std::mem::take(&mut *self.state());
        Ok(Finished {
            status,
            stderr,
            state,
        })
    }
}

impl<S> Drop for BackgroundPeer<S> {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A Java consumer in a group, running in the background until
/// [`JavaGroupMember::stop`] (which closes its stdin: it commits if asked,
/// leaves the group and exits) or drop (which kills it).
pub struct JavaGroupMember {
    peer: BackgroundPeer<MemberState>,
    timeout: Duration,
}

impl MemberState {
    /// One line of `JavaPeer consume`: an assignment event or a record.
    fn on_line(&mut self, line: String) {
        if line.starts_with("{\"event\"") {
            let parts = serde_json::from_str::<crate::Json>(&line)
                .ok()
                .and_then(|v| {
                    v.get("partitions")?
                        .as_array()?
                        .iter()
                        .map(|p| p.as_i64().and_then(|n| i32::try_from(n).ok()))
                        .collect::<Option<Vec<i32>>>()
                });
            match parts {
                Some(p) => {
                    self.assignment = Some(p);
                    self.rebalances += 1;
                }
                None => self.bad_line = Some(line),
            }
        } else {
            match parse_consumed(&line) {
                Ok(c) => self.records.push(c),
                Err(e) => self.bad_line = Some(e.to_string()),
            }
        }
    }
}

impl JavaGroupMember {
    /// Starts a member of `opts.group` (required) reading `topic`, for at most
    /// `timeout` (or until it has read `usize::MAX` records).
    pub fn start(
        cluster: &Cluster,
        topic: &str,
        opts: &JavaConsume,
        timeout: Duration,
    ) -> Result<JavaGroupMember> {
        if opts.group.is_none() {
            return Err(Error::Peer("JavaGroupMember needs opts.group".into()));
        }
        let mut args = consume_args(topic, opts, usize::MAX >> 1);
        args.push("--until-eof".into());
        let cmd = java_peer_command(cluster, &args, timeout)?;
        Ok(JavaGroupMember {
            peer: BackgroundPeer::start(cmd, MemberState::on_line)?,
            timeout,
        })
    }

    /// The partitions of the last assignment (`None` before the first).
    pub fn assignment(&self) -> Option<Vec<i32>> {
        self.peer.state().assignment.clone()
    }

    /// How many assignments it has received.
    pub fn rebalances(&self) -> usize {
        self.peer.state().rebalances
    }

    /// The records it has read so far.
    pub fn records(&self) -> Vec<Consumed> {
        self.peer.state().records.clone()
    }

    /// How many records it has read so far.
    pub fn record_count(&self) -> usize {
        self.peer.state().records.len()
    }

    /// `true` while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.peer.is_running()
    }

    /// Closes its stdin, waits for it to commit (with `commit`), leave the
    /// group and exit; returns every record it read.
    pub fn stop(mut self) -> Result<Vec<Consumed>> {
        let end = self.peer.finish()?;
        if let Some(bad) = end.state.bad_line {
            return Err(Error::Peer(format!("JavaPeer group member: {bad}")));
        }
        match end.status {
            Some(st) if st.success() => Ok(end.state.records),
            status => Err(failure(
                "consume (group member)",
                status,
                &end.stderr,
                self.timeout,
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Share groups: scripts/java/JavaSharePeer.java (KafkaShareConsumer)

/// Sets configs of a group with IncrementalAlterConfigs through the Java
/// admin client (`share.auto.offset.reset`, `share.record.lock.duration.ms`).
pub fn java_group_config(cluster: &Cluster, group: &str, configs: &[(&str, &str)]) -> Result<()> {
    let sets: Vec<String> = configs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut args = vec!["group-config", "--group", group];
    for s in &sets {
        args.push("--set");
        args.push(s);
    }
    let timeout = Duration::from_secs(30);
    let mut cmd = peer_class_command(cluster, "JavaSharePeer", &args, timeout)?;
    cmd.stdin(Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| Error::Peer(format!("cannot run JavaSharePeer: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Peer(format!(
            "JavaSharePeer group-config ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        )))
    }
}

/// One record a [`JavaShareMember`] received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareConsumed {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The broker's delivery count.
    pub delivery_count: i64,
    /// Value.
    pub value: Option<Vec<u8>>,
    /// How the member acknowledged it: `accept`, `release` or `reject`;
    /// `held` for a record it took after [`JavaShareMember::hang`] and never
    /// acknowledged.
    pub ack: String,
}

#[derive(Default)]
struct ShareMemberState {
    records: Vec<ShareConsumed>,
    assigned: bool,
    hanging: bool,
    bad_line: Option<String>,
}

/// A Java `KafkaShareConsumer` running in the background as a member of a
/// share group (`JavaSharePeer member`): explicit acknowledgement by the
/// record's value (`release...` released on the first delivery, `reject...`
/// rejected, anything else accepted), `commitSync` after every poll.
pub struct JavaShareMember {
    peer: BackgroundPeer<ShareMemberState>,
}

impl ShareMemberState {
    /// One line of `JavaSharePeer member`: an event or a record.
    fn on_line(&mut self, line: String) {
        let Some(v) = serde_json::from_str::<crate::Json>(&line).ok() else {
            self.bad_line = Some(line);
            return;
        };
        match v.get("event").and_then(|e| e.as_str()) {
            Some("assigned") => self.assigned = true,
            Some("hanging") => self.hanging = true,
            Some(_) => self.bad_line = Some(line),
            None => {
                let rec = (|| {
                    Some(ShareConsumed {
                        partition: i32::try_from(v.get("partition")?.as_i64()?).ok()?,
                        offset: v.get("offset")?.as_i64()?,
                        delivery_count: v.get("delivery_count")?.as_i64()?,
                        value: match v.get("value")? {
                            crate::Json::Null => None,
                            crate::Json::String(b) => Some(crate::b64::decode(b).ok()?),
                            _ => return None,
                        },
                        ack: v.get("ack")?.as_str()?.to_owned(),
                    })
                })();
                match rec {
                    Some(r) => self.records.push(r),
                    None => self.bad_line = Some(line),
                }
            }
        }
    }
}

impl JavaShareMember {
    /// Starts a member of `group` reading `topic`, for at most `timeout`,
    /// with `extra` consumer properties.
    pub fn start(
        cluster: &Cluster,
        topic: &str,
        group: &str,
        extra: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<JavaShareMember> {
        let props: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args = vec!["member", "--topic", topic, "--group", group];
        for p in &props {
            args.push("-X");
            args.push(p);
        }
        let cmd = peer_class_command(cluster, "JavaSharePeer", &args, timeout)?;
        Ok(JavaShareMember {
            peer: BackgroundPeer::start(cmd, ShareMemberState::on_line)?,
        })
    }

    /// Whether its first poll has returned (it has joined the group).
    pub fn polled(&self) -> bool {
        self.peer.state().assigned
    }

    /// The records it has received so far.
    pub fn records(&self) -> Vec<ShareConsumed> {
        self.peer.state().records.clone()
    }

    /// Tells it to stop polling and acknowledging, keeping its process and
    /// connections: what it holds is redelivered after the lock times out.
    pub fn hang(&mut self) -> Result<()> {
        self.peer.send("hang")
    }

    /// Whether it has stopped polling after [`hang`](Self::hang).
    pub fn hanging(&self) -> bool {
        self.peer.state().hanging
    }

    /// Kills the process (SIGKILL): no close, no final acknowledgements.
    pub fn kill(mut self) -> Vec<ShareConsumed> {
        self.peer.kill().records
    }

    /// Closes its stdin, waits for it to commit, close and exit; returns
    /// every record it received.
    pub fn stop(mut self) -> Result<Vec<ShareConsumed>> {
        let end = self.peer.finish()?;
        if let Some(bad) = end.state.bad_line {
            return Err(Error::Peer(format!("JavaSharePeer member: {bad}")));
        }
        match end.status {
            Some(st) if st.success() => Ok(end.state.records),
            status => Err(Error::Peer(format!(
                "JavaSharePeer member ({status:?}): {}",
                end.stderr.trim_end()
            ))),
        }
    }
}
