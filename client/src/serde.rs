//! Typed producing and consuming: keys and values as Rust values, turned
//! into bytes by a [`Serializer`] and back by a [`Deserializer`].
//!
//! ```no_run
//! # async fn demo() -> purekafka::Result<()> {
//! use purekafka::config::{ConsumerConfig, OffsetReset, ProducerConfig};
//! use purekafka::consumer::Consumer;
//! use purekafka::producer::Producer;
//! use purekafka::serde::{TypedConsumer, TypedProducer};
//! use std::time::Duration;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Order { id: u64, amount_cents: i64 }
//!
//! // JSON keys and values (the defaults).
//! let producer: TypedProducer<String, Order> =
//!     TypedProducer::new(Producer::new(ProducerConfig::new("localhost:9092")).await?);
//! let key = "customer-7".to_string();
//! let written = producer.send("orders", Some(&key), Some(&Order { id: 1, amount_cents: 995 })).await?;
//! println!("order 1 at offset {}", written.offset);
//!
//! let mut cfg = ConsumerConfig::new("localhost:9092");
//! cfg.auto_offset_reset = OffsetReset::Earliest;
//! let consumer: TypedConsumer<String, Order> = TypedConsumer::new(Consumer::new(cfg).await?);
//! consumer.consumer().assign(&[("orders", 0)])?;
//! for record in consumer.poll(Duration::from_secs(1)).await? {
//!     match record.value {
//!         Ok(Some(order)) => println!("order {} at offset {}", order.id, record.offset),
//!         Ok(None) => println!("tombstone at offset {}", record.offset),
//!         // A bad record does not stop the stream: skip it, or send
//!         // `record.raw_value` to a dead-letter topic.
//!         Err(e) => eprintln!("offset {}: {e}", record.offset),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Built in: [`Json`] (serde_json, both directions), [`Raw`] (bytes as they
//! are) and [`Utf8String`] (text, checked on the way in). A null key or
//! value is `None` on both sides and never reaches a (de)serializer.
//!
//! Errors are [`Error::Serialization`] naming the topic, whether the key or
//! the value failed, and the underlying error. On the consumer side they are
//! reported per record ([`TypedRecord::key`], [`TypedRecord::value`]): one bad
//! record never fails a poll.

use crate::consumer::{Consumer, ConsumerRecord};
use crate::error::{Error, Result};
use crate::producer::{
    Delivered, DeliveryFuture, Header, MetricsSnapshot, Producer, ProducerRecord,
};
use bytes::Bytes;
use purekafka_protocol::records::{Headers, TimestampType};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Turns a `T` into bytes for a record's key or value.
pub trait Serializer<T: ?Sized>: Send + Sync {
    /// Appends `value`'s bytes to `out` (which is empty when called by
    /// [`TypedProducer`]). `topic` is the record's topic, for serializers that
    /// depend on it (schema registries) and for error messages.
    fn serialize(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> Result<(), Error>;
}

/// Turns a record's key or value bytes into a `T`.
pub trait Deserializer<T>: Send + Sync {
    /// Decodes `bytes` read from `topic`.
    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<T, Error>;

    /// Decodes the record's own buffer. The default calls
    /// [`deserialize`](Self::deserialize); override it to keep a reference to
    /// the buffer instead of copying (as [`Raw`] does for [`Bytes`]).
    fn deserialize_bytes(&self, topic: &str, bytes: &Bytes) -> Result<T, Error> {
        self.deserialize(topic, bytes)
    }
}

impl<T: ?Sized, S: Serializer<T> + ?Sized> Serializer<T> for Arc<S> {
    fn serialize(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
        (**self).serialize(topic, value, out)
    }
}

impl<T, D: Deserializer<T> + ?Sized> Deserializer<T> for Arc<D> {
    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<T, Error> {
        (**self).deserialize(topic, bytes)
    }
    fn deserialize_bytes(&self, topic: &str, bytes: &Bytes) -> Result<T, Error> {
        (**self).deserialize_bytes(topic, bytes)
    }
}

/// JSON through serde_json: any `Serialize` type out, any
/// `DeserializeOwned` type in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json;

impl<T: ::serde::Serialize + ?Sized> Serializer<T> for Json {
    fn serialize(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
        serde_json::to_writer(out, value)
            .map_err(|e| Error::Serialization(format!("topic {topic}: cannot encode JSON: {e}")))
    }
}

impl<T: ::serde::de::DeserializeOwned> Deserializer<T> for Json {
    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Serialization(format!("topic {topic}: invalid JSON: {e}")))
    }
}

/// Bytes as they are. Serializes anything that is `AsRef<[u8]>`
/// (`Vec<u8>`, `[u8]`, `str`, `Bytes`); deserializes into `Vec<u8>` or
/// [`Bytes`] (the latter without copying).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Raw;

impl<T: AsRef<[u8]> + ?Sized> Serializer<T> for Raw {
    fn serialize(&self, _topic: &str, value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
        out.extend_from_slice(value.as_ref());
        Ok(())
    }
}

impl Deserializer<Vec<u8>> for Raw {
    fn deserialize(&self, _topic: &str, bytes: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(bytes.to_vec())
    }
}

impl Deserializer<Bytes> for Raw {
    fn deserialize(&self, _topic: &str, bytes: &[u8]) -> Result<Bytes, Error> {
        Ok(Bytes::copy_from_slice(bytes))
    }
    fn deserialize_bytes(&self, _topic: &str, bytes: &Bytes) -> Result<Bytes, Error> {
        Ok(bytes.clone())
    }
}

/// UTF-8 text: serializes anything that is `AsRef<str>`; deserializes into
/// `String`, failing on bytes that are not UTF-8.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8String;

impl<T: AsRef<str> + ?Sized> Serializer<T> for Utf8String {
    fn serialize(&self, _topic: &str, value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
        out.extend_from_slice(value.as_ref().as_bytes());
        Ok(())
    }
}

impl Deserializer<String> for Utf8String {
    fn deserialize(&self, topic: &str, bytes: &[u8]) -> Result<String, Error> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(Error::Serialization(format!(
                "topic {topic}: invalid UTF-8: {e}"
            ))),
        }
    }
}

/// Says which part of the record an error is about.
fn in_part(part: &'static str, e: Error) -> Error {
    match e {
        Error::Serialization(m) => Error::Serialization(format!("{part}: {m}")),
        other => other,
    }
}

// ---------------------------------------------------------------- producing

/// Serialization buffers, reused across sends so a steady stream of sends
/// allocates nothing for them.
#[derive(Default)]
struct BufPool {
    free: Mutex<Vec<Vec<u8>>>,
}

/// Buffers kept for reuse, at most.
const POOL_MAX_BUFFERS: usize = 64;
/// Buffers that grew past this are dropped rather than kept.
const POOL_MAX_CAPACITY: usize = 1 << 20;

impl BufPool {
    fn take(&self) -> PooledBuf<'_> {
        let buf = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        PooledBuf { pool: self, buf }
    }
}

/// A pooled buffer; goes back to the pool when dropped (also when a send is
/// cancelled).
struct PooledBuf<'a> {
    pool: &'a BufPool,
    buf: Vec<u8>,
}

impl Drop for PooledBuf<'_> {
    fn drop(&mut self) {
        if self.buf.capacity() > POOL_MAX_CAPACITY {
            return;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut free = self
            .pool
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if free.len() < POOL_MAX_BUFFERS {
            free.push(buf);
        }
    }
}

/// A record to send with a [`TypedProducer`]; it borrows its key, value and
/// headers.
#[derive(Debug)]
pub struct TypedProducerRecord<'a, K: ?Sized, V: ?Sized> {
    /// Topic.
    pub topic: &'a str,
    /// Partition; `None` lets the partitioner choose (by the serialized key).
    pub partition: Option<i32>,
    /// Key; `None` is a null key.
    pub key: Option<&'a K>,
    /// Value; `None` is a null value (a tombstone on compacted topics).
    pub value: Option<&'a V>,
    /// Headers.
    pub headers: &'a [Header],
    /// Create time in milliseconds since the epoch; `None` = now.
    pub timestamp: Option<i64>,
}

impl<K: ?Sized, V: ?Sized> Clone for TypedProducerRecord<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K: ?Sized, V: ?Sized> Copy for TypedProducerRecord<'_, K, V> {}

impl<'a, K: ?Sized, V: ?Sized> TypedProducerRecord<'a, K, V> {
    crate::producer::record_setters!('a);

    /// Sets the key.
    pub fn key(mut self, key: &'a K) -> Self {
        self.key = Some(key);
        self
    }

    /// Sets the value.
    pub fn value(mut self, value: &'a V) -> Self {
        self.value = Some(value);
        self
    }
}

/// A [`Producer`] that takes keys of type `K` and values of type `V`,
/// serialized by `KS` and `VS` (JSON by default). Cheap to clone.
pub struct TypedProducer<K: ?Sized, V: ?Sized, KS = Json, VS = Json> {
    producer: Producer,
    key_serializer: KS,
    value_serializer: VS,
    bufs: Arc<BufPool>,
    _types: PhantomData<fn(&K, &V)>,
}

impl<K: ?Sized, V: ?Sized, KS: Clone, VS: Clone> Clone for TypedProducer<K, V, KS, VS> {
    fn clone(&self) -> Self {
        TypedProducer {
            producer: self.producer.clone(),
            key_serializer: self.key_serializer.clone(),
            value_serializer: self.value_serializer.clone(),
            bufs: self.bufs.clone(),
            _types: PhantomData,
        }
    }
}

impl<K: ?Sized, V: ?Sized, KS, VS> std::fmt::Debug for TypedProducer<K, V, KS, VS> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedProducer")
            .field("producer", &self.producer)
            .field("key", &std::any::type_name::<K>())
            .field("value", &std::any::type_name::<V>())
            .finish()
    }
}

impl<K: ?Sized, V: ?Sized, KS: Default, VS: Default> TypedProducer<K, V, KS, VS> {
    /// Wraps `producer`, with default-constructed serializers.
    pub fn new(producer: Producer) -> Self {
        TypedProducer {
            producer,
            key_serializer: KS::default(),
            value_serializer: VS::default(),
            bufs: Arc::default(),
            _types: PhantomData,
        }
    }
}

impl<K: ?Sized, V: ?Sized, KS, VS> TypedProducer<K, V, KS, VS>
where
    KS: Serializer<K>,
    VS: Serializer<V>,
{
    /// Wraps `producer` with these serializers.
    pub fn with_serializers(producer: Producer, key_serializer: KS, value_serializer: VS) -> Self {
        TypedProducer {
            producer,
            key_serializer,
            value_serializer,
            bufs: Arc::default(),
            _types: PhantomData,
        }
    }

    /// Serializes `key` and `value`, sends them to `topic` (partition chosen
    /// by the partitioner from the serialized key) and waits for the broker's
    /// acknowledgement, as [`Producer::send`] does. A serializer's error is
    /// returned before anything is sent. To send many records at once, use
    /// [`enqueue`](Self::enqueue).
    pub async fn send(&self, topic: &str, key: Option<&K>, value: Option<&V>) -> Result<Delivered> {
        self.send_record(TypedProducerRecord {
            topic,
            partition: None,
            key,
            value,
            headers: &[],
            timestamp: None,
        })
        .await
    }

    /// As [`send`](Self::send), with a partition, headers or timestamp.
    pub async fn send_record(&self, record: TypedProducerRecord<'_, K, V>) -> Result<Delivered> {
        self.enqueue(record).await?.await
    }

    /// Serializes the record and enqueues it without waiting for the broker,
    /// as [`Producer::enqueue`] does: the [`DeliveryFuture`] resolves on
    /// acknowledgement. The form for throughput (records share batches).
    pub async fn enqueue(&self, record: TypedProducerRecord<'_, K, V>) -> Result<DeliveryFuture> {
        let mut kbuf = self.bufs.take();
        let mut vbuf = self.bufs.take();
        let (has_key, has_value) = self.serialize(&record, &mut kbuf.buf, &mut vbuf.buf)?;
        self.producer
            .enqueue(raw_record(
                &record,
                has_key.then_some(&kbuf.buf),
                has_value.then_some(&vbuf.buf),
            ))
            .await
    }

    /// As [`enqueue`](Self::enqueue) without waiting at all (see
    /// [`Producer::try_enqueue`]).
    pub fn try_enqueue(&self, record: TypedProducerRecord<'_, K, V>) -> Result<DeliveryFuture> {
        let mut kbuf = self.bufs.take();
        let mut vbuf = self.bufs.take();
        let (has_key, has_value) = self.serialize(&record, &mut kbuf.buf, &mut vbuf.buf)?;
        self.producer.try_enqueue(raw_record(
            &record,
            has_key.then_some(&kbuf.buf),
            has_value.then_some(&vbuf.buf),
        ))
    }

    /// Serializes the record's key and value into the buffers; returns which
    /// are present (non-null).
    fn serialize(
        &self,
        record: &TypedProducerRecord<'_, K, V>,
        kbuf: &mut Vec<u8>,
        vbuf: &mut Vec<u8>,
    ) -> Result<(bool, bool)> {
        if let Some(k) = record.key {
            self.key_serializer
                .serialize(record.topic, k, kbuf)
                .map_err(|e| in_part("key", e))?;
        }
        if let Some(v) = record.value {
            self.value_serializer
                .serialize(record.topic, v, vbuf)
                .map_err(|e| in_part("value", e))?;
        }
        Ok((record.key.is_some(), record.value.is_some()))
    }
}

/// The untyped record, with the serialized key and value.
fn raw_record<'a, K: ?Sized, V: ?Sized>(
    r: &TypedProducerRecord<'a, K, V>,
    key: Option<&'a Vec<u8>>,
    value: Option<&'a Vec<u8>>,
) -> ProducerRecord<'a> {
    ProducerRecord {
        topic: r.topic,
        partition: r.partition,
        key: key.map(Vec::as_slice),
        value: value.map(Vec::as_slice),
        headers: r.headers,
        timestamp: r.timestamp,
    }
}

impl<K: ?Sized, V: ?Sized, KS, VS> TypedProducer<K, V, KS, VS> {
    /// See [`Producer::flush`].
    pub async fn flush(&self) -> Result<()> {
        self.producer.flush().await
    }

    /// See [`Producer::close`].
    pub async fn close(&self, timeout: Duration) -> Result<()> {
        self.producer.close(timeout).await
    }

    /// See [`Producer::metrics`].
    pub fn metrics(&self) -> MetricsSnapshot {
        self.producer.metrics()
    }

    /// The untyped producer (shared with this one).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// The untyped producer.
    pub fn into_inner(self) -> Producer {
        self.producer
    }
}

// ---------------------------------------------------------------- consuming

/// A record read by a [`TypedConsumer`]. Key and value are each decoded on
/// their own: a record whose value does not decode still has its key, its
/// position and its raw bytes.
#[derive(Debug, Clone)]
pub struct TypedRecord<K, V> {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp (ms since the epoch).
    pub timestamp: i64,
    /// Whether the timestamp is the producer's or the broker's.
    pub timestamp_type: TimestampType,
    /// Headers.
    pub headers: Headers,
    /// The decoded key: `Ok(None)` for a null key, `Err` when it did not
    /// decode.
    pub key: Result<Option<K>, Error>,
    /// The decoded value: `Ok(None)` for a null value, `Err` when it did not
    /// decode.
    pub value: Result<Option<V>, Error>,
    /// The key's bytes as read (shares the fetched buffer).
    pub raw_key: Option<Bytes>,
    /// The value's bytes as read (shares the fetched buffer), e.g. for a
    /// dead-letter topic.
    pub raw_value: Option<Bytes>,
}

impl<K, V> TypedRecord<K, V> {
    /// Decodes a record's key and value.
    pub fn decode<KD: Deserializer<K> + ?Sized, VD: Deserializer<V> + ?Sized>(
        record: ConsumerRecord,
        kd: &KD,
        vd: &VD,
    ) -> Self {
        let topic = &*record.topic;
        let key = match &record.key {
            None => Ok(None),
            Some(b) => kd
                .deserialize_bytes(topic, b)
                .map(Some)
                .map_err(|e| in_part("key", e)),
        };
        let value = match &record.value {
            None => Ok(None),
            Some(b) => vd
                .deserialize_bytes(topic, b)
                .map(Some)
                .map_err(|e| in_part("value", e)),
        };
        TypedRecord {
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
            timestamp: record.timestamp,
            timestamp_type: record.timestamp_type,
            headers: record.headers,
            key,
            value,
            raw_key: record.key,
            raw_value: record.value,
        }
    }

    /// Whether both key and value decoded.
    pub fn is_ok(&self) -> bool {
        self.key.is_ok() && self.value.is_ok()
    }
}

/// A [`Consumer`] that decodes keys into `K` and values into `V` with `KD`
/// and `VD` (JSON by default). Assign, seek, pause and close through
/// [`consumer`](Self::consumer).
pub struct TypedConsumer<K, V, KD = Json, VD = Json> {
    consumer: Consumer,
    key_deserializer: KD,
    value_deserializer: VD,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V, KD: Clone, VD: Clone> Clone for TypedConsumer<K, V, KD, VD> {
    fn clone(&self) -> Self {
        TypedConsumer {
            consumer: self.consumer.clone(),
            key_deserializer: self.key_deserializer.clone(),
            value_deserializer: self.value_deserializer.clone(),
            _types: PhantomData,
        }
    }
}

impl<K, V, KD, VD> std::fmt::Debug for TypedConsumer<K, V, KD, VD> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedConsumer")
            .field("consumer", &self.consumer)
            .field("key", &std::any::type_name::<K>())
            .field("value", &std::any::type_name::<V>())
            .finish()
    }
}

impl<K, V, KD: Default, VD: Default> TypedConsumer<K, V, KD, VD> {
    /// Wraps `consumer`, with default-constructed deserializers.
    pub fn new(consumer: Consumer) -> Self {
        TypedConsumer {
            consumer,
            key_deserializer: KD::default(),
            value_deserializer: VD::default(),
            _types: PhantomData,
        }
    }
}

impl<K, V, KD, VD> TypedConsumer<K, V, KD, VD>
where
    KD: Deserializer<K>,
    VD: Deserializer<V>,
{
    /// Wraps `consumer` with these deserializers.
    pub fn with_deserializers(
        consumer: Consumer,
        key_deserializer: KD,
        value_deserializer: VD,
    ) -> Self {
        TypedConsumer {
            consumer,
            key_deserializer,
            value_deserializer,
            _types: PhantomData,
        }
    }

    /// As [`Consumer::poll`], decoding each record. Errors of the consumer
    /// (not of decoding) are returned as they are; decoding errors are in
    /// each record.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<TypedRecord<K, V>>> {
        let records = self.consumer.poll(timeout).await?;
        Ok(records.into_iter().map(|r| self.decode(r)).collect())
    }

    /// Decodes one record read from the untyped consumer (e.g. from
    /// [`Consumer::stream`](crate::consumer::Consumer::stream)).
    pub fn decode(&self, record: ConsumerRecord) -> TypedRecord<K, V> {
        TypedRecord::decode(record, &self.key_deserializer, &self.value_deserializer)
    }
}

impl<K, V, KD, VD> TypedConsumer<K, V, KD, VD> {
    /// The untyped consumer (shared with this one): assign, seek, pause,
    /// positions, close.
    pub fn consumer(&self) -> &Consumer {
        &self.consumer
    }

    /// The untyped consumer.
    pub fn into_inner(self) -> Consumer {
        self.consumer
    }

    /// See [`Consumer::close`].
    pub async fn close(&self) -> Result<()> {
        self.consumer.close().await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use ::serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Event {
        id: u64,
        name: String,
        tags: Vec<String>,
        score: Option<f64>,
    }

    fn ser<T: ?Sized, S: Serializer<T>>(s: &S, v: &T) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        s.serialize("t", v, &mut out)?;
        Ok(out)
    }

    #[test]
    fn json_round_trips_a_struct() {
        let e = Event {
            id: 7,
            name: "clicked \"buy\" ✓".into(),
            tags: vec!["a".into(), "b".into()],
            score: None,
        };
        let bytes = ser(&Json, &e).unwrap();
        assert_eq!(
            bytes,
            r#"{"id":7,"name":"clicked \"buy\" ✓","tags":["a","b"],"score":null}"#.as_bytes()
        );
        let back: Event = Json.deserialize("t", &bytes).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn json_serializes_unsized_and_appends() {
        let mut out = b"prefix:".to_vec();
        Serializer::<str>::serialize(&Json, "t", "hi", &mut out).unwrap();
        assert_eq!(out, b"prefix:\"hi\"");
        assert_eq!(ser(&Json, &[1u8, 2][..]).unwrap(), b"[1,2]");
    }

    #[test]
    fn json_errors_name_the_topic_and_the_cause() {
        let err = Deserializer::<Event>::deserialize(&Json, "orders", b"{\"id\": 1,").unwrap_err();
        let Error::Serialization(m) = &err else {
            panic!("not a serialization error: {err:?}")
        };
        assert!(m.contains("orders"), "{m}");
        assert!(m.contains("EOF"), "{m}");
        let err =
            Deserializer::<Event>::deserialize(&Json, "orders", br#"{"id":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
        assert!(err.to_string().starts_with("serialization failed"), "{err}");
        // A map with non-string keys cannot be JSON.
        let mut m = BTreeMap::new();
        m.insert(vec![1u8], 1);
        let err = ser(&Json, &m).unwrap_err();
        assert!(
            matches!(&err, Error::Serialization(s) if s.contains("topic t") && s.contains("key must be a string")),
            "{err}"
        );
    }

    #[test]
    fn raw_passes_bytes_through() {
        assert_eq!(ser(&Raw, &b"\x00\xff"[..]).unwrap(), b"\x00\xff");
        assert_eq!(ser(&Raw, "text").unwrap(), b"text");
        assert_eq!(ser(&Raw, &vec![9u8]).unwrap(), [9]);
        let v: Vec<u8> = Raw.deserialize("t", b"\x01\x02").unwrap();
        assert_eq!(v, [1, 2]);
        // Bytes from the record's buffer are shared, not copied.
        let buf = Bytes::from_static(b"shared");
        let b: Bytes = Raw.deserialize_bytes("t", &buf).unwrap();
        assert_eq!(b.as_ptr(), buf.as_ptr());
    }

    #[test]
    fn utf8_checks_text() {
        assert_eq!(ser(&Utf8String, "héllo").unwrap(), "héllo".as_bytes());
        assert_eq!(ser(&Utf8String, &String::from("x")).unwrap(), b"x");
        let s: String = Utf8String.deserialize("t", "héllo".as_bytes()).unwrap();
        assert_eq!(s, "héllo");
        let err = Deserializer::<String>::deserialize(&Utf8String, "names", b"ok\xff").unwrap_err();
        assert!(
            matches!(&err, Error::Serialization(m) if m.contains("names") && m.contains("utf-8")),
            "{err}"
        );
    }

    fn record(key: Option<&'static [u8]>, value: Option<&'static [u8]>) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("orders"),
            partition: 2,
            offset: 41,
            timestamp: 1_700_000_000_000,
            timestamp_type: TimestampType::CreateTime,
            key: key.map(Bytes::from_static),
            value: value.map(Bytes::from_static),
            headers: Headers::new(),
        }
    }

    #[test]
    fn typed_record_decodes_key_and_value_separately() {
        let r: TypedRecord<String, Event> =
            TypedRecord::decode(record(Some(b"\"k\""), Some(b"not json")), &Json, &Json);
        assert_eq!(r.key.as_ref().unwrap().as_deref(), Some("k"));
        let err = r.value.as_ref().unwrap_err();
        assert!(
            err.to_string()
                .contains("value: topic orders: invalid JSON"),
            "{err}"
        );
        assert!(!r.is_ok());
        assert_eq!((r.partition, r.offset), (2, 41));
        assert_eq!(r.raw_value.as_deref(), Some(&b"not json"[..]));

        let r: TypedRecord<String, Event> = TypedRecord::decode(record(None, None), &Json, &Json);
        assert!(matches!(r.key, Ok(None)));
        assert!(matches!(r.value, Ok(None)));
        assert!(r.is_ok());

        let r: TypedRecord<String, Bytes> =
            TypedRecord::decode(record(Some(b"\xff"), Some(b"v")), &Utf8String, &Raw);
        assert!(
            matches!(&r.key, Err(Error::Serialization(m)) if m.starts_with("key: ")),
            "{:?}",
            r.key
        );
        assert_eq!(r.value.unwrap().unwrap(), &b"v"[..]);
    }

    #[test]
    fn buffers_are_reused_and_bounded() {
        let pool = BufPool::default();
        let ptr = {
            let mut b = pool.take();
            b.buf.extend_from_slice(&[1; 100]);
            b.buf.as_ptr()
        };
        let b = pool.take();
        assert!(b.buf.is_empty());
        assert_eq!(b.buf.as_ptr(), ptr, "the buffer was not reused");
        drop(b);
        {
            let mut big = pool.take();
            big.buf.resize(POOL_MAX_CAPACITY + 1, 0);
        }
        assert!(
            pool.free.lock().unwrap().is_empty(),
            "an oversized buffer was kept"
        );
        let many: Vec<_> = (0..POOL_MAX_BUFFERS + 10).map(|_| pool.take()).collect();
        drop(many);
        assert_eq!(pool.free.lock().unwrap().len(), POOL_MAX_BUFFERS);
    }
}
