//! A broker that misbehaves on purpose, speaking raw TCP on loopback, for
//! tests of what a client does with a hostile or broken peer.
//!
//! It answers ApiVersions and Metadata correctly (one broker, itself; every
//! topic asked for has one partition led by it) unless its [`Misbehave`]
//! mode says otherwise, so a client gets as far as the misbehaviour.

use bytes::{Bytes, BytesMut};
use purekafka_protocol::frame::{decode_request, encode_response};
use purekafka_protocol::messages::api_versions_response::ApiVersion;
use purekafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use purekafka_protocol::messages::{
    AnyRequest, AnyResponse, ApiVersionsResponse, MetadataResponse,
};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// How the broker misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehave {
    /// Every answer carries the wrong correlation id.
    WrongCorrelationId,
    /// Every answer's size field claims 1 GiB.
    OversizedFrame,
    /// Correct answers, written one byte at a time with this pause between bytes.
    Trickle(Duration),
    /// Accepts connections, reads, never answers.
    Silent,
    /// Answers ApiVersions and Metadata; at the first other request it stops
    /// reading the socket (and keeps it open).
    StopsReading,
}

/// A running misbehaving broker; stops (and closes its sockets) on drop.
pub struct BadBroker {
    port: u16,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
}

impl BadBroker {
    /// Starts one on a free port of 127.0.0.1.
    pub fn start(mode: Misbehave) -> BadBroker {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (st, conns) = (stop.clone(), connections.clone());
        thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        conns.fetch_add(1, Ordering::Relaxed);
                        let st = st.clone();
                        thread::spawn(move || serve(sock, mode, port, &st));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        BadBroker {
            port,
            stop,
            connections,
        }
    }

    /// `127.0.0.1:port`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for BadBroker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_frame(sock: &mut TcpStream) -> Option<Bytes> {
    let mut len = [0u8; 4];
    sock.read_exact(&mut len).ok()?;
    let n = usize::try_from(i32::from_be_bytes(len)).ok()?;
    let mut body = vec![0u8; n.min(64 << 20)];
    sock.read_exact(&mut body).ok()?;
    Some(Bytes::from(body))
}

fn answer(req: &AnyRequest, port: u16) -> Option<AnyResponse> {
    match req {
        AnyRequest::ApiVersions(_) => Some(AnyResponse::ApiVersions(ApiVersionsResponse {
            api_keys: [(18, 0, 5), (3, 0, 12), (0, 3, 9), (22, 0, 4)]
                .into_iter()
                .map(|(api_key, min_version, max_version)| ApiVersion {
                    api_key,
                    min_version,
                    max_version,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })),
        AnyRequest::Metadata(m) => Some(AnyResponse::Metadata(MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "127.0.0.1".into(),
                port: i32::from(port),
                ..Default::default()
            }],
            cluster_id: Some("bad-broker".into()),
            controller_id: 1,
            topics: m
                .topics
                .iter()
                .flatten()
                .filter_map(|t| t.name.clone())
                .map(|name| MetadataResponseTopic {
                    name: Some(name),
                    partitions: vec![MetadataResponsePartition {
                        partition_index: 0,
                        leader_id: 1,
                        replica_nodes: vec![1],
                        isr_nodes: vec![1],
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })),
        _ => None,
    }
}

fn serve(mut sock: TcpStream, mode: Misbehave, port: u16, stop: &AtomicBool) {
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    while !stop.load(Ordering::Relaxed) {
        let Some(frame) = read_frame(&mut sock) else {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            // A read timeout with nothing read: keep waiting; EOF: done.
            let mut probe = [0u8; 1];
            match sock.peek(&mut probe) {
                Ok(0) => return,
                _ => continue,
            }
        };
        let Ok((header, req)) = decode_request(frame) else {
            return;
        };
        if mode == Misbehave::Silent {
            continue;
        }
        let Some(resp) = answer(&req, port) else {
            if mode == Misbehave::StopsReading {
                // Hold the socket open, read nothing more.
                while !stop.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(50));
                }
            }
            return;
        };
        let corr = if mode == Misbehave::WrongCorrelationId {
            header.correlation_id.wrapping_add(1000)
        } else {
            header.correlation_id
        };
        let mut out = BytesMut::new();
        if encode_response(&mut out, corr, header.request_api_version, &resp).is_err() {
            return;
        }
        if mode == Misbehave::OversizedFrame {
            out[..4].copy_from_slice(&(1i32 << 30).to_be_bytes());
        }
        let written = match mode {
            Misbehave::Trickle(pause) => out.iter().all(|b| {
                thread::sleep(pause);
                sock.write_all(&[*b]).is_ok()
            }),
            _ => sock.write_all(&out).is_ok(),
        };
        if !written {
            return;
        }
    }
}
