//! Consumer groups: list (type and state filters), describe (classic and
//! KIP-848 consumer groups, and KIP-932 share groups), delete; list, alter and delete committed
//! offsets; consumer lag in one call; remove members (Java's `listGroups`,
//! `describeConsumerGroups`, `deleteConsumerGroups`,
//! `listConsumerGroupOffsets`, `alterConsumerGroupOffsets`,
//! `deleteConsumerGroupOffsets`, `removeMembersFromConsumerGroup`).
//!
//! Group requests go to the group's coordinator (the one FindCoordinator
//! lookup); NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE look it up again,
//! COORDINATOR_LOAD_IN_PROGRESS waits. ListGroups asks every broker.
//!
//! ```no_run
//! use purekafka::admin::ListGroupsOptions;
//! use purekafka::consumer::OffsetAndMetadata;
//! use purekafka::{Admin, TopicPartition};
//!
//! # async fn demo(admin: Admin) -> purekafka::Result<()> {
//! for g in admin.list_groups(ListGroupsOptions::default()).await? {
//!     println!("{} ({:?}, {:?})", g.group_id, g.group_type, g.state);
//! }
//! for (tp, lag) in admin.consumer_group_lag("my-app").await? {
//!     println!("{tp}: committed {:?}, end {}, lag {:?}", lag.committed, lag.end_offset, lag.lag);
//! }
//! // Rewind the (empty) group: its next consumer starts at offset 0.
//! let reset = [(TopicPartition::new("events", 0), OffsetAndMetadata { offset: 0, metadata: None })];
//! admin.alter_consumer_group_offsets("my-app", reset).await?;
//! # Ok(()) }
//! ```

use super::{
    Admin, AuthorizedOperations, OffsetSpec, Target, by_topic, each_key, no_result, per_partition,
    resource_error, topic_error,
};
use crate::TopicPartition;
use crate::consumer::OffsetAndMetadata;
use crate::error::{Error, Result};
use crate::net::coordinator::CoordinatorType;
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::leave_group_request::MemberIdentity;
use purekafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use purekafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use purekafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use purekafka_protocol::messages::{
    ConsumerGroupDescribeRequest, DeleteGroupsRequest, DescribeGroupsRequest, LeaveGroupRequest,
    ListGroupsRequest, OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest,
    ShareGroupDescribeRequest,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// A group's type (KIP-848's `GroupType`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum GroupType {
    /// The classic protocol (JoinGroup/SyncGroup).
    Classic,
    /// A KIP-848 consumer group.
    Consumer,
    /// A KIP-932 share group.
    Share,
    /// A KIP-1071 streams group.
    Streams,
    /// Another type, as the broker named it.
    Other(String),
}

impl GroupType {
    /// The broker's name for it (`classic`, `consumer`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            GroupType::Classic => "classic",
            GroupType::Consumer => "consumer",
            GroupType::Share => "share",
            GroupType::Streams => "streams",
            GroupType::Other(s) => s,
        }
    }

    fn parse(s: &str) -> GroupType {
        match s.to_ascii_lowercase().as_str() {
            "classic" => GroupType::Classic,
            "consumer" => GroupType::Consumer,
            "share" => GroupType::Share,
            "streams" => GroupType::Streams,
            _ => GroupType::Other(s.to_string()),
        }
    }
}

/// Options of [`Admin::list_groups`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListGroupsOptions {
    /// The call's timeout; `None`: `default.api.timeout.ms`.
    pub timeout: Option<Duration>,
    /// Only groups in these states (`Stable`, `Empty`, ...; ListGroups
    /// v4+); empty: any.
    pub states: Vec<String>,
    /// Only groups of these types (ListGroups v5+); empty: any.
    pub types: Vec<GroupType>,
}

/// A group as [`Admin::list_groups`] lists it (Java's `GroupListing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// The embedded protocol type (`consumer` for consumer groups; empty
    /// for a group that only stores offsets).
    pub protocol_type: String,
    /// Its state, if the broker says (v4+).
    pub state: Option<String>,
    /// Its type, if the broker says (v5+).
    pub group_type: Option<GroupType>,
}

/// A member of a described group (Java's `MemberDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id.
    pub member_id: String,
    /// Its `group.instance.id` (static membership).
    pub group_instance_id: Option<String>,
    /// Its `client.id`.
    pub client_id: String,
    /// The host it connects from.
    pub host: String,
    /// The partitions it owns.
    pub assignment: Vec<TopicPartition>,
    /// The partitions it is to own (consumer groups only).
    pub target_assignment: Option<Vec<TopicPartition>>,
    /// Its member epoch (consumer groups only).
    pub member_epoch: Option<i32>,
}

/// A described consumer group (Java's `ConsumerGroupDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupDescription {
    /// The group id.
    pub group_id: String,
    /// `Classic` or `Consumer`.
    pub group_type: GroupType,
    /// Its state (`Stable`, `Empty`, `PreparingRebalance`, `Dead`, ...).
    pub state: String,
    /// A group without a protocol (offsets stored only, by `assign()`).
    pub is_simple: bool,
    /// The assignor (the classic group's protocol, the consumer group's
    /// server-side assignor).
    pub partition_assignor: String,
    /// The group epoch (consumer groups only).
    pub group_epoch: Option<i32>,
    /// The coordinator's node id.
    pub coordinator: i32,
    /// The members.
    pub members: Vec<MemberDescription>,
    /// What this client may do with the group (when asked for).
    pub authorized_operations: Option<AuthorizedOperations>,
}

/// Options of [`Admin::describe_consumer_groups_with`] (and the other
/// per-group calls).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupOptions {
    /// The call's timeout; `None`: `default.api.timeout.ms`.
    pub timeout: Option<Duration>,
    /// Ask which operations this client may perform (describe only).
    pub include_authorized_operations: bool,
}

/// One partition's consumer lag (committed vs end offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLag {
    /// The group's committed offset, if it committed one.
    pub committed: Option<i64>,
    /// The partition's end offset (high watermark).
    pub end_offset: i64,
    /// `end_offset - committed`; `None` without a commit.
    pub lag: Option<i64>,
}

/// A member of a described share group (Java's `ShareMemberDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareMemberDescription {
    /// The member id.
    pub member_id: String,
    /// Its `client.id`.
    pub client_id: String,
    /// The host it connects from.
    pub host: String,
    /// Its rack, if it set one.
    pub rack: Option<String>,
    /// Its member epoch.
    pub member_epoch: i32,
    /// The topics it subscribed to.
    pub subscribed_topics: Vec<String>,
    /// The partitions assigned to it (shared with the group's other
    /// members).
    pub assignment: Vec<TopicPartition>,
}

/// A described share group (KIP-932; Java's `ShareGroupDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGroupDescription {
    /// The group id.
    pub group_id: String,
    /// Its state (`Empty`, `Stable`, `Dead`, ...).
    pub state: String,
    /// The group epoch.
    pub group_epoch: i32,
    /// The assignment epoch.
    pub assignment_epoch: i32,
    /// The broker's share-group assignor.
    pub partition_assignor: String,
    /// The coordinator's node id.
    pub coordinator: i32,
    /// The members.
    pub members: Vec<ShareMemberDescription>,
    /// What this client may do with the group (when asked for).
    pub authorized_operations: Option<AuthorizedOperations>,
}

/// Which members [`Admin::remove_members_from_consumer_group`] removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembersToRemove {
    /// These static members, by `group.instance.id`.
    Static(Vec<String>),
    /// Every member the coordinator knows (Java's `RemoveMembersFromConsumerGroupOptions()`).
    All,
}

fn group_error(code: ErrorCode, api: &'static str, group: &str, message: Option<&str>) -> Error {
    resource_error(code, api, &format!("group '{group}'"), message)
}

/// Group-level codes that call for another try at the coordinator.
fn coordinator_moved(code: ErrorCode) -> Option<ErrorCode> {
    (code == ErrorCode::NOT_COORDINATOR
        || code == ErrorCode::COORDINATOR_NOT_AVAILABLE
        || code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
        .then_some(code)
}

fn coordinator_target(group: &str) -> Target {
    Target::Coordinator(CoordinatorType::Group, group.to_string())
}

/// A describe or delete response's entry for one group.
trait GroupEntry {
    fn group_id(&self) -> &str;
    fn error_code(&self) -> i16;
    fn error_message(&self) -> Option<&str>;
}

/// A response with an entry per group asked about.
trait PerGroup {
    type Entry: GroupEntry;
    fn entries(&self) -> &[Self::Entry];
    fn into_entries(self) -> Vec<Self::Entry>;
}

macro_rules! per_group {
    ($($resp:ident . $field:ident : $entry:path;)*) => {$(
        impl GroupEntry for $entry {
            fn group_id(&self) -> &str {
                &self.group_id
            }
            fn error_code(&self) -> i16 {
                self.error_code
            }
            fn error_message(&self) -> Option<&str> {
                self.error_message.as_deref()
            }
        }

        impl PerGroup for purekafka_protocol::messages::$resp {
            type Entry = $entry;
            fn entries(&self) -> &[$entry] {
                &self.$field
            }
            fn into_entries(self) -> Vec<$entry> {
                self.$field
            }
        }
    )*};
}

per_group! {
    ConsumerGroupDescribeResponse.groups:
        purekafka_protocol::messages::consumer_group_describe_response::DescribedGroup;
    DescribeGroupsResponse.groups:
        purekafka_protocol::messages::describe_groups_response::DescribedGroup;
    ShareGroupDescribeResponse.groups:
        purekafka_protocol::messages::share_group_describe_response::DescribedGroup;
    DeleteGroupsResponse.results:
        purekafka_protocol::messages::delete_groups_response::DeletableGroupResult;
}

/// `retry_on` for a request about one group: its entry's code, when the
/// coordinator moved or is loading.
fn group_moved<R: PerGroup>(resp: &R) -> Option<ErrorCode> {
    resp.entries()
        .first()
        .and_then(|g| coordinator_moved(ErrorCode(g.error_code())))
}

/// The entry for `group` in `resp`, or its error (the entry's code, or
/// that the broker sent none) naming it.
fn entry_for<R: PerGroup>(api: &'static str, group: &str, resp: R) -> Result<R::Entry> {
    let Some(g) = resp
        .into_entries()
        .into_iter()
        .find(|g| g.group_id() == group)
    else {
        return Err(no_result(api, &format_args!("group '{group}'")));
    };
    let code = ErrorCode(g.error_code());
    if code != ErrorCode::NONE {
        return Err(group_error(code, api, group, g.error_message()));
    }
    Ok(g)
}

/// The OffsetFetch / OffsetCommit version above which topics are named by
/// id only; these calls speak names.
const BY_NAME_MAX_VERSION: i16 = 9;

fn assignment_of(bytes: &[u8]) -> Vec<TopicPartition> {
    if bytes.is_empty() {
        return Vec::new();
    }
    crate::consumer::group::protocol::Assignment::decode(bytes::Bytes::copy_from_slice(bytes))
        .map(|a| a.partitions)
        .unwrap_or_default()
}

fn tps_of(
    a: &purekafka_protocol::messages::consumer_group_describe_response::Assignment,
) -> Vec<TopicPartition> {
    flatten_assignment(
        a.topic_partitions
            .iter()
            .map(|t| (&t.topic_name, &t.partitions)),
    )
}

fn share_tps_of(
    a: &purekafka_protocol::messages::share_group_describe_response::Assignment,
) -> Vec<TopicPartition> {
    flatten_assignment(
        a.topic_partitions
            .iter()
            .map(|t| (&t.topic_name, &t.partitions)),
    )
}

fn flatten_assignment<'a>(
    topics: impl Iterator<Item = (&'a String, &'a Vec<i32>)>,
) -> Vec<TopicPartition> {
    let mut v: Vec<TopicPartition> = topics
        .flat_map(|(name, partitions)| {
            partitions
                .iter()
                .map(|p| TopicPartition::new(name.as_str(), *p))
        })
        .collect();
    v.sort();
    v
}

impl Admin {
    /// Sends `req`, about `group` alone, to the group's coordinator
    /// (retrying while it moves or loads): the group's entry and the
    /// coordinator that answered, or the group's error naming it.
    async fn ask_about_group<R>(
        &self,
        group: &str,
        req: &R,
        deadline: tokio::time::Instant,
    ) -> Result<(<R::Response as PerGroup>::Entry, i32)>
    where
        R: purekafka_protocol::Request,
        R::Response: PerGroup,
    {
        let (resp, coordinator) = self
            .call_coordinator(CoordinatorType::Group, group, req, deadline, group_moved)
            .await?;
        Ok((entry_for(R::KEY.name(), group, resp)?, coordinator))
    }

    /// Lists the groups of every broker (Java's `listGroups`), filtered by
    /// state and type.
    pub async fn list_groups(&self, opts: ListGroupsOptions) -> Result<Vec<GroupListing>> {
        let deadline = self.deadline(opts.timeout);
        let md = self.cluster().refresh_metadata().await?;
        let mut brokers: Vec<i32> = md.brokers.keys().copied().collect();
        brokers.sort_unstable();
        let req = ListGroupsRequest {
            states_filter: opts.states.clone(),
            types_filter: opts.types.iter().map(|t| t.as_str().to_string()).collect(),
            ..Default::default()
        };
        let mut out = Vec::new();
        for b in brokers {
            let resp = self
                .call_until(Target::Broker(b), &req, deadline, |r| {
                    coordinator_moved(ErrorCode(r.error_code))
                })
                .await?;
            let code = ErrorCode(resp.error_code);
            if code != ErrorCode::NONE {
                return Err(resource_error(
                    code,
                    "ListGroups",
                    &format!("broker {b}"),
                    None,
                ));
            }
            out.extend(resp.groups.into_iter().map(|g| {
                GroupListing {
                    group_id: g.group_id,
                    protocol_type: g.protocol_type,
                    state: Some(g.group_state).filter(|s| !s.is_empty()),
                    group_type: Some(g.group_type)
                        .filter(|s| !s.is_empty())
                        .map(|s| GroupType::parse(&s)),
                }
            }));
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(out)
    }

    /// Describes consumer groups (Java's `describeConsumerGroups`), with
    /// the default options.
    pub async fn describe_consumer_groups<S: Into<String>>(
        &self,
        groups: impl IntoIterator<Item = S>,
    ) -> Result<BTreeMap<String, Result<ConsumerGroupDescription>>> {
        self.describe_consumer_groups_with(groups, GroupOptions::default())
            .await
    }

    /// Describes consumer groups, classic and KIP-848 ones alike: each
    /// group's members and assignments, or its error naming it. A KIP-848
    /// group is described with ConsumerGroupDescribe; a classic one (which
    /// that request does not know) with DescribeGroups.
    pub async fn describe_consumer_groups_with<S: Into<String>>(
        &self,
        groups: impl IntoIterator<Item = S>,
        opts: GroupOptions,
    ) -> Result<BTreeMap<String, Result<ConsumerGroupDescription>>> {
        let deadline = self.deadline(opts.timeout);
        let groups = groups.into_iter().map(Into::into);
        let opts = &opts;
        Ok(each_key(groups, |g: String| async move {
            self.describe_one(&g, opts, deadline).await
        })
        .await)
    }

    async fn describe_one(
        &self,
        group: &str,
        opts: &GroupOptions,
        deadline: tokio::time::Instant,
    ) -> Result<ConsumerGroupDescription> {
        let req = ConsumerGroupDescribeRequest {
            group_ids: vec![group.to_string()],
            include_authorized_operations: opts.include_authorized_operations,
            ..Default::default()
        };
        match self.ask_about_group(group, &req, deadline).await {
            Ok((g, coordinator)) => {
                return Ok(ConsumerGroupDescription {
                    group_id: g.group_id,
                    group_type: GroupType::Consumer,
                    state: g.group_state,
                    is_simple: false,
                    partition_assignor: g.assignor_name,
                    group_epoch: Some(g.group_epoch),
                    coordinator,
                    members: g
                        .members
                        .into_iter()
                        .map(|m| MemberDescription {
                            member_id: m.member_id,
                            group_instance_id: m.instance_id,
                            client_id: m.client_id,
                            host: m.client_host,
                            assignment: tps_of(&m.assignment),
                            target_assignment: Some(tps_of(&m.target_assignment)),
                            member_epoch: Some(m.member_epoch),
                        })
                        .collect(),
                    authorized_operations: AuthorizedOperations::from_wire(g.authorized_operations),
                });
            }
            // A broker without KIP-848 does not know the request, and
            // GROUP_ID_NOT_FOUND is a group that is not a consumer group (a
            // classic one, or none): DescribeGroups says which.
            Err(Error::UnsupportedVersion { .. }) => {}
            Err(e) if e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND) => {}
            Err(e) => return Err(e),
        }
        let req = DescribeGroupsRequest {
            groups: vec![group.to_string()],
            include_authorized_operations: opts.include_authorized_operations,
            ..Default::default()
        };
        let (g, coordinator) = self.ask_about_group(group, &req, deadline).await?;
        let consumer = g.protocol_type == "consumer";
        Ok(ConsumerGroupDescription {
            group_id: g.group_id,
            group_type: GroupType::Classic,
            state: g.group_state,
            is_simple: g.protocol_type.is_empty(),
            partition_assignor: g.protocol_data,
            group_epoch: None,
            coordinator,
            members: g
                .members
                .into_iter()
                .map(|m| MemberDescription {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    client_id: m.client_id,
                    host: m.client_host,
                    assignment: if consumer {
                        assignment_of(&m.member_assignment)
                    } else {
                        Vec::new()
                    },
                    target_assignment: None,
                    member_epoch: None,
                })
                .collect(),
            authorized_operations: AuthorizedOperations::from_wire(g.authorized_operations),
        })
    }

    /// Describes share groups (KIP-932; Java's `describeShareGroups`):
    /// each group's members and their assignments, or its error naming it
    /// (GROUP_ID_NOT_FOUND for a group that is not a share group).
    pub async fn describe_share_groups<S: Into<String>>(
        &self,
        groups: impl IntoIterator<Item = S>,
        opts: GroupOptions,
    ) -> Result<BTreeMap<String, Result<ShareGroupDescription>>> {
        let deadline = self.deadline(opts.timeout);
        let groups = groups.into_iter().map(Into::into);
        let opts = &opts;
        Ok(each_key(groups, |g: String| async move {
            self.describe_share_one(&g, opts, deadline).await
        })
        .await)
    }

    async fn describe_share_one(
        &self,
        group: &str,
        opts: &GroupOptions,
        deadline: tokio::time::Instant,
    ) -> Result<ShareGroupDescription> {
        let req = ShareGroupDescribeRequest {
            group_ids: vec![group.to_string()],
            include_authorized_operations: opts.include_authorized_operations,
            ..Default::default()
        };
        let (g, coordinator) = self.ask_about_group(group, &req, deadline).await?;
        Ok(ShareGroupDescription {
            group_id: g.group_id,
            state: g.group_state,
            group_epoch: g.group_epoch,
            assignment_epoch: g.assignment_epoch,
            partition_assignor: g.assignor_name,
            coordinator,
            members: g
                .members
                .into_iter()
                .map(|m| ShareMemberDescription {
                    assignment: share_tps_of(&m.assignment),
                    member_id: m.member_id,
                    client_id: m.client_id,
                    host: m.client_host,
                    rack: m.rack_id,
                    member_epoch: m.member_epoch,
                    subscribed_topics: m.subscribed_topic_names,
                })
                .collect(),
            authorized_operations: AuthorizedOperations::from_wire(g.authorized_operations),
        })
    }

    /// Deletes groups (Java's `deleteConsumerGroups`): each group's
    /// outcome. A group with members is NON_EMPTY_GROUP, a missing one
    /// GROUP_ID_NOT_FOUND, naming it.
    pub async fn delete_consumer_groups<S: Into<String>>(
        &self,
        groups: impl IntoIterator<Item = S>,
        opts: GroupOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let deadline = self.deadline(opts.timeout);
        let groups = groups.into_iter().map(Into::into);
        // Each group at its coordinator (looked up once, then cached).
        Ok(each_key(groups, |g: String| async move {
            let req = DeleteGroupsRequest {
                groups_names: vec![g.clone()],
                ..Default::default()
            };
            self.ask_about_group(&g, &req, deadline).await.map(drop)
        })
        .await)
    }

    /// A group's committed offsets (Java's `listConsumerGroupOffsets`): of
    /// `partitions`, or of every partition it committed when `None`.
    /// Partitions without a commit are left out.
    pub async fn list_consumer_group_offsets(
        &self,
        group: &str,
        partitions: Option<Vec<TopicPartition>>,
    ) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        let deadline = self.deadline(None);
        let topics = partitions
            .as_ref()
            .map(|ps| by_topic(ps.iter().map(|tp| (tp, tp.partition))));
        // v8+ batches groups (one here); v1-7 name one group.
        let legacy = OffsetFetchRequest {
            group_id: group.to_string(),
            topics: topics.as_ref().map(|t| {
                t.iter()
                    .map(|(name, ps)| OffsetFetchRequestTopic {
                        name: name.to_string(),
                        partition_indexes: ps.clone(),
                        ..Default::default()
                    })
                    .collect()
            }),
            require_stable: true,
            ..Default::default()
        };
        let batched = OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group.to_string(),
                topics: topics.as_ref().map(|t| {
                    t.iter()
                        .map(|(name, ps)| OffsetFetchRequestTopics {
                            name: name.to_string(),
                            partition_indexes: ps.clone(),
                            ..Default::default()
                        })
                        .collect()
                }),
                ..Default::default()
            }],
            require_stable: true,
            ..Default::default()
        };
        let build = |v: i16| {
            let v = v.min(BY_NAME_MAX_VERSION);
            let req = if v >= 8 { &batched } else { &legacy };
            let mut req = req.clone();
            if v < 7 {
                req.require_stable = false;
            }
            Ok(req)
        };
        let moved = |r: &purekafka_protocol::messages::OffsetFetchResponse| {
            let code = r.groups.first().map_or(r.error_code, |g| g.error_code);
            coordinator_moved(ErrorCode(code))
        };
        let (resp, version) = self
            .call_with_max(
                coordinator_target(group),
                deadline,
                BY_NAME_MAX_VERSION,
                build,
                moved,
            )
            .await?;
        let mut out = BTreeMap::new();
        let mut put = |topic: &str, p: i32, offset: i64, meta: Option<String>, code: i16| {
            let code = ErrorCode(code);
            if code != ErrorCode::NONE {
                return Err(topic_error(code, "OffsetFetch", topic, Some(p), None));
            }
            if offset >= 0 {
                out.insert(
                    TopicPartition::new(topic, p),
                    OffsetAndMetadata {
                        offset,
                        metadata: meta.filter(|m| !m.is_empty()),
                    },
                );
            }
            Ok(())
        };
        if version >= 8 {
            let Some(g) = resp.groups.into_iter().find(|g| g.group_id == group) else {
                return Err(no_result("OffsetFetch", &format_args!("group '{group}'")));
            };
            let code = ErrorCode(g.error_code);
            if code != ErrorCode::NONE {
                return Err(group_error(code, "OffsetFetch", group, None));
            }
            for t in g.topics {
                for p in t.partitions {
                    put(
                        &t.name,
                        p.partition_index,
                        p.committed_offset,
                        p.metadata,
                        p.error_code,
                    )?;
                }
            }
        } else {
            let code = ErrorCode(resp.error_code);
            if code != ErrorCode::NONE {
                return Err(group_error(code, "OffsetFetch", group, None));
            }
            for t in resp.topics {
                for p in t.partitions {
                    put(
                        &t.name,
                        p.partition_index,
                        p.committed_offset,
                        p.metadata,
                        p.error_code,
                    )?;
                }
            }
        }
        Ok(out)
    }

    /// Sets a group's committed offsets (Java's
    /// `alterConsumerGroupOffsets`): each partition's outcome. The group
    /// must have no active members (else UNKNOWN_MEMBER_ID: stop its
    /// consumers first), as with Java and kafka-consumer-groups.sh.
    pub async fn alter_consumer_group_offsets(
        &self,
        group: &str,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let deadline = self.deadline(None);
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = offsets.into_iter().collect();
        let partitions = offsets.iter().map(|(tp, o)| {
            let p = OffsetCommitRequestPartition {
                partition_index: tp.partition,
                committed_offset: o.offset,
                committed_metadata: o.metadata.clone(),
                ..Default::default()
            };
            (tp, p)
        });
        let req = OffsetCommitRequest {
            group_id: group.to_string(),
            generation_id_or_member_epoch: -1,
            member_id: String::new(),
            topics: by_topic(partitions)
                .into_iter()
                .map(|(name, partitions)| OffsetCommitRequestTopic {
                    name: name.to_string(),
                    partitions,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let (resp, _) = self
            .call_capped(
                coordinator_target(group),
                &req,
                deadline,
                BY_NAME_MAX_VERSION,
                |r| {
                    r.topics
                        .first()
                        .and_then(|t| t.partitions.first())
                        .and_then(|p| coordinator_moved(ErrorCode(p.error_code)))
                },
            )
            .await?;
        let topics = resp.topics.into_iter().map(|t| (t.name, t.partitions));
        let committing = format!("committing for group '{group}'");
        let mut out = per_partition("OffsetCommit", topics, |p| {
            (
                p.partition_index,
                p.error_code,
                Some(committing.clone()),
                (),
            )
        });
        for tp in offsets.keys() {
            out.entry(tp.clone()).or_insert_with(|| {
                Err(group_error(
                    ErrorCode::UNKNOWN_SERVER_ERROR,
                    "OffsetCommit",
                    group,
                    Some(&format!("the broker sent no result for {tp}")),
                ))
            });
        }
        Ok(out)
    }

    /// Deletes a group's committed offsets of `partitions` (Java's
    /// `deleteConsumerGroupOffsets`): each partition's outcome. A partition
    /// the group still consumes is GROUP_SUBSCRIBED_TO_TOPIC.
    pub async fn delete_consumer_group_offsets(
        &self,
        group: &str,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let deadline = self.deadline(None);
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        let req = OffsetDeleteRequest {
            group_id: group.to_string(),
            topics: by_topic(partitions.iter().map(|tp| {
                let p = OffsetDeleteRequestPartition {
                    partition_index: tp.partition,
                    ..Default::default()
                };
                (tp, p)
            }))
            .into_iter()
            .map(|(name, partitions)| OffsetDeleteRequestTopic {
                name: name.to_string(),
                partitions,
                ..Default::default()
            })
            .collect(),
            ..Default::default()
        };
        let resp = self
            .call_until(coordinator_target(group), &req, deadline, |r| {
                coordinator_moved(ErrorCode(r.error_code))
            })
            .await?;
        let code = ErrorCode(resp.error_code);
        if code != ErrorCode::NONE {
            return Err(group_error(code, "OffsetDelete", group, None));
        }
        let topics = resp.topics.into_iter().map(|t| (t.name, t.partitions));
        let of_group = format!("group '{group}'");
        Ok(per_partition("OffsetDelete", topics, |p| {
            (p.partition_index, p.error_code, Some(of_group.clone()), ())
        }))
    }

    /// A group's lag in one call: for each partition it committed, the
    /// committed offset, the partition's end offset and their difference.
    pub async fn consumer_group_lag(
        &self,
        group: &str,
    ) -> Result<BTreeMap<TopicPartition, PartitionLag>> {
        let committed = self.list_consumer_group_offsets(group, None).await?;
        let ends = self
            .list_offsets(committed.keys().map(|tp| (tp.clone(), OffsetSpec::Latest)))
            .await?;
        let mut out = BTreeMap::new();
        for (tp, end) in ends {
            let end = end?.offset;
            let c = committed.get(&tp).map(|o| o.offset);
            out.insert(
                tp,
                PartitionLag {
                    committed: c,
                    end_offset: end,
                    lag: c.map(|c| (end - c).max(0)),
                },
            );
        }
        Ok(out)
    }

    /// Removes members from a classic group (Java's
    /// `removeMembersFromConsumerGroup`, LeaveGroup v3+): each member's
    /// outcome, by `group.instance.id` (or member id when removing all).
    pub async fn remove_members_from_consumer_group(
        &self,
        group: &str,
        members: MembersToRemove,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let deadline = self.deadline(None);
        let identities: Vec<MemberIdentity> = match members {
            MembersToRemove::Static(ids) => ids
                .into_iter()
                .map(|id| MemberIdentity {
                    member_id: String::new(),
                    group_instance_id: Some(id),
                    reason: Some("removed by an admin client".into()),
                    ..Default::default()
                })
                .collect(),
            MembersToRemove::All => {
                let d = self
                    .describe_one(group, &GroupOptions::default(), deadline)
                    .await?;
                d.members
                    .into_iter()
                    .map(|m| MemberIdentity {
                        member_id: if m.group_instance_id.is_some() {
                            String::new()
                        } else {
                            m.member_id
                        },
                        group_instance_id: m.group_instance_id,
                        reason: Some("removed by an admin client".into()),
                        ..Default::default()
                    })
                    .collect()
            }
        };
        if identities.is_empty() {
            return Ok(BTreeMap::new());
        }
        let req = LeaveGroupRequest {
            group_id: group.to_string(),
            members: identities,
            ..Default::default()
        };
        let resp = self
            .call_until(coordinator_target(group), &req, deadline, |r| {
                coordinator_moved(ErrorCode(r.error_code))
            })
            .await?;
        let code = ErrorCode(resp.error_code);
        if code != ErrorCode::NONE {
            return Err(group_error(code, "LeaveGroup", group, None));
        }
        Ok(resp
            .members
            .into_iter()
            .map(|m| {
                let key = m.group_instance_id.clone().unwrap_or(m.member_id.clone());
                let code = ErrorCode(m.error_code);
                let r = if code == ErrorCode::NONE {
                    Ok(())
                } else {
                    Err(group_error(
                        code,
                        "LeaveGroup",
                        group,
                        Some(&format!("member {key}")),
                    ))
                };
                (key, r)
            })
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::admin::{Attempt, Next, Prepare, next_step};
    use purekafka_protocol::messages::DescribeGroupsResponse;
    use purekafka_protocol::messages::describe_groups_response::DescribedGroup;

    fn described(group: &str, code: ErrorCode) -> DescribeGroupsResponse {
        DescribeGroupsResponse {
            groups: vec![DescribedGroup {
                group_id: group.into(),
                error_code: code.0,
                group_state: "Stable".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_group_answer_is_retried_where_the_coordinator_moved_or_loads() {
        let target = coordinator_target("g");
        let step = |code| {
            next_step(
                &target,
                Attempt::Answered(group_moved(&described("g", code))),
            )
        };
        assert_eq!(
            step(ErrorCode::NOT_COORDINATOR),
            Next::Retry(Prepare::FindCoordinator)
        );
        assert_eq!(
            step(ErrorCode::COORDINATOR_NOT_AVAILABLE),
            Next::Retry(Prepare::FindCoordinator)
        );
        assert_eq!(
            step(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
            Next::Retry(Prepare::Nothing)
        );
        assert_eq!(step(ErrorCode::GROUP_AUTHORIZATION_FAILED), Next::Done);
        assert_eq!(step(ErrorCode::NONE), Next::Done);
        // Taken: the group's entry, or its error naming it.
        let g = entry_for("DescribeGroups", "g", described("g", ErrorCode::NONE)).unwrap();
        assert_eq!(g.group_state, "Stable");
        let e = entry_for(
            "DescribeGroups",
            "g",
            described("g", ErrorCode::GROUP_AUTHORIZATION_FAILED),
        )
        .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED));
        assert!(e.to_string().contains("group 'g'"), "{e}");
        // An answer about another group is no answer about this one.
        let e = entry_for("DescribeGroups", "g", described("h", ErrorCode::NONE)).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_SERVER_ERROR));
        assert!(e.to_string().contains("no result"), "{e}");
    }

    #[test]
    fn group_types_by_name() {
        for t in [
            GroupType::Classic,
            GroupType::Consumer,
            GroupType::Share,
            GroupType::Streams,
        ] {
            assert_eq!(GroupType::parse(t.as_str()), t);
        }
        assert_eq!(GroupType::parse("Consumer"), GroupType::Consumer);
        assert_eq!(GroupType::parse("x"), GroupType::Other("x".into()));
        assert_eq!(
            coordinator_moved(ErrorCode::NOT_COORDINATOR),
            Some(ErrorCode::NOT_COORDINATOR)
        );
        assert_eq!(
            coordinator_moved(ErrorCode::GROUP_AUTHORIZATION_FAILED),
            None
        );
    }
}
