//! Issue #10 item 12: a field the version being encoded cannot carry fails
//! encoding (Java's `UnsupportedVersionException`) instead of being dropped,
//! unless Kafka marks it ignorable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use bytes::BytesMut;
use purekafka_protocol::messages::JoinGroupRequest;
use purekafka_protocol::{EncodeError, Message};

fn join(instance: Option<&str>) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: "g".into(),
        session_timeout_ms: 10_000,
        member_id: String::new(),
        group_instance_id: instance.map(String::from),
        protocol_type: "consumer".into(),
        ..Default::default()
    }
}

#[test]
fn join_group_static_member_below_v5_is_an_encode_error_naming_field_and_version() {
    let err = join(Some("x"))
        .encode(&mut BytesMut::new(), 4)
        .expect_err("group.instance.id cannot be sent at v4");
    assert_eq!(
        err,
        EncodeError::UnsupportedField {
            message: "JoinGroupRequest",
            field: "JoinGroupRequest.GroupInstanceId",
            version: 4,
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("GroupInstanceId") && text.contains("version 4"),
        "{text}"
    );
}

#[test]
fn join_group_static_member_at_v5_encodes() {
    let mut buf = BytesMut::new();
    join(Some("x")).encode(&mut buf, 5).unwrap();
    let back = JoinGroupRequest::decode(&mut buf.freeze(), 5).unwrap();
    assert_eq!(back.group_instance_id.as_deref(), Some("x"));
}

#[test]
fn join_group_dynamic_member_encodes_at_every_version() {
    for v in 0..=9 {
        join(None).encode(&mut BytesMut::new(), v).unwrap();
    }
}

#[test]
fn ignorable_field_is_dropped_silently_below_its_versions() {
    // JoinGroup's Reason (v8+) is ignorable in Kafka's schema.
    let mut req = join(None);
    req.reason = Some("rebalance".into());
    req.encode(&mut BytesMut::new(), 7).unwrap();
}
