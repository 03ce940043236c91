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
    let start = buf.len();
    buf.put_i32(0);
    write_request_header(buf, R::KEY, version, correlation_id, client_id)?;
    request.encode(buf, version)?;
    patch_size(buf, start, 0)
}

/// Writes the request header of `api` at `version` (v1 or v2, as the
/// version asks).
fn write_request_header(
    buf: &mut BytesMut,
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
) -> Result<(), EncodeError> {
    let header = RequestHeader {
        request_api_key: api as i16,
        request_api_version: version,
        correlation_id,
        client_id: client_id.map(str::to_owned),
        unknown_tagged_fields: Default::default(),
    };
    header.encode(buf, api.request_header_version(version))
}

/// A request whose body is encoded and whose frame head (size and header,
/// with the correlation id) is written when it is sent: a connection
/// assigns correlation ids in the order it writes requests, so the body can
/// be encoded anywhere beforehand, once, and go to the socket as it is.
///
/// On the wire a request is `head(correlation id) ++ body`:
/// [`EncodedRequest::write_head`] writes the head.
#[derive(Debug, Clone)]
pub struct EncodedRequest {
    api: ApiKey,
    version: i16,
    body: Bytes,
}

impl EncodedRequest {
    /// Encodes `request`'s body at `version`.
    pub fn new<R: Request>(request: &R, version: i16) -> Result<Self, EncodeError> {
        Self::with(R::KEY, version, |buf| request.encode(buf, version))
    }

    /// Encodes a body of `api` at `version` that `write` appends (for
    /// requests whose type is chosen at run time).
    pub fn with<F>(api: ApiKey, version: i16, write: F) -> Result<Self, EncodeError>
    where
        F: FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
    {
        let mut buf = BytesMut::with_capacity(256);
        write(&mut buf)?;
        Ok(EncodedRequest {
            api,
            version,
            body: buf.freeze(),
        })
    }

    /// The API.
    pub fn api(&self) -> ApiKey {
        self.api
    }

    /// The version the body is encoded at.
    pub fn version(&self) -> i16 {
        self.version
    }

    /// The encoded body (after the header).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Appends the frame's head to `buf`: the size of the whole frame and
    /// the request header with `correlation_id`. The body must follow it.
    pub fn write_head(
        &self,
        buf: &mut BytesMut,
        correlation_id: i32,
        client_id: Option<&str>,
    ) -> Result<(), EncodeError> {
        let start = buf.len();
        buf.put_i32(0);
        write_request_header(buf, self.api, self.version, correlation_id, client_id)?;
        patch_size(buf, start, self.body.len())
    }
}

/// Fills in the size field of the frame that starts at `start`: the caller
/// put a 4-byte placeholder there, then the header and body, except for
/// `more` bytes that will follow in another buffer.
fn patch_size(buf: &mut BytesMut, start: usize, more: usize) -> Result<(), EncodeError> {
    let size = buf
        .len()
        .saturating_sub(start)
        .saturating_sub(4)
        .saturating_add(more);
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
        unknown_tagged_fields: Default::default(),
    };
    header.encode(buf, response.api_key().response_header_version(version))?;
    response.encode(buf, version)?;
    patch_size(buf, start, 0)
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
    patch_size(buf, start, 0)
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
    fn an_encoded_request_with_its_head_is_the_frame_encode_request_writes() {
        let req = MetadataRequest {
            topics: Some(vec![]),
            ..Default::default()
        };
        for version in [4, 12] {
            let mut whole = BytesMut::new();
            encode_request(&mut whole, 41, Some("cid"), version, &req).unwrap();
            let enc = EncodedRequest::new(&req, version).unwrap();
            assert_eq!((enc.api(), enc.version()), (ApiKey::Metadata, version));
            let mut head = BytesMut::new();
            enc.write_head(&mut head, 41, Some("cid")).unwrap();
            head.extend_from_slice(enc.body());
            assert_eq!(head, whole, "v{version}");
            let frame = decode_frame(&mut head, DEFAULT_MAX_FRAME).unwrap().unwrap();
            let (h, _) = decode_request(frame).unwrap();
            assert_eq!(h.correlation_id, 41);
        }
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
