//! A key's rate limit: so many requests per period, with a burst, kept
//! with the key in its store and enforced by the authenticator's
//! [`RateLimiter`](crate::rate_limit::RateLimiter).
//!
//! ```
//! use std::time::Duration;
//! use api_key_auth::rate_limit::RateLimit;
//!
//! let limit: RateLimit = "100/s".parse()?;
//! assert_eq!(limit.requests(), 100);
//! assert_eq!(limit.period(), Duration::from_secs(1));
//! assert_eq!(limit.burst(), 100); // a period's worth, unless set
//! let limit = limit.with_burst(20)?;
//! assert_eq!(limit.to_string(), "100/1s burst 20");
//! # Ok::<(), api_key_auth::rate_limit::RateLimitError>(())
//! ```

use std::{fmt, num::NonZeroU32, str::FromStr, time::Duration};

/// So many requests per period, and how many may come at once: a client
/// may send `burst` requests at once, then one every `period / requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    requests: NonZeroU32,
    period: Duration,
    burst: NonZeroU32,
}

/// Why a rate limit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitError {
    /// Not `<requests>/<period>` (perhaps then `burst <n>`), such as `100/s`, `5000/h`, `10/30s`.
    #[error("a rate limit is <requests>/<period> [burst <n>], such as 100/s, 5000/h or 10/30s burst 5; not {0:?}")]
    Syntax(String),
    /// Zero requests, a zero burst, a period outside 1 ms to 31 days or not
    /// whole milliseconds, more than a million requests a second, or a
    /// burst that takes over a year to come back.
    #[error(
        "a rate limit allows 1 request or more (at most a million a second), over whole \
         milliseconds from 1 ms to 31 days, with a burst of 1 or more that comes back within a year"
    )]
    OutOfRange,
}

/// The longest period a limit may have.
const MAX_PERIOD: Duration = Duration::from_secs(31 * 86_400);
/// The shortest time one request's share may take to come back: a million
/// requests a second (the Redis limiter counts in microseconds).
const MIN_INTERVAL: Duration = Duration::from_micros(1);
/// The longest a whole burst may take to come back (GCRA arithmetic in
/// nanoseconds stays far inside 64 bits).
const MAX_BURST_SPAN: Duration = Duration::from_secs(366 * 86_400);

impl RateLimit {
    /// `requests` per `period`, with a burst of a period's worth.
    pub fn new(requests: u32, period: Duration) -> Result<Self, RateLimitError> {
        let requests = NonZeroU32::new(requests).ok_or(RateLimitError::OutOfRange)?;
        let whole_ms = period.subsec_nanos().is_multiple_of(1_000_000);
        if period < Duration::from_millis(1) || period > MAX_PERIOD || !whole_ms {
            return Err(RateLimitError::OutOfRange);
        }
        Self {
            requests,
            period,
            burst: requests,
        }
        .checked()
    }

    /// The same limit with `burst` requests allowed at once.
    pub fn with_burst(mut self, burst: u32) -> Result<Self, RateLimitError> {
        self.burst = NonZeroU32::new(burst).ok_or(RateLimitError::OutOfRange)?;
        self.checked()
    }

    /// The limit, if its pace and burst are within what limiters count.
    fn checked(self) -> Result<Self, RateLimitError> {
        let interval = self.period / self.requests.get();
        let span = interval.checked_mul(self.burst.get());
        if interval < MIN_INTERVAL || span.is_none_or(|span| span > MAX_BURST_SPAN) {
            return Err(RateLimitError::OutOfRange);
        }
        Ok(self)
    }

    /// Requests per period.
    pub fn requests(&self) -> u32 {
        self.requests.get()
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Requests allowed at once.
    pub fn burst(&self) -> u32 {
        self.burst.get()
    }

    /// How often one request's share of the limit comes back.
    pub fn interval(&self) -> Duration {
        (self.period / self.requests.get()).max(Duration::from_nanos(1))
    }

    /// The record's form in a store: `{"requests":100,"period_ms":1000,"burst":20}`.
    #[cfg(feature = "_stored")]
    pub(crate) fn to_json(self) -> String {
        format!(
            r#"{{"requests":{},"period_ms":{},"burst":{}}}"#,
            self.requests,
            self.period.as_millis(),
            self.burst
        )
    }

    /// Reads [`to_json`](Self::to_json)'s form, exactly: anything else is
    /// a limit that cannot be read, and so a refusal, never no limit.
    #[cfg(feature = "_stored")]
    pub(crate) fn from_json(text: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("rate_limit is not JSON: {e}"))?;
        let object = value
            .as_object()
            .filter(|o| o.len() == 3)
            .ok_or("rate_limit is an object of requests, period_ms and burst")?;
        let number = |name: &str| -> Result<u64, String> {
            object
                .get(name)
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| format!("rate_limit.{name} is not a whole number"))
        };
        let (requests, period, burst) =
            (number("requests")?, number("period_ms")?, number("burst")?);
        let fits =
            |n: u64| u32::try_from(n).map_err(|_| "rate_limit: a number is too large".to_owned());
        let burst = fits(burst)?;
        Self::new(fits(requests)?, Duration::from_millis(period))
            .and_then(|limit| limit.with_burst(burst))
            .map_err(|e| format!("rate_limit: {e}"))
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} burst {}",
            self.requests,
            span(self.period),
            self.burst
        )
    }
}

impl FromStr for RateLimit {
    type Err = RateLimitError;

    /// `100/s`, `5000/h`, `10/30s`, `1/1m30s`: requests, a slash, a period
    /// (`s`, `m`, `h`, `d` alone mean one of them); then perhaps
    /// `burst <n>`, as a limit is shown (`100/1s burst 20`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || RateLimitError::Syntax(text.to_owned());
        let (rate, burst) = match text.split_once("burst") {
            Some((rate, burst)) => {
                let burst: u32 = burst.trim().parse().map_err(|_| syntax())?;
                (rate, Some(burst))
            }
            None => (text, None),
        };
        let (requests, period) = rate.trim().split_once('/').ok_or_else(syntax)?;
        let requests: u32 = requests.trim().parse().map_err(|_| syntax())?;
        let period = period.trim();
        let period = match period {
            "s" | "m" | "h" | "d" => duration(&format!("1{period}")),
            other => duration(other),
        }
        .ok_or_else(syntax)?;
        let limit = Self::new(requests, period)?;
        match burst {
            Some(burst) => limit.with_burst(burst),
            None => Ok(limit),
        }
    }
}

/// `500ms`, `30s`, `1m30s`, `2h`, `1d`: whole numbers, each with its unit.
pub(crate) fn duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let each = match &rest[..unit] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" | "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86_400),
            _ => return None,
        };
        rest = &rest[unit..];
        total = total.checked_add(each.checked_mul(u32::try_from(n).ok()?)?)?;
    }
    (!text.is_empty()).then_some(total)
}

/// A period in its largest whole unit: `1s`, `30s`, `2m`, `1h`, `1500ms`.
pub(crate) fn span(period: Duration) -> String {
    let ms = period.as_millis();
    for (size, unit) in [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ] {
        if ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_written_and_odd_ones_are_refused() {
        for (text, requests, period) in [
            ("100/s", 100, 1),
            ("5000/h", 5000, 3600),
            ("10/30s", 10, 30),
            (" 7 / 2m ", 7, 120),
        ] {
            let limit: RateLimit = text.parse().unwrap();
            assert_eq!(
                (limit.requests(), limit.period().as_secs()),
                (requests, period),
                "{text}"
            );
            #[cfg(feature = "_stored")]
            assert_eq!(RateLimit::from_json(&limit.to_json()).unwrap(), limit);
        }
        for bad in ["100", "0/s", "x/s", "10/soon", "10/0s", "10/1000d", "-1/s"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
        assert!(RateLimit::new(1, Duration::from_secs(1))
            .unwrap()
            .with_burst(0)
            .is_err());
        assert_eq!(
            "3/1m30s".parse::<RateLimit>().unwrap().to_string(),
            "3/90s burst 3"
        );
        assert_eq!(
            "3/1500ms".parse::<RateLimit>().unwrap().to_string(),
            "3/1500ms burst 3"
        );
        // A limit reads back from what it shows, the burst it shows
        // included.
        for text in ["290/991m", "100/s", "3/1500ms"] {
            let limit = text.parse::<RateLimit>().unwrap().with_burst(7).unwrap();
            assert_eq!(limit.to_string().parse::<RateLimit>(), Ok(limit), "{limit}");
        }
        assert_eq!("10/s burst 2".parse::<RateLimit>().unwrap().burst(), 2);
        for bad in [
            "10/s burst",
            "10/s burst 0",
            "10/s burst x",
            "burst 3",
            "10/s burst 2 burst 3",
        ] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
        #[cfg(feature = "_stored")]
        for bad in [
            "",
            "[]",
            r#"{"requests":1,"period_ms":1000}"#,
            r#"{"requests":1,"period_ms":1000,"burst":1,"x":1}"#,
            r#"{"requests":0,"period_ms":1000,"burst":1}"#,
            r#"{"requests":1,"period_ms":1000,"burst":"1"}"#,
            r#"{"requests":1,"period_ms":1000,"burst":99999999999}"#,
            r#"{"requests":1.5,"period_ms":1000,"burst":1}"#,
        ] {
            assert!(RateLimit::from_json(bad).is_err(), "{bad}");
        }
    }
}
