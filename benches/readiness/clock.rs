//! Clocks: the host's now, Docker's RFC 3339 timestamps, and the daemon's clock offset.
//! Times are nanoseconds since the Unix epoch, signed so that differences can be.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use testdock::bollard::Docker;

use crate::support::Result;

/// Limit for the clock check through `info`.
pub(crate) const CLOCK_CHECK_LIMIT: Duration = Duration::from_secs(5);

/// The host's clock now.
pub(crate) fn now_ns() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// `later - earlier` in milliseconds.
pub(crate) fn ms_between(later: i128, earlier: i128) -> f64 {
    (later - earlier) as f64 / 1e6
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 timestamp as Docker writes them (`2025-01-02T03:04:05.123456789Z`, or
/// with a `+hh:mm` offset; the fraction may be shorter or absent).
pub(crate) fn parse_rfc3339(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |from: usize, to: usize| s.get(from..to)?.parse::<i64>().ok();
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = &s[19..];
    let mut nanos: i128 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = frac[..digits].parse::<i128>().ok()? * 10i128.pow(9 - digits as u32);
        rest = &frac[digits..];
    }
    let offset_s: i64 = match rest.as_bytes().first()? {
        b'Z' | b'z' if rest.len() == 1 => 0,
        sign @ (b'+' | b'-') if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let h = rest[1..3].parse::<i64>().ok()?;
            let m = rest[4..6].parse::<i64>().ok()?;
            let v = h * 3600 + m * 60;
            if *sign == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(secs as i128 * 1_000_000_000 + nanos)
}

/// The daemon's clock minus the host's, from `info` (its `SystemTime`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClockOffset {
    /// Median over a few reads, ms.
    pub(crate) offset_ms: f64,
    /// Half the round trip of the read it came from, ms: the offset's uncertainty.
    pub(crate) uncertainty_ms: f64,
}

pub(crate) async fn clock_offset(docker: &Docker) -> Result<ClockOffset> {
    let mut reads = Vec::new();
    for _ in 0..5 {
        let before = now_ns();
        let info = docker.info().await?;
        let after = now_ns();
        let Some(daemon) = info.system_time.as_deref().and_then(parse_rfc3339) else {
            return Err(format!(
                "the daemon's SystemTime {:?} is not an RFC 3339 timestamp",
                info.system_time
            )
            .into());
        };
        let mid = before + (after - before) / 2;
        reads.push((ms_between(daemon, mid), ms_between(after, before) / 2.0));
    }
    reads.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (offset_ms, uncertainty_ms) = reads[reads.len() / 2];
    Ok(ClockOffset {
        offset_ms,
        uncertainty_ms,
    })
}
