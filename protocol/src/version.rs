//! Version negotiation: which version of each API to speak with a broker.
//!
//! Our supported range per API is data ([`ApiKey::versions`], generated from
//! the definitions). A broker's ranges come from its ApiVersions response; the
//! version used is the highest both sides speak.

use crate::codec::{Message, VersionRange};
use crate::error::DecodeError;
use crate::messages::{ApiKey, ApiVersionsResponse};
use bytes::Bytes;
use std::fmt;

/// Kafka's UNSUPPORTED_VERSION error code.
const UNSUPPORTED_VERSION: i16 = 35;

impl ApiKey {
    /// Versions purekafka offers by default: all it can encode, less an
    /// unstable newest version (one the broker may still change).
    pub const fn usable_versions(self) -> VersionRange {
        let v = self.versions();
        if self.latest_version_unstable() && v.max > v.min {
            VersionRange::new(v.min, v.max - 1)
        } else {
            v
        }
    }
}

/// The highest version in both `ours` and `theirs`, if any.
pub fn highest_common(ours: VersionRange, theirs: VersionRange) -> Option<i16> {
    let r = ours.intersect(theirs);
    if r.is_empty() { None } else { Some(r.max) }
}

/// No version of an API is spoken by both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoCommonVersion {
    /// The API.
    pub api: ApiKey,
    /// What purekafka speaks.
    pub ours: VersionRange,
    /// What the broker speaks, or `None` if it does not list the API.
    pub broker: Option<VersionRange>,
}

impl fmt::Display for NoCommonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.broker {
            None => write!(
                f,
                "the broker does not support {} (API key {})",
                self.api.name(),
                self.api as i16
            ),
            Some(b) => write!(
                f,
                "no common version of {}: purekafka speaks {}-{}, the broker {}-{}",
                self.api.name(),
                self.ours.min,
                self.ours.max,
                b.min,
                b.max
            ),
        }
    }
}

impl std::error::Error for NoCommonVersion {}

/// The API versions a broker announced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerVersions {
    /// Indexed by API key; `None` where the broker did not list the key.
    ranges: Vec<Option<VersionRange>>,
    /// Finalized features (ApiVersions v3+): name and max version level.
    finalized: Vec<(String, i16)>,
}

impl BrokerVersions {
    /// Reads the ranges from an ApiVersions response.
    pub fn from_response(resp: &ApiVersionsResponse) -> Self {
        let mut ranges = Vec::new();
        for k in &resp.api_keys {
            let Ok(idx) = usize::try_from(k.api_key) else {
                continue;
            };
            if idx >= 1024 {
                continue;
            }
            if ranges.len() <= idx {
                ranges.resize(idx + 1, None);
            }
            if let Some(slot) = ranges.get_mut(idx) {
                *slot = Some(VersionRange::new(k.min_version, k.max_version));
            }
        }
        let finalized = resp
            .finalized_features
            .iter()
            .map(|f| (f.name.clone(), f.max_version_level))
            .collect();
        BrokerVersions { ranges, finalized }
    }

    /// The finalized level of a cluster feature (`transaction.version`,
    /// `group.version`, ...), if the broker reported it (ApiVersions v3+).
    pub fn finalized_feature(&self, name: &str) -> Option<i16> {
        self.finalized
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, level)| level)
    }

    /// The broker's range for `api`, if it listed the API.
    pub fn range(&self, api: ApiKey) -> Option<VersionRange> {
        self.ranges.get(api as usize).copied().flatten()
    }

    /// The version to use for `api`: the highest both sides speak.
    pub fn negotiate(&self, api: ApiKey) -> Result<i16, NoCommonVersion> {
        let ours = api.usable_versions();
        let broker = self.range(api);
        broker
            .and_then(|b| highest_common(ours, b))
            .ok_or(NoCommonVersion { api, ours, broker })
    }
}

/// What to do with an ApiVersions response.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiVersionsOutcome {
    /// The broker answered at the requested version.
    Supported(ApiVersionsResponse),
    /// The broker does not speak the requested version: send ApiVersions
    /// again at `retry_version` (what the broker listed for ApiVersions, or
    /// v0), as the Java client and librdkafka do.
    Retry {
        /// The version to retry with.
        retry_version: i16,
    },
}

/// Decodes an ApiVersions response body to a request sent at `version`.
///
/// A broker that does not speak `version` answers UNSUPPORTED_VERSION in the
/// v0 layout (it cannot know the flexible encoding the client asked for);
/// that answer becomes [`ApiVersionsOutcome::Retry`].
pub fn decode_api_versions(body: Bytes, version: i16) -> Result<ApiVersionsOutcome, DecodeError> {
    let error = body.first_chunk::<2>().map(|&b| i16::from_be_bytes(b));
    if error == Some(UNSUPPORTED_VERSION) && version > 0 {
        // Brokers list their ApiVersions range in the v0 layout. Some (the
        // librdkafka mock cluster) send a body no version can parse: then v0,
        // which every broker speaks.
        let ours = ApiKey::ApiVersions.versions();
        let retry_version = ApiVersionsResponse::decode(&mut body.clone(), 0)
            .ok()
            .and_then(|v0| BrokerVersions::from_response(&v0).range(ApiKey::ApiVersions))
            .and_then(|b| highest_common(ours, b))
            .filter(|v| *v < version)
            .unwrap_or(0);
        return Ok(ApiVersionsOutcome::Retry { retry_version });
    }
    Ok(ApiVersionsOutcome::Supported(
        ApiVersionsResponse::decode_exact(body, version)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::api_versions_response::ApiVersion;
    use bytes::BytesMut;

    fn resp(keys: &[(i16, i16, i16)]) -> ApiVersionsResponse {
        ApiVersionsResponse {
            api_keys: keys
                .iter()
                .map(|&(api_key, min_version, max_version)| ApiVersion {
                    api_key,
                    min_version,
                    max_version,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn negotiates_the_highest_common_version() {
        let b = BrokerVersions::from_response(&resp(&[(0, 0, 11), (1, 0, 100), (3, 0, 2)]));
        assert_eq!(b.negotiate(ApiKey::Produce), Ok(11));
        assert_eq!(b.negotiate(ApiKey::Fetch), Ok(ApiKey::Fetch.versions().max));
        // Metadata: broker 0-2, we 0-13.
        assert_eq!(b.negotiate(ApiKey::Metadata), Ok(2));
        let e = b.negotiate(ApiKey::JoinGroup).unwrap_err();
        assert_eq!(e.broker, None);
        assert!(e.to_string().contains("does not support JoinGroup"));
        // Broker too old for our floor (Produce v3 since Kafka 4.0).
        let old = BrokerVersions::from_response(&resp(&[(0, 0, 2)]));
        assert!(
            old.negotiate(ApiKey::Produce)
                .unwrap_err()
                .to_string()
                .contains("no common version of Produce")
        );
    }

    #[test]
    fn unstable_latest_versions_are_not_offered() {
        for api in ApiKey::ALL {
            let u = api.usable_versions();
            if api.latest_version_unstable() && api.versions().max > api.versions().min {
                assert_eq!(u.max, api.versions().max - 1, "{api:?}");
            } else {
                assert_eq!(u, api.versions(), "{api:?}");
            }
        }
    }

    #[test]
    fn unsupported_api_versions_falls_back() {
        // The mock cluster answers v3+ with UNSUPPORTED_VERSION in the v0 layout,
        // listing ApiVersions 0-2.
        let mut r = resp(&[(18, 0, 2)]);
        r.error_code = UNSUPPORTED_VERSION;
        let mut buf = BytesMut::new();
        r.encode(&mut buf, 0).unwrap();
        assert_eq!(
            decode_api_versions(buf.freeze(), 4).unwrap(),
            ApiVersionsOutcome::Retry { retry_version: 2 }
        );
        // Nothing listed: v0.
        let mut r = resp(&[]);
        r.error_code = UNSUPPORTED_VERSION;
        let mut buf = BytesMut::new();
        r.encode(&mut buf, 0).unwrap();
        assert_eq!(
            decode_api_versions(buf.freeze(), 3).unwrap(),
            ApiVersionsOutcome::Retry { retry_version: 0 }
        );
        // librdkafka 2.16's mock cluster: error 35 and a body no version parses.
        let body = Bytes::from_static(&[0, 35, 1, 0, 18, 0, 0, 0, 2, 0, 0, 0, 0]);
        assert_eq!(
            decode_api_versions(body, 3).unwrap(),
            ApiVersionsOutcome::Retry { retry_version: 0 }
        );
        // A normal v3 answer.
        let r = resp(&[(0, 3, 11)]);
        let mut buf = BytesMut::new();
        r.encode(&mut buf, 3).unwrap();
        assert_eq!(
            decode_api_versions(buf.freeze(), 3).unwrap(),
            ApiVersionsOutcome::Supported(r)
        );
    }
}
