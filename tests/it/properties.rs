//! Properties over many inputs: parsing round-trips, no input panics, and no
//! one-character change of a key verifies.

use api_key_auth::{
    hash::{Hasher, Pepper, StoredHash},
    key::{ApiKey, Prefix},
    Authenticator, KeyManager, MemoryStore, NewKey,
};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

fn key_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9]{8}\\.[A-Za-z0-9]{32}").expect("valid regex")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_well_formed_text_parses_to_its_own_prefix(text in key_text()) {
        let key = ApiKey::parse(text.as_bytes()).unwrap();
        let prefix = key.prefix();
        prop_assert_eq!(prefix.as_str(), &text[..8]);
        prop_assert_eq!(key.prefix(), Prefix::parse(&text[..8]).unwrap());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let parsed = ApiKey::parse(&bytes);
        let shaped = bytes.len() == 41
            && bytes[8] == b'.'
            && bytes.iter().enumerate().all(|(i, b)| i == 8 || b.is_ascii_alphanumeric());
        prop_assert_eq!(parsed.is_ok(), shaped);
        let _ = Prefix::parse(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = StoredHash::parse(text);
        }
    }

    #[test]
    fn arbitrary_header_values_never_panic_the_authenticator(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        scheme_first in any::<bool>(),
    ) {
        let mut value = if scheme_first { b"Api-Key ".to_vec() } else { Vec::new() };
        value.extend_from_slice(&bytes);
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            let auth = Authenticator::new(MemoryStore::new());
            let mut headers = HeaderMap::new();
            headers.insert(http::header::AUTHORIZATION, value);
            let outcome = runtime().block_on(auth.authenticate(&headers));
            prop_assert!(outcome.is_err(), "an empty store admits nothing");
        }
    }

    #[test]
    fn any_one_character_change_fails_verification(
        text in key_text(),
        position in 0usize..41,
        replacement in proptest::char::range('0', 'z'),
        algorithm in 0u8..3,
    ) {
        prop_assume!(position != 8);
        let hasher = match algorithm {
            0 => Hasher::sha256(),
            1 => Hasher::sha512_drf(),
            _ => Hasher::hmac_sha256(Pepper::new("p", vec![7; 32]).unwrap()),
        };
        let key = ApiKey::parse(text.as_bytes()).unwrap();
        let stored = hasher.hash(&key);
        prop_assert!(hasher.verify(&key, &stored));

        let mut changed = text.into_bytes();
        prop_assume!(changed[position] != replacement as u8);
        changed[position] = replacement as u8;
        match ApiKey::parse(&changed) {
            Ok(other) => prop_assert!(!hasher.verify(&other, &stored)),
            Err(_) => prop_assert!(!replacement.is_ascii_alphanumeric()),
        }
    }

    #[test]
    fn stored_hashes_round_trip_through_their_text(text in key_text(), algorithm in 0u8..3) {
        let hasher = match algorithm {
            0 => Hasher::sha256(),
            1 => Hasher::sha512_drf(),
            _ => Hasher::hmac_sha256(Pepper::new("rot-1", vec![9; 40]).unwrap()),
        };
        let stored = hasher.hash(&ApiKey::parse(text.as_bytes()).unwrap());
        prop_assert_eq!(StoredHash::parse(&stored.to_string()).unwrap(), stored);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any name: a store makes the key exactly when the name keeps the
    /// rule (`NewKey::validate`), and a key made round-trips and verifies.
    #[test]
    fn generated_keys_round_trip_and_verify(name in "\\PC{0,40}|[ a-zA-Z0-9\u{202e}\u{200b}]{0,52}") {
        let store = MemoryStore::new();
        let new = NewKey::named(name.clone());
        let created = runtime().block_on(store.create(new.clone()));
        match new.validate() {
            Err(_) => {
                prop_assert!(created.unwrap_err().is_config());
                prop_assert_eq!(store.len(), 0);
            }
            Ok(()) => {
                let (record, key) = created.unwrap().reveal();
                let text = key.expose_secret();
                let parsed = ApiKey::parse(text.as_bytes()).unwrap();
                prop_assert_eq!(parsed.prefix(), record.prefix);
                prop_assert!(Hasher::default().verify(&parsed, &record.hash));
                prop_assert_eq!(&record.name, &name);
            }
        }
    }
}
