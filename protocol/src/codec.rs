//! The runtime the generated message code calls: the [`Codec`] trait for
//! every wire type, arrays, nullable values, tagged fields, and the
//! [`Message`], [`Request`] and [`Response`] traits.
//!
//! Decoding never trusts the wire with memory: an array's count is checked
//! against the fewest bytes its elements can take before anything is
//! reserved, unknown tagged fields stay raw bytes of the input, and every
//! allocation a decode makes is charged to a [`DecodeBudget`] of eight times
//! the input, so no message can make a decoder hold much more than it sent.

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::primitives::*;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::fmt::Debug;
use std::ops::{Deref, DerefMut};

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

/// How much memory a decode may allocate: [`DecodeBudget::FACTOR`] times its
/// input (never less than [`DecodeBudget::FLOOR`]). Every reservation a
/// decoder makes (an array's elements, a string's bytes, kept tagged fields)
/// is charged before it is made; a decode that would go over fails with
/// [`DecodeErrorKind::MemoryLimit`] instead of allocating.
///
/// Kafka's own messages stay far below the limit (their strings and arrays
/// are not empty by the thousand); only input crafted to make small wire
/// values into large in-memory ones reaches it. Code that turns a decoded
/// message into more memory (the consumer's group assignment, say) can charge
/// that to the same budget with [`DecodeBudget::charge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeBudget {
    limit: usize,
    left: usize,
    input: usize,
}

impl DecodeBudget {
    /// A decode may allocate this many times its input.
    pub const FACTOR: usize = 8;
    /// ... and never less than this many bytes (a tiny frame may still
    /// decode into a few small vectors).
    pub const FLOOR: usize = 16 * 1024;

    /// The budget for decoding `input` bytes.
    pub const fn for_input(input: usize) -> Self {
        let limit = input.saturating_mul(Self::FACTOR);
        let limit = if limit < Self::FLOOR {
            Self::FLOOR
        } else {
            limit
        };
        DecodeBudget {
            limit,
            left: limit,
            input,
        }
    }

    /// Charges `bytes` about to be allocated; fails, charging nothing, when
    /// they would go over the limit.
    #[inline]
    pub fn charge(&mut self, bytes: usize) -> Result<(), DecodeError> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(self.over(bytes)),
        }
    }

    #[cold]
    fn over(&self, bytes: usize) -> DecodeError {
        DecodeErrorKind::MemoryLimit {
            needed: (self.limit - self.left).saturating_add(bytes),
            limit: self.limit,
            input: self.input,
        }
        .into()
    }

    /// Bytes charged so far.
    pub const fn charged(&self) -> usize {
        self.limit - self.left
    }

    /// The most this budget allows in all.
    pub const fn limit(&self) -> usize {
        self.limit
    }
}

/// The input of a decode and its [`DecodeBudget`]: what every
/// [`Codec::read`] reads from. It dereferences to the remaining [`Bytes`],
/// so the primitive readers take it as they are.
#[derive(Debug)]
pub struct Decoder {
    buf: Bytes,
    budget: DecodeBudget,
}

impl Decoder {
    /// Decodes `buf` with the budget for its length.
    pub fn new(buf: Bytes) -> Self {
        let budget = DecodeBudget::for_input(buf.len());
        Decoder { buf, budget }
    }

    /// Decodes `buf` charging `budget`.
    pub fn with_budget(buf: Bytes, budget: DecodeBudget) -> Self {
        Decoder { buf, budget }
    }

    /// The bytes not read yet and what is left of the budget.
    pub fn into_parts(self) -> (Bytes, DecodeBudget) {
        (self.buf, self.budget)
    }

    /// Charges `bytes` about to be allocated (see [`DecodeBudget::charge`]).
    #[inline]
    pub fn charge(&mut self, bytes: usize) -> Result<(), DecodeError> {
        self.budget.charge(bytes)
    }

    /// Runs `f` on `data` (a tagged field's bytes) with this decode's budget,
    /// then goes back to the bytes after it.
    pub fn within<T>(
        &mut self,
        data: Bytes,
        f: impl FnOnce(&mut Decoder) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let rest = std::mem::replace(&mut self.buf, data);
        let out = f(self);
        self.buf = rest;
        out
    }
}

impl Deref for Decoder {
    type Target = Bytes;
    #[inline]
    fn deref(&self) -> &Bytes {
        &self.buf
    }
}

impl DerefMut for Decoder {
    #[inline]
    fn deref_mut(&mut self) -> &mut Bytes {
        &mut self.buf
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

/// A struct's tagged fields kept to be written back (see [`RawTaggedField`]),
/// held as their wire encoding (tag, size, bytes, one after another): a
/// zero-copy slice of the input when they were adjacent there, so a flood of
/// tiny tagged fields costs no allocation per field. Empty (the usual case)
/// it takes one word and no heap.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UnknownTaggedFields {
    raw: Option<Box<Bytes>>,
}

impl UnknownTaggedFields {
    /// No fields.
    pub const fn new() -> Self {
        UnknownTaggedFields { raw: None }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw().is_empty()
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.entries(0).count()
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = RawTaggedField> + '_ {
        let raw = self.raw.as_deref();
        self.entries(0).filter_map(move |e| {
            Some(RawTaggedField {
                tag: e.tag,
                data: raw?.slice(e.data..e.end),
            })
        })
    }

    /// Appends a field (Kafka wants tags in increasing order: push them so).
    /// A field cannot be longer than a frame; past 4 GiB its size saturates.
    pub fn push(&mut self, tag: u32, data: &[u8]) {
        let mut b = BytesMut::from(self.raw());
        put_uvarint(&mut b, tag);
        put_uvarint(&mut b, u32::try_from(data.len()).unwrap_or(u32::MAX));
        b.put_slice(data);
        self.raw = Some(Box::new(b.freeze()));
    }

    fn raw(&self) -> &[u8] {
        self.raw.as_deref().map_or(&[], |b| &b[..])
    }

    /// The entries from byte `from` of the raw encoding.
    fn entries(&self, from: usize) -> TaggedEntries<'_> {
        TaggedEntries {
            raw: self.raw(),
            at: from,
        }
    }
}

impl std::fmt::Debug for UnknownTaggedFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<RawTaggedField> for UnknownTaggedFields {
    fn from_iter<I: IntoIterator<Item = RawTaggedField>>(iter: I) -> Self {
        let mut b = BytesMut::new();
        for f in iter {
            put_uvarint(&mut b, f.tag);
            put_uvarint(&mut b, u32::try_from(f.data.len()).unwrap_or(u32::MAX));
            b.put_slice(&f.data);
        }
        if b.is_empty() {
            UnknownTaggedFields::new()
        } else {
            UnknownTaggedFields {
                raw: Some(Box::new(b.freeze())),
            }
        }
    }
}

/// One entry of a raw tagged-field encoding: its tag, where its bytes start
/// and where it ends.
struct TaggedEntry {
    tag: u32,
    start: usize,
    data: usize,
    end: usize,
}

struct TaggedEntries<'a> {
    raw: &'a [u8],
    at: usize,
}

/// Reads an unsigned varint from `raw` at `*at`.
fn slice_uvarint(raw: &[u8], at: &mut usize) -> Option<u32> {
    let mut v: u32 = 0;
    for i in 0..5 {
        let b = *raw.get(*at)?;
        *at += 1;
        v |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

impl Iterator for TaggedEntries<'_> {
    type Item = TaggedEntry;
    fn next(&mut self) -> Option<TaggedEntry> {
        let start = self.at;
        let mut at = start;
        let tag = slice_uvarint(self.raw, &mut at)?;
        let size = slice_uvarint(self.raw, &mut at)? as usize;
        let end = at.checked_add(size).filter(|&e| e <= self.raw.len())?;
        self.at = end;
        Some(TaggedEntry {
            tag,
            start,
            data: at,
            end,
        })
    }
}

/// A value with a wire form that may depend on the version and on whether the
/// version is flexible (compact strings and arrays, tagged fields).
pub trait Codec: Sized {
    /// Appends the value.
    fn write(&self, buf: &mut BytesMut, version: i16, flex: bool) -> Result<(), EncodeError>;
    /// Reads a value, advancing `buf` and charging what it allocates to its budget.
    fn read(buf: &mut Decoder, version: i16, flex: bool) -> Result<Self, DecodeError>;
    /// The fewest bytes one value takes at `version` (an array's count is
    /// rejected when its elements could not fit in the bytes present).
    fn min_size(_version: i16, _flex: bool) -> usize {
        1
    }
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
    fn read_option(
        buf: &mut Decoder,
        version: i16,
        flex: bool,
    ) -> Result<Option<Self>, DecodeError> {
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
            fn read(buf: &mut Decoder, _: i16, _: bool) -> Result<Self, DecodeError> {
                $get(buf)
            }
            #[inline]
            fn min_size(_: i16, _: bool) -> usize {
                $n
            }
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
    fn read(buf: &mut Decoder, _: i16, _: bool) -> Result<Self, DecodeError> {
        get_bool(buf)
    }
}

impl Codec for Uuid {
    fn write(&self, buf: &mut BytesMut, _: i16, _: bool) -> Result<(), EncodeError> {
        buf.put_slice(&self.0);
        Ok(())
    }
    fn read(buf: &mut Decoder, _: i16, _: bool) -> Result<Self, DecodeError> {
        get_uuid(buf)
    }
    fn min_size(_: i16, _: bool) -> usize {
        16
    }
}

impl Codec for String {
    fn write(&self, buf: &mut BytesMut, _: i16, flex: bool) -> Result<(), EncodeError> {
        put_nullable_string(buf, Some(self), flex)
    }
    fn read(buf: &mut Decoder, _: i16, flex: bool) -> Result<Self, DecodeError> {
        read_nullable_string(buf, flex)?.ok_or_else(|| DecodeErrorKind::NullNotAllowed.into())
    }
    fn min_size(_: i16, flex: bool) -> usize {
        if flex { 1 } else { 2 }
    }
}

/// Reads a nullable string, charging its bytes to the budget first.
fn read_nullable_string(buf: &mut Decoder, flex: bool) -> Result<Option<String>, DecodeError> {
    match get_nullable_string_bytes(buf, flex)? {
        None => Ok(None),
        Some(raw) => {
            let s = std::str::from_utf8(&raw).map_err(|_| DecodeErrorKind::InvalidUtf8)?;
            buf.charge(s.len())?;
            Ok(Some(s.to_owned()))
        }
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
    fn read_option(buf: &mut Decoder, _: i16, flex: bool) -> Result<Option<Self>, DecodeError> {
        read_nullable_string(buf, flex)
    }
}

impl Codec for Bytes {
    fn write(&self, buf: &mut BytesMut, _: i16, flex: bool) -> Result<(), EncodeError> {
        put_nullable_bytes(buf, Some(self), flex)
    }
    fn read(buf: &mut Decoder, _: i16, flex: bool) -> Result<Self, DecodeError> {
        get_bytes(buf, flex)
    }
    fn min_size(_: i16, flex: bool) -> usize {
        if flex { 1 } else { 4 }
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
    fn read_option(buf: &mut Decoder, _: i16, flex: bool) -> Result<Option<Self>, DecodeError> {
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

/// The fewest bytes an array takes (its count).
pub fn array_min_size(flex: bool) -> usize {
    if flex { 1 } else { 4 }
}

/// Reads an array; `None` for null. Before anything is allocated the count is
/// checked against the bytes present (each element takes at least
/// [`Codec::min_size`] of them) and the elements' memory is charged to the
/// budget; the vector is then reserved once, for exactly `count`.
pub fn read_nullable_array<T: Codec>(
    buf: &mut Decoder,
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
    // An element that takes no bytes at this version still counts one, so
    // a count can never exceed the bytes present.
    let min = T::min_size(version, flex).max(1);
    if count.saturating_mul(min) > buf.remaining() {
        return Err(array_too_long(count, min, buf.remaining()));
    }
    buf.charge(count.saturating_mul(std::mem::size_of::<T>()))?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(T::read(buf, version, flex)?);
    }
    Ok(Some(out))
}

#[cold]
fn array_too_long(count: usize, min_element: usize, remaining: usize) -> DecodeError {
    DecodeErrorKind::ArrayTooLong {
        count: count as u64,
        min_element,
        remaining,
    }
    .into()
}

/// Reads a non-null array.
pub fn read_array<T: Codec>(
    buf: &mut Decoder,
    version: i16,
    flex: bool,
    _path: &'static str,
) -> Result<Vec<T>, DecodeError> {
    read_nullable_array(buf, version, flex)?.ok_or_else(|| DecodeErrorKind::NullNotAllowed.into())
}

/// Reads the number of fields in a tagged-field section.
#[inline]
pub fn read_tag_count(buf: &mut Decoder) -> Result<u32, DecodeError> {
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

/// Reads the fields of a tagged-field section, keeping the ones the
/// generated code does not consume as one raw slice ([`UnknownTaggedFields`]).
///
/// After [`read_tag_count`] says there are some, the generated decoder calls
/// [`TaggedReader::next`] for each field, decodes the tags it knows, calls
/// [`TaggedReader::keep`] for the others, and ends with
/// [`TaggedReader::finish`].
pub struct TaggedReader {
    /// The input from the first field on (a cheap handle, not a copy).
    section: Bytes,
    left: u32,
    /// The current field's span in `section`.
    current: (usize, usize),
    /// The kept fields while they are adjacent in the input.
    span: Option<(usize, usize)>,
    /// The kept fields copied, once one was not adjacent to the others.
    copy: Option<Vec<u8>>,
}

impl TaggedReader {
    /// Reads the `count` fields [`read_tag_count`] announced.
    pub fn new(buf: &Decoder, count: u32) -> Self {
        TaggedReader {
            section: (**buf).clone(),
            left: count,
            current: (0, 0),
            span: None,
            copy: None,
        }
    }

    /// The next field's tag and bytes, `None` after the last.
    pub fn next(&mut self, buf: &mut Decoder) -> Result<Option<(u32, Bytes)>, DecodeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let start = self.section.len().saturating_sub(buf.remaining());
        let tag = get_uvarint(buf)?;
        let size = get_uvarint(buf)? as usize;
        let data = take(buf, size)?;
        self.current = (start, self.section.len().saturating_sub(buf.remaining()));
        Ok(Some((tag, data)))
    }

    /// Keeps the field [`TaggedReader::next`] returned last, to be written back.
    ///
    /// Kept fields adjacent in the input stay one slice of it; once one is
    /// not, they are copied (at most the section's bytes, charged).
    pub fn keep(&mut self, buf: &mut Decoder) -> Result<(), DecodeError> {
        let (start, end) = self.current;
        if self.copy.is_none() {
            match self.span {
                None => {
                    self.span = Some((start, end));
                    return Ok(());
                }
                Some((a, b)) if b == start => {
                    self.span = Some((a, end));
                    return Ok(());
                }
                Some(_) => {}
            }
        }
        for (a, b) in [self.span.take(), Some((start, end))].into_iter().flatten() {
            let piece = self.section.get(a..b).unwrap_or_default();
            let copy = self.copy.get_or_insert_with(Vec::new);
            let need = copy.len() + piece.len();
            if need > copy.capacity() {
                let cap = need.max(copy.capacity() * 2);
                buf.charge(cap)?;
                copy.reserve_exact(cap - copy.len());
            }
            copy.extend_from_slice(piece);
        }
        Ok(())
    }

    /// The kept fields.
    pub fn finish(self, buf: &mut Decoder) -> Result<UnknownTaggedFields, DecodeError> {
        let raw = match (self.copy, self.span) {
            (Some(c), _) => Bytes::from(c),
            (None, Some((a, b))) => self.section.slice(a..b),
            (None, None) => return Ok(UnknownTaggedFields::new()),
        };
        buf.charge(std::mem::size_of::<Bytes>())?;
        Ok(UnknownTaggedFields {
            raw: Some(Box::new(raw)),
        })
    }
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

/// How many of `unknown` will be written: all but the raw copies of known
/// tags whose typed value is being sent (`suppressed`).
pub fn unknown_count(unknown: &UnknownTaggedFields, suppressed: &[u32]) -> usize {
    unknown
        .entries(0)
        .filter(|f| !suppressed.contains(&f.tag))
        .count()
}

/// Writes the raw tagged fields from byte `from` of `unknown` whose tag is
/// below `below` (skipping `suppressed` tags); returns where the first not
/// written starts.
///
/// Raw fields are tags this version does not know, and known tags a peer
/// sent with their default value (kept so the frame re-encodes byte for
/// byte; Kafka's own encoder omits default tagged values).
pub fn write_unknown_below(
    buf: &mut BytesMut,
    unknown: &UnknownTaggedFields,
    from: usize,
    below: u32,
    suppressed: &[u32],
) -> usize {
    let raw = unknown.raw();
    let mut at = from;
    for f in unknown.entries(from) {
        if f.tag >= below && below != u32::MAX {
            return f.start;
        }
        if !suppressed.contains(&f.tag) {
            buf.put_slice(raw.get(f.start..f.end).unwrap_or_default());
        }
        at = f.end;
    }
    at
}

/// Writes a tagged-field section that holds only unknown fields.
pub fn write_unknown_tagged(
    buf: &mut BytesMut,
    unknown: &UnknownTaggedFields,
    _: u32,
) -> Result<(), EncodeError> {
    put_uvarint(
        buf,
        u32::try_from(unknown.len()).map_err(|_| EncodeError::too_many("tagged fields"))?,
    );
    buf.put_slice(unknown.raw());
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

    /// Decodes a message body at `version`, advancing `buf` past it, with
    /// the [`DecodeBudget`] for the bytes given.
    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        let mut budget = DecodeBudget::for_input(buf.remaining());
        Self::decode_with(buf, version, &mut budget)
    }

    /// Decodes a message body at `version`, advancing `buf` past it and
    /// charging what it allocates to `budget`.
    fn decode_with(
        buf: &mut Bytes,
        version: i16,
        budget: &mut DecodeBudget,
    ) -> Result<Self, DecodeError> {
        if !Self::VERSIONS.contains(version) {
            return Err(DecodeErrorKind::UnsupportedVersion {
                message: Self::NAME,
                version,
                min: Self::VERSIONS.min,
                max: Self::VERSIONS.max,
            }
            .into());
        }
        let mut d = Decoder::with_budget(std::mem::take(buf), *budget);
        let out = Self::read(&mut d, version, Self::FLEXIBLE.contains(version));
        (*buf, *budget) = d.into_parts();
        out.map_err(|e| e.field(Self::NAME))
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
        pub fn unknown_tagged(&mut self) -> UnknownTaggedFields {
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

    /// A random value of `T` encodes to at least `T::min_size` bytes.
    pub fn check_min_size<T: Codec + Arbitrary>(
        g: &mut Gen,
        version: i16,
        flex: bool,
    ) -> Result<(), String> {
        let v = T::arbitrary(g, version, flex, 0);
        let mut buf = BytesMut::new();
        if v.write(&mut buf, version, flex).is_err() {
            return Ok(());
        }
        let min = T::min_size(version, flex);
        if buf.len() < min {
            return Err(format!(
                "v{version}: a value encodes to {} bytes, min_size says {min}",
                buf.len()
            ));
        }
        Ok(())
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
