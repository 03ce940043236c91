//! Unit tests of the connection core, without sockets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use super::*;
use purekafka_protocol::frame::{DEFAULT_MAX_FRAME, decode_request, encode_response};
use purekafka_protocol::messages::{
    MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse,
};
use purekafka_protocol::{AnyRequest, AnyResponse, Message};

const SEC: Duration = Duration::from_secs(1);

fn opts(max_in_flight: usize) -> PipelineOptions {
    PipelineOptions {
        broker: Arc::from("b1:9092 (node 1)"),
        client_id: Some("test".into()),
        max_in_flight,
        max_response_size: DEFAULT_MAX_FRAME,
        max_idle: None,
    }
}

fn metadata(token: u32, timeout: Duration) -> Outgoing<u32> {
    Outgoing {
        request: EncodedRequest::new(&MetadataRequest::default(), 12).unwrap(),
        timeout,
        expects_response: true,
        auth: false,
        token,
    }
}

fn produce_acks0(token: u32, records: usize) -> Outgoing<u32> {
    use purekafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    let req = ProduceRequest {
        acks: 0,
        topic_data: vec![TopicProduceData {
            name: "t".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(Bytes::from(vec![7u8; records])),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    Outgoing {
        request: EncodedRequest::new(&req, 9).unwrap(),
        timeout: 5 * SEC,
        expects_response: false,
        auth: false,
        token,
    }
}

/// Everything the core wants written, as the broker would read it.
fn output(p: &Pipeline<u32>) -> Vec<u8> {
    let mut slices = [IoSlice::new(&[]); 64];
    let n = p.output(&mut slices);
    slices[..n].iter().flat_map(|s| s.iter().copied()).collect()
}

/// Writes all output; returns the requests the broker got (correlation id, API, version).
fn write_all(p: &mut Pipeline<u32>, now: Instant) -> Vec<(i32, ApiKey, i16)> {
    let mut bytes = BytesMut::from(&output(p)[..]);
    p.written(bytes.len(), now);
    let mut reqs = Vec::new();
    while let Some(frame) = decode_frame(&mut bytes, DEFAULT_MAX_FRAME).unwrap() {
        let (h, body) = decode_request(frame).unwrap();
        assert_eq!(h.client_id.as_deref(), Some("test"));
        reqs.push((h.correlation_id, body.api_key(), h.request_api_version));
    }
    assert!(bytes.is_empty(), "whole frames only");
    reqs
}

fn response_frame(corr: i32, api: ApiKey, version: i16) -> BytesMut {
    let resp = match api {
        ApiKey::Metadata => AnyResponse::Metadata(MetadataResponse {
            controller_id: corr,
            ..Default::default()
        }),
        ApiKey::Produce => AnyResponse::Produce(ProduceResponse::default()),
        other => panic!("{other:?}"),
    };
    let mut out = BytesMut::new();
    encode_response(&mut out, corr, version, &resp).unwrap();
    out
}

/// The actions so far: (token, Ok(controller id of the Metadata answer) / Err).
type Completed = Vec<(u32, Result<i32, Error>)>;

fn completions(p: &mut Pipeline<u32>) -> (Completed, Vec<Action<u32>>) {
    let mut done = Vec::new();
    let mut other = Vec::new();
    while let Some(a) = p.poll_action() {
        match a {
            Action::Complete(t, r) => done.push((
                t,
                r.map(|mut body| {
                    if body.is_empty() {
                        -1
                    } else {
                        MetadataResponse::decode(&mut body, 12)
                            .unwrap()
                            .controller_id
                    }
                }),
            )),
            a => other.push(a),
        }
    }
    (done, other)
}

#[test]
fn responses_complete_their_requests_in_order() {
    let t0 = Instant::now();
    let mut p = Pipeline::new(opts(5), t0);
    for t in 1..=3 {
        p.submit(metadata(t, 30 * SEC), t0).unwrap();
    }
    let sent = write_all(&mut p, t0);
    let ids: Vec<i32> = sent.iter().map(|r| r.0).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] != w[1]), "distinct ids {ids:?}");
    // Responses trickle in, split across reads.
    let mut wire = BytesMut::new();
    for (id, api, v) in &sent {
        wire.extend_from_slice(&response_frame(*id, *api, *v));
    }
    let mut buf = BytesMut::new();
    let half = wire.len() / 2;
    buf.extend_from_slice(&wire[..half]);
    p.received(&mut buf, t0);
    let (first, _) = completions(&mut p);
    assert_eq!(first.len(), 1, "only whole frames complete");
    buf.extend_from_slice(&wire[half..]);
    p.received(&mut buf, t0);
    let (rest, other) = completions(&mut p);
    let all: Vec<(u32, i32)> = first
        .into_iter()
        .chain(rest)
        .map(|(t, r)| (t, r.unwrap()))
        .collect();
    assert_eq!(all, vec![(1, ids[0]), (2, ids[1]), (3, ids[2])]);
    assert!(other.is_empty());
    assert_eq!(p.in_flight(), 0);
    assert!(p.is_quiet());
}

#[test]
fn a_wrong_correlation_id_fails_every_request_and_closes() {
    let t0 = Instant::now();
    let mut p = Pipeline::new(opts(5), t0);
    p.submit(metadata(1, 30 * SEC), t0).unwrap();
    p.submit(metadata(2, 30 * SEC), t0).unwrap();
    let sent = write_all(&mut p, t0);
    let mut buf = response_frame(sent[1].0, ApiKey::Metadata, 12);
    p.received(&mut buf, t0);
    let (done, other) = completions(&mut p);
    assert_eq!(done.len(), 2);
    for (_, r) in &done {
        match r {
            Err(Error::CorrelationMismatch {
                broker,
                api: Some("Metadata"),
                expected: Some(e),
                received,
            }) => {
                assert_eq!((*e, *received), (sent[0].0, sent[1].0));
                assert_eq!(broker, "b1:9092 (node 1)");
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        other[..],
        [Action::Close {
            error: Error::CorrelationMismatch { .. },
            idle: false
        }]
    ));
    assert_eq!(p.state(), &State::Closed);
    // Later requests fail at once, with the same error.
    p.submit(metadata(3, SEC), t0).unwrap();
    let (done, _) = completions(&mut p);
    assert!(matches!(
        done[..],
        [(3, Err(Error::CorrelationMismatch { .. }))]
    ));
    // And an answer with nothing in flight is a mismatch too.
    let mut p = Pipeline::new(opts(5), t0);
    let mut buf = response_frame(5, ApiKey::Metadata, 12);
    p.received(&mut buf, t0);
    let (_, other) = completions(&mut p);
    assert!(matches!(
        other[..],
        [Action::Close {
            error: Error::CorrelationMismatch {
                expected: None,
                received: 5,
                ..
            },
            ..
        }]
    ));
}

#[test]
fn the_oldest_request_times_out_and_the_rest_fail_with_it() {
    let t0 = Instant::now();
    let mut p = Pipeline::new(opts(5), t0);
    p.submit(metadata(1, 2 * SEC), t0).unwrap();
    p.submit(metadata(2, 10 * SEC), t0 + SEC).unwrap();
    write_all(&mut p, t0 + SEC);
    assert_eq!(p.next_wakeup(), Some(t0 + 2 * SEC));
    p.timer(t0 + SEC);
    assert!(completions(&mut p).0.is_empty(), "not yet");
    p.timer(t0 + 2 * SEC);
    let (done, other) = completions(&mut p);
    assert!(
        matches!(
            &done[..],
            [
                (1, Err(Error::RequestTimeout { api: "Metadata", timeout, .. })),
                (2, Err(Error::Disconnected { .. })),
            ] if *timeout == 2 * SEC
        ),
        "{done:?}"
    );
    assert!(matches!(
        other[..],
        [Action::Close {
            error: Error::RequestTimeout { .. },
            idle: false
        }]
    ));
    assert_eq!(p.next_wakeup(), None);
}

#[test]
fn a_request_without_response_completes_once_written() {
    let t0 = Instant::now();
    let mut p = Pipeline::new(opts(5), t0);
    p.submit(produce_acks0(1, 10_000), t0).unwrap();
    p.submit(metadata(2, 30 * SEC), t0).unwrap();
    assert_eq!(
        p.in_flight(),
        1,
        "only the metadata request awaits an answer"
    );
    let all = output(&p);
    let produce_len = 4 + u32::from_be_bytes(all[..4].try_into().unwrap()) as usize;
    // Part of the produce is in the socket: not yet sent.
    p.written(100, t0);
    assert!(completions(&mut p).0.is_empty());
    p.written(produce_len - 101, t0);
    assert!(completions(&mut p).0.is_empty(), "one byte short");
    p.written(1, t0);
    let (done, _) = completions(&mut p);
    assert!(matches!(done[..], [(1, Ok(-1))]), "{done:?}");
    p.written(all.len() - produce_len, t0);
    assert!(!p.has_output());
    let mut bytes = BytesMut::from(&all[..]);
    let mut sent = Vec::new();
    while let Some(f) = decode_frame(&mut bytes, DEFAULT_MAX_FRAME).unwrap() {
        let (h, body) = decode_request(f).unwrap();
        assert!(matches!(
            (&body, sent.len()),
            (AnyRequest::Produce(_), 0) | (AnyRequest::Metadata(_), 1)
        ));
        sent.push(h.correlation_id);
    }
    // The mock answers the acks=0 produce anyway: dropped, not a mismatch.
    let mut buf = response_frame(sent[0], ApiKey::Produce, 9);
    buf.extend_from_slice(&response_frame(sent[1], ApiKey::Metadata, 12));
    p.received(&mut buf, t0);
    let (done, other) = completions(&mut p);
    assert!(matches!(done[..], [(2, Ok(_))]), "{done:?}");
    assert!(other.is_empty(), "{other:?}");
}

#[test]
fn no_more_than_max_in_flight_requests_are_taken() {
    let t0 = Instant::now();
    let mut p = Pipeline::new(opts(2), t0);
    p.submit(metadata(1, 30 * SEC), t0).unwrap();
    p.submit(metadata(2, 30 * SEC), t0).unwrap();
    assert!(!p.can_accept(false));
    let back = p.submit(metadata(3, 30 * SEC), t0).unwrap_err();
    assert_eq!(back.token, 3, "handed back, not queued");
    let sent = write_all(&mut p, t0);
    assert_eq!(sent.len(), 2);
    let mut buf = response_frame(sent[0].0, ApiKey::Metadata, 12);
    p.received(&mut buf, t0);
    assert!(p.can_accept(false));
    p.submit(back, t0).unwrap();
    assert!(!p.can_accept(false));
    assert_eq!(p.in_flight(), 2);
}

#[test]
fn when_the_socket_fails_every_pending_request_fails() {
    let t0 = Instant::now();
    let mut p = Pipeline::new(opts(5), t0);
    p.submit(metadata(1, 30 * SEC), t0).unwrap();
    p.submit(metadata(2, 30 * SEC), t0).unwrap();
    write_all(&mut p, t0);
    p.submit(metadata(3, 30 * SEC), t0).unwrap(); // queued, not written
    p.submit(produce_acks0(4, 100), t0).unwrap(); // waits for its write
    let io = Error::Io {
        broker: "b1".into(),
        reason: Arc::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
    };
    p.fail(io);
    let (done, other) = completions(&mut p);
    let mut tokens: Vec<u32> = done.iter().map(|d| d.0).collect();
    tokens.sort_unstable();
    assert_eq!(tokens, vec![1, 2, 3, 4], "none hangs");
    assert!(done.iter().all(|(_, r)| matches!(r, Err(Error::Io { .. }))));
    assert!(matches!(other[..], [Action::Close { .. }]));
    assert!(!p.has_output() && p.is_quiet());
    p.fail(Error::Disconnected {
        broker: "b1".into(),
    });
    assert!(p.poll_action().is_none(), "closing twice does nothing");
}

#[test]
fn a_bad_frame_fails_the_requests_naming_the_api_and_version() {
    let t0 = Instant::now();
    let mut p = Pipeline::new(
        PipelineOptions {
            max_response_size: 1000,
            ..opts(5)
        },
        t0,
    );
    p.submit(metadata(1, 30 * SEC), t0).unwrap();
    write_all(&mut p, t0);
    let mut buf = BytesMut::from(&[0u8, 0, 0x10, 0][..]);
    p.received(&mut buf, t0);
    let (done, _) = completions(&mut p);
    assert!(
        matches!(
            &done[..],
            [(
                1,
                Err(Error::Decode {
                    api: "Metadata",
                    version: 12,
                    ..
                })
            )]
        ),
        "{done:?}"
    );
}

#[test]
fn a_broker_that_stops_reading_is_a_timeout() {
    let t0 = Instant::now();
    let mut p = Pipeline::new(opts(5), t0);
    p.submit(produce_acks0(1, 100_000), t0).unwrap();
    assert_eq!(p.next_wakeup(), Some(t0 + 5 * SEC));
    // Progress restarts the period.
    p.written(1000, t0 + 4 * SEC);
    assert_eq!(p.next_wakeup(), Some(t0 + 9 * SEC));
    p.timer(t0 + 9 * SEC);
    let (done, _) = completions(&mut p);
    assert!(
        matches!(&done[..], [(1, Err(Error::RequestTimeout { api, .. }))] if api.contains("stopped reading")),
        "{done:?}"
    );
}

#[test]
fn a_large_body_is_written_from_its_own_buffer() {
    let t0 = Instant::now();
    let mut p = Pipeline::new(opts(5), t0);
    let small = metadata(1, SEC);
    let big = produce_acks0(2, 64 * 1024);
    let body_ptr = big.request.body().as_ptr();
    let body_len = big.request.body().len();
    p.submit(small, t0).unwrap();
    p.submit(big, t0).unwrap();
    p.submit(metadata(3, SEC), t0).unwrap();
    let mut slices = [IoSlice::new(&[]); 8];
    let n = p.output(&mut slices);
    // [metadata + produce head] [produce body, not copied] [metadata]
    assert_eq!(n, 3);
    assert_eq!(slices[1].as_ptr(), body_ptr);
    assert_eq!(slices[1].len(), body_len);
    let first = slices[0].len();
    // A partial write across chunk boundaries keeps the byte order.
    let all = output(&p);
    p.written(first + 10, t0);
    let rest = output(&p);
    assert_eq!(&all[first + 10..], &rest[..]);
}

#[test]
fn an_idle_connection_closes_itself_after_max_idle() {
    let t0 = Instant::now();
    let mut p = Pipeline::new(
        PipelineOptions {
            max_idle: Some(10 * SEC),
            ..opts(5)
        },
        t0,
    );
    assert_eq!(p.next_wakeup(), Some(t0 + 10 * SEC));
    p.submit(metadata(1, 30 * SEC), t0 + 5 * SEC).unwrap();
    let sent = write_all(&mut p, t0 + 5 * SEC);
    // In flight: the request's deadline, not idleness, is next.
    assert_eq!(p.next_wakeup(), Some(t0 + 35 * SEC));
    p.timer(t0 + 16 * SEC);
    assert!(p.poll_action().is_none());
    let mut buf = response_frame(sent[0].0, ApiKey::Metadata, 12);
    p.received(&mut buf, t0 + 20 * SEC);
    completions(&mut p);
    assert_eq!(p.next_wakeup(), Some(t0 + 30 * SEC));
    p.timer(t0 + 29 * SEC);
    assert!(p.poll_action().is_none());
    p.timer(t0 + 30 * SEC);
    assert!(matches!(
        p.poll_action(),
        Some(Action::Close {
            error: Error::Disconnected { .. },
            idle: true
        })
    ));
}

#[test]
fn reauthentication_waits_for_in_flight_and_takes_only_auth_requests() {
    let t0 = Instant::now();
    let mut p = Pipeline::new(opts(5), t0);
    p.submit(metadata(1, 30 * SEC), t0).unwrap();
    let sent = write_all(&mut p, t0);
    p.pause_for_reauth();
    assert_eq!(p.state(), &State::Draining);
    assert!(!p.can_accept(false) && !p.can_accept(true));
    let held = p.submit(metadata(2, SEC), t0).unwrap_err();
    let mut buf = response_frame(sent[0].0, ApiKey::Metadata, 12);
    p.received(&mut buf, t0);
    let (done, other) = completions(&mut p);
    assert!(matches!(done[..], [(1, Ok(_))]));
    assert!(matches!(other[..], [Action::ReadyToReauthenticate]));
    assert_eq!(p.state(), &State::Reauthenticating);
    assert!(p.can_accept(true) && !p.can_accept(false));
    let mut auth = metadata(9, SEC);
    auth.auth = true;
    p.submit(auth, t0).unwrap();
    assert!(p.submit(held, t0).is_err());
    let sent = write_all(&mut p, t0);
    let mut buf = response_frame(sent[0].0, ApiKey::Metadata, 12);
    p.received(&mut buf, t0);
    assert!(matches!(completions(&mut p).0[..], [(9, Ok(_))]));
    p.resume();
    assert_eq!(p.state(), &State::Open);
    assert!(p.can_accept(false));
    // Nothing in flight: the pause is ready at once.
    p.pause_for_reauth();
    assert!(matches!(
        p.poll_action(),
        Some(Action::ReadyToReauthenticate)
    ));
}

#[test]
fn a_scheduled_reauthentication_pauses_at_its_time() {
    let t0 = Instant::now();
    let mut p = Pipeline::new(opts(5), t0);
    p.schedule_reauth(t0 + 10 * SEC);
    p.submit(metadata(1, 30 * SEC), t0).unwrap();
    let sent = write_all(&mut p, t0);
    assert_eq!(p.next_wakeup(), Some(t0 + 10 * SEC));
    p.timer(t0 + 9 * SEC);
    assert_eq!(p.state(), &State::Open);
    p.timer(t0 + 10 * SEC);
    assert_eq!(
        p.state(),
        &State::Draining,
        "waits for the request in flight"
    );
    let mut buf = response_frame(sent[0].0, ApiKey::Metadata, 12);
    p.received(&mut buf, t0 + 11 * SEC);
    let (done, other) = completions(&mut p);
    assert!(matches!(done[..], [(1, Ok(_))]));
    assert!(matches!(other[..], [Action::ReadyToReauthenticate]));
    p.resume();
    assert_eq!(p.next_wakeup(), None, "once per schedule");
}
