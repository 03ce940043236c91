//! Protocol currency against the real thing: asks a real Apache Kafka 4.4
//! broker which APIs and versions it speaks (ApiVersions on its PLAINTEXT
//! client listener, which lists exactly what clients may call) and fails,
//! listing them all, for every API whose newest version there is newer than
//! the newest purekafka-protocol can encode and decode, or that
//! purekafka-protocol lacks entirely. The only APIs left out are in
//! [`NOT_FOR_CLIENTS`], each with the reason.
//!
//! The request is encoded, and the response decoded, with purekafka-protocol's
//! own generated types over a plain TCP socket: nothing of the client crate is
//! involved. Kafka must be installed (`scripts/install-kafka.sh`); outside CI
//! a missing install skips with the fix, under CI=true it fails.
//!
//! The schema-level twin of this test is `cargo test -p purekafka-codegen`,
//! which compares every definition with Kafka 4.4.0's own schemas.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use bytes::{Bytes, BytesMut};
use purekafka_integration::{Cluster, cluster_or_skip};
use purekafka_protocol::ApiKey;
use purekafka_protocol::frame::{decode_response_header, encode_request};
use purekafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use purekafka_protocol::version::{ApiVersionsOutcome, decode_api_versions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// APIs a Kafka broker lists on its client listener that a client never
/// sends, as (API key, Kafka's name, why).
/// (WriteTxnMarkers is not one: the admin client's `abort_transaction`
/// sends it, as Java's `Admin.abortTransaction` does.)
const NOT_FOR_CLIENTS: &[(i16, &str, &str)] = &[
    (
        83,
        "InitializeShareGroupState",
        "sent by brokers to the share coordinator",
    ),
    (
        84,
        "ReadShareGroupState",
        "sent by brokers to the share coordinator",
    ),
    (
        85,
        "WriteShareGroupState",
        "sent by brokers to the share coordinator",
    ),
    (
        86,
        "DeleteShareGroupState",
        "sent by brokers to the share coordinator",
    ),
    (
        87,
        "ReadShareGroupStateSummary",
        "sent by brokers to the share coordinator",
    ),
];

/// One request and its response over `stream`, both framed by hand.
fn exchange(stream: &mut TcpStream, correlation_id: i32, version: i16) -> Bytes {
    let req = ApiVersionsRequest {
        client_software_name: "purekafka-protocol-currency".into(),
        client_software_version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    encode_request(
        &mut buf,
        correlation_id,
        Some("protocol-currency"),
        version,
        &req,
    )
    .expect("encode ApiVersions");
    stream.write_all(&buf).expect("send ApiVersions");
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).expect("read response size");
    let size = usize::try_from(i32::from_be_bytes(size)).expect("negative response size");
    assert!(size < 1 << 20, "ApiVersions response of {size} bytes");
    let mut body = vec![0u8; size];
    stream.read_exact(&mut body).expect("read response");
    let mut frame = Bytes::from(body);
    let header =
        decode_response_header(&mut frame, ApiKey::ApiVersions, version).expect("response header");
    assert_eq!(header.correlation_id, correlation_id);
    frame
}

/// ApiVersions at our newest version, falling back as the broker asks.
fn api_versions(addr: &str) -> (i16, ApiVersionsResponse) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut version = ApiKey::ApiVersions.versions().max;
    for attempt in 0..3 {
        let body = exchange(&mut stream, attempt, version);
        match decode_api_versions(body, version).expect("decode ApiVersions response") {
            ApiVersionsOutcome::Supported(resp) => {
                assert_eq!(resp.error_code, 0, "ApiVersions error");
                return (version, resp);
            }
            ApiVersionsOutcome::Retry { retry_version } => version = retry_version,
        }
    }
    panic!("ApiVersions negotiation with {addr} did not converge");
}

#[test]
fn purekafka_speaks_every_client_api_at_kafka_4_4s_newest_version() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    let addr = c
        .bootstrap()
        .split(',')
        .next()
        .expect("a bootstrap address");
    let (version, resp) = api_versions(addr);
    assert_eq!(
        version,
        ApiKey::ApiVersions.versions().max,
        "Kafka 4.4 does not speak our newest ApiVersions"
    );
    assert!(
        resp.api_keys.len() > 50,
        "only {} APIs listed",
        resp.api_keys.len()
    );

    let mut behind = Vec::new();
    let mut table = Vec::new();
    for k in &resp.api_keys {
        let kafka = format!("v{}-{}", k.min_version, k.max_version);
        if let Some((_, name, why)) = NOT_FOR_CLIENTS.iter().find(|(key, ..)| *key == k.api_key) {
            table.push(format!(
                "{:>3} {name:<38} kafka {kafka:<7} not for clients: {why}",
                k.api_key
            ));
            continue;
        }
        let Some(api) = ApiKey::from_i16(k.api_key) else {
            table.push(format!(
                "{:>3} {:<38} kafka {kafka:<7} MISSING",
                k.api_key, "?"
            ));
            behind.push(format!(
                "API key {} (Kafka speaks {kafka}): purekafka-protocol does not define it",
                k.api_key
            ));
            continue;
        };
        let ours = api.versions();
        let mut status = "ok";
        if k.max_version > ours.max {
            status = "BEHIND";
            behind.push(format!(
                "{} (key {}): Kafka speaks {kafka}, purekafka-protocol only up to v{}",
                api.name(),
                k.api_key,
                ours.max
            ));
        } else if k.min_version > ours.max || k.max_version < ours.min {
            status = "NO COMMON VERSION";
            behind.push(format!(
                "{} (key {}): Kafka speaks {kafka}, purekafka-protocol v{}-{}: no version in common",
                api.name(),
                k.api_key,
                ours.min,
                ours.max
            ));
        }
        table.push(format!(
            "{:>3} {:<38} kafka {kafka:<7} purekafka v{}-{} {status}",
            k.api_key,
            api.name(),
            ours.min,
            ours.max
        ));
    }
    // Ours but not on the broker's client listener (controller-only, or gone).
    for api in ApiKey::ALL {
        if !resp.api_keys.iter().any(|k| k.api_key == *api as i16) {
            table.push(format!(
                "{:>3} {:<38} not listed by Kafka 4.4's broker listener",
                *api as i16,
                api.name()
            ));
        }
    }
    eprintln!(
        "Kafka 4.4 ApiVersions (v{version}), {} APIs:\n{}",
        resp.api_keys.len(),
        table.join("\n")
    );
    // Every exclusion must still name an API this broker lists.
    for (key, name, _) in NOT_FOR_CLIENTS {
        assert!(
            resp.api_keys.iter().any(|k| k.api_key == *key),
            "NOT_FOR_CLIENTS names {name} (key {key}), which Kafka 4.4 no longer lists: drop it"
        );
        assert!(
            ApiKey::from_i16(*key).is_none(),
            "{name} (key {key}) is excluded but purekafka-protocol defines it: drop the exclusion"
        );
    }
    assert!(
        behind.is_empty(),
        "purekafka-protocol is behind Kafka 4.4 on {} client API(s):\n{}",
        behind.len(),
        behind.join("\n")
    );
}
