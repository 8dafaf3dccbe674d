//! Django password hashes, as djangorestframework-api-key before 3.0 stored
//! keys (feature `drf-legacy`): it hashed the whole `PREFIX.SECRET` with
//! `make_password`, that is with the first of the site's
//! `PASSWORD_HASHERS`.
//!
//! | stored form | Django hasher | feature |
//! |---|---|---|
//! | `pbkdf2_sha256$<iterations>$<salt>$<base64>` | `PBKDF2PasswordHasher` (the default) | `drf-legacy` |
//! | `pbkdf2_sha1$<iterations>$<salt>$<base64>` | `PBKDF2SHA1PasswordHasher` | `drf-legacy` |
//! | `argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` (or `argon2i`) | `Argon2PasswordHasher` | `drf-legacy-argon2` |
//! | `bcrypt_sha256$$2b$<cost>$…` | `BCryptSHA256PasswordHasher` (the key's hex SHA-256) | `drf-legacy-bcrypt` |
//! | `bcrypt$$2b$<cost>$…` | `BCryptPasswordHasher` (the key itself) | `drf-legacy-bcrypt` |
//!
//! These are slow on purpose (Django 4.2's PBKDF2 is 600,000 iterations):
//! the authenticator checks them off the async threads, a bounded number at
//! once, and replaces the hash with `sha512$$` on the first success, as DRF
//! 3.x does. Parameters outside what Django makes (iterations, memory, cost)
//! are refused as an invalid record, so no row can make a check arbitrarily
//! costly: at most 5,000,000 PBKDF2 iterations, argon2 with 256 MiB, 10
//! passes and 64 lanes, bcrypt cost 14.

use std::fmt;

use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::{Algorithm, HashFormatError};
use crate::key::ApiKey;

/// The most PBKDF2 iterations accepted: five times Django 5.2's million
/// (which grows by a fifth or so a year).
const MAX_ITERATIONS: u32 = 5_000_000;
/// The most memory, in KiB, an argon2 hash may ask for: 256 MiB (Django
/// asks for 100 MiB).
#[cfg(feature = "drf-legacy-argon2")]
const MAX_ARGON2_KIB: u32 = 256 * 1024;
/// The most argon2 passes accepted (Django makes 2).
#[cfg(feature = "drf-legacy-argon2")]
const MAX_ARGON2_PASSES: u32 = 10;
/// The highest bcrypt cost accepted (Django uses 12).
#[cfg(feature = "drf-legacy-bcrypt")]
const MAX_BCRYPT_COST: u32 = 14;

/// A parsed Django password hash.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct DjangoHash {
    kind: Kind,
    /// The whole stored text, shown as it was read.
    text: Box<str>,
}

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    Pbkdf2 {
        sha1: bool,
        iterations: u32,
        salt: Box<str>,
        digest: Box<[u8]>,
    },
    #[cfg(feature = "drf-legacy-argon2")]
    Argon2 { phc: Box<str> },
    #[cfg(feature = "drf-legacy-bcrypt")]
    Bcrypt { sha256_first: bool, hash: Box<str> },
}

impl fmt::Debug for DjangoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DjangoHash")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for DjangoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl DjangoHash {
    /// Parses `text` if its algorithm (the part before the first `$`) is a
    /// Django hasher's: `None` when it is not one, an error when it is but
    /// does not read.
    pub(crate) fn parse(algorithm: &str, text: &str) -> Option<Result<Self, HashFormatError>> {
        let kind = match algorithm {
            "pbkdf2_sha256" => pbkdf2(text, false),
            "pbkdf2_sha1" => pbkdf2(text, true),
            #[cfg(feature = "drf-legacy-argon2")]
            "argon2" => argon2(text),
            #[cfg(feature = "drf-legacy-bcrypt")]
            "bcrypt_sha256" => bcrypt(text, true),
            #[cfg(feature = "drf-legacy-bcrypt")]
            "bcrypt" => bcrypt(text, false),
            _ => return None,
        };
        Some(kind.map(|kind| Self {
            kind,
            text: Box::from(text),
        }))
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        match &self.kind {
            Kind::Pbkdf2 { sha1: false, .. } => Algorithm::Pbkdf2Sha256,
            Kind::Pbkdf2 { sha1: true, .. } => Algorithm::Pbkdf2Sha1,
            #[cfg(feature = "drf-legacy-argon2")]
            Kind::Argon2 { .. } => Algorithm::Argon2,
            #[cfg(feature = "drf-legacy-bcrypt")]
            Kind::Bcrypt {
                sha256_first: true, ..
            } => Algorithm::BcryptSha256,
            #[cfg(feature = "drf-legacy-bcrypt")]
            Kind::Bcrypt { .. } => Algorithm::Bcrypt,
        }
    }

    /// Whether `key` is the key this hash was made from. Slow: call it off
    /// the async threads.
    pub(crate) fn verify(&self, key: &ApiKey) -> bool {
        match &self.kind {
            Kind::Pbkdf2 {
                sha1,
                iterations,
                salt,
                digest,
            } => {
                let mut out = zeroize::Zeroizing::new([0u8; 32]);
                let out = &mut out[..digest.len()];
                key.with_bytes(|bytes| {
                    if *sha1 {
                        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(bytes, salt.as_bytes(), *iterations, out);
                    } else {
                        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                            bytes,
                            salt.as_bytes(),
                            *iterations,
                            out,
                        );
                    }
                });
                out.ct_eq(digest).into()
            }
            #[cfg(feature = "drf-legacy-argon2")]
            Kind::Argon2 { phc } => {
                use argon2::{PasswordHash, PasswordVerifier as _};
                let Ok(parsed) = PasswordHash::new(phc) else {
                    return false;
                };
                key.with_bytes(|bytes| {
                    argon2::Argon2::default()
                        .verify_password(bytes, &parsed)
                        .is_ok()
                })
            }
            #[cfg(feature = "drf-legacy-bcrypt")]
            Kind::Bcrypt { sha256_first, hash } => key.with_bytes(|bytes| {
                if *sha256_first {
                    use sha2::Digest as _;
                    let mut hex = zeroize::Zeroizing::new([0u8; 64]);
                    let mut digest = zeroize::Zeroizing::new([0u8; 32]);
                    digest.copy_from_slice(&sha2::Sha256::digest(bytes));
                    // Lowercase hex, as Python's hexlify gives it.
                    if hex::encode_to_slice(*digest, &mut *hex).is_err() {
                        return false;
                    }
                    bcrypt::verify(hex.as_slice(), hash).unwrap_or(false)
                } else {
                    bcrypt::verify(bytes, hash).unwrap_or(false)
                }
            }),
        }
    }
}

/// `pbkdf2_sha256$<iterations>$<salt>$<base64 digest>`.
fn pbkdf2(text: &str, sha1: bool) -> Result<Kind, HashFormatError> {
    let algorithm = if sha1 {
        Algorithm::Pbkdf2Sha1
    } else {
        Algorithm::Pbkdf2Sha256
    };
    let bad = |why: &'static str| HashFormatError::BadLegacy { algorithm, why };
    let mut parts = text.split('$');
    let (Some(_), Some(iterations), Some(salt), Some(digest), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad(
            "it has the form <algorithm>$<iterations>$<salt>$<base64>",
        ));
    };
    let iterations = (!iterations.is_empty() && iterations.bytes().all(|b| b.is_ascii_digit()))
        .then(|| iterations.parse::<u32>().ok())
        .flatten()
        .filter(|n| (1..=MAX_ITERATIONS).contains(n))
        .ok_or(bad("the iterations are a number from 1 to 5,000,000"))?;
    if salt.is_empty() {
        return Err(bad("the salt is empty"));
    }
    let digest = base64::engine::general_purpose::STANDARD
        .decode(digest)
        .map_err(|_| bad("the digest is not standard base64"))?;
    if digest.len() != if sha1 { 20 } else { 32 } {
        return Err(bad("the digest is not the hash's length"));
    }
    Ok(Kind::Pbkdf2 {
        sha1,
        iterations,
        salt: Box::from(salt),
        digest: digest.into_boxed_slice(),
    })
}

/// `argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>`: `argon2` before a PHC string.
#[cfg(feature = "drf-legacy-argon2")]
fn argon2(text: &str) -> Result<Kind, HashFormatError> {
    let bad = |why: &'static str| HashFormatError::BadLegacy {
        algorithm: Algorithm::Argon2,
        why,
    };
    let phc = text
        .strip_prefix("argon2")
        .filter(|rest| rest.starts_with("$argon2i$") || rest.starts_with("$argon2id$"))
        .ok_or(bad("it is argon2$argon2id$… or argon2$argon2i$…"))?;
    let parsed = argon2::PasswordHash::new(phc).map_err(|_| bad("not a PHC string"))?;
    let params =
        argon2::Params::try_from(&parsed).map_err(|_| bad("its parameters do not read"))?;
    if params.m_cost() > MAX_ARGON2_KIB
        || params.t_cost() > MAX_ARGON2_PASSES
        || params.p_cost() > 64
    {
        return Err(bad(
            "it asks for more memory or passes than Django ever does",
        ));
    }
    if parsed.hash.is_none() {
        return Err(bad("it holds no hash"));
    }
    Ok(Kind::Argon2 {
        phc: Box::from(phc),
    })
}

/// `bcrypt_sha256$$2b$12$…` or `bcrypt$$2b$12$…`.
#[cfg(feature = "drf-legacy-bcrypt")]
fn bcrypt(text: &str, sha256_first: bool) -> Result<Kind, HashFormatError> {
    let algorithm = if sha256_first {
        Algorithm::BcryptSha256
    } else {
        Algorithm::Bcrypt
    };
    let bad = |why: &'static str| HashFormatError::BadLegacy { algorithm, why };
    let hash = text
        .split_once('$')
        .map(|(_, rest)| rest)
        .filter(|rest| rest.starts_with('$'))
        .ok_or(bad("it is <algorithm>$$2b$<cost>$<salt and hash>"))?;
    let parts: Vec<&str> = hash.split('$').collect();
    let cost = match parts.as_slice() {
        ["", version, cost, rest] if matches!(*version, "2a" | "2b" | "2y") && rest.len() == 53 => {
            cost.parse::<u32>()
                .map_err(|_| bad("the cost is not a number"))?
        }
        _ => return Err(bad("it is <algorithm>$$2b$<cost>$<53 characters>")),
    };
    if !(4..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(bad("the cost is outside 4 to 14"));
    }
    Ok(Kind::Bcrypt {
        sha256_first,
        hash: Box::from(hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{Hasher, StoredHash};

    /// Keys and hashes made by Django itself (3.2 and 2.2, through
    /// djangorestframework-api-key 2.3.0): every hasher it offers.
    const MADE_BY_DJANGO: &str = include_str!("../../../../tests/fixtures/django-hashes.json");

    /// The README states the bounds on Django hashes' parameters; they are
    /// these, so that a change to either is seen.
    #[test]
    fn the_readme_states_the_bounds_the_code_holds() {
        let readme = include_str!("../../../../README.md").replace('\n', " ");
        let iterations = MAX_ITERATIONS
            .to_string()
            .as_bytes()
            .rchunks(3)
            .rev()
            .map(|digits| std::str::from_utf8(digits).unwrap())
            .collect::<Vec<_>>()
            .join(",");
        for stated in [
            format!("over {iterations} iterations"),
            #[cfg(feature = "drf-legacy-argon2")]
            format!(
                "over {} MiB of argon2 memory or {MAX_ARGON2_PASSES} passes",
                MAX_ARGON2_KIB / 1024
            ),
            #[cfg(feature = "drf-legacy-bcrypt")]
            format!("a bcrypt cost over {MAX_BCRYPT_COST}"),
        ] {
            assert!(
                readme.contains(&stated),
                "the README does not say {stated:?}"
            );
        }
    }

    fn fixtures() -> Vec<(String, String)> {
        let rows: Vec<serde_json::Value> = serde_json::from_str(MADE_BY_DJANGO).unwrap();
        rows.iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap().to_owned(),
                    r["hashed_key"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Each of Django's hashes verifies its key, and no other: one changed
    /// character of the secret fails. It reads back as it was written.
    #[test]
    fn django_made_hashes_verify_their_key_only() {
        let hasher = Hasher::default();
        let mut seen = Vec::new();
        for (key, hashed) in fixtures() {
            let stored = StoredHash::parse(&hashed).unwrap_or_else(|e| panic!("{hashed}: {e}"));
            assert!(stored.is_slow(), "{hashed}");
            assert_eq!(stored.to_string(), hashed);
            let right = ApiKey::parse(key.as_bytes()).unwrap();
            assert!(hasher.verify(&right, &stored), "{hashed}");
            let mut wrong = key.into_bytes();
            let last = wrong.len() - 1;
            wrong[last] = if wrong[last] == b'A' { b'B' } else { b'A' };
            assert!(
                !hasher.verify(&ApiKey::parse(&wrong).unwrap(), &stored),
                "{hashed}"
            );
            seen.push(stored.algorithm());
        }
        for algorithm in [
            Algorithm::Pbkdf2Sha256,
            Algorithm::Pbkdf2Sha1,
            Algorithm::Argon2,
            Algorithm::BcryptSha256,
            Algorithm::Bcrypt,
        ] {
            assert!(seen.contains(&algorithm), "no fixture for {algorithm}");
        }
    }

    /// Hashes that do not read, or that ask for more work than Django ever
    /// does, are refused (the store's record is then invalid: 503).
    #[test]
    fn odd_django_hashes_are_refused() {
        let digest = "gUJtGUOdigU+bZyuWoyXf8a7/BkbDyJ1X4CuLqz3+c0=";
        for text in [
            format!("pbkdf2_sha256$0$salt${digest}"),
            format!("pbkdf2_sha256$99999999999$salt${digest}"),
            format!("pbkdf2_sha256$+5$salt${digest}"),
            format!("pbkdf2_sha256$260000$${digest}"),
            "pbkdf2_sha256$260000$salt$not base64!".to_owned(),
            "pbkdf2_sha256$260000$salt$AAAA".to_owned(),
            format!("pbkdf2_sha256$260000$salt${digest}$extra"),
            format!("pbkdf2_sha1$260000$salt${digest}"),
            "argon2$argon2id$v=19$m=4194304,t=2,p=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".to_owned(),
            "argon2$argon2d$v=19$m=512,t=2,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".to_owned(),
            "bcrypt_sha256$$2b$31$BHf3ynPSJfeWGukl.SpjYuLCLwcoWXyNu9sTeL5wuQrbdEqrCATDe".to_owned(),
            "bcrypt$2b$12$Kplr.yppMyBj5SCAq/vfJeqi1zBhk3zbps/.i/E86LyVibyhiFZuO".to_owned(),
            "bcrypt$$2b$12$short".to_owned(),
        ] {
            assert!(
                matches!(
                    StoredHash::parse(&text),
                    Err(HashFormatError::BadLegacy { .. })
                ),
                "{text} was read"
            );
        }
    }
}
