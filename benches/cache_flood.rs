//! What a flood of invalid keys costs the store and the cache's memory:
//!
//! ```text
//! cargo bench --bench cache_flood
//! ```
//!
//! 1. 100,000 requests cycling through 100 unknown prefixes: how many reach
//!    the store (target: 100 per negative TTL, not one per request).
//! 2. 1,000,000 distinct random unknown prefixes against a cache of capacity
//!    100,000: entries and memory held afterwards (target: bounded by the
//!    capacity, not by the flood).
//!
//! Counts and bytes rather than times, so this bench prints its own report.

mod support;

use support::resident_bytes;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use api_key_auth::{cache::CachedStore, key::ApiKey, key::Prefix, KeyStore, Lookup};

/// A store that knows no key and counts how often it is asked.
#[derive(Clone, Default)]
struct Empty(Arc<AtomicU64>);

#[async_trait::async_trait]
impl KeyStore for Empty {
    async fn find(&self, _: Prefix) -> Lookup {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(None)
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; this one has none to list.
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // 1. Store calls for a flood cycling through 100 unknown prefixes.
        let store = Empty::default();
        let cache = CachedStore::builder(store.clone()).negative_ttl(Duration::from_secs(5)).build();
        let prefixes: Vec<Prefix> = (0..100).map(|_| ApiKey::generate().unwrap().prefix()).collect();
        let started = Instant::now();
        for i in 0..100_000 {
            let _ = cache.find(prefixes[i % 100]).await;
        }
        let took = started.elapsed();
        println!(
            "flood of 100,000 requests over 100 unknown prefixes: {} store calls (negative TTL 5 s), {:.0} ns per request",
            store.0.load(Ordering::Relaxed),
            took.as_nanos() as f64 / 100_000.0
        );

        // 2. Memory after 1,000,000 distinct unknown prefixes.
        let store = Empty::default();
        let capacity = 100_000;
        let cache = CachedStore::builder(store.clone()).max_capacity(capacity).build();
        let before = resident_bytes();
        let random: Vec<Prefix> = (0..1_000_000).map(|_| ApiKey::generate().unwrap().prefix()).collect();
        let with_prefixes = resident_bytes();
        let started = Instant::now();
        for prefix in &random {
            let _ = cache.find(*prefix).await;
        }
        let took = started.elapsed();
        let entries = cache.entry_count();
        let after = resident_bytes();
        println!(
            "1,000,000 distinct unknown prefixes, capacity {capacity}: {entries} entries held, \
             cache grew the process by {:.1} MiB ({:.0} bytes per entry held), {} store calls, {:.0} ns per request",
            (after.saturating_sub(with_prefixes)) as f64 / (1 << 20) as f64,
            (after.saturating_sub(with_prefixes)) as f64 / entries.max(1) as f64,
            store.0.load(Ordering::Relaxed),
            took.as_nanos() as f64 / 1e6
        );
        let _ = before;
        assert!(entries <= capacity, "the cache outgrew its capacity");
    });
}
