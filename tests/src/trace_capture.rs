//! [`TraceCapture`]: every tracing event and span of the process, with all
//! their fields, recorded as text at TRACE level, for tests that search the
//! logs (for secrets that must not be there, say).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every event and span, with all fields, as text: one line each.
#[derive(Clone, Default)]
pub struct TraceCapture {
    text: Arc<Mutex<String>>,
    next_id: Arc<AtomicU64>,
}

impl TraceCapture {
    /// A capture installed as the process's global subscriber. Panics if
    /// one is installed already (a test binary gets one).
    pub fn install() -> TraceCapture {
        let capture = TraceCapture::default();
        tracing::subscriber::set_global_default(capture.clone())
            .expect("no other global tracing subscriber in this test binary");
        capture
    }

    /// What was recorded so far.
    pub fn text(&self) -> String {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, String> {
        self.text.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, what: &str, meta: &Metadata<'_>, fill: impl FnOnce(&mut Fields<'_>)) {
        let mut s = self.lock();
        let _ = write!(s, "{what} {} {}:", meta.level(), meta.target());
        fill(&mut Fields(&mut s));
        s.push('\n');
    }
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl Subscriber for TraceCapture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.push("span", span.metadata(), |f| span.record(f));
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut s = self.lock();
        values.record(&mut Fields(&mut s));
        s.push('\n');
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        self.push("event", event.metadata(), |f| event.record(f));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
