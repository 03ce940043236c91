//! The requests the membership state machine asks the network driver to
//! send, the responses it takes back, and where they go.

use bytes::{Bytes, BytesMut};
use purekafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use purekafka_protocol::{ApiKey, DecodeError, EncodeError, Message};
use std::fmt;
use std::time::Duration;

/// Identifies one request the state machine issued; quote it when reporting
/// the response or the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The group coordinator, as FindCoordinator reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Coordinator {
    /// The broker's node id. Java keeps a separate connection to the
    /// coordinator (it uses `i32::MAX - node_id` as the connection id) so
    /// that group requests do not queue behind fetches; the driver may too.
    pub node_id: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: i32,
}

impl fmt::Display for Coordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} (id: {})", self.host, self.port, self.node_id)
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Any broker (the least loaded): FindCoordinator.
    AnyBroker,
    /// The group coordinator.
    Coordinator(Coordinator),
}

/// The API versions to speak, negotiated by the network layer with the
/// brokers (ApiVersions). Requests are built with exactly the fields of
/// their version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupApiVersions {
    /// FindCoordinator (v4+ batches keys).
    pub find_coordinator: i16,
    /// JoinGroup (v4+ member id required, v5+ static membership, v8+ reason).
    pub join_group: i16,
    /// SyncGroup (v3+ static membership, v5+ protocol type and name).
    pub sync_group: i16,
    /// Heartbeat (v3+ static membership).
    pub heartbeat: i16,
    /// LeaveGroup (v3+ member list, v5+ reason).
    pub leave_group: i16,
}

impl Default for GroupApiVersions {
    /// The newest stable version of each that purekafka speaks.
    fn default() -> Self {
        GroupApiVersions {
            find_coordinator: ApiKey::FindCoordinator.usable_versions().max,
            join_group: ApiKey::JoinGroup.usable_versions().max,
            sync_group: ApiKey::SyncGroup.usable_versions().max,
            heartbeat: ApiKey::Heartbeat.usable_versions().max,
            leave_group: ApiKey::LeaveGroup.usable_versions().max,
        }
    }
}

/// A request to send.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupRequest {
    /// FindCoordinator.
    FindCoordinator(FindCoordinatorRequest),
    /// JoinGroup.
    JoinGroup(JoinGroupRequest),
    /// SyncGroup.
    SyncGroup(SyncGroupRequest),
    /// Heartbeat.
    Heartbeat(HeartbeatRequest),
    /// LeaveGroup.
    LeaveGroup(LeaveGroupRequest),
    /// ConsumerGroupHeartbeat (KIP-848).
    ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest),
}

impl GroupRequest {
    /// The API.
    pub fn api_key(&self) -> ApiKey {
        match self {
            GroupRequest::FindCoordinator(_) => ApiKey::FindCoordinator,
            GroupRequest::JoinGroup(_) => ApiKey::JoinGroup,
            GroupRequest::SyncGroup(_) => ApiKey::SyncGroup,
            GroupRequest::Heartbeat(_) => ApiKey::Heartbeat,
            GroupRequest::LeaveGroup(_) => ApiKey::LeaveGroup,
            GroupRequest::ConsumerGroupHeartbeat(_) => ApiKey::ConsumerGroupHeartbeat,
        }
    }

    /// Encodes the body (no header) at `version`.
    pub fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        match self {
            GroupRequest::FindCoordinator(r) => r.encode(buf, version),
            GroupRequest::JoinGroup(r) => r.encode(buf, version),
            GroupRequest::SyncGroup(r) => r.encode(buf, version),
            GroupRequest::Heartbeat(r) => r.encode(buf, version),
            GroupRequest::LeaveGroup(r) => r.encode(buf, version),
            GroupRequest::ConsumerGroupHeartbeat(r) => r.encode(buf, version),
        }
    }
}

/// A decoded response.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupResponse {
    /// FindCoordinator.
    FindCoordinator(FindCoordinatorResponse),
    /// JoinGroup.
    JoinGroup(JoinGroupResponse),
    /// SyncGroup.
    SyncGroup(SyncGroupResponse),
    /// Heartbeat.
    Heartbeat(HeartbeatResponse),
    /// LeaveGroup.
    LeaveGroup(LeaveGroupResponse),
    /// ConsumerGroupHeartbeat (KIP-848).
    ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse),
}

impl GroupResponse {
    /// The API.
    pub fn api_key(&self) -> ApiKey {
        match self {
            GroupResponse::FindCoordinator(_) => ApiKey::FindCoordinator,
            GroupResponse::JoinGroup(_) => ApiKey::JoinGroup,
            GroupResponse::SyncGroup(_) => ApiKey::SyncGroup,
            GroupResponse::Heartbeat(_) => ApiKey::Heartbeat,
            GroupResponse::LeaveGroup(_) => ApiKey::LeaveGroup,
            GroupResponse::ConsumerGroupHeartbeat(_) => ApiKey::ConsumerGroupHeartbeat,
        }
    }

    /// Decodes a response body (after the response header) of `api` at
    /// `version`. `None` if `api` is not a group API.
    pub fn decode(api: ApiKey, version: i16, mut body: Bytes) -> Option<Result<Self, DecodeError>> {
        let b = &mut body;
        Some(match api {
            ApiKey::FindCoordinator => {
                FindCoordinatorResponse::decode(b, version).map(GroupResponse::FindCoordinator)
            }
            ApiKey::JoinGroup => {
                JoinGroupResponse::decode(b, version).map(GroupResponse::JoinGroup)
            }
            ApiKey::SyncGroup => {
                SyncGroupResponse::decode(b, version).map(GroupResponse::SyncGroup)
            }
            ApiKey::Heartbeat => {
                HeartbeatResponse::decode(b, version).map(GroupResponse::Heartbeat)
            }
            ApiKey::LeaveGroup => {
                LeaveGroupResponse::decode(b, version).map(GroupResponse::LeaveGroup)
            }
            ApiKey::ConsumerGroupHeartbeat => ConsumerGroupHeartbeatResponse::decode(b, version)
                .map(GroupResponse::ConsumerGroupHeartbeat),
            _ => return None,
        })
    }
}

pub(crate) fn api_name(api: ApiKey) -> &'static str {
    match api {
        ApiKey::FindCoordinator => "FindCoordinator",
        ApiKey::JoinGroup => "JoinGroup",
        ApiKey::SyncGroup => "SyncGroup",
        ApiKey::Heartbeat => "Heartbeat",
        ApiKey::LeaveGroup => "LeaveGroup",
        ApiKey::ConsumerGroupHeartbeat => "ConsumerGroupHeartbeat",
        _ => "group request",
    }
}

/// A request for the driver to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRequest {
    /// Quote it in `on_response` / `on_request_failed`.
    pub id: RequestId,
    /// Where to send it.
    pub destination: Destination,
    /// The version to encode it at (the one it was built for).
    pub version: i16,
    /// The request.
    pub request: GroupRequest,
    /// A request timeout longer than `request.timeout.ms`, when needed: a
    /// JoinGroup may be held by the coordinator for the whole rebalance
    /// timeout, so it gets that plus 5 s (as in Java). The driver uses the
    /// larger of this and its own timeout.
    pub min_timeout: Option<Duration>,
}
