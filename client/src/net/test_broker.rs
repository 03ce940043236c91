//! A tiny in-process broker for the connection's unit tests: it answers
//! ApiVersions (announcing ApiVersions and Metadata) and Metadata (no
//! brokers, no topics), with the protocol crate's encoders.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use bytes::BytesMut;
use purekafka_protocol::frame::{decode_frame, decode_request, encode_response};
use purekafka_protocol::messages::api_versions_response::ApiVersion;
use purekafka_protocol::messages::{ApiVersionsResponse, MetadataResponse};
use purekafka_protocol::{AnyRequest, AnyResponse, ApiKey};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A running test broker.
pub(crate) struct TestBroker {
    pub addr: String,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    /// Connections the client closed so far.
    pub closed: Arc<AtomicUsize>,
}

impl TestBroker {
    pub async fn start() -> TestBroker {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let (c, gone) = (accepted.clone(), closed.clone());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let gone = gone.clone();
                tokio::spawn(async move {
                    let mut buf = BytesMut::new();
                    loop {
                        match s.read_buf(&mut buf).await {
                            Ok(0) | Err(_) => {
                                gone.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                            Ok(_) => {}
                        }
                        while let Some(frame) = decode_frame(&mut buf, 1 << 20).unwrap() {
                            let (h, req) = decode_request(frame).unwrap();
                            let v = h.request_api_version;
                            let resp = match req {
                                AnyRequest::ApiVersions(_) => {
                                    AnyResponse::ApiVersions(ApiVersionsResponse {
                                        api_keys: [ApiKey::ApiVersions, ApiKey::Metadata]
                                            .into_iter()
                                            .map(|k| ApiVersion {
                                                api_key: k as i16,
                                                min_version: 0,
                                                max_version: k.usable_versions().max,
                                                ..Default::default()
                                            })
                                            .collect(),
                                        ..Default::default()
                                    })
                                }
                                AnyRequest::Metadata(_) => {
                                    AnyResponse::Metadata(MetadataResponse::default())
                                }
                                other => panic!("test broker: unexpected {other:?}"),
                            };
                            let mut out = BytesMut::new();
                            encode_response(&mut out, h.correlation_id, v, &resp).unwrap();
                            if s.write_all(&out).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        TestBroker {
            addr,
            accepted,
            closed,
        }
    }
}
