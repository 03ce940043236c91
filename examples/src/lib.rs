//! What the examples share: `--name value` arguments and the time.
//!
//! Each program in `src/bin/` is one of the seed articles' applications,
//! runnable against any Kafka with `--bootstrap HOST:PORT` (default
//! `localhost:9092`); `tests/examples.rs` runs each against Kafka 4.4 and
//! checks what it printed and wrote.

use std::time::{SystemTime, UNIX_EPOCH};

/// The command line as `--name value` pairs.
pub struct Args(Vec<String>);

impl Args {
    /// This process's arguments.
    pub fn from_env() -> Args {
        Args(std::env::args().skip(1).collect())
    }

    /// The value after `--name`, if given.
    pub fn get(&self, name: &str) -> Option<String> {
        let flag = format!("--{name}");
        self.0
            .iter()
            .position(|a| *a == flag)
            .and_then(|i| self.0.get(i + 1))
            .cloned()
    }

    /// The value after `--name`, or `default`.
    pub fn or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// A number after `--name`, or `default`; exits naming the flag if it
    /// does not parse.
    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("--{name} {v}: not a number");
                std::process::exit(2)
            }),
        }
    }

    /// `--bootstrap`, default `localhost:9092`.
    pub fn bootstrap(&self) -> String {
        self.or("bootstrap", "localhost:9092")
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
