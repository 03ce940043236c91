//! Kafka's error codes.
//!
//! Responses carry an `int16` error code per request, topic or partition.
//! [`ErrorCode`] wraps that number: every code Kafka defines is an associated
//! constant with its upper-snake-case name, whether the client may retry the
//! request as is ([`ErrorCode::is_retriable`]), and a short description.
//! Codes this table does not know keep their number and print as
//! `UNKNOWN_CODE(n)`; they are not retriable.
//!
//! `ErrorCode` is a value, not an error type: the client decides what a code
//! means in its context and wraps it in its own errors.
//!
//! The table below is checked against Kafka's published list of codes by a
//! unit test (`error_codes_match_kafka`).

use std::fmt;

/// A Kafka protocol error code (`0` is success).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ErrorCode(pub i16);

macro_rules! error_codes {
    ($($code:literal, $name:ident, $retriable:literal, $desc:literal;)*) => {
        impl ErrorCode {
            $(
                #[doc = concat!("`", stringify!($code), "`: ", $desc, ". Retriable: ", stringify!($retriable), ".")]
                pub const $name: ErrorCode = ErrorCode($code);
            )*

            /// Every code in the table, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name),*];
        }

        /// Name, retriable, description.
        const fn lookup(code: i16) -> Option<(&'static str, bool, &'static str)> {
            match code {
                $($code => Some((stringify!($name), $retriable, $desc)),)*
                _ => None,
            }
        }
    };
}

// code, NAME, retriable, description (our words).
error_codes! {
      -1, UNKNOWN_SERVER_ERROR, false, "the broker hit an unexpected internal error";
       0, NONE, false, "success";
       1, OFFSET_OUT_OF_RANGE, false, "the offset is outside the range the partition holds";
       2, CORRUPT_MESSAGE, true, "a record failed validation (checksum, size or null key on a compacted topic)";
       3, UNKNOWN_TOPIC_OR_PARTITION, true, "the broker does not host this topic or partition";
       4, INVALID_FETCH_SIZE, false, "the fetch size is not valid";
       5, LEADER_NOT_AVAILABLE, true, "the partition has no leader right now (election in progress)";
       6, NOT_LEADER_OR_FOLLOWER, true, "this broker is not the leader (or not a replica) for the partition";
       7, REQUEST_TIMED_OUT, true, "the request did not complete in time";
       8, BROKER_NOT_AVAILABLE, false, "the broker is not available";
       9, REPLICA_NOT_AVAILABLE, true, "the replica is not available for the partition";
      10, MESSAGE_TOO_LARGE, false, "a record is larger than the broker accepts";
      11, STALE_CONTROLLER_EPOCH, false, "the controller has moved to another broker";
      12, OFFSET_METADATA_TOO_LARGE, false, "the offset commit metadata is too large";
      13, NETWORK_EXCEPTION, true, "the connection closed before a response arrived";
      14, COORDINATOR_LOAD_IN_PROGRESS, true, "the coordinator is still loading its state";
      15, COORDINATOR_NOT_AVAILABLE, true, "the coordinator is not available";
      16, NOT_COORDINATOR, true, "this broker is not the coordinator for the group or transaction";
      17, INVALID_TOPIC_EXCEPTION, false, "the topic name or operation on the topic is not valid";
      18, RECORD_LIST_TOO_LARGE, false, "the batch is larger than the log segment size";
      19, NOT_ENOUGH_REPLICAS, true, "fewer in-sync replicas than required; nothing was written";
      20, NOT_ENOUGH_REPLICAS_AFTER_APPEND, true, "written, but to fewer in-sync replicas than required";
      21, INVALID_REQUIRED_ACKS, false, "the acks value is not valid";
      22, ILLEGAL_GENERATION, false, "the group generation is not current";
      23, INCONSISTENT_GROUP_PROTOCOL, false, "the member's protocols do not match the group's";
      24, INVALID_GROUP_ID, false, "the group id is not valid";
      25, UNKNOWN_MEMBER_ID, false, "the coordinator does not know this member";
      26, INVALID_SESSION_TIMEOUT, false, "the session timeout is outside the broker's allowed range";
      27, REBALANCE_IN_PROGRESS, false, "the group is rebalancing; the member must rejoin";
      28, INVALID_COMMIT_OFFSET_SIZE, false, "the offset commit data has an invalid size";
      29, TOPIC_AUTHORIZATION_FAILED, false, "not authorized for the topic";
      30, GROUP_AUTHORIZATION_FAILED, false, "not authorized for the group";
      31, CLUSTER_AUTHORIZATION_FAILED, false, "not authorized for the cluster operation";
      32, INVALID_TIMESTAMP, false, "the record timestamp is outside the accepted range";
      33, UNSUPPORTED_SASL_MECHANISM, false, "the SASL mechanism is not supported by the broker";
      34, ILLEGAL_SASL_STATE, false, "the request does not fit the current SASL state";
      35, UNSUPPORTED_VERSION, false, "the API version is not supported";
      36, TOPIC_ALREADY_EXISTS, false, "a topic with this name already exists";
      37, INVALID_PARTITIONS, false, "the partition count is not valid";
      38, INVALID_REPLICATION_FACTOR, false, "the replication factor is not valid";
      39, INVALID_REPLICA_ASSIGNMENT, false, "the replica assignment is not valid";
      40, INVALID_CONFIG, false, "the configuration is not valid";
      41, NOT_CONTROLLER, true, "this broker is not the controller";
      42, INVALID_REQUEST, false, "the request is malformed or not supported by this broker";
      43, UNSUPPORTED_FOR_MESSAGE_FORMAT, false, "the broker's message format does not support the request";
      44, POLICY_VIOLATION, false, "the request breaks a configured policy";
      45, OUT_OF_ORDER_SEQUENCE_NUMBER, false, "the producer sequence number is out of order";
      46, DUPLICATE_SEQUENCE_NUMBER, false, "the producer sequence number is a duplicate";
      47, INVALID_PRODUCER_EPOCH, false, "the producer epoch is older than the current one";
      48, INVALID_TXN_STATE, false, "the transactional operation is not valid in the current state";
      49, INVALID_PRODUCER_ID_MAPPING, false, "the producer id is not assigned to this transactional id";
      50, INVALID_TRANSACTION_TIMEOUT, false, "the transaction timeout exceeds the broker's maximum";
      51, CONCURRENT_TRANSACTIONS, true, "another transactional operation is in progress";
      52, TRANSACTION_COORDINATOR_FENCED, false, "the transaction coordinator sending markers has been fenced";
      53, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, false, "not authorized for the transactional id";
      54, SECURITY_DISABLED, false, "security features are disabled on the broker";
      55, OPERATION_NOT_ATTEMPTED, false, "the operation was not attempted because another in the batch failed";
      56, KAFKA_STORAGE_ERROR, true, "the broker could not access its log on disk";
      57, LOG_DIR_NOT_FOUND, false, "the log directory is not configured on the broker";
      58, SASL_AUTHENTICATION_FAILED, false, "SASL authentication failed";
      59, UNKNOWN_PRODUCER_ID, false, "the broker has no state for this producer id";
      60, REASSIGNMENT_IN_PROGRESS, false, "a partition reassignment is in progress";
      61, DELEGATION_TOKEN_AUTH_DISABLED, false, "delegation tokens are not enabled";
      62, DELEGATION_TOKEN_NOT_FOUND, false, "the delegation token was not found";
      63, DELEGATION_TOKEN_OWNER_MISMATCH, false, "the principal is not the token's owner or renewer";
      64, DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, false, "delegation token requests are not allowed on this channel";
      65, DELEGATION_TOKEN_AUTHORIZATION_FAILED, false, "not authorized for the delegation token";
      66, DELEGATION_TOKEN_EXPIRED, false, "the delegation token has expired";
      67, INVALID_PRINCIPAL_TYPE, false, "the principal type is not supported";
      68, NON_EMPTY_GROUP, false, "the group still has members";
      69, GROUP_ID_NOT_FOUND, false, "the group does not exist";
      70, FETCH_SESSION_ID_NOT_FOUND, true, "the fetch session was not found";
      71, INVALID_FETCH_SESSION_EPOCH, true, "the fetch session epoch is not valid";
      72, LISTENER_NOT_FOUND, true, "the leader has no listener matching this connection's";
      73, TOPIC_DELETION_DISABLED, false, "topic deletion is disabled";
      74, FENCED_LEADER_EPOCH, true, "the request's leader epoch is older than the broker's";
      75, UNKNOWN_LEADER_EPOCH, true, "the request's leader epoch is newer than the broker's";
      76, UNSUPPORTED_COMPRESSION_TYPE, false, "the client does not support the partition's compression type";
      77, STALE_BROKER_EPOCH, false, "the broker epoch has changed";
      78, OFFSET_NOT_AVAILABLE, true, "the leader's high watermark has not caught up after an election";
      79, MEMBER_ID_REQUIRED, false, "the member needs a member id before joining";
      80, PREFERRED_LEADER_NOT_AVAILABLE, true, "the preferred leader is not available";
      81, GROUP_MAX_SIZE_REACHED, false, "the group has reached its maximum size";
      82, FENCED_INSTANCE_ID, false, "another member with the same group instance id fenced this one";
      83, ELIGIBLE_LEADERS_NOT_AVAILABLE, true, "no eligible leaders are available";
      84, ELECTION_NOT_NEEDED, true, "no leader election is needed";
      85, NO_REASSIGNMENT_IN_PROGRESS, false, "no partition reassignment is in progress";
      86, GROUP_SUBSCRIBED_TO_TOPIC, false, "cannot delete offsets of a topic the group is subscribed to";
      87, INVALID_RECORD, false, "the broker rejected a record in validation";
      88, UNSTABLE_OFFSET_COMMIT, true, "offsets are unstable until pending transactions complete";
      89, THROTTLING_QUOTA_EXCEEDED, true, "the throttling quota was exceeded";
      90, PRODUCER_FENCED, false, "a newer producer with the same transactional id has fenced this one";
      91, RESOURCE_NOT_FOUND, false, "the resource does not exist";
      92, DUPLICATE_RESOURCE, false, "the same resource appears twice in the request";
      93, UNACCEPTABLE_CREDENTIAL, false, "the credential does not meet the acceptance criteria";
      94, INCONSISTENT_VOTER_SET, false, "the voter set is inconsistent";
      95, INVALID_UPDATE_VERSION, false, "the update version is not valid";
      96, FEATURE_UPDATE_FAILED, false, "finalized features could not be updated";
      97, PRINCIPAL_DESERIALIZATION_FAILURE, false, "the forwarded request's principal could not be deserialized";
      98, SNAPSHOT_NOT_FOUND, false, "the snapshot was not found";
     100, UNKNOWN_TOPIC_ID, true, "the broker does not host this topic id";
     101, DUPLICATE_BROKER_REGISTRATION, false, "the broker id is already registered";
     102, BROKER_ID_NOT_REGISTERED, false, "the broker id is not registered";
     103, INCONSISTENT_TOPIC_ID, true, "the topic id does not match the log's";
     104, INCONSISTENT_CLUSTER_ID, false, "the cluster id does not match the server's";
     105, TRANSACTIONAL_ID_NOT_FOUND, false, "the transactional id was not found";
     106, FETCH_SESSION_TOPIC_ID_ERROR, true, "the fetch session used topic ids inconsistently";
     107, INELIGIBLE_REPLICA, false, "the new ISR contains an ineligible replica";
     108, NEW_LEADER_ELECTED, false, "the partition state was updated but another leader was elected";
     109, OFFSET_MOVED_TO_TIERED_STORAGE, false, "the offset has moved to tiered storage";
     110, FENCED_MEMBER_EPOCH, false, "the member epoch has been fenced by the group coordinator";
     111, UNRELEASED_INSTANCE_ID, false, "the group instance id is still in use by another member";
     112, UNSUPPORTED_ASSIGNOR, false, "the assignor or its version is not supported";
     113, STALE_MEMBER_EPOCH, false, "the member epoch is stale";
     114, MISMATCHED_ENDPOINT_TYPE, false, "the request went to an endpoint of the wrong type";
     115, UNSUPPORTED_ENDPOINT_TYPE, false, "this endpoint type is not supported";
     116, UNKNOWN_CONTROLLER_ID, false, "the controller id is not known";
     117, UNKNOWN_SUBSCRIPTION_ID, false, "the telemetry subscription id is unknown or outdated";
     118, TELEMETRY_TOO_LARGE, false, "the telemetry payload is too large";
     119, INVALID_REGISTRATION, false, "the broker registration is not valid";
     120, TRANSACTION_ABORTABLE, false, "the transaction failed; abort it and try again";
     121, INVALID_RECORD_STATE, false, "the record state does not allow this acknowledgement";
     122, SHARE_SESSION_NOT_FOUND, true, "the share session was not found";
     123, INVALID_SHARE_SESSION_EPOCH, true, "the share session epoch is not valid";
     124, FENCED_STATE_EPOCH, false, "the share group state epoch has been fenced";
     125, INVALID_VOTER_KEY, false, "the voter key does not match the replica";
     126, DUPLICATE_VOTER, false, "the voter is already in the voter set";
     127, VOTER_NOT_FOUND, false, "the voter is not in the voter set";
     128, INVALID_REGULAR_EXPRESSION, false, "the regular expression is not valid";
}

impl ErrorCode {
    /// Kafka's name of the code (`"NOT_LEADER_OR_FOLLOWER"`), or `None` for a
    /// code this table does not know.
    pub const fn name(self) -> Option<&'static str> {
        match lookup(self.0) {
            Some((name, _, _)) => Some(name),
            None => None,
        }
    }

    /// Whether a request that failed with this code may succeed if sent again
    /// (possibly after refreshing metadata). Unknown codes are not retriable.
    pub const fn is_retriable(self) -> bool {
        match lookup(self.0) {
            Some((_, retriable, _)) => retriable,
            None => false,
        }
    }

    /// Whether this code means the client's view of partition leadership is
    /// out of date: the request should go again after a metadata refresh
    /// (Java's `InvalidMetadataException` family, plus the replica and storage
    /// errors that a leader change usually resolves).
    pub const fn is_stale_metadata(self) -> bool {
        matches!(
            self,
            ErrorCode::NOT_LEADER_OR_FOLLOWER
                | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                | ErrorCode::LEADER_NOT_AVAILABLE
                | ErrorCode::FENCED_LEADER_EPOCH
                | ErrorCode::UNKNOWN_LEADER_EPOCH
                | ErrorCode::KAFKA_STORAGE_ERROR
                | ErrorCode::NOT_ENOUGH_REPLICAS
                | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
        )
    }

    /// Whether this is `NONE` (success).
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// Whether this is an error (anything but `NONE`).
    pub const fn is_err(self) -> bool {
        self.0 != 0
    }

    /// Whether the table knows this code.
    pub const fn is_known(self) -> bool {
        lookup(self.0).is_some()
    }

    /// A short description in purekafka's words, or `None` for an unknown code.
    pub const fn description(self) -> Option<&'static str> {
        match lookup(self.0) {
            Some((_, _, desc)) => Some(desc),
            None => None,
        }
    }

    /// `Ok(())` for `NONE`, `Err(self)` otherwise.
    pub const fn ok(self) -> Result<(), ErrorCode> {
        if self.is_ok() { Ok(()) } else { Err(self) }
    }

    /// The code with Kafka's name `name`, if the table has it.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.name() == Some(name))
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode(code)
    }
}

impl From<ErrorCode> for i16 {
    fn from(code: ErrorCode) -> Self {
        code.0
    }
}

impl fmt::Display for ErrorCode {
    /// `NOT_LEADER_OR_FOLLOWER (6)`, or `UNKNOWN_CODE(1234)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "UNKNOWN_CODE({})", self.0),
        }
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorCode({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    /// Kafka's list of error codes in the shared reference folder.
    fn reference_path() -> PathBuf {
        match std::env::var_os("PUREKAFKA_SHARED") {
            Some(dir) => PathBuf::from(dir).join("kafka-docs/error-codes.json"),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/kafka-docs/error-codes.json"),
        }
    }

    #[test]
    fn error_codes_match_kafka() {
        let path = reference_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "reading {}: {e} (set PUREKAFKA_SHARED to the shared folder)",
                path.display()
            )
        });
        let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let mut expected = BTreeMap::new();
        for e in &entries {
            let code = i16::try_from(e["code"].as_i64().unwrap()).unwrap();
            let name = e["name"].as_str().unwrap().to_string();
            // `null` (for NONE) means "not an error, so not retriable".
            let retriable = e["retriable"].as_bool().unwrap_or(false);
            assert!(
                expected.insert(code, (name, retriable)).is_none(),
                "duplicate code {code} in reference"
            );
        }
        assert!(expected.len() > 100, "reference list looks truncated");

        let mut problems = Vec::new();
        for (&code, (name, retriable)) in &expected {
            let c = ErrorCode(code);
            match c.name() {
                None => problems.push(format!("missing code {code} {name}")),
                Some(n) if n != name => {
                    problems.push(format!("code {code}: name {n}, Kafka says {name}"))
                }
                Some(_) => {}
            }
            if c.is_retriable() != *retriable {
                problems.push(format!(
                    "code {code} {name}: retriable {}, Kafka says {retriable}",
                    c.is_retriable()
                ));
            }
        }
        for c in ErrorCode::ALL {
            if !expected.contains_key(&c.0) {
                problems.push(format!(
                    "code {} {:?} is not in Kafka's list",
                    c.0,
                    c.name()
                ));
            }
        }
        assert!(
            problems.is_empty(),
            "error code table differs from {}:\n{}",
            path.display(),
            problems.join("\n")
        );
    }

    #[test]
    fn table_is_sorted_and_unique() {
        for w in ErrorCode::ALL.windows(2) {
            assert!(w[0].0 < w[1].0, "{:?} before {:?}", w[0], w[1]);
        }
    }

    #[test]
    fn names_display_and_unknown_codes() {
        assert_eq!(ErrorCode::NONE, ErrorCode(0));
        assert!(ErrorCode::NONE.is_ok());
        assert_eq!(ErrorCode::NONE.ok(), Ok(()));
        assert_eq!(ErrorCode::UNKNOWN_SERVER_ERROR.0, -1);
        assert_eq!(
            ErrorCode::NOT_LEADER_OR_FOLLOWER.name(),
            Some("NOT_LEADER_OR_FOLLOWER")
        );
        assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
        assert!(!ErrorCode::TOPIC_AUTHORIZATION_FAILED.is_retriable());
        assert_eq!(
            ErrorCode::NOT_LEADER_OR_FOLLOWER.to_string(),
            "NOT_LEADER_OR_FOLLOWER (6)"
        );
        assert_eq!(
            format!("{:?}", ErrorCode(3)),
            "ErrorCode(UNKNOWN_TOPIC_OR_PARTITION (3))"
        );
        let unknown = ErrorCode(1234);
        assert_eq!(unknown.name(), None);
        assert!(!unknown.is_retriable());
        assert!(!unknown.is_known());
        assert_eq!(unknown.to_string(), "UNKNOWN_CODE(1234)");
        assert_eq!(unknown.ok(), Err(ErrorCode(1234)));
        assert_eq!(
            ErrorCode::from_name("REBALANCE_IN_PROGRESS"),
            Some(ErrorCode::REBALANCE_IN_PROGRESS)
        );
        assert!(
            ErrorCode::ALL
                .iter()
                .all(|c| c.description().is_some_and(|d| !d.is_empty()))
        );
    }
}
