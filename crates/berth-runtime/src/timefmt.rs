//! RFC 3339 timestamps in UTC, as runc writes them in state.json and in its JSON log.
//!
//! A few lines of calendar arithmetic instead of a date crate keep the static binary small.

use std::time::{SystemTime, UNIX_EPOCH};

/// Civil (year, month, day) from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-11-25T20:06:09.123456789Z` for a point in time (nanosecond precision, like Go's RFC3339Nano).
pub fn rfc3339_nanos(t: SystemTime) -> String {
    let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(_) => (0, 0),
    };
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// The current time in UTC, RFC 3339 with nanoseconds (`2026-11-25T20:06:09.123456789Z`), as
/// runc writes it in state.json and its JSON log.
pub fn now_rfc3339() -> String {
    rfc3339_nanos(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn epoch() {
        assert_eq!(rfc3339_nanos(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
    }

    #[test]
    fn known_dates() {
        // 2000-02-29 (a leap day in a century leap year) 12:34:56.5
        let t = UNIX_EPOCH + Duration::new(951_827_696, 500_000_000);
        assert_eq!(rfc3339_nanos(t), "2000-02-29T12:34:56.500000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_219_200);
        assert_eq!(rfc3339_nanos(t), "2026-11-21T00:00:00.000000000Z");
    }
}
