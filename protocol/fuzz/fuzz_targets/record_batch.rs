//! Record sets: walk every batch, decompress, read every record, header and
//! control record. The first byte picks the options so the fuzzer can also
//! get past the CRC check.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use purekafka_protocol::records::{DecodeOptions, RecordBatches};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let options = DecodeOptions {
        verify_crc: mode & 1 == 0,
        max_decompressed_size: 1 << 20,
    };
    let mut batches = RecordBatches::with_options(Bytes::copy_from_slice(rest), options);
    for batch in batches.by_ref() {
        let Ok(batch) = batch else { break };
        let header = batch.header();
        let _ = (
            header.last_offset(),
            header.next_offset(),
            header.size_in_bytes(),
        );
        let _ = batch.control_record();
        let Ok(records) = batch.records() else {
            continue;
        };
        for record in records {
            let Ok(record) = record else { break };
            let mut n = record.key.as_ref().map_or(0, |k| k.len())
                + record.value.as_ref().map_or(0, |v| v.len());
            for h in &record.headers {
                n += h.key.len() + h.value.as_ref().map_or(0, |v| v.len());
                let _ = h.key_str();
            }
            std::hint::black_box(n);
        }
    }
    let _ = batches.incomplete();
});
