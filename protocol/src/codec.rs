//! The runtime the generated message code calls: the [`Codec`] trait for
//! every wire type, arrays, nullable values, tagged fields, and the
//! [`Message`], [`Request`] and [`Response`] traits.

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::primitives::*;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::fmt::Debug;

/// An inclusive range of versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

impl VersionRange {
    /// `min..=max` (empty when `min > max`).
    pub const fn new(min: i16, max: i16) -> Self {
        VersionRange { min, max }
    }

    /// Whether `v` is in the range.
    pub const fn contains(&self, v: i16) -> bool {
        v >= self.min && v <= self.max
    }

    /// Whether the range is empty.
    pub const fn is_empty(&self) -> bool {
        self.min > self.max
    }

    /// The versions in both ranges.
    pub fn intersect(&self, other: VersionRange) -> VersionRange {
        VersionRange::new(self.min.max(other.min), self.max.min(other.max))
    }

    /// Iterates the versions.
    pub fn iter(&self) -> impl Iterator<Item = i16> + use<> {
        self.min..=self.max
    }
}

/// A tagged field kept as raw bytes and written back unchanged: a tag this
/// version of purekafka does not know, or a known tag a peer sent explicitly
/// with its default value (which Kafka's encoder would omit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTaggedField {
    /// The tag number.
    pub tag: u32,
    /// The field's raw bytes.
    pub data: Bytes,
}

/// A value with a wire form that may depend on the version and on whether the
/// version is flexible (compact strings and arrays, tagged fields).
pub trait Codec: Sized {
    /// Appends the value.
    fn write(&self, buf: &mut BytesMut, version: i16, flex: bool) -> Result<(), EncodeError>;
    /// Reads a value, advancing `buf`.
    fn read(buf: &mut Bytes, version: i16, flex: bool) -> Result<Self, DecodeError>;
    /// The fewest bytes one value can take (used to reject impossible counts).
    const MIN_SIZE: usize = 1;
}

/// A type whose values may be null in some versions.
pub trait Nullable: Codec {
    /// Writes `None` as null. Structs use Kafka's int8 marker (-1 null, 1 present).
    fn write_option(
        v: Option<&Self>,
        buf: &mut BytesMut,
        version: i16,
        flex: bool,
    ) -> Result<(), EncodeError> {
        match v {
            None => buf.put_i8(-1),
            Some(v) => {
                buf.put_i8(1);
                v.write(buf, version, flex)?;
            }
        }
        Ok(())
    }
    /// Reads a possibly-null value.
    fn read_option(buf: &mut Bytes, version: i16, flex: bool) -> Result<Option<Self>, DecodeError> {
        match get_i8(buf)? {
            -1 => Ok(None),
            1 => Self::read(buf, version, flex).map(Some),
            m => Err(DecodeErrorKind::InvalidStructMarker(m).into()),
        }
    }
}

macro_rules! fixed_codec {
    ($($t:ty: $get:ident, $put:ident, $n:expr;)*) => {$(
        impl Codec for $t {
            #[inline]
            fn write(&self, buf: &mut BytesMut, _: i16, _: bool) -> Result<(), EncodeError> {
                buf.$put(*self);
                Ok(())
            }
            #[inline]
            fn read(buf: &mut Bytes, _: i16, _: bool) -> Result<Self, DecodeError> {
                $get(buf)
            }
            const MIN_SIZE: usize = $n;
        }
    )*};
}

fixed_codec! {
    i8: get_i8, put_i8, 1;
    i16: get_i16, put_i16, 2;
    u16: get_u16, put_u16, 2;
    i32: get_i32, put_i32, 4;
    u32: get_u32, put_u32, 4;
    i64: get_i64, put_i64, 8;
    f64: get_f64, put_f64, 8;
}

impl Codec for bool {
    #[inline]
    fn write(&self, buf: &mut BytesMut, _: i16, _: bool) -> Result<(), EncodeError> {
        buf.put_u8(u8::from(*self));
        Ok(())
    }
    #[inline]
    fn read(buf: &mut Bytes, _: i16, _: bool) -> Result<Self, DecodeError> {
        get_bool(buf)
    }
}

impl Codec for Uuid {
    fn write(&self, buf: &mut BytesMut, _: i16, _: bool) -> Result<(), EncodeError> {
        buf.put_slice(&self.0);
        Ok(())
    }
    fn read(buf: &mut Bytes, _: i16, _: bool) -> Result<Self, DecodeError> {
        get_uuid(buf)
    }
    const MIN_SIZE: usize = 16;
}

impl Codec for String {
    fn write(&self, buf: &mut BytesMut, _: i16, flex: bool) -> Result<(), EncodeError> {
        put_nullable_string(buf, Some(self), flex)
    }
    fn read(buf: &mut Bytes, _: i16, flex: bool) -> Result<Self, DecodeError> {
        get_string(buf, flex)
    }
}

impl Nullable for String {
    fn write_option(
        v: Option<&Self>,
        buf: &mut BytesMut,
        _: i16,
        flex: bool,
    ) -> Result<(), EncodeError> {
        put_nullable_string(buf, v.map(String::as_str), flex)
    }
    fn read_option(buf: &mut Bytes, _: i16, flex: bool) -> Result<Option<Self>, DecodeError> {
        get_nullable_string(buf, flex)
    }
}

impl Codec for Bytes {
    fn write(&self, buf: &mut BytesMut, _: i16, flex: bool) -> Result<(), EncodeError> {
        put_nullable_bytes(buf, Some(self), flex)
    }
    fn read(buf: &mut Bytes, _: i16, flex: bool) -> Result<Self, DecodeError> {
        get_bytes(buf, flex)
    }
}

impl Nullable for Bytes {
    fn write_option(
        v: Option<&Self>,
        buf: &mut BytesMut,
        _: i16,
        flex: bool,
    ) -> Result<(), EncodeError> {
        put_nullable_bytes(buf, v.map(|b| &b[..]), flex)
    }
    fn read_option(buf: &mut Bytes, _: i16, flex: bool) -> Result<Option<Self>, DecodeError> {
        get_nullable_bytes(buf, flex)
    }
}

impl Nullable for Uuid {}

fn put_count(buf: &mut BytesMut, n: Option<usize>, flex: bool) -> Result<(), EncodeError> {
    match (n, flex) {
        (None, true) => buf.put_u8(0),
        (None, false) => buf.put_i32(-1),
        (Some(n), true) => put_uvarint(
            buf,
            u32::try_from(n + 1).map_err(|_| EncodeError::too_many("array elements"))?,
        ),
        (Some(n), false) => {
            buf.put_i32(i32::try_from(n).map_err(|_| EncodeError::too_many("array elements"))?)
        }
    }
    Ok(())
}

/// Writes a non-null array.
pub fn write_array<T: Codec>(
    items: &[T],
    buf: &mut BytesMut,
    version: i16,
    flex: bool,
) -> Result<(), EncodeError> {
    put_count(buf, Some(items.len()), flex)?;
    for it in items {
        it.write(buf, version, flex)?;
    }
    Ok(())
}

/// Writes a nullable array.
pub fn write_nullable_array<T: Codec>(
    items: Option<&[T]>,
    buf: &mut BytesMut,
    version: i16,
    flex: bool,
) -> Result<(), EncodeError> {
    match items {
        None => put_count(buf, None, flex),
        Some(items) => write_array(items, buf, version, flex),
    }
}

/// Reads an array; `None` for null. The count is checked against the bytes
/// present before anything is allocated.
pub fn read_nullable_array<T: Codec>(
    buf: &mut Bytes,
    version: i16,
    flex: bool,
) -> Result<Option<Vec<T>>, DecodeError> {
    let count = if flex {
        match get_uvarint(buf)? {
            0 => return Ok(None),
            n => (n - 1) as usize,
        }
    } else {
        match get_i32(buf)? {
            -1 => return Ok(None),
            n if n < 0 => return Err(DecodeErrorKind::NegativeLength(i64::from(n)).into()),
            n => n as usize,
        }
    };
    let min = T::MIN_SIZE.max(1);
    if count.saturating_mul(min) > buf.remaining() {
        return Err(DecodeErrorKind::LengthTooLarge {
            length: count as u64,
            remaining: buf.remaining(),
        }
        .into());
    }
    // Reserve only what the bytes received can justify (twice their size in
    // memory): an element can be far larger in memory than on the wire, so a
    // count that the bytes do cover could still ask for many times the input.
    // Past that the vector grows as elements actually decode.
    let elem = std::mem::size_of::<T>().max(1);
    let mut out = Vec::with_capacity(count.min(buf.remaining().saturating_mul(2) / elem));
    for _ in 0..count {
        out.push(T::read(buf, version, flex)?);
    }
    Ok(Some(out))
}

/// Reads a non-null array.
pub fn read_array<T: Codec>(
    buf: &mut Bytes,
    version: i16,
    flex: bool,
    _path: &'static str,
) -> Result<Vec<T>, DecodeError> {
    read_nullable_array(buf, version, flex)?.ok_or_else(|| DecodeErrorKind::NullNotAllowed.into())
}

/// Reads the number of tagged fields.
pub fn read_tag_count(buf: &mut Bytes) -> Result<u32, DecodeError> {
    let n = get_uvarint(buf)?;
    // Each tagged field takes at least two bytes (tag and size).
    if (n as usize).saturating_mul(2) > buf.remaining() {
        return Err(DecodeErrorKind::LengthTooLarge {
            length: u64::from(n),
            remaining: buf.remaining(),
        }
        .into());
    }
    Ok(n)
}

/// Reads one tagged field: its tag and its bytes.
pub fn read_tagged(buf: &mut Bytes) -> Result<(u32, Bytes), DecodeError> {
    let tag = get_uvarint(buf)?;
    let size = get_uvarint(buf)? as usize;
    Ok((tag, take(buf, size)?))
}

/// Writes a tagged field whose value `f` writes.
pub fn put_tagged<F>(buf: &mut BytesMut, tag: u32, f: F) -> Result<(), EncodeError>
where
    F: FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
{
    let mut tmp = BytesMut::new();
    f(&mut tmp)?;
    put_uvarint(buf, tag);
    put_uvarint(
        buf,
        u32::try_from(tmp.len()).map_err(|_| EncodeError::TooLong {
            what: "tagged field",
            len: tmp.len(),
        })?,
    );
    buf.put_slice(&tmp);
    Ok(())
}

fn put_raw_tagged(buf: &mut BytesMut, f: &RawTaggedField) {
    put_uvarint(buf, f.tag);
    put_uvarint(buf, f.data.len() as u32);
    buf.put_slice(&f.data);
}

/// How many of `unknown` will be written: all but the raw copies of known
/// tags whose typed value is being sent (`suppressed`).
pub fn unknown_count(unknown: &[RawTaggedField], suppressed: &[u32]) -> usize {
    unknown
        .iter()
        .filter(|f| !suppressed.contains(&f.tag))
        .count()
}

/// Writes the raw tagged fields from index `from` whose tag is below `below`
/// (skipping `suppressed` tags); returns the index of the first not written.
///
/// Raw fields are tags this version does not know, and known tags a peer
/// sent with their default value (kept so the frame re-encodes byte for
/// byte; Kafka's own encoder omits default tagged values).
pub fn write_unknown_below(
    buf: &mut BytesMut,
    unknown: &[RawTaggedField],
    from: usize,
    below: u32,
    suppressed: &[u32],
) -> usize {
    let mut i = from;
    while let Some(f) = unknown.get(i) {
        if f.tag >= below && below != u32::MAX {
            break;
        }
        if !suppressed.contains(&f.tag) {
            put_raw_tagged(buf, f);
        }
        i += 1;
    }
    i
}

/// Writes a tagged-field section that holds only unknown fields.
pub fn write_unknown_tagged(
    buf: &mut BytesMut,
    unknown: &[RawTaggedField],
    _: u32,
) -> Result<(), EncodeError> {
    put_uvarint(
        buf,
        u32::try_from(unknown.len()).map_err(|_| EncodeError::too_many("tagged fields"))?,
    );
    for f in unknown {
        put_raw_tagged(buf, f);
    }
    Ok(())
}

/// A Kafka message (request, response, header or data), generated from its
/// definition in `protocol/messages/`.
pub trait Message:
    Codec + Nullable + Default + Clone + Debug + PartialEq + Send + Sync + 'static
{
    /// The message name (`FetchRequest`).
    const NAME: &'static str;
    /// Versions purekafka can encode and decode.
    const VERSIONS: VersionRange;
    /// Versions that use the flexible encoding.
    const FLEXIBLE: VersionRange;

    /// Encodes the message body at `version`, appending to `buf`.
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        if !Self::VERSIONS.contains(version) {
            return Err(EncodeError::UnsupportedVersion {
                message: Self::NAME,
                version,
                min: Self::VERSIONS.min,
                max: Self::VERSIONS.max,
            });
        }
        self.write(buf, version, Self::FLEXIBLE.contains(version))
    }

    /// Decodes a message body at `version`, advancing `buf` past it.
    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        if !Self::VERSIONS.contains(version) {
            return Err(DecodeErrorKind::UnsupportedVersion {
                message: Self::NAME,
                version,
                min: Self::VERSIONS.min,
                max: Self::VERSIONS.max,
            }
            .into());
        }
        Self::read(buf, version, Self::FLEXIBLE.contains(version)).map_err(|e| e.field(Self::NAME))
    }

    /// Decodes a message body that must use every byte of `buf`.
    fn decode_exact(mut buf: Bytes, version: i16) -> Result<Self, DecodeError> {
        let m = Self::decode(&mut buf, version)?;
        if buf.has_remaining() {
            return Err(
                DecodeError::new(DecodeErrorKind::TrailingBytes(buf.remaining())).field(Self::NAME),
            );
        }
        Ok(m)
    }
}

/// A request, tied to its API and its response type.
pub trait Request: Message {
    /// The API this request belongs to.
    const KEY: crate::ApiKey;
    /// The response the broker answers with.
    type Response: Response;
}

/// A response, tied to its API.
pub trait Response: Message {
    /// The API this response belongs to.
    const KEY: crate::ApiKey;
}

/// Deterministic random values for round-trip tests of generated messages.
#[cfg(test)]
pub(crate) mod testgen {
    use super::*;

    /// A small xorshift generator: the proptest seed drives it.
    pub struct Gen(u64);

    /// Generated messages build random values of themselves for a version.
    pub trait Arbitrary: Sized {
        fn arbitrary(g: &mut Gen, version: i16, flex: bool, depth: u32) -> Self;
    }

    pub trait RandInt {
        fn from_u64(v: u64) -> Self;
    }
    macro_rules! rand_int {
        ($($t:ty),*) => {$(impl RandInt for $t { fn from_u64(v: u64) -> Self { v as $t } })*};
    }
    rand_int!(i8, i16, u16, i32, u32, i64);

    impl Gen {
        pub fn new(seed: u64) -> Self {
            Gen(seed | 1)
        }
        pub fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        pub fn bool(&mut self) -> bool {
            self.next() & 1 == 1
        }
        pub fn int<T: RandInt>(&mut self) -> T {
            // Favour small and boundary values as well as random ones.
            let v = match self.below(4) {
                0 => 0,
                1 => self.below(300),
                2 => u64::MAX - self.below(3),
                _ => self.next(),
            };
            T::from_u64(v)
        }
        pub fn f64(&mut self) -> f64 {
            (self.next() >> 11) as f64 / 1024.0 - 1e12
        }
        pub fn string(&mut self) -> String {
            let n = self.below(8) as usize;
            (0..n)
                .map(|_| match self.below(10) {
                    0 => 'é',
                    1 => '☃',
                    _ => char::from(b'a' + self.below(26) as u8),
                })
                .collect()
        }
        pub fn bytes(&mut self) -> Bytes {
            let n = self.below(20) as usize;
            Bytes::from((0..n).map(|_| self.next() as u8).collect::<Vec<u8>>())
        }
        pub fn uuid(&mut self) -> Uuid {
            let mut u = [0u8; 16];
            for b in &mut u {
                *b = self.next() as u8;
            }
            Uuid(u)
        }
        pub fn vec<T>(&mut self, depth: u32, mut f: impl FnMut(&mut Gen) -> T) -> Vec<T> {
            let n = if depth > 3 { 0 } else { self.below(3) as usize };
            (0..n).map(|_| f(self)).collect()
        }
        pub fn unknown_tagged(&mut self) -> Vec<RawTaggedField> {
            let n = self.below(3);
            let mut tag = 10_000;
            (0..n)
                .map(|_| {
                    tag += 1 + self.below(100_000) as u32;
                    RawTaggedField {
                        tag,
                        data: self.bytes(),
                    }
                })
                .collect()
        }
    }

    /// Encode → decode → equal, and decode → encode → the same bytes.
    pub fn roundtrip_one<T: Message + Arbitrary>(g: &mut Gen, version: i16) -> Result<(), String> {
        let flex = T::FLEXIBLE.contains(version);
        let m = T::arbitrary(g, version, flex, 0);
        let mut buf = BytesMut::new();
        m.encode(&mut buf, version)
            .map_err(|e| format!("encode v{version}: {e}\n{m:#?}"))?;
        let bytes = buf.freeze();
        let decoded = T::decode_exact(bytes.clone(), version)
            .map_err(|e| format!("decode v{version}: {e}\n{m:#?}"))?;
        if decoded != m {
            return Err(format!(
                "v{version}: decoded value differs\nsent {m:#?}\ngot {decoded:#?}"
            ));
        }
        let mut again = BytesMut::new();
        decoded
            .encode(&mut again, version)
            .map_err(|e| format!("re-encode v{version}: {e}"))?;
        if again.freeze() != bytes {
            return Err(format!("v{version}: re-encoded bytes differ"));
        }
        Ok(())
    }
}
