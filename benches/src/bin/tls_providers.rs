//! rustls crypto providers compared, in memory (no sockets): full
//! handshakes per second (client and server in this thread, session
//! resumption off, an RSA-2048 server certificate like the test Kafka's)
//! and bulk throughput (the client encrypts 64 KiB writes, the server
//! decrypts them), for TLS 1.3 and TLS 1.2.
//!
//! ```text
//! cargo run --release -p purekafka-benches --bin tls_providers                       # graviola
//! cargo run --release -p purekafka-benches --features rustcrypto --bin tls_providers # + RustCrypto
//! ```
//!
//! The certificates are the client crate's TLS test data
//! (`client/src/security/testdata`). README "TLS" has the numbers.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const HANDSHAKES: usize = 300;
const BULK_BYTES: usize = 1 << 30;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../client/src/security/testdata")
        .join(name)
}

/// Moves TLS records between the two ends until neither has any to send.
fn pump(c: &mut ClientConnection, s: &mut ServerConnection, buf: &mut Vec<u8>) {
    loop {
        let mut moved = false;
        while c.wants_write() {
            buf.clear();
            c.write_tls(buf).unwrap();
            let mut r = &buf[..];
            while !r.is_empty() {
                s.read_tls(&mut r).unwrap();
                s.process_new_packets().unwrap();
            }
            moved = true;
        }
        while s.wants_write() {
            buf.clear();
            s.write_tls(buf).unwrap();
            let mut r = &buf[..];
            while !r.is_empty() {
                c.read_tls(&mut r).unwrap();
                c.process_new_packets().unwrap();
            }
            moved = true;
        }
        if !moved {
            break;
        }
    }
}

fn run(name: &str, provider: Arc<CryptoProvider>) {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(testdata("server.crt"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(testdata("server.key")).unwrap();
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(testdata("ca.crt")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let server = Arc::new(
        ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let mut client = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        client.resumption = rustls::client::Resumption::disabled();
        let client = Arc::new(client);
        let host = ServerName::try_from("localhost").unwrap();
        let mut buf = Vec::with_capacity(1 << 20);
        let mut suite = String::new();
        let t0 = Instant::now();
        for _ in 0..HANDSHAKES {
            let mut c = ClientConnection::new(client.clone(), host.clone()).unwrap();
            let mut s = ServerConnection::new(server.clone()).unwrap();
            pump(&mut c, &mut s, &mut buf);
            assert!(!c.is_handshaking() && !s.is_handshaking());
            suite = format!(
                "{:?}, {}",
                c.negotiated_cipher_suite().unwrap().suite(),
                c.negotiated_key_exchange_group()
                    .map_or("-".into(), |g| format!("{:?}", g.name()))
            );
        }
        let handshake = t0.elapsed().as_secs_f64() / HANDSHAKES as f64;

        let mut c = ClientConnection::new(client.clone(), host.clone()).unwrap();
        let mut s = ServerConnection::new(server.clone()).unwrap();
        pump(&mut c, &mut s, &mut buf);
        let chunk = vec![7u8; 64 * 1024];
        let mut plain = vec![0u8; 64 * 1024];
        let mut sent = 0;
        let t0 = Instant::now();
        while sent < BULK_BYTES {
            c.writer().write_all(&chunk).unwrap();
            sent += chunk.len();
            buf.clear();
            while c.wants_write() {
                c.write_tls(&mut buf).unwrap();
            }
            let mut r = &buf[..];
            while !r.is_empty() {
                s.read_tls(&mut r).unwrap();
                s.process_new_packets().unwrap();
                while let Ok(n) = s.reader().read(&mut plain) {
                    if n == 0 {
                        break;
                    }
                }
            }
        }
        let bulk = (BULK_BYTES >> 20) as f64 / t0.elapsed().as_secs_f64();
        println!(
            "{name:10} {version:?} ({suite}): full handshake {:.2} ms (client + server), bulk {:.0} MiB/s (encrypt + decrypt)",
            handshake * 1e3,
            bulk
        );
    }
}

fn main() {
    run("graviola", Arc::new(rustls_graviola::default_provider()));
    #[cfg(feature = "rustcrypto")]
    run("rustcrypto", Arc::new(rustls_rustcrypto::provider()));
}
