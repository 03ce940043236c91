//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), client side.
//!
//! A sans-IO state machine: [`ScramClient::first`] gives the client-first
//! message, [`ScramClient::on_server_first`] takes the server-first message
//! and gives the client-final one (with the proof), and
//! [`ScramClient::on_server_final`] checks the server's signature, so a
//! server that does not know the password cannot pass for the broker.
//! Nothing here does I/O or reads the clock.

use super::{Secret, StepError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{EagerHash, KeyInit, Mac};
use sha2::Digest;

/// The hash a SCRAM mechanism is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

/// The fewest PBKDF2 iterations accepted from a server (Kafka's own minimum
/// for both mechanisms, as in the Java client).
pub const MIN_ITERATIONS: u32 = 4096;
/// The most PBKDF2 iterations accepted from a server. Kafka stores at most
/// 16384; this leaves room for other brokers while bounding the CPU a
/// hostile server can make the client spend.
pub const MAX_ITERATIONS: u32 = 100_000;

impl ScramHash {
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => hmac_of::<sha2::Sha256>(key, data),
            ScramHash::Sha512 => hmac_of::<sha2::Sha512>(key, data),
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    pub(crate) fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => salted_of::<sha2::Sha256>(password, salt, iterations),
            ScramHash::Sha512 => salted_of::<sha2::Sha512>(password, salt, iterations),
        }
    }
}

/// HMAC over the digest `D`.
fn hmac_of<D: EagerHash>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length: new_from_slice cannot fail here.
    match hmac::Hmac::<D>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// PBKDF2-HMAC over the digest `D`: `Hi()` of RFC 5802, one digest long.
fn salted_of<D: EagerHash>(password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut out = vec![0u8; <D as Digest>::output_size()];
    pbkdf2::pbkdf2_hmac::<D>(password, salt, iterations, &mut out);
    out
}

enum State {
    Initial,
    SentFirst,
    SentFinal { server_signature: Vec<u8> },
    Done,
    Failed,
}

/// One SCRAM exchange.
pub struct ScramClient {
    hash: ScramHash,
    username: String,
    password: Secret,
    client_nonce: String,
    client_first_bare: String,
    state: State,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("hash", &self.hash)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A new exchange; `client_nonce` must be fresh random printable text
    /// without `,` (see [`random_nonce`]).
    pub fn new(hash: ScramHash, username: &str, password: Secret, client_nonce: String) -> Self {
        ScramClient {
            hash,
            username: username.to_string(),
            password,
            client_nonce,
            client_first_bare: String::new(),
            state: State::Initial,
        }
    }

    /// Whether the server's signature has been verified.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Whether the client-first message is out and the server-first not in.
    pub fn awaits_server_first(&self) -> bool {
        matches!(self.state, State::SentFirst)
    }

    /// The client-first message: `n,,n=<user>,r=<nonce>`.
    pub fn first(&mut self) -> Result<Vec<u8>, StepError> {
        if !matches!(self.state, State::Initial) {
            return Err(self.fail("the client-first message was already sent"));
        }
        if self.client_nonce.is_empty() || self.client_nonce.contains(',') {
            return Err(self.fail("the client nonce must be non-empty and contain no ','"));
        }
        self.client_first_bare = format!(
            "n={},r={}",
            escape_username(&self.username),
            self.client_nonce
        );
        self.state = State::SentFirst;
        Ok(format!("n,,{}", self.client_first_bare).into_bytes())
    }

    /// Takes the server-first message, returns the client-final message.
    pub fn on_server_first(&mut self, msg: &[u8]) -> Result<Vec<u8>, StepError> {
        if !matches!(self.state, State::SentFirst) {
            return Err(self.fail("unexpected server-first message"));
        }
        let Ok(text) = std::str::from_utf8(msg) else {
            return Err(self.fail("the server-first message is not UTF-8"));
        };
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for (i, attr) in text.split(',').enumerate() {
            let Some((key, value)) = attr.split_once('=') else {
                return Err(self.fail(&format!("malformed attribute {attr:?} in server-first")));
            };
            match key {
                "m" if i == 0 => {
                    return Err(
                        self.fail("the server requires a SCRAM extension (m=) we do not know")
                    );
                }
                "e" => return Err(self.fail(&format!("the server refused: {value}"))),
                "r" => nonce = Some(value),
                "s" => salt = Some(value),
                "i" => iterations = Some(value),
                _ => {} // extensions the RFC lets a client ignore
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(self.fail("the server-first message lacks r=, s= or i="));
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(self.fail("the server's nonce does not extend the client's"));
        }
        let Ok(salt) = B64.decode(salt) else {
            return Err(self.fail("the salt is not base64"));
        };
        let Ok(iterations) = iterations.parse::<u32>() else {
            return Err(self.fail(&format!(
                "the iteration count {iterations:?} is not a number"
            )));
        };
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(self.fail(&format!(
                "the server asks for {iterations} iterations; accepted: {MIN_ITERATIONS} to {MAX_ITERATIONS}"
            )));
        }
        let h = self.hash;
        let salted = h.salted_password(self.password.expose().as_bytes(), &salt, iterations);
        let client_key = h.hmac(&salted, b"Client Key");
        let stored_key = h.hash(&client_key);
        // c=biws is base64("n,,"): no channel binding, no authzid.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let client_signature = h.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = h.hmac(&salted, b"Server Key");
        let server_signature = h.hmac(&server_key, auth_message.as_bytes());
        self.state = State::SentFinal { server_signature };
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Takes the server-final message and checks the server's signature.
    pub fn on_server_final(&mut self, msg: &[u8]) -> Result<(), StepError> {
        let State::SentFinal { server_signature } = &self.state else {
            return Err(self.fail("unexpected server-final message"));
        };
        let expected = server_signature.clone();
        let Ok(text) = std::str::from_utf8(msg) else {
            return Err(self.fail("the server-final message is not UTF-8"));
        };
        let first = text.split(',').next().unwrap_or_default();
        if let Some(e) = first.strip_prefix("e=") {
            return Err(self.fail(&format!("the server refused: {e}")));
        }
        let Some(v) = first.strip_prefix("v=") else {
            return Err(self.fail("the server-final message has no verifier (v=)"));
        };
        let Ok(got) = B64.decode(v) else {
            return Err(self.fail("the server's verifier is not base64"));
        };
        if !constant_time_eq(&got, &expected) {
            return Err(self.fail(
                "the server's signature is wrong: this server does not know the user's credentials",
            ));
        }
        self.state = State::Done;
        Ok(())
    }

    fn fail(&mut self, reason: &str) -> StepError {
        self.state = State::Failed;
        StepError::Protocol(reason.to_string())
    }
}

/// `saslname` of RFC 5802: `=` and `,` escaped.
fn escape_username(u: &str) -> String {
    u.replace('=', "=3D").replace(',', "=2C")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh client nonce: 24 random bytes from the operating system, base64.
pub fn random_nonce() -> Result<String, StepError> {
    let mut raw = [0u8; 24];
    getrandom::fill(&mut raw)
        .map_err(|e| StepError::Protocol(format!("no randomness for the SCRAM nonce: {e}")))?;
    Ok(B64.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        hash: ScramHash,
        user: &str,
        pass: &str,
        cnonce: &str,
        server_first: &str,
    ) -> (ScramClient, String, String) {
        let mut c = ScramClient::new(hash, user, Secret::new(pass), cnonce.into());
        let first = String::from_utf8(c.first().unwrap()).unwrap();
        let fin = String::from_utf8(c.on_server_first(server_first.as_bytes()).unwrap()).unwrap();
        (c, first, fin)
    }

    /// RFC 7677 section 3.
    #[test]
    fn rfc7677_sha256_vector() {
        let sf = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (mut c, first, fin) = run(
            ScramHash::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
            sf,
        );
        assert_eq!(first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(
            fin,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert!(!c.is_done());
        c.on_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(c.is_done());
    }

    /// SHA-512 has no RFC vector; these were computed once, independently,
    /// with Python's hashlib.pbkdf2_hmac and hmac (same inputs as RFC 7677,
    /// the user "user", the password "pencil"; the same script reproduces
    /// RFC 7677's SHA-256 vector above):
    ///   salted = pbkdf2_hmac('sha512', b'pencil', b64decode(salt), 4096)
    ///   ck = hmac(salted, b'Client Key', sha512); sk = sha512(ck)
    ///   auth = client_first_bare + ',' + server_first + ',' + 'c=biws,r=' + nonce
    ///   proof = ck xor hmac(sk, auth); v = hmac(hmac(salted, b'Server Key'), auth)
    #[test]
    fn sha512_matches_an_independent_computation() {
        let sf = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (mut c, _first, fin) = run(
            ScramHash::Sha512,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
            sf,
        );
        assert_eq!(fin, SHA512_CLIENT_FINAL);
        c.on_server_final(SHA512_SERVER_FINAL.as_bytes()).unwrap();
        assert!(c.is_done());
    }

    const SHA512_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==";
    const SHA512_SERVER_FINAL: &str = "v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==";

    /// RFC 7677's SHA-256 exchange, the client-final message sent.
    fn rfc7677_awaiting_server_final() -> ScramClient {
        let sf = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (c, _, _) = run(
            ScramHash::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
            sf,
        );
        c
    }

    #[test]
    fn a_wrong_server_signature_fails() {
        let mut c = rfc7677_awaiting_server_final();
        // The signature a server would send for another password.
        let e = c
            .on_server_final(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err();
        assert!(e.to_string().contains("signature is wrong"), "{e}");
        assert!(!c.is_done());
        let e = c.on_server_final(b"v=x").unwrap_err();
        assert!(e.to_string().contains("unexpected"), "{e}");
    }

    #[test]
    fn hostile_server_first_messages_fail_cleanly() {
        let cases: &[(&str, &str)] = &[
            (
                "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                "does not extend",
            ),
            ("r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "does not extend"),
            ("r=abcXYZ,s=!!!,i=4096", "not base64"),
            ("r=abcXYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1", "iterations"),
            (
                "r=abcXYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4294967295",
                "iterations",
            ),
            ("r=abcXYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=lots", "not a number"),
            ("r=abcXYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==", "lacks"),
            (
                "m=ext,r=abcXYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                "extension",
            ),
            ("e=other-error", "refused: other-error"),
            ("garbage", "malformed"),
            ("", "malformed"),
        ];
        for (sf, want) in cases {
            let mut c = ScramClient::new(ScramHash::Sha256, "u", Secret::new("p"), "abc".into());
            c.first().unwrap();
            let e = c.on_server_first(sf.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(want), "{sf}: {e}");
        }
        let mut c = ScramClient::new(ScramHash::Sha256, "u", Secret::new("p"), "abc".into());
        c.first().unwrap();
        assert!(c.on_server_first(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn server_final_error_is_reported() {
        let mut c = rfc7677_awaiting_server_final();
        let e = c.on_server_final(b"e=invalid-proof").unwrap_err();
        assert!(e.to_string().contains("invalid-proof"), "{e}");
    }

    #[test]
    fn usernames_are_escaped_and_nonces_fresh() {
        let mut c = ScramClient::new(ScramHash::Sha256, "a=b,c", Secret::new("p"), "n".into());
        assert_eq!(c.first().unwrap(), b"n,,n=a=3Db=2Cc,r=n");
        let (a, b) = (random_nonce().unwrap(), random_nonce().unwrap());
        assert_ne!(a, b);
        assert!(a.len() >= 32 && !a.contains(','));
    }

    #[test]
    fn debug_hides_the_password() {
        let c = ScramClient::new(
            ScramHash::Sha512,
            "u",
            Secret::new("hunter2-zz"),
            "n".into(),
        );
        assert!(!format!("{c:?}").contains("hunter2-zz"));
    }
}
