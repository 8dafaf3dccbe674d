//! Usage credits: a key may be used so many times, spent one per admitted
//! request, and perhaps refilled to an amount every interval.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use api_key_auth::store::{Credits, Refill};
//!
//! let refill: Refill = "1000/1d".parse()?;
//! assert_eq!(refill.amount(), 1000);
//! assert_eq!(refill.every(), Duration::from_secs(86_400));
//! let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
//! let credits = Credits::new(3, Some(refill), start);
//! assert_eq!(credits.left_at(start), 3);
//! // A day on, the count is the refill's amount again.
//! assert_eq!(credits.left_at(start + Duration::from_secs(86_400)), 1000);
//! # Ok::<(), api_key_auth::store::CreditsError>(())
//! ```

use std::{
    fmt,
    str::FromStr,
    time::{Duration, SystemTime},
};

use super::rate_limit::{duration, span};

/// The most credits a key may hold: 2⁵³ − 1, what every store keeps exactly
/// (a Redis script counts in Lua's doubles).
pub const MAX_CREDITS: u64 = (1 << 53) - 1;

/// What a key may still spend, and how it comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Credits {
    remaining: u64,
    refill: Option<Refill>,
    refilled: SystemTime,
}

/// The count a key's credits are set back to every interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Refill {
    amount: u64,
    every: Duration,
}

/// Why credits or a refill were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CreditsError {
    /// Not `<amount>/<interval>`, such as `1000/1d` or `50/12h`.
    #[error("a refill is <amount>/<interval>, such as 1000/1d or 50/12h; not {0:?}")]
    Syntax(String),
    /// A zero amount, more than [`MAX_CREDITS`], or an interval outside one
    /// second to 366 days or not whole seconds.
    #[error("a refill gives 1 to {MAX_CREDITS} credits every whole number of seconds from 1 s to 366 days")]
    OutOfRange,
}

impl Refill {
    /// `amount` credits every `every`.
    pub fn new(amount: u64, every: Duration) -> Result<Self, CreditsError> {
        let whole_secs = every.subsec_nanos() == 0;
        if amount == 0
            || amount > MAX_CREDITS
            || !whole_secs
            || every < Duration::from_secs(1)
            || every > Duration::from_secs(366 * 86_400)
        {
            return Err(CreditsError::OutOfRange);
        }
        Ok(Self { amount, every })
    }

    /// The count credits are set back to.
    pub fn amount(&self) -> u64 {
        self.amount
    }

    /// How often.
    pub fn every(&self) -> Duration {
        self.every
    }
}

impl fmt::Display for Refill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.amount, span(self.every))
    }
}

impl FromStr for Refill {
    type Err = CreditsError;

    /// `1000/1d`, `50/12h`, `10/d` (`s`, `m`, `h`, `d` alone mean one).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || CreditsError::Syntax(text.to_owned());
        let (amount, every) = text.trim().split_once('/').ok_or_else(syntax)?;
        let amount: u64 = amount.trim().parse().map_err(|_| syntax())?;
        let every = every.trim();
        let every = match every {
            "s" | "m" | "h" | "d" => duration(&format!("1{every}")),
            other => duration(other),
        }
        .ok_or_else(syntax)?;
        Self::new(amount, every)
    }
}

impl Credits {
    /// `remaining` credits (at most [`MAX_CREDITS`]), refilled by `refill`
    /// from `refilled` on: at `refilled + k × every` the count is set back
    /// to the refill's amount (what was left is not carried over).
    pub fn new(remaining: u64, refill: Option<Refill>, refilled: SystemTime) -> Self {
        Self {
            remaining: remaining.min(MAX_CREDITS),
            refill,
            refilled,
        }
    }

    /// The count as last written, before any refill that has come due.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// The refill, if any.
    pub fn refill(&self) -> Option<Refill> {
        self.refill
    }

    /// When the count was last set (created, or refilled).
    pub fn refilled(&self) -> SystemTime {
        self.refilled
    }

    /// The refill instant due by `now`, the latest one, if one is.
    pub fn due_refill(&self, now: SystemTime) -> Option<SystemTime> {
        let refill = self.refill?;
        let since = now.duration_since(self.refilled).ok()?;
        let periods = since.as_millis() / refill.every.as_millis().max(1);
        if periods == 0 {
            return None;
        }
        let periods = u32::try_from(periods).unwrap_or(u32::MAX);
        self.refilled
            .checked_add(refill.every.checked_mul(periods)?)
    }

    /// What may be spent at `now`: the count, or the refill's amount once
    /// a refill has come due.
    pub fn left_at(&self, now: SystemTime) -> u64 {
        match (self.refill, self.due_refill(now)) {
            (Some(refill), Some(_)) => refill.amount,
            _ => self.remaining,
        }
    }

    /// When the count is next set back, after `now`; `None` without a refill.
    pub fn next_refill(&self, now: SystemTime) -> Option<SystemTime> {
        let refill = self.refill?;
        let base = self.due_refill(now).unwrap_or(self.refilled);
        base.checked_add(refill.every)
    }

    /// These credits after spending `cost` at `now` (refilled first when a
    /// refill is due), or `None` when fewer than `cost` are left.
    pub fn spent(&self, cost: u64, now: SystemTime) -> Option<Self> {
        let left = self.left_at(now);
        let remaining = left.checked_sub(cost)?;
        Some(Self {
            remaining,
            refill: self.refill,
            refilled: self.due_refill(now).unwrap_or(self.refilled),
        })
    }

    /// These credits after taking as many as are left at `now`, up to
    /// `up_to`, and how many that was; `None` when none are left.
    pub fn taken(&self, up_to: u64, now: SystemTime) -> Option<(Self, u64)> {
        let count = self.left_at(now).min(up_to);
        if count == 0 {
            return None;
        }
        Some((self.spent(count, now)?, count))
    }
}

/// What spending a key's credits came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CreditSpend {
    /// Spent.
    Spent {
        /// Credits left after the spend, when the store says (SQL stores
        /// do not read the count back).
        remaining: Option<u64>,
    },
    /// Too few left: none is spent. With a refill, when it comes.
    Exhausted {
        /// When the credits come back, if ever.
        next_refill: Option<SystemTime>,
    },
}

/// What taking a block of a key's credits for one instance to spend came
/// to ([`KeyStore::lease_credits`](super::KeyStore::lease_credits)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CreditLease {
    /// `count` credits, at least one and at most what was asked for, are
    /// taken from the key's count: they are the taker's to spend.
    Taken {
        /// How many.
        count: u64,
        /// When the period they were taken from ends (the key's next
        /// refill, by the store's clock): what is left of them is not
        /// spent after it. `None` without a refill.
        lapses: Option<SystemTime>,
    },
    /// None is left. With a refill, when it comes.
    Exhausted {
        /// When the credits come back, if ever.
        next_refill: Option<SystemTime>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn refills_read_as_written_and_odd_ones_are_refused() {
        let refill: Refill = "1000/1d".parse().unwrap();
        assert_eq!((refill.amount(), refill.every().as_secs()), (1000, 86_400));
        assert_eq!(refill.to_string(), "1000/1d");
        assert_eq!("50/12h".parse::<Refill>().unwrap().to_string(), "50/12h");
        assert_eq!("7/d".parse::<Refill>().unwrap().every().as_secs(), 86_400);
        for bad in [
            "", "1000", "0/1d", "10/500ms", "10/400d", "x/1d", "-1/1d", "10/1y",
        ] {
            assert!(bad.parse::<Refill>().is_err(), "{bad:?}");
        }
    }

    /// A refill sets the count back to its amount at each interval, what
    /// was left not carried over; spending takes from the refilled count.
    #[test]
    fn a_refill_sets_the_count_back_at_each_interval() {
        let refill = Refill::new(10, Duration::from_secs(100)).unwrap();
        let credits = Credits::new(2, Some(refill), at(1000));
        assert_eq!(credits.left_at(at(1099)), 2);
        assert_eq!(credits.next_refill(at(1099)), Some(at(1100)));
        let one = credits.spent(1, at(1050)).unwrap();
        assert_eq!((one.remaining(), one.refilled()), (1, at(1000)));
        assert!(credits.spent(3, at(1050)).is_none());
        let later = credits.spent(3, at(1250)).unwrap();
        assert_eq!((later.remaining(), later.refilled()), (7, at(1200)));
        assert_eq!(later.next_refill(at(1250)), Some(at(1300)));
        let none = Credits::new(1, None, at(0));
        assert_eq!(none.spent(1, at(10_000)).unwrap().remaining(), 0);
        assert!(none
            .spent(1, at(10_000))
            .unwrap()
            .spent(1, at(20_000))
            .is_none());
        assert_eq!(none.next_refill(at(5)), None);
    }

    /// Taking gives what is left up to the block asked for, after a due
    /// refill, and nothing once none is left.
    #[test]
    fn taking_gives_what_is_left_up_to_the_block() {
        let refill = Refill::new(10, Duration::from_secs(100)).unwrap();
        let credits = Credits::new(3, Some(refill), at(1000));
        let (left, count) = credits.taken(5, at(1010)).unwrap();
        assert_eq!((left.remaining(), count), (0, 3));
        assert!(left.taken(5, at(1050)).is_none());
        let (after, count) = left.taken(4, at(1100)).unwrap();
        assert_eq!(
            (after.remaining(), after.refilled(), count),
            (6, at(1100), 4)
        );
        assert_eq!(credits.taken(0, at(1010)), None);
    }
}
