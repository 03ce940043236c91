//! SCRAM credentials: describe, upsert and delete (Java's
//! `describeUserScramCredentials`, `alterUserScramCredentials`).
//!
//! The password never leaves the client: as in Java, an upsert sends a
//! random salt and the salted password (PBKDF2 with the mechanism's HMAC,
//! the same function the SASL client computes when it logs in), and the
//! broker derives the stored and server keys from them.
//!
//! ```no_run
//! use purekafka::admin::{Admin, ScramCredentialAlteration, ScramMechanism};
//!
//! # async fn demo(admin: Admin) -> purekafka::Result<()> {
//! let set = ScramCredentialAlteration::upsert("carol", ScramMechanism::ScramSha512, 8192, "carol-secret");
//! for (user, outcome) in admin.alter_user_scram_credentials([set]).await? {
//!     outcome?;
//!     println!("{user} may log in with SCRAM-SHA-512");
//! }
//! # Ok(()) }
//! ```

use crate::admin::{Admin, check, hinted_error, no_result, resource_error, top_level};
use crate::config::Secret;
use crate::error::{Error, Result};
use crate::security::sasl::scram::ScramHash;
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use purekafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use purekafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A SCRAM mechanism (Java's `ScramMechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ScramMechanism {
    /// SCRAM-SHA-256.
    ScramSha256,
    /// SCRAM-SHA-512.
    ScramSha512,
    /// A code this version of purekafka does not know.
    Unknown(i8),
}

impl ScramMechanism {
    /// The protocol's code (1, 2).
    pub fn code(self) -> i8 {
        match self {
            ScramMechanism::ScramSha256 => 1,
            ScramMechanism::ScramSha512 => 2,
            ScramMechanism::Unknown(c) => c,
        }
    }

    /// The mechanism for a wire code.
    pub fn from_code(code: i8) -> Self {
        match code {
            1 => ScramMechanism::ScramSha256,
            2 => ScramMechanism::ScramSha512,
            c => ScramMechanism::Unknown(c),
        }
    }

    /// The SASL name (`SCRAM-SHA-256`).
    pub fn mechanism_name(self) -> &'static str {
        match self {
            ScramMechanism::ScramSha256 => "SCRAM-SHA-256",
            ScramMechanism::ScramSha512 => "SCRAM-SHA-512",
            ScramMechanism::Unknown(_) => "UNKNOWN",
        }
    }

    fn hash(self) -> Option<ScramHash> {
        match self {
            ScramMechanism::ScramSha256 => Some(ScramHash::Sha256),
            ScramMechanism::ScramSha512 => Some(ScramHash::Sha512),
            ScramMechanism::Unknown(_) => None,
        }
    }
}

impl fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScramMechanism::Unknown(c) => write!(f, "UNKNOWN({c})"),
            m => f.write_str(m.mechanism_name()),
        }
    }
}

impl std::str::FromStr for ScramMechanism {
    type Err = String;
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512` (any case, `_` for `-`).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_uppercase().replace('_', "-").as_str() {
            "SCRAM-SHA-256" => Ok(ScramMechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(ScramMechanism::ScramSha512),
            _ => Err(format!(
                "unknown SCRAM mechanism {s:?} (SCRAM-SHA-256 or SCRAM-SHA-512)"
            )),
        }
    }
}

/// One credential of a user: its mechanism and iteration count (Java's
/// `ScramCredentialInfo`; the broker never reveals more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScramCredentialInfo {
    /// The mechanism.
    pub mechanism: ScramMechanism,
    /// PBKDF2 iterations.
    pub iterations: i32,
}

/// Options of the SCRAM calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScramOptions {
    /// How long the call may take (`default.api.timeout.ms` if unset).
    pub timeout: Option<Duration>,
}

/// A change to one user's SCRAM credentials (Java's
/// `UserScramCredentialUpsertion` and `UserScramCredentialDeletion`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ScramCredentialAlteration {
    /// Creates or replaces the user's credential for `mechanism`.
    Upsert {
        /// The user.
        user: String,
        /// The mechanism.
        mechanism: ScramMechanism,
        /// PBKDF2 iterations (Kafka accepts 4096 to 16384).
        iterations: i32,
        /// The password (never sent: it is salted here).
        password: Secret,
        /// The salt (`None`: 32 random bytes).
        salt: Option<Vec<u8>>,
    },
    /// Removes the user's credential for `mechanism`.
    Delete {
        /// The user.
        user: String,
        /// The mechanism.
        mechanism: ScramMechanism,
    },
}

impl ScramCredentialAlteration {
    /// Sets `user`'s `mechanism` credential to `password`, with a random salt.
    pub fn upsert(
        user: impl Into<String>,
        mechanism: ScramMechanism,
        iterations: i32,
        password: impl Into<String>,
    ) -> Self {
        ScramCredentialAlteration::Upsert {
            user: user.into(),
            mechanism,
            iterations,
            password: Secret::new(password.into()),
            salt: None,
        }
    }

    /// Removes `user`'s `mechanism` credential.
    pub fn delete(user: impl Into<String>, mechanism: ScramMechanism) -> Self {
        ScramCredentialAlteration::Delete {
            user: user.into(),
            mechanism,
        }
    }

    /// The user changed.
    pub fn user(&self) -> &str {
        match self {
            ScramCredentialAlteration::Upsert { user, .. }
            | ScramCredentialAlteration::Delete { user, .. } => user,
        }
    }
}

fn scram_error(api: &'static str, code: i16, message: Option<String>, user: &str) -> Result<()> {
    check(code, |code| {
        let hint = match code {
            ErrorCode::RESOURCE_NOT_FOUND => Some("the user has no SCRAM credential"),
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED if api == "DescribeUserScramCredentials" => {
                Some("the principal needs DESCRIBE on the cluster")
            }
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED => {
                Some("the principal needs ALTER on the cluster")
            }
            _ => None,
        };
        let what = format!("user {user}");
        hinted_error(code, api, &what, message.as_deref(), hint)
    })
}

fn local_error(user: &str, reason: String) -> Error {
    resource_error(
        ErrorCode::UNSUPPORTED_SASL_MECHANISM,
        "AlterUserScramCredentials",
        &format!("user {user}"),
        Some(reason.as_str()),
    )
}

fn describe_results(
    users: Option<&[String]>,
    resp: DescribeUserScramCredentialsResponse,
) -> Result<BTreeMap<String, Result<Vec<ScramCredentialInfo>>>> {
    scram_error(
        "DescribeUserScramCredentials",
        resp.error_code,
        resp.error_message,
        &users.map_or_else(|| "(all)".to_string(), |u| u.join(",")),
    )?;
    let mut got: BTreeMap<String, Result<Vec<ScramCredentialInfo>>> = resp
        .results
        .into_iter()
        .map(|r| {
            let outcome = scram_error(
                "DescribeUserScramCredentials",
                r.error_code,
                r.error_message,
                &r.user,
            )
            .map(|()| {
                r.credential_infos
                    .into_iter()
                    .map(|c| ScramCredentialInfo {
                        mechanism: ScramMechanism::from_code(c.mechanism),
                        iterations: c.iterations,
                    })
                    .collect()
            });
            (r.user, outcome)
        })
        .collect();
    // Every user asked about gets an answer.
    for u in users.unwrap_or_default() {
        got.entry(u.clone()).or_insert_with(|| {
            Err(no_result(
                "DescribeUserScramCredentials",
                &format_args!("user {u}"),
            ))
        });
    }
    Ok(got)
}

fn random_salt() -> Result<Vec<u8>> {
    let mut salt = vec![0u8; 32];
    getrandom::fill(&mut salt).map_err(|e| {
        resource_error(
            ErrorCode::UNKNOWN_SERVER_ERROR,
            "AlterUserScramCredentials",
            "a SCRAM salt",
            Some(&format!("the operating system gave no randomness: {e}")),
        )
    })?;
    Ok(salt)
}

/// Each user's local verdict: `Some` error for a user whose alterations
/// are not sent.
type LocalVerdicts = Vec<(String, Option<Error>)>;

/// The request, and the users in the order of their first alteration with
/// a local error for those not sent.
fn alter_request(
    alterations: &[ScramCredentialAlteration],
) -> Result<(AlterUserScramCredentialsRequest, LocalVerdicts)> {
    let mut req = AlterUserScramCredentialsRequest::default();
    let mut users: Vec<(String, Option<Error>)> = Vec::new();
    for a in alterations {
        let user = a.user();
        let idx = match users.iter().position(|(u, _)| u == user) {
            Some(i) => i,
            None => {
                users.push((user.to_string(), None));
                users.len() - 1
            }
        };
        let local = match a {
            ScramCredentialAlteration::Upsert {
                mechanism,
                iterations,
                password,
                salt,
                ..
            } => match mechanism.hash() {
                None => Some(local_error(
                    user,
                    format!("cannot salt a password for {mechanism}"),
                )),
                Some(_) if *iterations <= 0 => Some(local_error(
                    user,
                    format!(
                        "{iterations} iterations: must be positive (Kafka accepts 4096 to 16384)"
                    ),
                )),
                Some(hash) => {
                    let salt = match salt {
                        Some(s) => s.clone(),
                        None => random_salt()?,
                    };
                    let salted = hash.salted_password(
                        password.expose().as_bytes(),
                        &salt,
                        iterations.unsigned_abs(),
                    );
                    req.upsertions.push(ScramCredentialUpsertion {
                        name: user.to_string(),
                        mechanism: mechanism.code(),
                        iterations: *iterations,
                        salt: salt.into(),
                        salted_password: salted.into(),
                        ..Default::default()
                    });
                    None
                }
            },
            ScramCredentialAlteration::Delete { mechanism, .. } => {
                if let ScramMechanism::Unknown(_) = mechanism {
                    Some(local_error(user, format!("cannot delete {mechanism}")))
                } else {
                    req.deletions.push(ScramCredentialDeletion {
                        name: user.to_string(),
                        mechanism: mechanism.code(),
                        ..Default::default()
                    });
                    None
                }
            }
        };
        if let Some(e) = local
            && let Some(slot) = users.get_mut(idx)
        {
            slot.1.get_or_insert(e);
        }
    }
    // As in Java, a user with a local error has nothing sent at all.
    for (u, e) in &users {
        if e.is_some() {
            req.upsertions.retain(|x| &x.name != u);
            req.deletions.retain(|x| &x.name != u);
        }
    }
    Ok((req, users))
}

fn alter_results(
    users: LocalVerdicts,
    resp: AlterUserScramCredentialsResponse,
) -> BTreeMap<String, Result<()>> {
    users
        .into_iter()
        .map(|(u, local)| {
            let r = match local {
                Some(e) => Err(e),
                None => match resp.results.iter().find(|r| r.user == u) {
                    Some(r) => scram_error(
                        "AlterUserScramCredentials",
                        r.error_code,
                        r.error_message.clone(),
                        &u,
                    ),
                    None => Err(no_result(
                        "AlterUserScramCredentials",
                        &format_args!("user {u}"),
                    )),
                },
            };
            (u, r)
        })
        .collect()
}

impl Admin {
    /// The SCRAM credentials of `users` (`None`: of every user that has
    /// one), per user (Java's `describeUserScramCredentials`), with the
    /// default options.
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<&[&str]>,
    ) -> Result<BTreeMap<String, Result<Vec<ScramCredentialInfo>>>> {
        self.describe_user_scram_credentials_with(users, ScramOptions::default())
            .await
    }

    /// The SCRAM credentials of `users`, per user. A user without
    /// credentials is RESOURCE_NOT_FOUND naming the user; the principal
    /// needs DESCRIBE on the cluster.
    pub async fn describe_user_scram_credentials_with(
        &self,
        users: Option<&[&str]>,
        opts: ScramOptions,
    ) -> Result<BTreeMap<String, Result<Vec<ScramCredentialInfo>>>> {
        let names: Option<Vec<String>> = users.map(|u| {
            let mut v: Vec<String> = u.iter().map(|s| s.to_string()).collect();
            v.sort();
            v.dedup();
            v
        });
        let req = DescribeUserScramCredentialsRequest {
            users: names.as_ref().map(|n| {
                n.iter()
                    .map(|name| UserName {
                        name: name.clone(),
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        };
        let resp = self
            .call_any(&req, opts.timeout, |r| top_level(r.error_code))
            .await?;
        describe_results(names.as_deref(), resp)
    }

    /// Upserts and deletes SCRAM credentials (Java's
    /// `alterUserScramCredentials`), with the default options.
    pub async fn alter_user_scram_credentials(
        &self,
        alterations: impl IntoIterator<Item = ScramCredentialAlteration>,
    ) -> Result<BTreeMap<String, Result<()>>> {
        self.alter_user_scram_credentials_with(alterations, ScramOptions::default())
            .await
    }

    /// Upserts and deletes SCRAM credentials: one outcome per user. A user
    /// with an alteration that cannot be sent (an unknown mechanism) has
    /// none of its alterations sent, as in Java; deleting a credential the
    /// user does not have is RESOURCE_NOT_FOUND; too few or too many
    /// iterations UNACCEPTABLE_CREDENTIAL. Needs ALTER on the cluster.
    pub async fn alter_user_scram_credentials_with(
        &self,
        alterations: impl IntoIterator<Item = ScramCredentialAlteration>,
        opts: ScramOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let alterations: Vec<ScramCredentialAlteration> = alterations.into_iter().collect();
        let (req, users) = alter_request(&alterations)?;
        if req.upsertions.is_empty() && req.deletions.is_empty() {
            return Ok(alter_results(
                users,
                AlterUserScramCredentialsResponse::default(),
            ));
        }
        let resp = self.call_any(&req, opts.timeout, |_| None).await?;
        Ok(alter_results(users, resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use purekafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
    use purekafka_protocol::messages::describe_user_scram_credentials_response::{
        CredentialInfo, DescribeUserScramCredentialsResult,
    };

    #[test]
    fn an_upsert_sends_the_salted_password_never_the_password() {
        let a = ScramCredentialAlteration::Upsert {
            user: "carol".into(),
            mechanism: ScramMechanism::ScramSha256,
            iterations: 4096,
            password: Secret::new("pencil"),
            salt: Some(b"salt-bytes".to_vec()),
        };
        let (req, users) = alter_request(&[a]).unwrap();
        assert_eq!(users.len(), 1);
        let u = &req.upsertions[0];
        assert_eq!(u.mechanism, 1);
        assert_eq!(u.iterations, 4096);
        assert_eq!(&u.salt[..], b"salt-bytes");
        // PBKDF2-HMAC-SHA-256, computed independently of ScramHash.
        let mut want = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"pencil", b"salt-bytes", 4096, &mut want);
        assert_eq!(&u.salted_password[..], &want[..]);
        assert!(!format!("{req:?}").contains("pencil"));
    }

    #[test]
    fn random_salts_differ_and_sha512_is_64_bytes() {
        let a = ScramCredentialAlteration::upsert("u", ScramMechanism::ScramSha512, 4096, "p");
        let (r1, _) = alter_request(std::slice::from_ref(&a)).unwrap();
        let (r2, _) = alter_request(&[a]).unwrap();
        assert_eq!(r1.upsertions[0].salt.len(), 32);
        assert_ne!(r1.upsertions[0].salt, r2.upsertions[0].salt);
        assert_eq!(r1.upsertions[0].salted_password.len(), 64);
        assert_eq!(r1.upsertions[0].mechanism, 2);
    }

    #[test]
    fn a_user_with_a_bad_alteration_has_nothing_sent() {
        let alts = [
            ScramCredentialAlteration::upsert("bad", ScramMechanism::ScramSha256, 4096, "p"),
            ScramCredentialAlteration::delete("ok", ScramMechanism::ScramSha512),
            ScramCredentialAlteration::delete("bad", ScramMechanism::Unknown(9)),
        ];
        let (req, users) = alter_request(&alts).unwrap();
        assert!(req.upsertions.is_empty());
        assert_eq!(req.deletions.len(), 1);
        assert_eq!(req.deletions[0].name, "ok");
        let resp = AlterUserScramCredentialsResponse {
            results: vec![AlterUserScramCredentialsResult {
                user: "ok".into(),
                error_code: ErrorCode::RESOURCE_NOT_FOUND.0,
                ..Default::default()
            }],
            ..Default::default()
        };
        let out = alter_results(users, resp);
        let bad = out["bad"].as_ref().unwrap_err();
        assert!(bad.to_string().contains("UNKNOWN(9)"), "{bad}");
        let e = out["ok"].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::RESOURCE_NOT_FOUND));
        assert!(e.to_string().contains("user ok"), "{e}");
    }

    #[test]
    fn describe_answers_every_user_asked() {
        let resp = DescribeUserScramCredentialsResponse {
            results: vec![
                DescribeUserScramCredentialsResult {
                    user: "b".into(),
                    error_code: ErrorCode::RESOURCE_NOT_FOUND.0,
                    ..Default::default()
                },
                DescribeUserScramCredentialsResult {
                    user: "a".into(),
                    credential_infos: vec![CredentialInfo {
                        mechanism: 2,
                        iterations: 8192,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let users = ["a".to_string(), "b".to_string(), "c".to_string()];
        let got = describe_results(Some(&users), resp).unwrap();
        assert_eq!(
            got["a"].as_ref().unwrap(),
            &vec![ScramCredentialInfo {
                mechanism: ScramMechanism::ScramSha512,
                iterations: 8192
            }]
        );
        let e = got["b"].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::RESOURCE_NOT_FOUND));
        assert!(e.to_string().contains("user b"), "{e}");
        assert_eq!(
            got["c"].as_ref().unwrap_err().code(),
            Some(ErrorCode::UNKNOWN_SERVER_ERROR)
        );
    }

    #[test]
    fn mechanism_names() {
        assert_eq!(
            "scram_sha_512".parse::<ScramMechanism>(),
            Ok(ScramMechanism::ScramSha512)
        );
        assert_eq!(ScramMechanism::ScramSha256.to_string(), "SCRAM-SHA-256");
        assert!("PLAIN".parse::<ScramMechanism>().is_err());
    }
}
