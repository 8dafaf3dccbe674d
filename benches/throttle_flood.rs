//! What a flood of guesses from 1,000,000 distinct client addresses costs
//! the throttle's memory:
//!
//! ```text
//! cargo bench --bench throttle_flood
//! ```
//!
//! Each address sends one unknown key (a failed attempt), through an
//! authenticator with the default throttle (10 failures a minute, at most
//! 100,000 addresses remembered); then again with a throttle of one failure
//! an hour, so that every address is also refused. Reported: the addresses
//! held, the resident memory they take, and the time per attempt. The
//! target: memory bounded by `max_addresses`, not by the flood.
//!
//! Counts and bytes rather than times, so this bench prints its own report.

mod support;

use support::resident_bytes;

use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use api_key_auth::{throttle::Throttle, Authenticator, MemoryStore};

const ADDRESSES: u32 = 1_000_000;

fn flood(name: &str, throttle: Throttle) {
    let auth = Authenticator::builder(MemoryStore::new())
        .throttle(throttle)
        .build()
        .unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        "Api-Key ZZZZZZZZ.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0"
            .parse()
            .unwrap(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let before = resident_bytes();
    let started = Instant::now();
    runtime.block_on(async {
        for i in 0..ADDRESSES {
            let from = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            // Twice: the second spends a one-failure budget.
            let _ = auth.authenticate_from(&headers, Some(from)).await;
            let _ = auth.authenticate_from(&headers, Some(from)).await;
        }
    });
    let took = started.elapsed();
    let stats = auth.throttle_stats().unwrap();
    let grown = resident_bytes().saturating_sub(before);
    println!(
        "{name:<34} {:>9} held {:>9} refused {:>8.1} MiB resident {:>6} B/address {:>7.0} ns/attempt",
        stats.addresses,
        stats.refused,
        grown as f64 / (1 << 20) as f64,
        grown / stats.addresses.max(1),
        took.as_nanos() as f64 / f64::from(2 * ADDRESSES),
    );
    drop(auth);
}

fn cases() -> [(&'static str, Throttle); 3] {
    let hourly = Throttle::new(1, Duration::from_secs(3600));
    [
        ("default (10/min, 100,000 held)", Throttle::default()),
        ("1/hour, 100,000 held (all refused)", hourly),
        ("1/hour, 1,000,000 held", hourly.max_addresses(1_000_000)),
    ]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; this one has none to list.
    }
    // Each case in a process of its own, so that none starts on memory an
    // earlier one freed but the allocator kept.
    if let Some(case) = std::env::var("THROTTLE_FLOOD_CASE")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
    {
        let (name, throttle) = cases()[case];
        return flood(name, throttle);
    }
    println!("{ADDRESSES} distinct addresses, two failed attempts each");
    let me = std::env::current_exe().unwrap();
    for case in 0..cases().len() {
        let status = std::process::Command::new(&me)
            .env("THROTTLE_FLOOD_CASE", case.to_string())
            .arg("--bench")
            .status()
            .unwrap();
        assert!(status.success());
    }
}
