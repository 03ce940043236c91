//! A one-line progress display on stderr, drawn only when stderr is a
//! terminal and only once a run has lasted a second (small inputs never
//! flash a bar).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Progress of a run: records and bytes so far, against an optional total.
pub struct Progress {
    enabled: bool,
    start: Instant,
    last: Instant,
    drawn: bool,
    label: &'static str,
}

impl Progress {
    /// A display that draws only if `wanted` and stderr is a terminal.
    pub fn new(label: &'static str, wanted: bool) -> Progress {
        let now = Instant::now();
        Progress {
            enabled: wanted && std::io::stderr().is_terminal(),
            start: now,
            last: now,
            drawn: false,
            label,
        }
    }

    /// Redraws (at most 5 times a second). `total` is the expected number of
    /// bytes (input files) or records (bench), when known: it draws a bar.
    pub fn tick(&mut self, records: u64, bytes: u64, done: u64, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last) < Duration::from_millis(200)
            || now.duration_since(self.start) < Duration::from_secs(1)
        {
            return;
        }
        self.last = now;
        let secs = now.duration_since(self.start).as_secs_f64().max(1e-9);
        let mut line = format!(
            "{} {records} records, {:.1} MB, {:.0} records/s, {:.1} MB/s",
            self.label,
            bytes as f64 / 1e6,
            records as f64 / secs,
            bytes as f64 / 1e6 / secs
        );
        if let Some(t) = total.filter(|t| *t > 0) {
            let frac = (done as f64 / t as f64).clamp(0.0, 1.0);
            let width = 24;
            let full = (frac * width as f64) as usize;
            line.push_str(&format!(
                " [{}{}] {:>3.0}%",
                "#".repeat(full),
                ".".repeat(width - full),
                frac * 100.0
            ));
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
        self.drawn = true;
    }

    /// Clears the line.
    pub fn finish(&mut self) {
        if self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}
