//! Issue #10 item 11 (the part done so far): an array's count from the wire
//! never reserves more memory than the bytes received justify.
//!
//! Every request and response decoder, at every version, gets inputs whose
//! first bytes are zeros (empty strings, zero integers, empty arrays) up to an
//! offset, then an array count as large as the remaining bytes, then bytes
//! that end the decode soon (`0xFF`: negative lengths). Before the fix a
//! struct array reserved `count` elements of its in-memory size, many times
//! the input; now the reservation is at most twice the remaining bytes.
//!
//! A counting global allocator sums every byte allocated during each decode
//! (a bound on its peak), so this binary holds a single test (nothing else
//! allocates meanwhile).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use bytes::Bytes;
use purekafka_protocol::{AnyRequest, AnyResponse, ApiKey};
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

/// Decoders that still go past 8x on these inputs, for a reason the count
/// bound cannot fix: their elements decode from `0xFF`s (as -1s and nulls)
/// and each is many times larger in memory than its 4 to 10 wire bytes
/// (every struct carries a `Vec` of unknown tagged fields, every nullable
/// string an `Option<String>`). Item 11's remaining work; they are held to
/// 16x meanwhile, and the list must not grow.
const OVER_8X_IN_MEMORY: &[&str] = &[
    "ApiVersions response v0",
    "ApiVersions response v1",
    "ApiVersions response v2",
    "CreateAcls response v1",
    "DeleteAcls request v1",
];

/// Zeros up to `offset`, a count covering the rest, then `0xFF`s.
fn inputs(flex: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for offset in 0..=24 {
        let mut v = vec![0u8; offset];
        let count = TAIL as u32;
        if flex {
            let mut n = count + 1;
            while n >= 0x80 {
                v.push((n as u8) | 0x80);
                n >>= 7;
            }
            v.push(n as u8);
        } else {
            v.extend_from_slice(&count.to_be_bytes());
        }
        v.extend(std::iter::repeat_n(0xFFu8, TAIL));
        out.push(v);
    }
    out
}

#[test]
fn array_counts_reserve_at_most_what_the_input_can_hold() {
    let mut worst = Vec::new();
    for &api in ApiKey::ALL {
        for version in api.versions().iter() {
            let flex = api.flexible_versions().contains(version);
            let inputs = inputs(flex);
            for (kind, decode) in [
                (
                    "request",
                    (|a, v, b: &mut Bytes| {
                        let _ = AnyRequest::decode(a, v, b);
                    }) as fn(ApiKey, i16, &mut Bytes),
                ),
                ("response", |a, v, b: &mut Bytes| {
                    let _ = AnyResponse::decode(a, v, b);
                }),
            ] {
                for input in &inputs {
                    let mut buf = Bytes::copy_from_slice(input);
                    let peak = allocated_during(|| decode(api, version, &mut buf));
                    let label = format!("{} {kind} v{version}", api.name());
                    let factor = if OVER_8X_IN_MEMORY.contains(&label.as_str()) {
                        16
                    } else {
                        8
                    };
                    if peak > factor * input.len() {
                        worst.push(format!(
                            "{label}: {peak} bytes for {} input bytes (limit {factor}x)",
                            input.len()
                        ));
                    }
                }
            }
        }
    }
    assert!(worst.is_empty(), "over the limit:\n{}", worst.join("\n"));
}
