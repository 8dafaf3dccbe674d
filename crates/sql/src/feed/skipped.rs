//! The sequence numbers a feed skipped and still waits for, as ranges: a
//! MySQL transaction that took numbers and has not committed yet, one that
//! rolled back, or entries trimmed before the feed read them. Kept as
//! ranges so that one big transaction, or a counter moved far ahead, is one
//! entry, never millions.

use std::collections::BTreeMap;

use tokio::time::{Duration, Instant};

/// The most ranges remembered; past it the oldest are given up.
pub(super) const MAX_RANGES: usize = 1000;

#[derive(Debug, Default)]
pub(super) struct Skipped {
    /// `lo` to (`hi`, since when).
    ranges: BTreeMap<i64, (i64, Instant)>,
    /// Where the next round of asking starts, so that every range is asked
    /// about in turn however many there are.
    next: i64,
}

impl Skipped {
    pub(super) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.ranges.clear();
    }

    /// The lowest number waited for.
    pub(super) fn lowest(&self) -> Option<i64> {
        self.ranges.keys().next().copied()
    }

    /// Numbers `lo..=hi` skipped at `now`. Says whether ranges had to be
    /// given up to make room.
    pub(super) fn add(&mut self, lo: i64, hi: i64, now: Instant) -> bool {
        if lo > hi {
            return false;
        }
        self.ranges.insert(lo, (hi, now));
        let mut gave_up = false;
        while self.ranges.len() > MAX_RANGES {
            self.ranges.pop_first();
            gave_up = true;
        }
        gave_up
    }

    /// Number `seq` turned up: no longer waited for. Says whether it was.
    pub(super) fn fill(&mut self, seq: i64) -> bool {
        let Some((&lo, &(hi, since))) = self.ranges.range(..=seq).next_back() else {
            return false;
        };
        if hi < seq {
            return false;
        }
        self.ranges.remove(&lo);
        if lo < seq {
            self.ranges.insert(lo, (seq - 1, since));
        }
        if seq < hi {
            self.ranges.insert(seq + 1, (hi, since));
        }
        true
    }

    /// Gives up the numbers below `floor` (they cannot come any more) and
    /// those waited for `max_wait` or longer. Says whether any were.
    pub(super) fn give_up(&mut self, floor: i64, now: Instant, max_wait: Duration) -> bool {
        let before: Vec<(i64, i64)> = self.ranges.iter().map(|(&lo, &(hi, _))| (lo, hi)).collect();
        let mut kept = BTreeMap::new();
        for (lo, (hi, since)) in std::mem::take(&mut self.ranges) {
            if hi < floor || now.duration_since(since) >= max_wait {
                continue;
            }
            kept.insert(lo.max(floor), (hi, since));
        }
        self.ranges = kept;
        let after: Vec<(i64, i64)> = self.ranges.iter().map(|(&lo, &(hi, _))| (lo, hi)).collect();
        before != after
    }

    /// Up to `count` ranges to ask about, taking turns.
    pub(super) fn round(&mut self, count: usize) -> Vec<(i64, i64)> {
        let mut chosen: Vec<(i64, i64)> = self
            .ranges
            .range(self.next..)
            .chain(self.ranges.range(..self.next))
            .take(count)
            .map(|(&lo, &(hi, _))| (lo, hi))
            .collect();
        if let Some(&(last, _)) = chosen.last() {
            self.next = last.saturating_add(1);
        }
        chosen.sort_unstable();
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_filled_splits_its_range() {
        let now = Instant::now();
        let mut skipped = Skipped::default();
        skipped.add(10, 20, now);
        assert!(skipped.fill(15));
        assert!(!skipped.fill(15));
        assert!(!skipped.fill(21));
        assert_eq!(skipped.round(10), [(10, 14), (16, 20)]);
        assert!(skipped.fill(10));
        assert!(skipped.fill(20));
        assert_eq!(skipped.round(10), [(11, 14), (16, 19)]);
    }

    #[test]
    fn a_range_of_billions_is_one_entry() {
        let mut skipped = Skipped::default();
        skipped.add(1, 4_000_000_000, Instant::now());
        assert!(skipped.fill(3_999_999_999));
        assert_eq!(skipped.round(10).len(), 2);
    }

    #[test]
    fn numbers_below_the_floor_or_waited_too_long_are_given_up() {
        let now = Instant::now();
        let mut skipped = Skipped::default();
        skipped.add(1, 5, now);
        skipped.add(8, 12, now);
        assert!(!skipped.give_up(1, now, Duration::from_secs(60)));
        assert!(skipped.give_up(10, now, Duration::from_secs(60)));
        assert_eq!(skipped.round(10), [(10, 12)]);
        let later = now + Duration::from_secs(61);
        assert!(skipped.give_up(0, later, Duration::from_secs(60)));
        assert!(skipped.is_empty());
    }

    #[test]
    fn every_range_is_asked_about_in_turn() {
        let now = Instant::now();
        let mut skipped = Skipped::default();
        for i in 0..40 {
            skipped.add(i * 10, i * 10 + 1, now);
        }
        let mut asked = std::collections::BTreeSet::new();
        for _ in 0..3 {
            asked.extend(skipped.round(16));
        }
        assert_eq!(asked.len(), 40);
    }

    #[test]
    fn past_the_most_ranges_the_oldest_are_given_up() {
        let now = Instant::now();
        let mut skipped = Skipped::default();
        for i in 0..MAX_RANGES as i64 {
            assert!(!skipped.add(i * 3, i * 3 + 1, now));
        }
        assert!(skipped.add(1_000_000, 1_000_001, now));
        assert_eq!(skipped.lowest(), Some(3));
    }
}
