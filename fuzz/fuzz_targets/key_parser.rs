//! The key parser, `ApiKey::parse` (and `Prefix::parse`, `RateLimit`'s
//! `FromStr`), against any bytes: never a panic, and a key read exactly
//! when the bytes are `PREFIX.SECRET` (8 and 32 ASCII alphanumerics).
#![no_main]

use api_key_auth::{key::ApiKey, key::Prefix, limit::RateLimit};
use libfuzzer_sys::fuzz_target;

/// What a key is, said the plainest way, to hold the parser to.
fn is_key(bytes: &[u8]) -> bool {
    bytes.len() == 41
        && bytes[8] == b'.'
        && bytes[..8].iter().all(u8::is_ascii_alphanumeric)
        && bytes[9..].iter().all(u8::is_ascii_alphanumeric)
}

fuzz_target!(|data: &[u8]| {
    match ApiKey::parse(data) {
        Ok(key) => {
            assert!(is_key(data), "read a key from {data:?}");
            assert_eq!(key.prefix().as_bytes(), &data[..8]);
        }
        Err(error) => {
            assert!(!is_key(data), "refused a key: {error}");
            // What was wrong depends on the kinds of the bytes alone (how
            // many, where the '.' and the other characters are), never on
            // the bytes themselves: the error cannot echo a secret.
            let kinds: Vec<u8> = data
                .iter()
                .map(|&b| match b {
                    b'.' => b'.',
                    b if b.is_ascii_alphanumeric() => b'a',
                    _ => b'!',
                })
                .collect();
            assert_eq!(ApiKey::parse(&kinds).err(), Some(error));
        }
    }
    let prefix = Prefix::parse(data);
    assert_eq!(
        prefix.is_ok(),
        data.len() == 8 && data.iter().all(u8::is_ascii_alphanumeric)
    );
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(limit) = text.parse::<RateLimit>() {
            // A limit reads back as itself from what it shows.
            let again: RateLimit = limit.to_string().parse().expect("a limit's own text reads");
            assert_eq!(again, limit, "{text:?} -> {limit}");
        }
    }
});
