//! Issue #10 item 11: no decoder allocates more than eight times the bytes it
//! was given, whatever they say.
//!
//! Every request and response decoder at every version, and the consumer
//! protocol's embedded subscription and assignment, get adversarial inputs:
//!
//! - zeros up to an offset, then an array count as large as the remaining
//!   bytes, then a fill: `0x00` (every element as small as it can be: empty
//!   strings and arrays, zero integers; what makes memory largest against
//!   the wire) or `0xFF` (negative lengths and nulls, which end the decode);
//! - in flexible versions, zeros up to an offset, then a tagged-field count
//!   and that many tiny tagged fields (a flood that used to cost about 20
//!   times its size in per-field allocations);
//! - hand-built hostile subscriptions and assignments: thousands of empty
//!   topic names, of owned topics with no partitions, of partitions.
//!
//! The sum of every byte allocated during a decode (a bound on its peak) must
//! stay under 8x the input. Arrays are checked against their elements'
//! minimum wire size, unknown tagged fields stay slices of the input, and the
//! decode budget (`DecodeBudget`) fails what the in-memory shape would still
//! amplify past 8x.
//!
//! A counting global allocator sees every allocation of this process, so the
//! binary holds a single test (nothing else allocates meanwhile).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use bytes::{BufMut, Bytes, BytesMut};
use purekafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use purekafka_protocol::{AnyRequest, AnyResponse, ApiKey, DecodeError, Message};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap bytes allocated while `f` runs (growth by realloc included): an
/// upper bound on the peak of live bytes it adds.
fn allocated_during(f: impl FnOnce()) -> usize {
    let region = Region::new(GLOBAL);
    f();
    region.change().bytes_allocated
}

const TAIL: usize = 4096;
const LIMIT: usize = 8;

fn put_uvarint(v: &mut Vec<u8>, mut n: u32) {
    while n >= 0x80 {
        v.push((n as u8) | 0x80);
        n >>= 7;
    }
    v.push(n as u8);
}

/// Zeros up to `offset`, a count covering the rest, then `fill`; and in
/// flexible versions, zeros then a flood of tagged fields.
fn inputs(flex: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for offset in 0..=24 {
        for fill in [0x00u8, 0xFF] {
            let mut v = vec![0u8; offset];
            let count = TAIL as u32;
            if flex {
                put_uvarint(&mut v, count + 1);
            } else {
                v.extend_from_slice(&count.to_be_bytes());
            }
            v.extend(std::iter::repeat_n(fill, TAIL));
            out.push(v);
        }
        if flex {
            // Tags from 0 up (known and unknown alike), each with no bytes,
            // then tags past any known one, each with one byte.
            for first_tag in [0u32, 1000] {
                let mut v = vec![0u8; offset];
                let n = (TAIL / 3) as u32;
                put_uvarint(&mut v, n);
                for t in 0..n {
                    put_uvarint(&mut v, first_tag + t);
                    if first_tag == 0 {
                        v.push(0);
                    } else {
                        v.extend_from_slice(&[1, 0xAB]);
                    }
                }
                v.extend(std::iter::repeat_n(0u8, 64));
                out.push(v);
            }
        }
    }
    out
}

/// A consumer-protocol message: `int16` version, then the body.
fn embedded(version: i16, body: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_i16(version);
    body(&mut b);
    b.to_vec()
}

/// Subscriptions and assignments built to amplify: thousands of empty
/// names, of topics with no partitions, of partitions, large user data.
fn hostile_embedded() -> Vec<Vec<u8>> {
    let n = TAIL as i32;
    let mut out = Vec::new();
    for version in 0..=3i16 {
        // Subscription: n empty topic names.
        out.push(embedded(version, |b| {
            b.put_i32(n);
            (0..n).for_each(|_| b.put_i16(0));
            b.put_i32(-1);
            b.put_i32(0);
            b.put_i32(-1);
            b.put_i16(-1);
        }));
        // Subscription: no topics, n owned topics with empty names and no
        // partitions.
        out.push(embedded(version, |b| {
            b.put_i32(0);
            b.put_i32(-1);
            b.put_i32(n);
            (0..n).for_each(|_| {
                b.put_i16(0);
                b.put_i32(0);
            });
            b.put_i32(-1);
            b.put_i16(-1);
        }));
        // Subscription: one owned topic with n partitions, n bytes of user data.
        out.push(embedded(version, |b| {
            b.put_i32(0);
            b.put_i32(n);
            b.put_bytes(0xAB, n as usize);
            b.put_i32(1);
            b.put_i16(1);
            b.put_u8(b't');
            b.put_i32(n);
            (0..n).for_each(|p| b.put_i32(p));
            b.put_i32(7);
            b.put_i16(-1);
        }));
        // Assignment: n topics with empty names and no partitions.
        out.push(embedded(version, |b| {
            b.put_i32(n);
            (0..n).for_each(|_| {
                b.put_i16(0);
                b.put_i32(0);
            });
            b.put_i32(-1);
        }));
        // Assignment: one topic, n partitions.
        out.push(embedded(version, |b| {
            b.put_i32(1);
            b.put_i16(1);
            b.put_u8(b't');
            b.put_i32(n);
            (0..n).for_each(|p| b.put_i32(p));
            b.put_i32(-1);
        }));
    }
    out
}

/// Decodes a version-prefixed consumer-protocol message, as the consumer does.
fn decode_embedded<M: Message>(mut b: Bytes) -> Result<M, DecodeError> {
    let version = i16::from_be_bytes([b[0], b[1]]).clamp(0, M::VERSIONS.max);
    let _ = b.split_to(2);
    M::decode(&mut b, version)
}

#[test]
fn no_decoder_allocates_more_than_8x_its_input() {
    let mut over = Vec::new();
    let mut worst = (0.0f64, String::new());
    let mut check = |label: String, input: &[u8], decode: &dyn Fn(Bytes)| {
        // The input's own copy is made outside the measured region.
        let bytes = Bytes::copy_from_slice(input);
        let peak = allocated_during(|| decode(bytes));
        let ratio = peak as f64 / input.len() as f64;
        if ratio > worst.0 {
            worst = (ratio, label.clone());
        }
        if peak > LIMIT * input.len() {
            over.push(format!(
                "{label}: {peak} bytes for {} input bytes ({ratio:.1}x)",
                input.len()
            ));
        }
    };
    for &api in ApiKey::ALL {
        for version in api.versions().iter() {
            let flex = api.flexible_versions().contains(version);
            for (i, input) in inputs(flex).iter().enumerate() {
                check(
                    format!("{} request v{version} input {i}", api.name()),
                    input,
                    &|mut b| {
                        let _ = AnyRequest::decode(api, version, &mut b);
                    },
                );
                check(
                    format!("{} response v{version} input {i}", api.name()),
                    input,
                    &|mut b| {
                        let _ = AnyResponse::decode(api, version, &mut b);
                    },
                );
            }
        }
    }
    let mut embedded_inputs = hostile_embedded();
    for version in 0..=3i16 {
        for input in inputs(false) {
            embedded_inputs.push(embedded(version, |b| b.put_slice(&input)));
        }
    }
    for (i, input) in embedded_inputs.iter().enumerate() {
        check(
            format!("ConsumerProtocolSubscription input {i}"),
            input,
            &|b| {
                let _ = decode_embedded::<ConsumerProtocolSubscription>(b);
            },
        );
        check(
            format!("ConsumerProtocolAssignment input {i}"),
            input,
            &|b| {
                let _ = decode_embedded::<ConsumerProtocolAssignment>(b);
            },
        );
    }
    println!("worst: {:.2}x ({})", worst.0, worst.1);
    assert!(
        over.is_empty(),
        "{} decodes over {LIMIT}x:\n{}",
        over.len(),
        over.join("\n")
    );
}
