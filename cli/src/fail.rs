//! The CLI's errors: what went wrong, and what to do about it.

use std::fmt;

/// A failed command: exit code 2 for a usage or configuration mistake, 1
/// for everything else.
#[derive(Debug)]
pub struct CliError {
    /// The message.
    pub message: String,
    /// What to check or change, when the message alone does not say.
    pub hint: Option<String>,
    /// The process exit code.
    pub code: i32,
}

/// A command's result.
pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    /// A mistake in the command line or the configuration.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            hint: None,
            code: 2,
        }
    }

    /// A failure at run time.
    pub fn runtime(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            hint: None,
            code: 1,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }

    /// As JSON, for `--output json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.message, "hint": self.hint, "exit_code": self.code })
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::runtime(format!("I/O error: {e}"))
    }
}

/// A client error with what the user should check, given the bootstrap
/// list in force.
pub fn kafka(e: purekafka::Error, bootstrap: &str) -> CliError {
    use purekafka::Error as E;
    let hint = match &e {
        E::BootstrapUnreachable { .. } | E::Connect { .. } => Some(format!(
            "is a broker listening at {bootstrap}? Check -b (or bootstrap.servers in the profile), \
             that the address is reachable from here, and that the listener's protocol matches \
             security.protocol (-X security.protocol=ssl for TLS, sasl_ssl or sasl_plaintext for SASL)"
        )),
        E::Config(_) => Some(
            "properties are the Java/librdkafka names (-X name=value); `purekafka properties` lists them"
                .to_owned(),
        ),
        E::Authentication { .. } => Some(
            "check sasl.mechanism, sasl.username and sasl.password (-X or the profile's [sasl])"
                .to_owned(),
        ),
        _ => match e.code() {
            Some(c) if c == purekafka::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => Some(
                "the topic does not exist: `purekafka topics` lists them; create it or check the name"
                    .to_owned(),
            ),
            Some(c)
                if c == purekafka::ErrorCode::TOPIC_AUTHORIZATION_FAILED
                    || c == purekafka::ErrorCode::GROUP_AUTHORIZATION_FAILED
                    || c == purekafka::ErrorCode::CLUSTER_AUTHORIZATION_FAILED =>
            {
                Some("the principal lacks an ACL for this: ask for one, or use another user".to_owned())
            }
            _ => None,
        },
    };
    let code = if matches!(e, E::Config(_)) { 2 } else { 1 };
    CliError {
        message: e.to_string(),
        hint,
        code,
    }
}
