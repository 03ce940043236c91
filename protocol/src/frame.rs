//! Size-prefixed framing and request/response headers.
//!
//! Every Kafka message on the wire is an int32 size followed by that many
//! bytes: a header (request header v1/v2, response header v0/v1) and a body.

use crate::codec::{Message, Request};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::messages::{AnyRequest, AnyResponse, ApiKey, RequestHeader, ResponseHeader};
use crate::primitives::{get_i16, get_i32};
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Largest frame accepted by default (Kafka's `socket.request.max.bytes` is 100 MiB).
pub const DEFAULT_MAX_FRAME: usize = 100 * 1024 * 1024;

/// Splits one complete frame off the front of `buf`.
///
/// Returns `Ok(None)` while the frame is incomplete (not an error: read more
/// and call again), the frame's bytes without the size prefix when complete,
/// and an error for a negative size or one above `max`.
pub fn decode_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, DecodeError> {
    let Some(&size) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let size = i32::from_be_bytes(size);
    if size < 0 || size as usize > max {
        return Err(DecodeErrorKind::FrameTooLarge {
            size: i64::from(size),
            max,
        }
        .into());
    }
    let size = size as usize;
    if buf.len() < 4 + size {
        // Make room for more of the frame, but never reserve more than 1 MiB
        // ahead of the bytes received: the size is the peer's claim.
        buf.reserve((4 + size - buf.len()).min(1 << 20));
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size).freeze()))
}

impl ApiKey {
    /// Request header version for this API at `version`: 2 for flexible versions, else 1.
    pub const fn request_header_version(self, version: i16) -> i16 {
        if self.flexible_versions().contains(version) {
            2
        } else {
            1
        }
    }

    /// Response header version: 1 for flexible versions, else 0 — except
    /// ApiVersions, whose response header is always v0 so that a client can
    /// read it before it knows what the broker supports.
    pub const fn response_header_version(self, version: i16) -> i16 {
        if matches!(self, ApiKey::ApiVersions) {
            0
        } else if self.flexible_versions().contains(version) {
            1
        } else {
            0
        }
    }
}

/// Appends a complete request frame (size, header, body) to `buf`.
pub fn encode_request<R: Request>(
    buf: &mut BytesMut,
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    request: &R,
) -> Result<(), EncodeError> {
    let header = RequestHeader {
        request_api_key: R::KEY as i16,
        request_api_version: version,
        correlation_id,
        client_id: client_id.map(str::to_owned),
        unknown_tagged_fields: Vec::new(),
    };
    let start = buf.len();
    buf.put_i32(0);
    header.encode(buf, R::KEY.request_header_version(version))?;
    request.encode(buf, version)?;
    patch_size(buf, start)
}

/// Fills in the size field of the frame that starts at `start`: the caller
/// put a 4-byte placeholder there, then the header and body.
fn patch_size(buf: &mut BytesMut, start: usize) -> Result<(), EncodeError> {
    let size = buf.len().saturating_sub(start).saturating_sub(4);
    let size = i32::try_from(size).map_err(|_| EncodeError::TooLong {
        what: "frame",
        len: size,
    })?;
    let field = buf.iter_mut().skip(start).take(4);
    for (byte, value) in field.zip(size.to_be_bytes()) {
        *byte = value;
    }
    Ok(())
}

/// Appends a complete response frame for `api` at `version`.
pub fn encode_response(
    buf: &mut BytesMut,
    correlation_id: i32,
    version: i16,
    response: &AnyResponse,
) -> Result<(), EncodeError> {
    let start = buf.len();
    buf.put_i32(0);
    let header = ResponseHeader {
        correlation_id,
        unknown_tagged_fields: Vec::new(),
    };
    header.encode(buf, response.api_key().response_header_version(version))?;
    response.encode(buf, version)?;
    patch_size(buf, start)
}

/// The correlation id at the start of a response frame (before the API is known).
pub fn peek_correlation_id(frame: &Bytes) -> Result<i32, DecodeError> {
    get_i32(&mut frame.slice(0..frame.len().min(4)))
}

/// Decodes a response frame's header; `frame` is left at the body.
pub fn decode_response_header(
    frame: &mut Bytes,
    api: ApiKey,
    version: i16,
) -> Result<ResponseHeader, DecodeError> {
    ResponseHeader::decode(frame, api.response_header_version(version))
}

/// Decodes a response frame (header and body) for `api` at `version`.
///
/// Bytes after the body are ignored, as the Java client ignores them (some
/// brokers, such as librdkafka's mock cluster, send a few); their number is
/// returned so callers that care can tell.
pub fn decode_response(
    mut frame: Bytes,
    api: ApiKey,
    version: i16,
) -> Result<(ResponseHeader, AnyResponse, usize), DecodeError> {
    let header = decode_response_header(&mut frame, api, version)?;
    let body = AnyResponse::decode(api, version, &mut frame)?;
    Ok((header, body, frame.remaining()))
}

/// Decodes a whole request frame: its header names the API and version.
pub fn decode_request(mut frame: Bytes) -> Result<(RequestHeader, AnyRequest), DecodeError> {
    let mut peek = frame.clone();
    let key = get_i16(&mut peek)?;
    let version = get_i16(&mut peek)?;
    let api = ApiKey::from_i16(key).ok_or(DecodeError::new(DecodeErrorKind::UnknownApi(key)))?;
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version))?;
    let body = AnyRequest::decode(api, version, &mut frame)?;
    if frame.has_remaining() {
        return Err(
            DecodeError::new(DecodeErrorKind::TrailingBytes(frame.remaining())).field(api.name()),
        );
    }
    Ok((header, body))
}

/// Encodes a decoded request frame again (for proxies and byte-exact tests).
pub fn encode_request_any(
    buf: &mut BytesMut,
    header: &RequestHeader,
    request: &AnyRequest,
) -> Result<(), EncodeError> {
    let start = buf.len();
    buf.put_i32(0);
    let version = header.request_api_version;
    header.encode(buf, request.api_key().request_header_version(version))?;
    request.encode(buf, version)?;
    patch_size(buf, start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{ApiVersionsRequest, MetadataRequest};

    #[test]
    fn incomplete_frames_are_not_errors() {
        let mut buf = BytesMut::from(&[0u8, 0, 0][..]);
        assert_eq!(decode_frame(&mut buf, 100).unwrap(), None);
        let mut buf = BytesMut::from(&[0u8, 0, 0, 5, 1, 2][..]);
        assert_eq!(decode_frame(&mut buf, 100).unwrap(), None);
        buf.extend_from_slice(&[3, 4, 5, 9]);
        assert_eq!(
            decode_frame(&mut buf, 100).unwrap().unwrap(),
            Bytes::from_static(&[1, 2, 3, 4, 5])
        );
        assert_eq!(&buf[..], &[9]);
    }

    #[test]
    fn oversize_and_negative_frames_are_errors() {
        let mut buf = BytesMut::from(&[0x7fu8, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            decode_frame(&mut buf, 1000).unwrap_err().kind(),
            DecodeErrorKind::FrameTooLarge { .. }
        ));
        let mut buf = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xfe][..]);
        assert!(matches!(
            decode_frame(&mut buf, 1000).unwrap_err().kind(),
            DecodeErrorKind::FrameTooLarge { .. }
        ));
    }

    #[test]
    fn request_frame_roundtrips_with_the_right_header_versions() {
        // ApiVersions v3 is flexible: header v2 (client id stays a classic string).
        let req = ApiVersionsRequest {
            client_software_name: "purekafka".into(),
            client_software_version: "0.1".into(),
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        encode_request(&mut buf, 7, Some("me"), 3, &req).unwrap();
        // size, api key 18, version 3, correlation 7, client id "me" (int16 length), no tags.
        assert_eq!(&buf[4..16], &[0, 18, 0, 3, 0, 0, 0, 7, 0, 2, b'm', b'e']);
        assert_eq!(buf[16], 0, "empty tagged-field section of header v2");
        let frame = decode_frame(&mut buf, DEFAULT_MAX_FRAME).unwrap().unwrap();
        let (h, body) = decode_request(frame).unwrap();
        assert_eq!(h.correlation_id, 7);
        assert_eq!(h.client_id.as_deref(), Some("me"));
        assert_eq!(body, AnyRequest::ApiVersions(req));

        // Metadata v4 is not flexible: header v1, no tagged fields.
        let mut buf = BytesMut::new();
        encode_request(&mut buf, 1, None, 4, &MetadataRequest::default()).unwrap();
        let frame = decode_frame(&mut buf, DEFAULT_MAX_FRAME).unwrap().unwrap();
        assert_eq!(&frame[8..10], &[0xff, 0xff], "null client id");
        let (_, body) = decode_request(frame).unwrap();
        assert!(matches!(body, AnyRequest::Metadata(_)));
    }

    #[test]
    fn api_versions_response_header_is_always_v0() {
        assert_eq!(ApiKey::ApiVersions.response_header_version(4), 0);
        assert_eq!(ApiKey::Fetch.response_header_version(12), 1);
        assert_eq!(ApiKey::Fetch.response_header_version(11), 0);
        assert_eq!(ApiKey::Produce.request_header_version(9), 2);
        assert_eq!(ApiKey::Produce.request_header_version(8), 1);
    }
}
