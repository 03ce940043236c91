//! Control records: the transaction markers in control batches.
//!
//! Key: `version: int16, type: int16` (0 abort, 1 commit; KRaft uses further
//! types in its own logs). Value of abort/commit markers: `version: int16,
//! coordinator_epoch: int32`; later versions may append fields, which are
//! ignored.

use super::Record;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::primitives::{get_i16, get_i32};
use bytes::Bytes;

/// What a control record marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// The producer's transaction was aborted: drop its records (with
    /// `isolation.level=read_committed`).
    Abort,
    /// The producer's transaction was committed.
    Commit,
    /// Another type (e.g. KRaft's leader-change and snapshot markers).
    Other(i16),
}

impl ControlRecordType {
    /// From the key's type field.
    pub const fn from_i16(t: i16) -> Self {
        match t {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            t => ControlRecordType::Other(t),
        }
    }

    /// The key's type field.
    pub const fn as_i16(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::Other(t) => t,
        }
    }
}

/// A decoded control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRecord {
    /// Key schema version (0 today).
    pub version: i16,
    /// Abort, commit or another marker.
    pub kind: ControlRecordType,
    /// For abort/commit markers, the epoch of the transaction coordinator
    /// that wrote it; -1 for other types (whose value is not interpreted).
    pub coordinator_epoch: i32,
}

impl ControlRecord {
    /// Current key and marker-value version.
    pub const CURRENT_VERSION: i16 = 0;

    /// An abort or commit marker.
    pub const fn marker(commit: bool, coordinator_epoch: i32) -> ControlRecord {
        ControlRecord {
            version: Self::CURRENT_VERSION,
            kind: if commit {
                ControlRecordType::Commit
            } else {
                ControlRecordType::Abort
            },
            coordinator_epoch,
        }
    }

    /// Decodes the control record from a record of a control batch.
    pub fn from_record(record: &Record) -> Result<ControlRecord, DecodeError> {
        Self::parse(record.key.as_ref(), record.value.as_ref())
    }

    /// Decodes a control record from its key and value.
    pub fn parse(key: Option<&Bytes>, value: Option<&Bytes>) -> Result<ControlRecord, DecodeError> {
        let mut key = key
            .cloned()
            .ok_or_else(|| invalid("control record without a key").field("key"))?;
        let version = get_i16(&mut key).map_err(|e| e.field("key"))?;
        if version < 0 {
            return Err(invalid("negative control record version").field("key"));
        }
        let kind = ControlRecordType::from_i16(get_i16(&mut key).map_err(|e| e.field("key"))?);
        let coordinator_epoch = match kind {
            ControlRecordType::Abort | ControlRecordType::Commit => {
                let mut value = value
                    .cloned()
                    .ok_or_else(|| invalid("transaction marker without a value").field("value"))?;
                let _marker_version = get_i16(&mut value).map_err(|e| e.field("value"))?;
                get_i32(&mut value).map_err(|e| e.field("value"))?
            }
            ControlRecordType::Other(_) => -1,
        };
        Ok(ControlRecord {
            version,
            kind,
            coordinator_epoch,
        })
    }

    /// The record key: version and type.
    pub fn key_bytes(&self) -> [u8; 4] {
        let [a, b] = self.version.to_be_bytes();
        let [c, d] = self.kind.as_i16().to_be_bytes();
        [a, b, c, d]
    }

    /// The record value of an abort/commit marker: version and coordinator epoch.
    pub fn value_bytes(&self) -> [u8; 6] {
        let [a, b] = Self::CURRENT_VERSION.to_be_bytes();
        let [c, d, e, f] = self.coordinator_epoch.to_be_bytes();
        [a, b, c, d, e, f]
    }
}

fn invalid(what: &'static str) -> DecodeError {
    DecodeError::new(DecodeErrorKind::InvalidRecord(what))
}
