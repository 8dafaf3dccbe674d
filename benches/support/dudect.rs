//! A dudect-style timing test (Reparaz, Balasch and Verbauwhede, "Dude, is
//! my code constant time?", 2017): two classes of inputs are run in a
//! random order, each run timed, and Welch's t-test asks whether the two
//! classes' times differ. |t| above 5 is taken as a leak.
//!
//! As in dudect, the test is also made on the times below a few
//! percentiles of all of them (interrupts and migrations make long,
//! rare outliers that hide small differences), and the largest |t| is the
//! verdict. Shared by `benches/constant_time.rs` (the long run) and
//! `tests/constant_time.rs` (a short one, in CI).

use std::time::{Duration, Instant};

/// The percentiles (of both classes' times together) the test is also made
/// below; 1.0 is every measurement.
const CROPS: [f64; 6] = [0.5, 0.75, 0.9, 0.95, 0.99, 1.0];

/// What a run found.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Measurements per class.
    pub per_class: usize,
    /// |t| with every measurement, and below each of `CROPS`.
    pub t: Vec<(f64, f64)>,
    /// The classes' median times, in nanoseconds.
    pub medians: [u64; 2],
    /// Class 0's mean time less class 1's, in nanoseconds, over the
    /// measurements below the 95th percentile.
    pub mean_difference: f64,
}

impl Verdict {
    /// The largest |t| over the crops.
    pub fn max_t(&self) -> f64 {
        self.t.iter().map(|(_, t)| t.abs()).fold(0.0, f64::max)
    }

    /// One line: the largest |t|, each crop's, and the medians.
    pub fn line(&self, name: &str) -> String {
        let crops: Vec<String> = self
            .t
            .iter()
            .map(|(p, t)| format!("p{:.0}={:+.2}", p * 100.0, t))
            .collect();
        format!(
            "{name:<48} n={:>8}/class  max|t|={:>6.2}  medians {} / {} ns, means {:+.2} ns apart  ({})",
            self.per_class,
            self.max_t(),
            self.medians[0],
            self.medians[1],
            self.mean_difference,
            crops.join(" ")
        )
    }
}

/// A xorshift generator: the order of the classes, not a secret.
struct Order(u64);

impl Order {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Times `run` on `input`: what a case's run returns. The run is made
/// once untimed first, so that the timed one starts with the input settled
/// (written, in cache) the same way whichever class it is: otherwise the
/// copy just made of it, from wherever its class's inputs lie, is timed too.
#[inline(always)]
pub fn timed<I, O>(input: I, run: impl Fn(&I) -> O) -> Duration {
    let input = std::hint::black_box(input);
    drop(std::hint::black_box(run(&input)));
    let started = Instant::now();
    let output = run(&input);
    let took = started.elapsed();
    drop(std::hint::black_box(output));
    took
}

/// Measures `per_class` runs of each class, in a random order:
/// `run(class, i)` makes input `i` (any number; the case picks an input
/// by it) of `class` (0 or 1) and returns how long the step under test
/// took on it (see [`timed`]): inputs are made outside the timing, and in
/// the same place for both classes.
pub fn measure(per_class: usize, mut run: impl FnMut(usize, usize) -> Duration) -> Verdict {
    let mut order = Order(0x9E37_79B9_7F4A_7C15);
    // Warm both paths up before anything counts.
    for i in 0..10_000 {
        run(i % 2, i);
    }
    let mut times: [Vec<u32>; 2] = [Vec::with_capacity(per_class), Vec::with_capacity(per_class)];
    while times[0].len() < per_class || times[1].len() < per_class {
        let draw = order.next();
        let mut class = (draw & 1) as usize;
        if times[class].len() >= per_class {
            class = 1 - class;
        }
        let took = run(class, (draw >> 1) as usize);
        times[class].push(u32::try_from(took.as_nanos()).unwrap_or(u32::MAX));
    }
    verdict(&times)
}

fn verdict(times: &[Vec<u32>; 2]) -> Verdict {
    let mut all: Vec<u32> = times.iter().flatten().copied().collect();
    all.sort_unstable();
    let median = |class: &Vec<u32>| {
        let mut sorted = class.clone();
        sorted.sort_unstable();
        u64::from(sorted[sorted.len() / 2])
    };
    let below = |p: f64| {
        let index = ((all.len() as f64 * p) as usize).min(all.len() - 1);
        let below = all[index];
        [0, 1].map(|c| Moments::of(times[c].iter().filter(|&&t| t <= below)))
    };
    let t = CROPS
        .iter()
        .map(|&p| {
            let [a, b] = below(p);
            (p, welch(&a, &b))
        })
        .collect();
    let [a, b] = below(0.95);
    Verdict {
        per_class: times[0].len(),
        t,
        medians: [median(&times[0]), median(&times[1])],
        mean_difference: a.mean - b.mean,
    }
}

/// Count, mean and variance of a class's times (Welford's method).
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn of<'a>(times: impl Iterator<Item = &'a u32>) -> Self {
        let mut m = Self {
            n: 0.0,
            mean: 0.0,
            m2: 0.0,
        };
        for &t in times {
            let x = f64::from(t);
            m.n += 1.0;
            let delta = x - m.mean;
            m.mean += delta / m.n;
            m.m2 += delta * (x - m.mean);
        }
        m
    }

    fn variance(&self) -> f64 {
        if self.n > 1.0 {
            self.m2 / (self.n - 1.0)
        } else {
            0.0
        }
    }
}

/// Welch's t statistic of two samples.
fn welch(a: &Moments, b: &Moments) -> f64 {
    let spread = (a.variance() / a.n + b.variance() / b.n).sqrt();
    if spread == 0.0 || !spread.is_finite() {
        return 0.0;
    }
    (a.mean - b.mean) / spread
}
