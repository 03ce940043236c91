//! CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of
//! legacy v0/v1 messages. Only read paths use it, so a plain table is enough.

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut rest: &mut [u32] = &mut table;
    let mut i = 0u32;
    while let [entry, tail @ ..] = rest {
        let mut c = i;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        *entry = c;
        rest = tail;
        i += 1;
    }
    table
};

/// The table entry for the low byte of `index`.
fn entry(index: u32) -> u32 {
    // Every u8 indexes the 256-entry table, so the fallback is never taken.
    TABLE.get((index & 0xff) as usize).copied().unwrap_or(0)
}

/// CRC-32 of `data`.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = entry(c ^ u32::from(b)) ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(super::crc32(b""), 0);
    }
}
