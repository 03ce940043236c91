//! The callbacks of [`Consumer::commit_async_with`](super::Consumer::commit_async_with)
//! (Java's `commitAsync(OffsetCommitCallback)`): each runs once its commit
//! is answered, and in the order the commits were asked for, even when a
//! later commit is answered first (one waited for the coordinator, say). A
//! callback that panics is contained: the rest still run, and the panic is
//! handed back to be reported ([`Error::CallbackPanicked`]).
//!
//! Sans-IO: the group task says when a commit started and how it ended.

use super::Committed;
use crate::error::{Error, Result};
use std::collections::VecDeque;
use std::sync::Mutex;

/// What `commit_async_with` is given.
pub(crate) type CommitCallback = Box<dyn FnOnce(Result<Committed>) + Send>;

/// The name a panicking callback is reported under.
pub(crate) const CALLBACK_NAME: &str = "Consumer::commit_async_with callback";

/// The callbacks of commits asked for and not yet reported, oldest first.
#[derive(Default)]
pub(crate) struct CommitCallbacks {
    next: u64,
    /// (commit, its outcome once known, the callback). The mutex only makes
    /// the group task's state `Sync` without asking callbacks to be: it is
    /// never contended (only the group task touches it).
    pending: VecDeque<(u64, Option<Result<Committed>>, Mutex<CommitCallback>)>,
}

impl CommitCallbacks {
    /// A commit with a callback starts: returns its number for [`ended`](Self::ended).
    pub fn started(&mut self, callback: CommitCallback) -> u64 {
        let id = self.next;
        self.next += 1;
        self.pending.push_back((id, None, Mutex::new(callback)));
        id
    }

    /// Commit `id` ended with `result`: runs its callback and those of the
    /// commits after it that ended before, as long as every earlier commit
    /// has ended. Returns the panics of the callbacks run (their messages).
    pub fn ended(&mut self, id: u64, result: Result<Committed>) -> Vec<String> {
        if let Some(slot) = self.pending.iter_mut().find(|(i, _, _)| *i == id) {
            slot.1 = Some(result);
        }
        let mut panics = Vec::new();
        while self.pending.front().is_some_and(|(_, r, _)| r.is_some()) {
            let Some((_, Some(result), callback)) = self.pending.pop_front() else {
                break;
            };
            panics.extend(run(callback, result));
        }
        panics
    }

    /// The consumer's group task ends: every callback still waiting is told
    /// (with what its commit ended with, else [`Error::Closed`]), in order.
    pub fn close(&mut self) -> Vec<String> {
        let mut panics = Vec::new();
        while let Some((_, result, callback)) = self.pending.pop_front() {
            let result = result.unwrap_or(Err(Error::Closed("consumer")));
            panics.extend(run(callback, result));
        }
        panics
    }
}

/// Runs one callback; a panic in it comes back as its message.
fn run(callback: Mutex<CommitCallback>, result: Result<Committed>) -> Option<String> {
    let callback = callback
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let call = std::panic::AssertUnwindSafe(move || callback(result));
    std::panic::catch_unwind(call)
        .err()
        .map(|p| panic_message(p.as_ref()))
}

/// A caught panic's message.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TopicPartition;
    use crate::consumer::OffsetAndMetadata;
    use std::sync::Arc;

    type Log = Arc<Mutex<Vec<(u32, std::result::Result<i64, String>)>>>;

    fn recorder(log: &Log, n: u32) -> CommitCallback {
        let log = log.clone();
        Box::new(move |r: Result<Committed>| {
            let r = r.map(|c| c[0].1.offset).map_err(|e| e.to_string());
            log.lock().unwrap().push((n, r));
        })
    }

    fn committed(offset: i64) -> Result<Committed> {
        Ok(vec![(
            TopicPartition::new("t", 0),
            OffsetAndMetadata {
                offset,
                metadata: None,
            },
        )])
    }

    #[test]
    fn callbacks_run_in_commit_order_whatever_order_the_answers_come_in() {
        let log = Log::default();
        let mut cbs = CommitCallbacks::default();
        let a = cbs.started(recorder(&log, 0));
        let b = cbs.started(recorder(&log, 1));
        let c = cbs.started(recorder(&log, 2));
        // The third is answered first, then the second: both wait for the first.
        assert!(cbs.ended(c, committed(30)).is_empty());
        assert!(cbs.ended(b, Err(Error::Closed("consumer"))).is_empty());
        assert!(
            log.lock().unwrap().is_empty(),
            "ran before the first commit ended"
        );
        assert!(cbs.ended(a, committed(10)).is_empty());
        let got = log.lock().unwrap().clone();
        assert_eq!(
            got,
            vec![
                (0, Ok(10)),
                (1, Err(Error::Closed("consumer").to_string())),
                (2, Ok(30)),
            ]
        );
    }

    #[test]
    fn a_panicking_callback_is_contained_and_the_next_still_runs() {
        let log = Log::default();
        let mut cbs = CommitCallbacks::default();
        let a = cbs.started(Box::new(|_| panic!("boom in the callback")));
        let b = cbs.started(recorder(&log, 1));
        assert!(cbs.ended(b, committed(5)).is_empty());
        assert_eq!(cbs.ended(a, committed(4)), vec!["boom in the callback"]);
        assert_eq!(*log.lock().unwrap(), vec![(1, Ok(5))]);
    }

    #[test]
    fn close_tells_every_waiting_callback_in_order() {
        let log = Log::default();
        let mut cbs = CommitCallbacks::default();
        let _a = cbs.started(recorder(&log, 0));
        let b = cbs.started(recorder(&log, 1));
        assert!(cbs.ended(b, committed(7)).is_empty());
        assert!(cbs.close().is_empty());
        let closed = Error::Closed("consumer").to_string();
        assert_eq!(*log.lock().unwrap(), vec![(0, Err(closed)), (1, Ok(7))]);
        assert!(cbs.close().is_empty(), "each callback runs once");
    }
}
