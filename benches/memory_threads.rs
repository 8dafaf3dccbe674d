//! Keys verified by one thread, and by two at once, through an
//! authenticator over `MemoryStore`, beside the same over the store as it
//! was before reads became lock-free (a std `RwLock` around a `HashMap`,
//! kept here as `LockedStore`), in one run:
//!
//! ```text
//! cargo bench --bench memory_threads
//! ROUNDS=15 MILLIS=400 cargo bench --bench memory_threads
//! ```
//!
//! Each round runs every case for `MILLIS` ms (300 by default) and counts
//! the keys verified; the cases alternate within a round so the machine's
//! load falls on all of them alike. Printed: verifications per second and
//! two threads' throughput over one thread's, the median over `ROUNDS`
//! rounds (9 by default). Target on a 2-core machine: two threads at least
//! 1.8x one. "own keys": each thread verifies a key of its own, as a
//! server's threads serve different clients; "one key": both verify the same
//! key, whose record's reference count the two then share.

mod support;

use std::{
    collections::HashMap,
    hint::black_box,
    sync::{Arc, Barrier, PoisonError, RwLock},
    time::{Duration, Instant},
};

use api_key_auth::{
    hash::Algorithm, store::Lookup, Authenticator, KeyManager, KeyRecord, KeyStore, MemoryStore,
    NewKey, Prefix,
};
use async_trait::async_trait;
use http::HeaderMap;

use support::{authorization as header, now};

/// The memory store's reads as they were: a shared read lock per lookup.
struct LockedStore {
    keys: RwLock<HashMap<Prefix, Arc<KeyRecord>, foldhash::fast::RandomState>>,
}

#[async_trait]
impl KeyStore for LockedStore {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.find_now(prefix).unwrap()
    }

    fn find_now(&self, prefix: Prefix) -> Option<Lookup> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        Some(Ok(keys.get(&prefix).cloned()))
    }

    fn hash_algorithm(&self) -> Option<Algorithm> {
        Some(Algorithm::Sha256)
    }
}

/// Verifies `headers[i]` on thread `i` for `length`; how many in all.
fn verified(auth: &Authenticator, headers: &[HeaderMap], length: Duration) -> u64 {
    let start = Barrier::new(headers.len());
    std::thread::scope(|scope| {
        let runs: Vec<_> = headers
            .iter()
            .map(|headers| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    let began = Instant::now();
                    let mut count = 0u64;
                    while began.elapsed() < length {
                        for _ in 0..64 {
                            black_box(now(auth.authenticate(black_box(headers))).unwrap());
                        }
                        count += 64;
                    }
                    count
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).sum()
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rounds = env("ROUNDS", 9) as usize;
    let length = Duration::from_millis(env("MILLIS", 300));
    let memory = MemoryStore::new();
    let mut keys = Vec::new();
    // A thousand keys, as a small service holds, two of them used.
    for n in 0..1000 {
        let (_, key) = now(memory.create(NewKey::named(format!("key {n}"))))
            .unwrap()
            .reveal();
        if n < 2 {
            keys.push(key.expose_secret().to_owned());
        }
    }
    let records = now(memory.list()).unwrap();
    let locked = LockedStore {
        keys: RwLock::new(records.iter().map(|r| (r.prefix, r.clone())).collect()),
    };
    let stores = [
        ("before: RwLock<HashMap>", Authenticator::new(locked)),
        ("now: MemoryStore", Authenticator::new(memory)),
    ];
    let cases: [(&str, Vec<HeaderMap>); 3] = [
        ("1 thread", vec![header(&keys[0])]),
        (
            "2 threads, own keys",
            vec![header(&keys[0]), header(&keys[1])],
        ),
        (
            "2 threads, one key",
            vec![header(&keys[0]), header(&keys[0])],
        ),
    ];
    // rates[store][case]: verifications a second, one per round.
    let mut rates = vec![vec![Vec::new(); cases.len()]; stores.len()];
    for _ in 0..rounds {
        for (case, (_, headers)) in cases.iter().enumerate() {
            for (store, (_, auth)) in stores.iter().enumerate() {
                let count = verified(auth, headers, length);
                rates[store][case].push(count as f64 / length.as_secs_f64());
            }
        }
    }
    println!("memory_threads: {rounds} rounds of {length:?} a case, medians");
    for (store, (name, _)) in stores.iter().enumerate() {
        println!("{name}");
        let one: Vec<f64> = rates[store][0].clone();
        for (case, (case_name, _)) in cases.iter().enumerate() {
            let ratios: Vec<f64> = rates[store][case]
                .iter()
                .zip(&one)
                .map(|(rate, one)| rate / one)
                .collect();
            println!(
                "  {case_name:<22} {:>10.0} verifications/s   {:.2}x one thread",
                median(rates[store][case].clone()),
                median(ratios)
            );
        }
    }
}
