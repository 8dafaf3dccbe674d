//! The short constant-time check of CI: the cases of
//! `benches/constant_time.rs` (shared with it, in `benches/support/`), at
//! 20,000 measurements a class, with a loose threshold, so that a leak as
//! large as an early-exit compare's, or a path that tells known prefixes
//! from unknown ones by skipping the hash or the record, fails CI. A case
//! passes with |t| below 15, or with its classes' means under 30 ns apart:
//! the memory store's known and unknown prefixes differ by a few ns (its
//! hash map's hit against its miss), and by up to 20 ns in some processes
//! (where the record and the decoy lie in memory), which |t| finds at this
//! count but which is no check skipped: skipping the hash for unknown
//! prefixes would save SHA-256 of a block and the lookup, about 60 ns, and the
//! second control, a key refused before any check, shows the bound sees
//! that. Built on its own and optimised, as the
//! crate ships: timing an unoptimised build would measure the compiler's
//! debug code, not this crate's.
//!
//! ```text
//! cargo run --release --manifest-path timing/Cargo.toml            # the check
//! cargo run --release --manifest-path timing/Cargo.toml -- 1000000 # as long as the bench
//! ```
//!
//! The control (a compare that is not constant time) must fail the same
//! threshold, or the check itself is broken.

#[path = "../../benches/support/dudect.rs"]
mod dudect;
#[path = "../../benches/support/timing_cases.rs"]
mod timing_cases;

use std::{
    future::Future,
    pin::pin,
    process::ExitCode,
    task::{Context, Poll, Waker},
};

/// A leak this check must see gives |t| in the hundreds at this count.
const LOOSE: f64 = 15.0;
/// Or a difference of means this small, in nanoseconds.
const CLOSE_NS: f64 = 30.0;

/// Polls a future that is ready at once (a memory store answers so).
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a timed future had to wait"),
    }
}

fn main() -> ExitCode {
    let per_class = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let (name, mut control) = timing_cases::leaky_case();
    let verdict = dudect::measure(per_class, &mut control);
    println!("{}", verdict.line(name));
    if verdict.max_t() < 10.0 * LOOSE || verdict.mean_difference.abs() < 10.0 * CLOSE_NS {
        println!("the check missed the control's leak: it is broken");
        return ExitCode::FAILURE;
    }
    let (name, mut skipped) = timing_cases::skipped_check_case();
    let verdict = dudect::measure(per_class, &mut skipped);
    println!("{}", verdict.line(name));
    if verdict.max_t() < LOOSE || verdict.mean_difference.abs() < CLOSE_NS {
        println!("the check missed a path without the hash: it is broken");
        return ExitCode::FAILURE;
    }
    let mut failed = false;
    for (name, mut run) in timing_cases::cases() {
        // A loaded machine can make one run's tail lopsided: a case fails
        // only if three runs in a row find a difference.
        for attempt in 1..=3 {
            let verdict = dudect::measure(per_class, &mut run);
            println!("{}", verdict.line(name));
            if verdict.max_t() < LOOSE || verdict.mean_difference.abs() < CLOSE_NS {
                break;
            }
            if attempt == 3 {
                println!(
                    "  ^ a timing difference, three times over (|t| >= {LOOSE}, means {CLOSE_NS} ns apart or more)"
                );
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
