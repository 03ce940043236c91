//! Kafka's primitive types: fixed-width integers, varints, strings, bytes, uuid.
//!
//! Readers take `&mut Bytes` and advance it; every read checks the bytes
//! present first, so truncated input is an error, never a panic. Byte fields
//! are returned as zero-copy slices of the input.

use crate::error::{DecodeError, DecodeErrorKind};
use bytes::{Buf, BufMut, Bytes};
use std::fmt;

/// Fails unless `n` bytes are present.
#[inline]
pub fn need(buf: &Bytes, n: usize) -> Result<(), DecodeError> {
    if buf.remaining() < n {
        Err(DecodeError::new(DecodeErrorKind::Truncated {
            needed: n,
            remaining: buf.remaining(),
        }))
    } else {
        Ok(())
    }
}

macro_rules! fixed {
    ($($name:ident: $t:ty = $get:ident, $n:expr;)*) => {$(
        /// Reads a big-endian fixed-width value.
        #[inline]
        pub fn $name(buf: &mut Bytes) -> Result<$t, DecodeError> {
            need(buf, $n)?;
            Ok(buf.$get())
        }
    )*};
}

fixed! {
    get_i8: i8 = get_i8, 1;
    get_i16: i16 = get_i16, 2;
    get_u16: u16 = get_u16, 2;
    get_i32: i32 = get_i32, 4;
    get_u32: u32 = get_u32, 4;
    get_i64: i64 = get_i64, 8;
    get_f64: f64 = get_f64, 8;
}

/// Reads a boolean (any non-zero byte is true, as in Kafka).
#[inline]
pub fn get_bool(buf: &mut Bytes) -> Result<bool, DecodeError> {
    Ok(get_i8(buf)? != 0)
}

/// Reads an unsigned varint of at most 64 bits.
#[inline]
pub fn get_uvarlong(buf: &mut Bytes) -> Result<u64, DecodeError> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let b = get_i8(buf)? as u8;
        if i == 9 && b > 1 {
            return Err(DecodeErrorKind::InvalidVarint.into());
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeErrorKind::InvalidVarint.into())
}

/// Reads an unsigned varint of at most 32 bits.
#[inline]
pub fn get_uvarint(buf: &mut Bytes) -> Result<u32, DecodeError> {
    let mut value: u32 = 0;
    for i in 0..5 {
        let b = get_i8(buf)? as u8;
        if i == 4 && b > 0x0f {
            return Err(DecodeErrorKind::InvalidVarint.into());
        }
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeErrorKind::InvalidVarint.into())
}

/// Reads a zig-zag varint (32 bits).
#[inline]
pub fn get_varint(buf: &mut Bytes) -> Result<i32, DecodeError> {
    let u = get_uvarint(buf)?;
    Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
}

/// Reads a zig-zag varlong (64 bits).
#[inline]
pub fn get_varlong(buf: &mut Bytes) -> Result<i64, DecodeError> {
    let u = get_uvarlong(buf)?;
    Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
}

/// Writes an unsigned varint.
#[inline]
pub fn put_uvarint(buf: &mut impl BufMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes an unsigned varlong.
#[inline]
pub fn put_uvarlong(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes a zig-zag varint.
#[inline]
pub fn put_varint(buf: &mut impl BufMut, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32);
}

/// Writes a zig-zag varlong.
#[inline]
pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
    put_uvarlong(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Encoded size of an unsigned varint.
#[inline]
pub const fn uvarint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// Encoded size of an unsigned varlong.
#[inline]
pub const fn uvarlong_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Encoded size of a zig-zag varint.
#[inline]
pub const fn varint_len(v: i32) -> usize {
    uvarint_len(((v << 1) ^ (v >> 31)) as u32)
}

/// Encoded size of a zig-zag varlong.
#[inline]
pub const fn varlong_len(v: i64) -> usize {
    uvarlong_len(((v << 1) ^ (v >> 63)) as u64)
}

/// Takes `n` bytes as a zero-copy slice.
#[inline]
pub fn take(buf: &mut Bytes, n: usize) -> Result<Bytes, DecodeError> {
    if n > buf.remaining() {
        return Err(DecodeErrorKind::LengthTooLarge {
            length: n as u64,
            remaining: buf.remaining(),
        }
        .into());
    }
    Ok(buf.split_to(n))
}

/// Reads a length: `None` for null (negative classic or zero compact).
#[inline]
fn get_len(buf: &mut Bytes, compact: bool, classic16: bool) -> Result<Option<usize>, DecodeError> {
    if compact {
        let n = get_uvarint(buf)?;
        Ok(if n == 0 { None } else { Some((n - 1) as usize) })
    } else {
        let n = if classic16 {
            i32::from(get_i16(buf)?)
        } else {
            get_i32(buf)?
        };
        if n < 0 {
            if n == -1 {
                Ok(None)
            } else {
                Err(DecodeErrorKind::NegativeLength(i64::from(n)).into())
            }
        } else {
            Ok(Some(n as usize))
        }
    }
}

/// Reads a nullable string's bytes, not yet checked as UTF-8 (a zero-copy
/// slice of the input).
pub fn get_nullable_string_bytes(
    buf: &mut Bytes,
    compact: bool,
) -> Result<Option<Bytes>, DecodeError> {
    match get_len(buf, compact, true)? {
        None => Ok(None),
        Some(n) => take(buf, n).map(Some),
    }
}

/// Reads a nullable string (classic: int16 length; compact: uvarint length+1).
pub fn get_nullable_string(buf: &mut Bytes, compact: bool) -> Result<Option<String>, DecodeError> {
    match get_nullable_string_bytes(buf, compact)? {
        None => Ok(None),
        Some(raw) => String::from_utf8(raw.to_vec())
            .map(Some)
            .map_err(|_| DecodeErrorKind::InvalidUtf8.into()),
    }
}

/// Reads a non-null string.
pub fn get_string(buf: &mut Bytes, compact: bool) -> Result<String, DecodeError> {
    get_nullable_string(buf, compact)?.ok_or_else(|| DecodeErrorKind::NullNotAllowed.into())
}

/// Reads nullable bytes (classic: int32 length; compact: uvarint length+1).
pub fn get_nullable_bytes(buf: &mut Bytes, compact: bool) -> Result<Option<Bytes>, DecodeError> {
    match get_len(buf, compact, false)? {
        None => Ok(None),
        Some(n) => take(buf, n).map(Some),
    }
}

/// Reads non-null bytes.
pub fn get_bytes(buf: &mut Bytes, compact: bool) -> Result<Bytes, DecodeError> {
    get_nullable_bytes(buf, compact)?.ok_or_else(|| DecodeErrorKind::NullNotAllowed.into())
}

/// Writes a string length or null marker.
#[inline]
fn put_len(
    buf: &mut impl BufMut,
    len: Option<usize>,
    compact: bool,
    classic16: bool,
) -> Result<(), crate::EncodeError> {
    let too_long = |len| crate::EncodeError::TooLong {
        what: if classic16 { "string" } else { "bytes" },
        len,
    };
    match (len, compact) {
        (None, true) => buf.put_u8(0),
        (None, false) if classic16 => buf.put_i16(-1),
        (None, false) => buf.put_i32(-1),
        (Some(n), true) => put_uvarint(buf, u32::try_from(n + 1).map_err(|_| too_long(n))?),
        (Some(n), false) if classic16 => buf.put_i16(i16::try_from(n).map_err(|_| too_long(n))?),
        (Some(n), false) => buf.put_i32(i32::try_from(n).map_err(|_| too_long(n))?),
    }
    Ok(())
}

/// Writes a nullable string.
pub fn put_nullable_string(
    buf: &mut impl BufMut,
    s: Option<&str>,
    compact: bool,
) -> Result<(), crate::EncodeError> {
    put_len(buf, s.map(str::len), compact, true)?;
    if let Some(s) = s {
        buf.put_slice(s.as_bytes());
    }
    Ok(())
}

/// Writes nullable bytes.
pub fn put_nullable_bytes(
    buf: &mut impl BufMut,
    b: Option<&[u8]>,
    compact: bool,
) -> Result<(), crate::EncodeError> {
    put_len(buf, b.map(<[u8]>::len), compact, false)?;
    if let Some(b) = b {
        buf.put_slice(b);
    }
    Ok(())
}

/// A UUID (topic ids, directory ids), as 16 raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID Kafka uses for "none".
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// Whether this is the all-zero UUID.
    pub fn is_zero(&self) -> bool {
        *self == Uuid::ZERO
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

impl fmt::Display for Uuid {
    /// Kafka's textual form: URL-safe base64 without padding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let b = &self.0;
        let mut out = String::with_capacity(22);
        for chunk in b.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (16 - 8 * i)));
            let chars = chunk.len() + 1;
            for i in 0..chars {
                let idx = ((n >> (18 - 6 * i)) & 0x3f) as usize;
                out.push(char::from(A.get(idx).copied().unwrap_or(b'A')));
            }
        }
        f.write_str(&out)
    }
}

/// Reads a UUID.
pub fn get_uuid(buf: &mut Bytes) -> Result<Uuid, DecodeError> {
    need(buf, 16)?;
    let mut u = [0u8; 16];
    buf.copy_to_slice(&mut u);
    Ok(Uuid(u))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_roundtrip(a: i32, b: i64, c: u32, d: u64) {
            let mut buf = BytesMut::new();
            put_varint(&mut buf, a);
            put_varlong(&mut buf, b);
            put_uvarint(&mut buf, c);
            put_uvarlong(&mut buf, d);
            prop_assert_eq!(buf.len(), varint_len(a) + varlong_len(b) + uvarint_len(c) + uvarlong_len(d));
            let mut r = buf.freeze();
            prop_assert_eq!(get_varint(&mut r).unwrap(), a);
            prop_assert_eq!(get_varlong(&mut r).unwrap(), b);
            prop_assert_eq!(get_uvarint(&mut r).unwrap(), c);
            prop_assert_eq!(get_uvarlong(&mut r).unwrap(), d);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn arbitrary_bytes_never_panic(data: Vec<u8>) {
            let b = Bytes::from(data);
            let _ = get_uvarint(&mut b.clone());
            let _ = get_varlong(&mut b.clone());
            let _ = get_nullable_string(&mut b.clone(), true);
            let _ = get_nullable_string(&mut b.clone(), false);
            let _ = get_nullable_bytes(&mut b.clone(), true);
            let _ = get_nullable_bytes(&mut b.clone(), false);
            let _ = get_uuid(&mut b.clone());
        }
    }

    #[test]
    fn known_encodings() {
        // Zig-zag: 0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3; 300 -> 0xd8 0x04.
        for (v, bytes) in [
            (0i32, &[0u8][..]),
            (-1, &[1]),
            (1, &[2]),
            (-2, &[3]),
            (300, &[0xd8, 0x04]),
        ] {
            let mut buf = BytesMut::new();
            put_varint(&mut buf, v);
            assert_eq!(&buf[..], bytes, "varint {v}");
        }
        let mut buf = BytesMut::new();
        put_uvarint(&mut buf, u32::MAX);
        assert_eq!(&buf[..], &[0xff, 0xff, 0xff, 0xff, 0x0f]);
    }

    #[test]
    fn malformed_inputs_are_errors() {
        // Varint that never ends.
        let mut b = Bytes::from_static(&[0xff; 11]);
        assert_eq!(
            get_uvarlong(&mut b).unwrap_err().kind(),
            &DecodeErrorKind::InvalidVarint
        );
        // 5-byte uvarint overflowing 32 bits.
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x1f]);
        assert_eq!(
            get_uvarint(&mut b).unwrap_err().kind(),
            &DecodeErrorKind::InvalidVarint
        );
        // String claiming 32767 bytes with 2 present.
        let mut b = Bytes::from_static(&[0x7f, 0xff, b'a', b'b']);
        assert!(matches!(
            get_string(&mut b, false).unwrap_err().kind(),
            DecodeErrorKind::LengthTooLarge { .. }
        ));
        // Bytes length -2 is invalid, -1 is null.
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(
            get_nullable_bytes(&mut b, false).unwrap_err().kind(),
            &DecodeErrorKind::NegativeLength(-2)
        );
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(get_nullable_bytes(&mut b, false).unwrap(), None);
        // Invalid UTF-8.
        let mut b = Bytes::from_static(&[0x00, 0x01, 0xff]);
        assert_eq!(
            get_string(&mut b, false).unwrap_err().kind(),
            &DecodeErrorKind::InvalidUtf8
        );
    }

    #[test]
    fn uuid_display_is_kafka_base64() {
        let u = Uuid([0; 16]);
        assert_eq!(u.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
        let u = Uuid([0xff; 16]);
        assert_eq!(u.to_string(), "_____________________w");
    }
}
