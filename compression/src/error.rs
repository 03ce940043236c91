use crate::Compression;

/// Boxed cause of a [`Error::Corrupt`] or [`Error::Compress`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while choosing, compressing or decompressing a codec.
///
/// Every variant that concerns a codec names it, so a log line such as
/// `corrupt snappy data: xerial block 3 is truncated` is enough to tell which
/// peer wrote what.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The codec bits (`attributes & 0x07`) of a record batch are 5, 6 or 7.
    #[error(
        "unknown compression codec id {0} in record batch attributes \
         (known: 0=none, 1=gzip, 2=snappy, 3=lz4, 4=zstd)"
    )]
    UnknownCodec(i16),

    /// A `compression.type` string that is none of the accepted names.
    #[error("unknown compression.type {name:?}; accepted values: none, gzip, snappy, lz4, zstd")]
    UnknownName {
        /// The rejected input, as given.
        name: String,
    },

    /// A compression level outside what the codec accepts.
    #[error("invalid {codec} compression level {level}: {valid}")]
    InvalidLevel {
        /// The codec the level was given for.
        codec: Compression,
        /// The rejected level.
        level: i32,
        /// Human-readable description of the accepted levels, e.g. `"valid levels are 1..=9"`.
        valid: &'static str,
    },

    /// The input is not a valid stream of this codec (bad header, checksum,
    /// truncation, trailing garbage, ...).
    #[error("corrupt {codec} data: {source}")]
    Corrupt {
        /// The codec whose decoder rejected the input.
        codec: Compression,
        /// What exactly was wrong.
        #[source]
        source: BoxError,
    },

    /// The decompressed output would exceed the caller's `max_size`
    /// (a decompression bomb, or simply a batch larger than allowed).
    #[error("{codec} data decompresses to more than the {limit}-byte limit")]
    TooLarge {
        /// The codec being decompressed.
        codec: Compression,
        /// The `max_size` that was exceeded.
        limit: usize,
    },

    /// The encoder itself failed (should not happen with in-memory buffers).
    #[error("{codec} compression failed: {source}")]
    Compress {
        /// The codec that failed.
        codec: Compression,
        /// The encoder's error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    pub(crate) fn corrupt(codec: Compression, source: impl Into<BoxError>) -> Self {
        Error::Corrupt {
            codec,
            source: source.into(),
        }
    }

    pub(crate) fn compress(codec: Compression, source: impl Into<BoxError>) -> Self {
        Error::Compress {
            codec,
            source: source.into(),
        }
    }

    /// The codec this error is about, if it is about one.
    pub fn codec(&self) -> Option<Compression> {
        match self {
            Error::UnknownCodec(_) | Error::UnknownName { .. } => None,
            Error::InvalidLevel { codec, .. }
            | Error::Corrupt { codec, .. }
            | Error::TooLarge { codec, .. }
            | Error::Compress { codec, .. } => Some(*codec),
        }
    }
}
