//! Reads files out of a jar (a zip archive) without unpacking it: enough of
//! the zip format for the jars Maven Central serves (stored or deflated
//! entries, no zip64, no encryption), with every entry's CRC-32 checked.

use std::io::Read;

/// The end-of-central-directory record: signature, then sizes and offsets.
const EOCD_SIG: u32 = 0x0605_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;

fn u16_at(b: &[u8], at: usize) -> Result<u16, String> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| format!("zip truncated at byte {at}"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| format!("zip truncated at byte {at}"))
}

/// Every entry of the archive `zip` whose name `keep` accepts, as
/// `(name, contents)` in central-directory order.
pub fn entries(zip: &[u8], keep: impl Fn(&str) -> bool) -> Result<Vec<(String, Vec<u8>)>, String> {
    // The record is 22 bytes plus a comment of at most 64 KiB, at the end.
    let lowest = zip.len().saturating_sub(22 + 0xffff);
    let eocd = (lowest..=zip.len().saturating_sub(22))
        .rev()
        .find(|&i| u32_at(zip, i) == Ok(EOCD_SIG))
        .ok_or("no end-of-central-directory record: not a zip file")?;
    let count = usize::from(u16_at(zip, eocd + 10)?);
    let mut at = u32_at(zip, eocd + 16)? as usize;
    if count == 0xffff || at == 0xffff_ffff {
        return Err("zip64 archives are not supported".into());
    }
    let mut out = Vec::new();
    for _ in 0..count {
        if u32_at(zip, at)? != CENTRAL_SIG {
            return Err(format!("bad central directory entry at byte {at}"));
        }
        let method = u16_at(zip, at + 10)?;
        let crc = u32_at(zip, at + 16)?;
        let packed = u32_at(zip, at + 20)? as usize;
        let size = u32_at(zip, at + 24)? as usize;
        let name_len = usize::from(u16_at(zip, at + 28)?);
        let extra_len = usize::from(u16_at(zip, at + 30)?);
        let comment_len = usize::from(u16_at(zip, at + 32)?);
        let local = u32_at(zip, at + 42)? as usize;
        let name = zip
            .get(at + 46..at + 46 + name_len)
            .ok_or("zip truncated in an entry name")?;
        let name = String::from_utf8_lossy(name).into_owned();
        at += 46 + name_len + extra_len + comment_len;
        if !keep(&name) {
            continue;
        }
        if u32_at(zip, local)? != LOCAL_SIG {
            return Err(format!("{name}: bad local header"));
        }
        let start = local
            + 30
            + usize::from(u16_at(zip, local + 26)?)
            + usize::from(u16_at(zip, local + 28)?);
        let data = zip
            .get(start..start + packed)
            .ok_or_else(|| format!("{name}: truncated data"))?;
        let contents = match method {
            0 => data.to_vec(),
            8 => {
                let mut v = Vec::with_capacity(size);
                flate2::read::DeflateDecoder::new(data)
                    .read_to_end(&mut v)
                    .map_err(|e| format!("{name}: inflate: {e}"))?;
                v
            }
            m => return Err(format!("{name}: compression method {m} is not supported")),
        };
        let mut sum = flate2::Crc::new();
        sum.update(&contents);
        if contents.len() != size || sum.sum() != crc {
            return Err(format!(
                "{name}: size or CRC-32 does not match the directory"
            ));
        }
        out.push((name, contents));
    }
    Ok(out)
}
