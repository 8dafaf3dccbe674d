//! The stored-hash parser, `StoredHash::parse`, against any text (SHA-256,
//! DRF's `sha512$$`, HMAC with a pepper id, and Django's PBKDF2, argon2 and
//! bcrypt password hashes): never a panic, and a hash that reads is shown
//! as text that reads back as the same hash.
#![no_main]

use api_key_auth::hash::StoredHash;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(hash) = StoredHash::parse(text) else {
        return;
    };
    let shown = hash.to_string();
    let again = StoredHash::parse(&shown).expect("a hash's own text reads");
    assert_eq!(again, hash, "{text:?} shown as {shown:?}");
    // Debug names the algorithm and nothing of the digest.
    let debug = format!("{hash:?}");
    assert!(!debug.contains('$'), "{debug}");
    assert_eq!(hash.algorithm(), again.algorithm());
});
