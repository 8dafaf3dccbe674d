//! The pairs of input classes whose times must not differ, for the
//! constant-time tests (`support/dudect.rs`): each case makes input `i` of
//! class 0 or 1 (a copy, into the same place for both classes, so that
//! where an input lives in memory is no difference) and times the step
//! under test on it.

use api_key_auth::{
    hash::{Hasher, StoredHash},
    key::ApiKey,
    Authenticator, KeyManager, MemoryStore, NewKey,
};
use http::HeaderMap;
use std::time::Duration;

use super::{dudect::timed, now};

/// A case: its name, and a timed run of class 0 or 1 on input `i`.
pub type Case = (&'static str, Box<dyn FnMut(usize, usize) -> Duration>);

/// Alphanumerics to put into a key.
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Keys like `key` but for the byte at `at`, each replaced by another
/// alphanumeric.
fn changed_at(key: &str, at: usize) -> Vec<ApiKey> {
    ALNUM
        .iter()
        .filter(|&&c| c != key.as_bytes()[at])
        .map(|&c| {
            let mut bytes = key.as_bytes().to_vec();
            bytes[at] = c;
            ApiKey::parse(&bytes).unwrap()
        })
        .collect()
}

/// Stored hashes like `stored` but for the hex digit at `at` of its digest.
fn digest_changed_at(stored: &StoredHash, from_end: bool) -> Vec<StoredHash> {
    let text = stored.to_string();
    let digest_start = text.rfind('$').unwrap() + 1;
    let at = if from_end {
        text.len() - 1
    } else {
        digest_start
    };
    b"0123456789abcdef"
        .iter()
        .filter(|&&c| c != text.as_bytes()[at])
        .map(|&c| {
            let mut bytes = text.clone().into_bytes();
            bytes[at] = c;
            StoredHash::parse(std::str::from_utf8(&bytes).unwrap()).unwrap()
        })
        .collect()
}

fn a_key() -> String {
    let store = MemoryStore::new();
    let (_, key) = now(store.create(NewKey::named("timing"))).unwrap().reveal();
    key.expose_secret().to_owned()
}

/// A wrong secret at its first byte vs at its last, then a digest wrong at
/// its first byte vs at its last, with `hasher`'s algorithm.
fn verify_cases(algorithm: &'static str, hasher: Hasher) -> [Case; 2] {
    let key = a_key();
    let right = ApiKey::parse(key.as_bytes()).unwrap();
    let stored = hasher.hash(&right);
    let secrets = [changed_at(&key, 9), changed_at(&key, 40)];
    let digests = [
        digest_changed_at(&stored, false),
        digest_changed_at(&stored, true),
    ];
    let (h1, h2) = (hasher.clone(), hasher);
    let secret_name: &'static str = match algorithm {
        "sha256" => "sha256: secret wrong at byte 1 vs byte 32",
        _ => "sha512$$: secret wrong at byte 1 vs byte 32",
    };
    let digest_name: &'static str = match algorithm {
        "sha256" => "sha256: digest wrong at digit 1 vs last",
        _ => "sha512$$: digest wrong at digit 1 vs last",
    };
    [
        (
            secret_name,
            Box::new(move |class, i| {
                let keys = &secrets[class];
                timed(keys[i % keys.len()].clone(), |key| h1.verify(key, &stored))
            }),
        ),
        (
            digest_name,
            Box::new(move |class, i| {
                let hashes = &digests[class];
                timed(hashes[i % hashes.len()].clone(), |stored| {
                    h2.verify(&right, stored)
                })
            }),
        ),
    ]
}

/// Through an authenticator over a memory store: a known prefix with a
/// wrong secret vs a prefix the store does not know.
fn store_case(name: &'static str, store: MemoryStore) -> Case {
    let (_, key) = now(store.create(NewKey::named("timing"))).unwrap().reveal();
    let key = key.expose_secret().to_owned();
    let auth = Authenticator::new(store);
    let header = |text: &str| {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", format!("Api-Key {text}").parse().unwrap());
        headers
    };
    // The two classes differ in nothing but whether the prefix is known:
    // the same wrong secrets, and prefixes one character apart, so that
    // the parser sees the same characters (its time may depend on what
    // the client sent, which the client knows, but not on the store).
    let inputs = known_and_unknown(&key).map(|class| {
        class
            .iter()
            .map(|text| header(std::str::from_utf8(text).unwrap()))
            .collect::<Vec<_>>()
    });
    (
        name,
        Box::new(move |class, i| {
            timed(inputs[class][i % 64].clone(), |headers| {
                now(auth.authenticate(headers)).is_ok()
            })
        }),
    )
}

/// Every case.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(verify_cases("sha256", Hasher::sha256()));
    cases.extend(verify_cases("sha512", Hasher::sha512_drf()));
    cases.push(store_case(
        "memory store (sha256): wrong secret vs unknown prefix",
        MemoryStore::new(),
    ));
    cases.push(store_case(
        "memory store (sha512$$): wrong secret vs unknown prefix",
        MemoryStore::new().with_hasher(Hasher::sha512_drf()),
    ));
    cases
}

/// Through an authenticator over a memory store: a known prefix with a
/// wrong secret vs a value refused before any lookup or hash (a bad
/// character at its end): what a path that skipped the check for unknown
/// prefixes would look like, the proof that the store cases' bound sees one.
pub fn skipped_check_case() -> Case {
    let store = MemoryStore::new();
    let (_, key) = now(store.create(NewKey::named("timing"))).unwrap().reveal();
    let key = key.expose_secret().to_owned();
    let auth = Authenticator::new(store);
    let header = |text: &[u8]| {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            format!("Api-Key {}", std::str::from_utf8(text).unwrap())
                .parse()
                .unwrap(),
        );
        headers
    };
    let mut wrong = key.clone().into_bytes();
    wrong[20] = if wrong[20] == b'x' { b'y' } else { b'x' };
    let mut refused = wrong.clone();
    refused[40] = b'-';
    let inputs = [header(&wrong), header(&refused)];
    (
        "control: wrong secret vs a key no check is made for",
        Box::new(move |class, _| {
            timed(inputs[class].clone(), |headers| {
                now(auth.authenticate(headers)).is_ok()
            })
        }),
    )
}

/// A comparison that is not constant time (byte by byte, stopping at the
/// first difference, over 4 KiB): the proof that the test sees a leak.
pub fn leaky_case() -> Case {
    let secret = vec![0x5A_u8; 4096];
    let mut early = secret.clone();
    early[0] ^= 1;
    let mut late = secret.clone();
    late[4095] ^= 1;
    let inputs = [early, late];
    (
        "control: early-exit compare, first vs last byte",
        Box::new(move |class, _| {
            timed(&inputs[class], |presented| {
                presented.iter().zip(&secret).all(|(a, b)| a == b)
            })
        }),
    )
}

/// Two classes of 64 keys each from `key`: its secret wrong at one byte
/// (the prefix known), and the same with the prefix one character off (the
/// prefix unknown), so the parser sees the same characters in both.
pub fn known_and_unknown(key: &str) -> [Vec<Vec<u8>>; 2] {
    let flip = |c: u8| if c == b'x' { b'y' } else { b'x' };
    let wrong: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            let mut text = key.as_bytes().to_vec();
            text[9 + i % 32] = flip(text[9 + i % 32]);
            text
        })
        .collect();
    let unknown: Vec<Vec<u8>> = wrong
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut text = text.clone();
            text[i % 8] = flip(text[i % 8]);
            text
        })
        .collect();
    [wrong, unknown]
}
