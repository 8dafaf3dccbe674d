//! The latest expiry a key can have, and times shown as RFC 3339.

use std::time::{Duration, SystemTime};

/// The latest expiry a key can be given, in seconds from the epoch:
/// 9999-12-31T23:59:59Z, the end of what RFC 3339 and SQL dates can write.
pub const LATEST_EXPIRY_SECS: u64 = 253_402_300_799;

/// [`LATEST_EXPIRY_SECS`] as a time.
pub fn latest_expiry() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(LATEST_EXPIRY_SECS)
}

/// `at` as RFC 3339 in UTC to the second (`2026-11-27T23:11:50Z`), for
/// showing a record's times. A time outside the years 1970 to 9999 (a row
/// another tool wrote) is shown as seconds from the epoch, never a panic.
pub fn rfc3339(at: SystemTime) -> String {
    let secs = match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) if since.as_secs() <= LATEST_EXPIRY_SECS => since.as_secs(),
        Ok(since) => return format!("{}s after the epoch", since.as_secs()),
        Err(before) => return format!("{}s before the epoch", before.duration().as_secs()),
    };
    // Days to a civil date (Howard Hinnant's algorithm), in whole numbers.
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_as_rfc3339_and_odd_ones_never_panic() {
        let at = |secs: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_795_820_400)), "2026-11-27T23:00:00Z");
        assert_eq!(rfc3339(latest_expiry()), "9999-12-31T23:59:59Z");
        assert!(rfc3339(latest_expiry() + Duration::from_secs(1)).contains("after the epoch"));
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(14_182_940);
        assert_eq!(rfc3339(before), "14182940s before the epoch");
    }
}
