//! Polling a [`Consumer`] until something happens, for tests: the loops
//! the consumer tests would otherwise each write.

use purekafka::consumer::{Consumer, ConsumerRecord};
use std::time::{Duration, Instant};

/// How long one `poll` inside these helpers waits.
const STEP: Duration = Duration::from_millis(100);

/// Polls until `done(all records so far)` or `within` passes; returns the
/// records. A poll error panics.
pub async fn poll_until(
    c: &Consumer,
    within: Duration,
    mut done: impl FnMut(&[ConsumerRecord]) -> bool,
) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    while !done(&out) && Instant::now() < deadline {
        out.extend(c.poll(STEP).await.unwrap());
    }
    out
}

/// Polls until at least `n` records arrived; panics, naming `what`, if
/// they do not within `within`.
pub async fn poll_records(
    c: &Consumer,
    n: usize,
    within: Duration,
    what: &str,
) -> Vec<ConsumerRecord> {
    let got = poll_until(c, within, |r| r.len() >= n).await;
    assert!(
        got.len() >= n,
        "{what}: read {} of {n} records in {within:?}",
        got.len()
    );
    got
}

/// Polls until a poll fails and returns its error; panics, naming `what`,
/// if a record arrives first or no error comes within `within`.
pub async fn poll_error(c: &Consumer, within: Duration, what: &str) -> purekafka::Error {
    let deadline = Instant::now() + within;
    loop {
        match c.poll(STEP).await {
            Err(e) => return e,
            Ok(rs) => assert!(rs.is_empty(), "{what}: records arrived: {rs:?}"),
        }
        assert!(
            Instant::now() < deadline,
            "{what}: poll returned no error within {within:?}"
        );
    }
}
