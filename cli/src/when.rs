//! Points in time on the command line: milliseconds since the epoch,
//! RFC 3339 (`2026-12-01T15:00:00Z`, `2026-12-01T15:00:00.250+01:00`,
//! `2026-12-01` for midnight UTC), or relative to now (`-15m`, `-2h`,
//! `-1d`, `-30s`, `now`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in ms since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str, what: &str) -> Result<i64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} {s:?} is not a number"));
    }
    s.parse()
        .map_err(|_| format!("{what} {s:?} is out of range"))
}

/// Parses a point in time into ms since the epoch.
pub fn parse(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let help = "expected ms since the epoch, RFC 3339 (2026-12-01T15:00:00Z), a date (2026-12-01), or -15m/-2h/-1d/-30s/now";
    if s == "now" {
        return Ok(now_ms());
    }
    if let Some(rel) = s.strip_prefix('-') {
        let (n, unit) = rel.split_at(rel.find(|c: char| !c.is_ascii_digit()).unwrap_or(rel.len()));
        let n = num(n, "relative time").map_err(|e| format!("{e}: {help}"))?;
        let ms = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(format!("unknown unit in {s:?}: {help}")),
        };
        return Ok(now_ms() - n.saturating_mul(ms));
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return num(s, "timestamp");
    }
    parse_rfc3339(s).map_err(|e| format!("{e}: {help}"))
}

fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a date or time");
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (y, m, d) = (num(y, "year")?, num(m, "month")?, num(d, "day")?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    if let Some(t) = time {
        // Split off the zone: Z, +hh:mm or -hh:mm.
        let (clock, offset_ms) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else if let Some(i) = t.rfind(['+', '-']) {
            let (c, z) = t.split_at(i);
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (h, mi) = z[1..].split_once(':').ok_or_else(bad)?;
            (
                c,
                sign * (num(h, "zone hours")? * 3_600_000 + num(mi, "zone minutes")? * 60_000),
            )
        } else {
            return Err(format!("{s:?} has no time zone (add Z for UTC)"));
        };
        let (hms, frac) = match clock.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (clock, None),
        };
        let mut f = hms.split(':');
        let (Some(h), Some(mi), sec) = (f.next(), f.next(), f.next()) else {
            return Err(bad());
        };
        let (h, mi) = (num(h, "hour")?, num(mi, "minute")?);
        let sec = sec.map_or(Ok(0), |x| num(x, "second"))?;
        if h > 23 || mi > 59 || sec > 60 {
            return Err(bad());
        }
        let frac_ms = match frac {
            Some(fr) => {
                let digits: String = fr.chars().chain("000".chars()).take(3).collect();
                num(&digits, "fraction")?
            }
            None => 0,
        };
        ms += h * 3_600_000 + mi * 60_000 + sec * 1000 + frac_ms - offset_ms;
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_dates() {
        assert_eq!(parse("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse("2026-12-01").unwrap(), 1_796_083_200_000);
        assert_eq!(
            parse("2026-12-01T15:00:00.25+01:00").unwrap(),
            1_796_083_200_000 + 14 * 3_600_000 + 250
        );
        assert_eq!(parse("1700000000000").unwrap(), 1_700_000_000_000);
        assert!(parse("2026-13-01").is_err());
        assert!(parse("2026-12-01T10:00").unwrap_err().contains("time zone"));
    }

    #[test]
    fn relative() {
        let before = now_ms();
        let t = parse("-2h").unwrap();
        assert!((before - 7_200_000 - t).abs() < 5_000);
        assert!(parse("-2y").is_err());
    }
}
