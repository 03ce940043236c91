//! Decode and encode errors.
//!
//! A decoder never panics on what the network sent: every malformed input is a
//! [`DecodeError`] that says what was wrong ([`DecodeErrorKind`]) and where (the
//! path of fields being decoded, outermost first).

use std::fmt;

/// What was malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Fewer bytes were present than the value needs.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        remaining: usize,
    },
    /// A length or count was negative where null is not allowed.
    NegativeLength(i64),
    /// A length or count claims more than the bytes present.
    LengthTooLarge {
        /// The claimed length (or element count).
        length: u64,
        /// Bytes present.
        remaining: usize,
    },
    /// An array's count needs more bytes than are present, even at the
    /// fewest bytes each element can take.
    ArrayTooLong {
        /// The claimed element count.
        count: u64,
        /// The fewest bytes one element takes.
        min_element: usize,
        /// Bytes present.
        remaining: usize,
    },
    /// Decoding would allocate more than the input justifies (see
    /// `DecodeBudget`): the peer sent a message of far more, far smaller
    /// values than Kafka sends.
    MemoryLimit {
        /// Bytes the decode would have allocated.
        needed: usize,
        /// The most it may allocate.
        limit: usize,
        /// The input's size.
        input: usize,
    },
    /// A variable-length integer ran past its maximum size.
    InvalidVarint,
    /// A string was not valid UTF-8.
    InvalidUtf8,
    /// A null value where the version does not allow one.
    NullNotAllowed,
    /// A nullable-struct marker other than -1 or 1.
    InvalidStructMarker(i8),
    /// A boolean byte other than 0 or 1 is accepted as true by Kafka; kept for
    /// other single-byte enumerations.
    InvalidValue(&'static str),
    /// The message or API does not exist at this version.
    UnsupportedVersion {
        /// Message name.
        message: &'static str,
        /// Requested version.
        version: i16,
        /// Lowest version we speak.
        min: i16,
        /// Highest version we speak.
        max: i16,
    },
    /// An API key purekafka does not know.
    UnknownApi(i16),
    /// A frame larger than the configured maximum.
    FrameTooLarge {
        /// Size claimed by the frame.
        size: i64,
        /// Configured limit.
        max: usize,
    },
    /// Bytes left over after a complete value.
    TrailingBytes(usize),
    /// A record batch or message set failed its checksum.
    CrcMismatch {
        /// Checksum stored in the batch.
        stored: u32,
        /// Checksum computed over the bytes.
        computed: u32,
    },
    /// A record batch with a magic byte we cannot read.
    UnsupportedMagic(i8),
    /// A record or batch was malformed.
    InvalidRecord(&'static str),
    /// A compressed payload could not be decompressed.
    Compression(String),
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeErrorKind::Truncated { needed, remaining } => {
                write!(f, "truncated: needs {needed} bytes, {remaining} present")
            }
            DecodeErrorKind::NegativeLength(n) => write!(f, "negative length {n}"),
            DecodeErrorKind::LengthTooLarge { length, remaining } => {
                write!(f, "length {length} exceeds the {remaining} bytes present")
            }
            DecodeErrorKind::ArrayTooLong {
                count,
                min_element,
                remaining,
            } => write!(
                f,
                "an array of {count} elements needs at least {} bytes, only {remaining} available",
                count.saturating_mul(*min_element as u64)
            ),
            DecodeErrorKind::MemoryLimit {
                needed,
                limit,
                input,
            } => write!(
                f,
                "decoding {input} bytes would allocate {needed} bytes, over the limit of {limit}; \
                 the peer's message is malformed or hostile (no Kafka message is this dense)"
            ),
            DecodeErrorKind::InvalidVarint => write!(f, "invalid varint (too long)"),
            DecodeErrorKind::InvalidUtf8 => write!(f, "string is not valid UTF-8"),
            DecodeErrorKind::NullNotAllowed => {
                write!(f, "null where this version does not allow null")
            }
            DecodeErrorKind::InvalidStructMarker(m) => {
                write!(f, "invalid nullable-struct marker {m}")
            }
            DecodeErrorKind::InvalidValue(what) => write!(f, "invalid value: {what}"),
            DecodeErrorKind::UnsupportedVersion {
                message,
                version,
                min,
                max,
            } => {
                write!(
                    f,
                    "{message} has no version {version} (supported {min}-{max})"
                )
            }
            DecodeErrorKind::UnknownApi(k) => write!(f, "unknown API key {k}"),
            DecodeErrorKind::FrameTooLarge { size, max } => {
                write!(f, "frame of {size} bytes exceeds the maximum {max}")
            }
            DecodeErrorKind::TrailingBytes(n) => {
                write!(f, "{n} unexpected bytes after the end of the message")
            }
            DecodeErrorKind::CrcMismatch { stored, computed } => {
                write!(
                    f,
                    "CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
            DecodeErrorKind::UnsupportedMagic(m) => write!(f, "unsupported record batch magic {m}"),
            DecodeErrorKind::InvalidRecord(what) => write!(f, "invalid record: {what}"),
            DecodeErrorKind::Compression(what) => write!(f, "decompression failed: {what}"),
        }
    }
}

/// A malformed input, with the path of what was being decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    /// Innermost first; reversed for display.
    path: Vec<&'static str>,
}

impl DecodeError {
    /// A new error of `kind` with no path yet.
    pub fn new(kind: DecodeErrorKind) -> Self {
        DecodeError {
            kind,
            path: Vec::new(),
        }
    }

    /// Adds the name of the enclosing field (called while unwinding).
    #[must_use]
    pub fn field(mut self, name: &'static str) -> Self {
        self.path.push(name);
        self
    }

    /// What was malformed.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// Where: field names from the outermost in, joined by dots.
    pub fn path(&self) -> String {
        let mut parts: Vec<&str> = self.path.clone();
        parts.reverse();
        parts.join(".")
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.path(), self.kind)
        }
    }
}

impl std::error::Error for DecodeError {}

impl From<DecodeErrorKind> for DecodeError {
    fn from(kind: DecodeErrorKind) -> Self {
        DecodeError::new(kind)
    }
}

/// A value that cannot be encoded at the requested version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message does not exist at this version.
    #[error("{message} has no version {version} (supported {min}-{max})")]
    UnsupportedVersion {
        /// Message name.
        message: &'static str,
        /// Requested version.
        version: i16,
        /// Lowest supported.
        min: i16,
        /// Highest supported.
        max: i16,
    },
    /// A field is null where the version does not allow null.
    #[error("{field} is null, which version {version} does not allow")]
    NullField {
        /// Field path.
        field: &'static str,
        /// Version being encoded.
        version: i16,
    },
    /// A field set to a value other than its default at a version that
    /// does not have it (Java's `UnsupportedVersionException`); only fields
    /// Kafka marks ignorable are dropped silently instead.
    #[error(
        "{message} version {version} cannot carry {field}, which is set; it needs a version that has it"
    )]
    UnsupportedField {
        /// Message name.
        message: &'static str,
        /// Field path (`JoinGroupRequest.GroupInstanceId`).
        field: &'static str,
        /// Version being encoded.
        version: i16,
    },
    /// A string, byte array or array is longer than the wire format allows.
    #[error("{what} is too long for the wire format ({len})")]
    TooLong {
        /// What was too long.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// Too many items for a count field.
    #[error("too many {0}")]
    TooMany(&'static str),
    /// A record batch could not be built.
    #[error("invalid record batch: {0}")]
    InvalidBatch(String),
}

impl EncodeError {
    /// A null in a non-nullable field.
    pub fn null_field(field: &'static str, version: i16) -> Self {
        EncodeError::NullField { field, version }
    }

    /// A non-default value in a field `version` of `message` does not have.
    pub fn unsupported_field(message: &'static str, field: &'static str, version: i16) -> Self {
        EncodeError::UnsupportedField {
            message,
            field,
            version,
        }
    }

    /// A count that does not fit.
    pub fn too_many(what: &'static str) -> Self {
        EncodeError::TooMany(what)
    }
}
