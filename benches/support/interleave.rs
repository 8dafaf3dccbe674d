//! Timing variants side by side on a shared, noisy machine.
//!
//! Variants are not timed one after the other (a burst of noise would land
//! on one of them) but interleaved: a round times a batch of each in turn,
//! starting each round at another one, and every figure is a median over
//! rounds of a per-round time, difference or ratio, so the two sides of a
//! difference always ran a millisecond apart. `ROUNDS` and `BATCH` in the
//! environment change the defaults.
//!
//! Why a harness beside divan (which times the other benches): divan runs
//! each benchmark on its own, one after the other, and reports each alone.
//! What `layer` and `adapters` report is a difference or a ratio (what the
//! layer adds to a bare service, a policy's cost beside the path without
//! it), a few nanoseconds out of hundreds: timed apart, a burst of load on
//! one side is larger than the figure. Only sides timed within the same
//! millisecond, round after round, measure it; divan has no such mode.

use std::{hint::black_box, time::Instant};

/// One way of serving a request, in a group whose `bare` variant is the
/// baseline of the others.
pub struct Variant {
    group: &'static str,
    name: &'static str,
    batch: Box<dyn FnMut(usize) -> f64>,
}

impl Variant {
    /// A variant calling `call` on inputs from `input`, built before the
    /// clock starts; outputs are dropped after it stops.
    pub fn new<I, O>(
        group: &'static str,
        name: &'static str,
        input: impl Fn() -> I + 'static,
        mut call: impl FnMut(I) -> O + 'static,
    ) -> Self {
        let batch = move |n: usize| {
            let inputs: Vec<I> = (0..n).map(|_| input()).collect();
            let mut outputs = Vec::with_capacity(n);
            let start = Instant::now();
            for request in inputs {
                outputs.push(call(black_box(request)));
            }
            let elapsed = start.elapsed().as_nanos() as f64;
            drop(black_box(outputs));
            elapsed
        };
        Self {
            group,
            name,
            batch: Box::new(batch),
        }
    }
}

/// Per-request times of every variant, one per round.
pub struct Timings {
    names: Vec<(&'static str, &'static str)>,
    times: Vec<Vec<f64>>,
    rounds: usize,
    batch: usize,
}

/// Runs `variants` interleaved: `ROUNDS` rounds (default `rounds`) of `BATCH`
/// requests (default 64) each.
pub fn run(mut variants: Vec<Variant>, rounds: usize) -> Timings {
    let rounds = env_or("ROUNDS", rounds);
    let batch = env_or("BATCH", 64);
    let mut times = vec![Vec::with_capacity(rounds); variants.len()];
    for round in 0..rounds {
        for k in 0..variants.len() {
            let i = (k + round) % variants.len();
            let elapsed = (variants[i].batch)(batch);
            times[i].push(elapsed / batch as f64);
        }
    }
    Timings {
        names: variants.iter().map(|v| (v.group, v.name)).collect(),
        times,
        rounds,
        batch,
    }
}

impl Timings {
    fn index(&self, group: &str, name: &str) -> usize {
        self.names
            .iter()
            .position(|&(g, n)| g == group && n == name)
            .unwrap_or_else(|| panic!("no variant {group}::{name}"))
    }

    /// Per round, what `group::name` adds over `group::bare`.
    pub fn over_bare(&self, group: &str, name: &str) -> Vec<f64> {
        let bare = &self.times[self.index(group, "bare")];
        self.times[self.index(group, name)]
            .iter()
            .zip(bare)
            .map(|(t, b)| t - b)
            .collect()
    }

    /// The median over rounds of what `group::a` adds over `group::b`,
    /// printed with `label`: the cost of one step, measured side by side.
    pub fn print_step(&self, label: &str, group: &str, a: &str, b: &str) {
        let (a, b) = (
            &self.times[self.index(group, a)],
            &self.times[self.index(group, b)],
        );
        let added: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
        println!(
            "{label:<52} {:+8.1} ns (median of per-round differences)",
            median(added)
        );
    }

    /// A line per variant: median and fastest time per request, and the
    /// median of what it adds over its group's bare variant.
    pub fn print_table(&self) {
        println!(
            "{} rounds of {} requests per variant; medians over rounds",
            self.rounds, self.batch
        );
        println!(
            "{:<8} {:<22} {:>10} {:>10} {:>12}",
            "group", "variant", "per req", "fastest", "over bare"
        );
        for (i, &(group, name)) in self.names.iter().enumerate() {
            let fastest = self.times[i].iter().copied().fold(f64::INFINITY, f64::min);
            let added = if name == "bare" {
                String::new()
            } else {
                format!("{:+.1} ns", median(self.over_bare(group, name)))
            };
            println!(
                "{group:<8} {name:<22} {:>7.1} ns {fastest:>7.1} ns {added:>12}",
                median(self.times[i].clone()),
            );
        }
        println!();
    }

    /// What `ours` adds over bare divided by what `theirs` adds, as the
    /// ratio of the medians and the median of the per-round ratios.
    pub fn print_ratio(&self, label: &str, group: &str, ours: &str, theirs: &str) {
        let (ours, theirs) = (self.over_bare(group, ours), self.over_bare(group, theirs));
        // A ratio is only meaningful where the denominator is clearly positive.
        let ratios: Vec<f64> = ours
            .iter()
            .zip(&theirs)
            .filter(|(_, t)| **t > 1.0)
            .map(|(o, t)| o / t)
            .collect();
        let of_medians = median(ours) / median(theirs);
        if ratios.is_empty() {
            println!("{label:<52} {of_medians:>6.2}x of the medians (no round with a positive denominator)");
        } else {
            println!(
                "{label:<52} {of_medians:>6.2}x of the medians, {:>6.2}x median of {} per-round ratios",
                median(ratios.clone()),
                ratios.len()
            );
        }
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}
