//! Stored hashes and constant-time verification.
//!
//! A stored hash names its algorithm, so keys hashed different ways can live in
//! one store: `<algorithm>$<parameter>$<hex digest>`.
//!
//! | stored form                 | digest                                                |
//! |-----------------------------|-------------------------------------------------------|
//! | `sha256$$<64 hex>`          | SHA-256 of `PREFIX.SECRET` (the default for new keys) |
//! | `sha512$$<128 hex>`         | SHA-512 of `PREFIX.SECRET`, as djangorestframework-api-key 3.x stores it |
//! | `hmac-sha256$<id>$<64 hex>` | HMAC-SHA256 of `PREFIX.SECRET` under the server-side [`Pepper`] named `id` |
//!
//! ```
//! use api_key_auth::hash::{Hasher, StoredHash};
//! use api_key_auth::key::ApiKey;
//!
//! let key = ApiKey::parse(b"n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0")?;
//! let hasher = Hasher::default();
//! let stored: StoredHash = hasher.hash(&key);
//! assert!(stored.to_string().starts_with("sha256$$"));
//! assert!(hasher.verify(&key, &stored));
//!
//! let other = ApiKey::parse(b"n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL1")?;
//! assert!(!hasher.verify(&other, &stored));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{fmt, str::FromStr, sync::Arc};

use base64::Engine as _;
use sha2::digest::generic_array::GenericArray;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::key::{ApiKey, KEY_LEN};

#[cfg(feature = "drf-legacy")]
mod django;

/// A hash algorithm a stored hash may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256 over the whole key.
    Sha256,
    /// SHA-512 over the whole key, the djangorestframework-api-key 3.x format.
    Sha512,
    /// HMAC-SHA256 over the whole key, keyed with a server-side pepper.
    HmacSha256,
    /// Django's `pbkdf2_sha256`, as djangorestframework-api-key before 3.0
    /// stored keys by default (feature `drf-legacy`). Slow by design.
    Pbkdf2Sha256,
    /// Django's `pbkdf2_sha1` (feature `drf-legacy`).
    Pbkdf2Sha1,
    /// Django's `argon2` (feature `drf-legacy-argon2`).
    Argon2,
    /// Django's `bcrypt_sha256` (feature `drf-legacy-bcrypt`).
    BcryptSha256,
    /// Django's `bcrypt` (feature `drf-legacy-bcrypt`).
    Bcrypt,
}

impl Algorithm {
    /// The algorithm's name as it appears in a stored hash.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
            Self::HmacSha256 => "hmac-sha256",
            Self::Pbkdf2Sha256 => "pbkdf2_sha256",
            Self::Pbkdf2Sha1 => "pbkdf2_sha1",
            Self::Argon2 => "argon2",
            Self::BcryptSha256 => "bcrypt_sha256",
            Self::Bcrypt => "bcrypt",
        }
    }

    /// Whether checking a key against a hash of this kind is slow on
    /// purpose (a Django password hash): the authenticator does it off the
    /// async threads, a bounded number at once.
    pub fn is_slow(self) -> bool {
        !matches!(self, Self::Sha256 | Self::Sha512 | Self::HmacSha256)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a string is not a stored hash this crate can verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashFormatError {
    /// Not of the form `<algorithm>$<parameter>$<digest>`.
    #[error("a stored hash has the form <algorithm>$<parameter>$<hex digest>")]
    NotSelfDescribing,
    /// The algorithm is not one this crate verifies.
    #[error("unsupported hash algorithm {0:?} (supported: sha256, sha512, hmac-sha256, and with the drf-legacy features Django's pbkdf2_sha256, pbkdf2_sha1, argon2, bcrypt_sha256 and bcrypt)")]
    UnsupportedAlgorithm(String),
    /// A Django password hash whose parts do not read, or whose parameters
    /// are outside what Django makes.
    #[error("a {algorithm} hash that does not read: {why}")]
    BadLegacy {
        /// The algorithm named.
        algorithm: Algorithm,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The digest is not lowercase or uppercase hex of the algorithm's length.
    #[error("the {algorithm} digest must be {expected} hex characters")]
    BadDigest {
        /// The algorithm named.
        algorithm: Algorithm,
        /// How many hex characters it takes.
        expected: usize,
    },
    /// A plain hash carried a parameter (salt) where none belongs.
    #[error("a {0} hash takes no parameter between its '$' signs")]
    UnexpectedParameter(Algorithm),
    /// An HMAC hash named no pepper, or a pepper id with characters other than `[A-Za-z0-9_-]`.
    #[error("an hmac-sha256 hash names its pepper with 1 to 64 characters of [A-Za-z0-9_-]")]
    BadPepperId,
}

/// A digest as a store keeps it, parsed from (and shown as) its self-describing string.
///
/// `Debug` names the algorithm but not the digest.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredHash(Repr);

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Sha256([u8; 32]),
    Sha512([u8; 64]),
    HmacSha256 {
        pepper: Arc<str>,
        digest: [u8; 32],
    },
    #[cfg(feature = "drf-legacy")]
    Django(Box<django::DjangoHash>),
}

impl StoredHash {
    /// Parses a stored hash such as `sha512$$<128 hex>`.
    pub fn parse(text: &str) -> Result<Self, HashFormatError> {
        let mut parts = text.splitn(3, '$');
        let (Some(algorithm), Some(parameter), Some(digest)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(HashFormatError::NotSelfDescribing);
        };
        match algorithm {
            "sha256" => {
                no_parameter(Algorithm::Sha256, parameter)?;
                Ok(Self(Repr::Sha256(decode(Algorithm::Sha256, digest)?)))
            }
            "sha512" => {
                no_parameter(Algorithm::Sha512, parameter)?;
                Ok(Self(Repr::Sha512(decode(Algorithm::Sha512, digest)?)))
            }
            "hmac-sha256" => {
                check_pepper_id(parameter)?;
                Ok(Self(Repr::HmacSha256 {
                    pepper: Arc::from(parameter),
                    digest: decode(Algorithm::HmacSha256, digest)?,
                }))
            }
            #[cfg(feature = "drf-legacy")]
            other => match django::DjangoHash::parse(other, text) {
                Some(parsed) => Ok(Self(Repr::Django(Box::new(parsed?)))),
                None => Err(HashFormatError::UnsupportedAlgorithm(other.to_owned())),
            },
            #[cfg(not(feature = "drf-legacy"))]
            other => Err(HashFormatError::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    /// The algorithm this hash was made with.
    pub fn algorithm(&self) -> Algorithm {
        match &self.0 {
            Repr::Sha256(_) => Algorithm::Sha256,
            Repr::Sha512(_) => Algorithm::Sha512,
            Repr::HmacSha256 { .. } => Algorithm::HmacSha256,
            #[cfg(feature = "drf-legacy")]
            Repr::Django(hash) => hash.algorithm(),
        }
    }

    /// Whether checking a key against this hash is slow on purpose (see
    /// [`Algorithm::is_slow`]).
    pub fn is_slow(&self) -> bool {
        self.algorithm().is_slow()
    }
}

fn no_parameter(algorithm: Algorithm, parameter: &str) -> Result<(), HashFormatError> {
    if parameter.is_empty() {
        Ok(())
    } else {
        Err(HashFormatError::UnexpectedParameter(algorithm))
    }
}

fn check_pepper_id(id: &str) -> Result<(), HashFormatError> {
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(HashFormatError::BadPepperId)
    }
}

fn decode<const N: usize>(algorithm: Algorithm, digest: &str) -> Result<[u8; N], HashFormatError> {
    let mut out = [0; N];
    hex::decode_to_slice(digest, &mut out).map_err(|_| HashFormatError::BadDigest {
        algorithm,
        expected: N * 2,
    })?;
    Ok(out)
}

impl FromStr for StoredHash {
    type Err = HashFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Sha256(d) => write!(f, "sha256$${}", hex::encode(d)),
            Repr::Sha512(d) => write!(f, "sha512$${}", hex::encode(d)),
            Repr::HmacSha256 { pepper, digest } => {
                write!(f, "hmac-sha256${pepper}${}", hex::encode(digest))
            }
            #[cfg(feature = "drf-legacy")]
            Repr::Django(hash) => fmt::Display::fmt(hash, f),
        }
    }
}

impl fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredHash")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

/// A server-side secret mixed into HMAC-SHA256 key hashes, so a leaked
/// database alone does not let anyone test guesses offline.
///
/// The id is written into every hash it makes, so peppers can be rotated:
/// keep the old one for verifying while new keys use the new one.
#[derive(Clone)]
pub struct Pepper {
    id: Arc<str>,
    /// SHA-256 states after the HMAC inner and outer pad blocks: all a MAC
    /// needs of the secret, which is wiped once they are made. Zeroized on drop.
    pads: Arc<Zeroizing<[[u32; 8]; 2]>>,
}

impl Pepper {
    /// A pepper named `id` (1 to 64 characters of `[A-Za-z0-9_-]`) with a secret of at least 32 bytes.
    pub fn new(id: &str, secret: impl Into<Vec<u8>>) -> Result<Self, PepperError> {
        check_pepper_id(id).map_err(|_| PepperError::BadId)?;
        let secret = Zeroizing::new(secret.into());
        if secret.len() < 32 {
            return Err(PepperError::TooShort { len: secret.len() });
        }
        // HMAC (RFC 2104): a key longer than the block is hashed first, then
        // zero-padded to the block; the pads are that XOR 0x36 and 0x5c.
        let mut block = Zeroizing::new([0u8; BLOCK]);
        if secret.len() > BLOCK {
            block[..32].copy_from_slice(&*wiped_sha256(&secret));
        } else {
            block[..secret.len()].copy_from_slice(&secret);
        }
        let mut pads = Zeroizing::new([H256; 2]);
        for (state, pad) in pads.iter_mut().zip([0x36u8, 0x5c]) {
            let mut padded = Zeroizing::new(*block);
            padded.iter_mut().for_each(|b| *b ^= pad);
            compress256(state, &padded);
        }
        Ok(Self {
            id: Arc::from(id),
            pads: Arc::new(pads),
        })
    }

    /// A pepper whose secret is given in standard base64, as in an environment variable.
    pub fn from_base64(id: &str, secret: &str) -> Result<Self, PepperError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(secret.trim())
            .map_err(|_| PepperError::NotBase64)?;
        Self::new(id, bytes)
    }

    /// The pepper's id, as written into the hashes it makes.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// HMAC-SHA256 of the key: one compression from the inner pad's state
    /// over the key's single padded block, one from the outer pad's state over
    /// the inner digest's.
    fn mac(&self, key: &ApiKey) -> [u8; 32] {
        let [inner_pad, outer_pad] = &**self.pads;
        let inner = one_block_sha256(inner_pad, BLOCK, |block| key.write_to(block), KEY_LEN);
        one_block_sha256(
            outer_pad,
            BLOCK,
            |block| block[..32].copy_from_slice(&inner),
            32,
        )
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pepper")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why a pepper was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PepperError {
    /// The id is empty, too long, or has characters outside `[A-Za-z0-9_-]`.
    #[error("a pepper id is 1 to 64 characters of [A-Za-z0-9_-]")]
    BadId,
    /// The secret is shorter than 32 bytes.
    #[error("a pepper secret needs at least 32 bytes, got {len}")]
    TooShort {
        /// The length given.
        len: usize,
    },
    /// The secret is not valid standard base64.
    #[error("the pepper secret is not valid standard base64")]
    NotBase64,
}

/// Hashes new keys and verifies presented keys against stored hashes.
///
/// Cheap to clone. The default hashes new keys with SHA-256; every hasher
/// verifies `sha256` and `sha512` hashes, and `hmac-sha256` hashes whose
/// pepper it holds.
#[derive(Clone, Debug, Default)]
pub struct Hasher {
    new_keys: NewKeys,
    peppers: Arc<[Pepper]>,
}

#[derive(Clone, Debug, Default)]
enum NewKeys {
    #[default]
    Sha256,
    Sha512,
    Hmac(Pepper),
}

impl Hasher {
    /// Hashes new keys with SHA-256 (the default).
    pub fn sha256() -> Self {
        Self::default()
    }

    /// Hashes new keys as djangorestframework-api-key 3.x does (`sha512$$`), for
    /// a store whose table a Django service shares.
    pub fn sha512_drf() -> Self {
        Self {
            new_keys: NewKeys::Sha512,
            ..Self::default()
        }
    }

    /// Hashes new keys with HMAC-SHA256 under `pepper`, and verifies hashes made with it.
    pub fn hmac_sha256(pepper: Pepper) -> Self {
        Self {
            new_keys: NewKeys::Hmac(pepper.clone()),
            peppers: Arc::from(vec![pepper]),
        }
    }

    /// Also verifies hashes made with `pepper` (an older one, during rotation).
    pub fn with_verify_pepper(self, pepper: Pepper) -> Self {
        let mut peppers = self.peppers.to_vec();
        peppers.retain(|p| p.id != pepper.id);
        peppers.push(pepper);
        Self {
            new_keys: self.new_keys,
            peppers: Arc::from(peppers),
        }
    }

    /// The algorithm new keys are hashed with.
    pub fn algorithm(&self) -> Algorithm {
        match self.new_keys {
            NewKeys::Sha256 => Algorithm::Sha256,
            NewKeys::Sha512 => Algorithm::Sha512,
            NewKeys::Hmac(_) => Algorithm::HmacSha256,
        }
    }

    /// Hashes a key for storage.
    pub fn hash(&self, key: &ApiKey) -> StoredHash {
        StoredHash(match &self.new_keys {
            NewKeys::Sha256 => Repr::Sha256(sha256(key)),
            NewKeys::Sha512 => Repr::Sha512(sha512(key)),
            NewKeys::Hmac(pepper) => Repr::HmacSha256 {
                pepper: pepper.id.clone(),
                digest: pepper.mac(key),
            },
        })
    }

    /// Whether `key` is the key `stored` was made from, compared in constant time.
    ///
    /// An `hmac-sha256` hash naming a pepper this hasher does not hold never verifies.
    pub fn verify(&self, key: &ApiKey, stored: &StoredHash) -> bool {
        let matched = match &stored.0 {
            Repr::Sha256(expected) => digests_equal(&sha256(key), expected),
            Repr::Sha512(expected) => digests_equal(&sha512(key), expected),
            Repr::HmacSha256 { pepper, digest } => match self.pepper(pepper) {
                Some(p) => digests_equal(&p.mac(key), digest),
                None => {
                    tracing::warn!(pepper = %pepper, "stored hash names a pepper this hasher does not hold");
                    self.verify_against_nothing_as(key, Algorithm::HmacSha256);
                    return false;
                }
            },
            // Slow on purpose: the authenticator calls this off the async threads.
            #[cfg(feature = "drf-legacy")]
            Repr::Django(hash) => return hash.verify(key),
        };
        bool::from(matched)
    }

    /// Spends the work of one verification with the algorithm new keys get,
    /// and fails, for a prefix no store knows: the request costs the same CPU
    /// whether or not its prefix exists. See [`verify_against_nothing_as`](Self::verify_against_nothing_as)
    /// for a store whose records are hashed otherwise.
    pub fn verify_against_nothing(&self, key: &ApiKey) {
        self.verify_against_nothing_as(key, self.algorithm());
    }

    /// Spends the work of verifying `key` against a record hashed with
    /// `algorithm`, and fails: what a request with an unknown prefix costs
    /// should be what a known prefix with a wrong secret costs in the same store.
    pub fn verify_against_nothing_as(&self, key: &ApiKey, algorithm: Algorithm) {
        let matched = match algorithm {
            Algorithm::Sha256 => digests_equal(&sha256(key), &[0xA5; 32]),
            Algorithm::Sha512 => digests_equal(&sha512(key), &[0xA5; 64]),
            Algorithm::HmacSha256 => {
                let pepper = match &self.new_keys {
                    NewKeys::Hmac(pepper) => Some(pepper),
                    _ => self.peppers.first(),
                };
                let digest = match pepper {
                    Some(pepper) => pepper.mac(key),
                    None => one_block_sha256(&H256, 0, |block| key.write_to(block), KEY_LEN),
                };
                digests_equal(&digest, &[0xA5; 32])
            }
            // No store says its records are slow hashes, nor is one followed:
            // SHA-512, the cost of a DRF table's own records, stands in.
            _ => digests_equal(&sha512(key), &[0xA5; 64]),
        };
        let _ = std::hint::black_box(matched);
    }

    /// The hash, made as a store's records with `algorithm` are, of a key
    /// nobody holds: what a prefix no store knows is checked against, so that
    /// its check is a real record's check, step for step.
    ///
    /// `None` for a slow algorithm, for HMAC without a pepper, or without
    /// randomness.
    pub(crate) fn decoy(&self, algorithm: Algorithm) -> Option<StoredHash> {
        let key = ApiKey::generate().ok()?;
        Some(StoredHash(match algorithm {
            Algorithm::Sha256 => Repr::Sha256(sha256(&key)),
            Algorithm::Sha512 => Repr::Sha512(sha512(&key)),
            Algorithm::HmacSha256 => {
                let pepper = match &self.new_keys {
                    NewKeys::Hmac(pepper) => pepper,
                    _ => self.peppers.first()?,
                };
                Repr::HmacSha256 {
                    pepper: pepper.id.clone(),
                    digest: pepper.mac(&key),
                }
            }
            #[allow(unreachable_patterns)]
            _ => return None,
        }))
    }

    fn pepper(&self, id: &str) -> Option<&Pepper> {
        self.peppers.iter().find(|p| &*p.id == id)
    }
}

/// Compares two digests in constant time, as 64-bit words: `subtle` over
/// words does the same data-independent work as over bytes, in an eighth of the steps.
fn digests_equal<const N: usize>(a: &[u8; N], b: &[u8; N]) -> subtle::Choice {
    let words = |d: &[u8; N]| {
        let mut out = [0u64; 8];
        for (word, chunk) in out.iter_mut().zip(d.chunks_exact(8)) {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(chunk);
            *word = u64::from_ne_bytes(bytes);
        }
        out
    };
    const { assert!(N.is_multiple_of(8) && N <= 64) };
    let (a, b) = (words(a), words(b));
    a[..N / 8].ct_eq(&b[..N / 8])
}

/// SHA-256's block size in bytes, and its initial state.
const BLOCK: usize = 64;
const H256: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256 of the 41-byte key.
///
/// The padded message is always exactly one block (the key, `0x80`, zeros, the
/// length in bits), so the block is laid out here and compressed once, skipping
/// the general-purpose buffering that costs as much as the compression itself
/// on a message this short.
fn sha256(key: &ApiKey) -> [u8; 32] {
    one_block_sha256(&H256, 0, |block| key.write_to(block), KEY_LEN)
}

/// The last SHA-256 compression of a message: from `state`, after `before`
/// bytes already compressed, over `len` (< 56) bytes that `fill` writes,
/// padded. The stack block, which held key bytes, is wiped afterwards; the
/// copy of `state` is overwritten by the compression itself.
fn one_block_sha256(
    state: &[u32; 8],
    before: usize,
    fill: impl FnOnce(&mut [u8]),
    len: usize,
) -> [u8; 32] {
    let mut state = *state;
    let mut block = [0u8; BLOCK];
    fill(&mut block[..len]);
    block[len] = 0x80;
    block[56..].copy_from_slice(&(((before + len) as u64) * 8).to_be_bytes());
    compress256(&mut state, &block);
    wipe(&mut block);
    let mut digest = [0u8; 32];
    for (out, word) in digest.chunks_exact_mut(4).zip(state) {
        out.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

/// SHA-256 of a secret of any length, padded in a buffer that is wiped on
/// drop, as is the digest: no hasher's own buffer ever holds the secret.
fn wiped_sha256(secret: &[u8]) -> Zeroizing<[u8; 32]> {
    let blocks = (secret.len() + 1 + 8).div_ceil(BLOCK);
    let mut message = Zeroizing::new(vec![0u8; blocks * BLOCK]);
    message[..secret.len()].copy_from_slice(secret);
    message[secret.len()] = 0x80;
    let bits = (secret.len() as u64) * 8;
    let end = message.len();
    message[end - 8..].copy_from_slice(&bits.to_be_bytes());
    let mut state = Zeroizing::new(H256);
    for block in message.chunks_exact(BLOCK) {
        let mut copy = Zeroizing::new([0u8; BLOCK]);
        copy.copy_from_slice(block);
        compress256(&mut state, &copy);
    }
    let mut digest = Zeroizing::new([0u8; 32]);
    for (out, word) in digest.chunks_exact_mut(4).zip(state.iter()) {
        out.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

fn compress256(state: &mut [u32; 8], block: &[u8; BLOCK]) {
    sha2::compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
}

/// SHA-512 of the 41-byte key, which with its padding is one 128-byte block,
/// compressed once; the stack block is wiped afterwards.
fn sha512(key: &ApiKey) -> [u8; 64] {
    const H0: [u64; 8] = [
        0x6a09e667f3bcc908,
        0xbb67ae8584caa73b,
        0x3c6ef372fe94f82b,
        0xa54ff53a5f1d36f1,
        0x510e527fade682d1,
        0x9b05688c2b3e6c1f,
        0x1f83d9abfb41bd6b,
        0x5be0cd19137e2179,
    ];
    const BITS: u128 = KEY_LEN as u128 * 8;
    const _: () = assert!(KEY_LEN + 1 + 16 <= 128, "a key fits one SHA-512 block");

    let mut block = [0u8; 128];
    key.write_to(&mut block);
    block[KEY_LEN] = 0x80;
    block[112..].copy_from_slice(&BITS.to_be_bytes());
    let mut state = H0;
    sha2::compress512(
        &mut state,
        std::slice::from_ref(GenericArray::from_slice(&block)),
    );
    wipe(&mut block);
    let mut digest = [0u8; 64];
    for (out, word) in digest.chunks_exact_mut(8).zip(state) {
        out.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

/// Clears a stack block that held key bytes. `black_box` keeps the compiler
/// from dropping the store as dead; a plain memset costs a cycle where
/// byte-wise volatile zeroing would cost as much as a fifth of the hash.
fn wipe<const N: usize>(block: &mut [u8; N]) {
    *block = [0; N];
    std::hint::black_box(block);
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn key(text: &str) -> ApiKey {
        ApiKey::parse(text.as_bytes()).unwrap()
    }

    // Digests computed outside this crate, with Python:
    //   hashlib.sha512(b"n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0").hexdigest()
    //   hashlib.sha256(b"n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0").hexdigest()
    //   hmac.new(b"p"*32, b"n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0", "sha256").hexdigest()
    const EXAMPLE: &str = "n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0";
    const EXAMPLE_SHA512: &str = include_str!("../../../tests/fixtures/example.sha512");
    const EXAMPLE_SHA256: &str = include_str!("../../../tests/fixtures/example.sha256");
    const EXAMPLE_HMAC: &str = include_str!("../../../tests/fixtures/example.hmac-sha256");

    #[test]
    fn drf_sha512_verifies_byte_for_byte() {
        let stored = StoredHash::parse(EXAMPLE_SHA512.trim()).unwrap();
        assert_eq!(stored.algorithm(), Algorithm::Sha512);
        assert_eq!(stored.to_string(), EXAMPLE_SHA512.trim());
        assert!(Hasher::default().verify(&key(EXAMPLE), &stored));
        assert_eq!(Hasher::sha512_drf().hash(&key(EXAMPLE)), stored);
    }

    #[test]
    fn one_block_sha256_equals_the_general_purpose_digest() {
        for _ in 0..200 {
            let key = ApiKey::generate().unwrap();
            let general: [u8; 32] = key.with_bytes(|bytes| Sha256::digest(bytes).into());
            assert_eq!(sha256(&key), general);
        }
    }

    #[test]
    fn one_block_sha512_equals_the_general_purpose_digest() {
        for _ in 0..200 {
            let key = ApiKey::generate().unwrap();
            let general: [u8; 64] = key.with_bytes(|bytes| sha2::Sha512::digest(bytes).into());
            assert_eq!(sha512(&key), general);
        }
    }

    #[test]
    fn the_wiped_sha256_equals_the_general_purpose_digest() {
        for len in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300] {
            let data: Vec<u8> = (0..len).map(|i| (i * 13 + 7) as u8).collect();
            let general: [u8; 32] = Sha256::digest(&data).into();
            assert_eq!(*wiped_sha256(&data), general, "{len} bytes");
        }
    }

    /// The two-compression HMAC against the RustCrypto `hmac` crate, for
    /// secrets shorter than, equal to and longer than SHA-256's block.
    #[test]
    fn precomputed_pad_hmac_equals_the_hmac_crate() {
        use hmac::{Hmac, Mac};
        for len in [32, 33, 63, 64, 65, 100, 200] {
            let secret: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let pepper = Pepper::new("p", secret.clone()).unwrap();
            for _ in 0..20 {
                let key = ApiKey::generate().unwrap();
                let mut reference = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
                key.with_bytes(|bytes| reference.update(bytes));
                let expected: [u8; 32] = reference.finalize().into_bytes().into();
                assert_eq!(pepper.mac(&key), expected, "secret of {len} bytes");
            }
        }
    }

    #[test]
    fn sha256_matches_an_independent_digest() {
        let stored = StoredHash::parse(EXAMPLE_SHA256.trim()).unwrap();
        assert_eq!(Hasher::default().hash(&key(EXAMPLE)), stored);
    }

    #[test]
    fn hmac_matches_an_independent_digest_and_needs_its_pepper() {
        let stored = StoredHash::parse(EXAMPLE_HMAC.trim()).unwrap();
        let pepper = Pepper::new("p1", vec![b'p'; 32]).unwrap();
        let hasher = Hasher::hmac_sha256(pepper);
        assert_eq!(hasher.hash(&key(EXAMPLE)), stored);
        assert!(hasher.verify(&key(EXAMPLE), &stored));
        assert!(!Hasher::default().verify(&key(EXAMPLE), &stored));

        let rotated = Hasher::hmac_sha256(Pepper::new("p2", vec![b'q'; 32]).unwrap());
        assert!(!rotated.verify(&key(EXAMPLE), &stored));
        let rotated = rotated.with_verify_pepper(Pepper::new("p1", vec![b'p'; 32]).unwrap());
        assert!(rotated.verify(&key(EXAMPLE), &stored));
        assert!(rotated
            .hash(&key(EXAMPLE))
            .to_string()
            .starts_with("hmac-sha256$p2$"));
    }

    #[test]
    fn rejects_malformed_stored_hashes_with_reasons() {
        let cases = [
            ("", HashFormatError::NotSelfDescribing),
            ("sha256$abc", HashFormatError::NotSelfDescribing),
            (
                "md5$salt$x",
                HashFormatError::UnsupportedAlgorithm("md5".into()),
            ),
            (
                "sha256$$abcd",
                HashFormatError::BadDigest {
                    algorithm: Algorithm::Sha256,
                    expected: 64,
                },
            ),
            (
                "sha512$salt$00",
                HashFormatError::UnexpectedParameter(Algorithm::Sha512),
            ),
            ("hmac-sha256$$00", HashFormatError::BadPepperId),
        ];
        for (text, expected) in cases {
            assert_eq!(StoredHash::parse(text).unwrap_err(), expected, "{text:?}");
        }
    }

    #[test]
    fn debug_hides_digest_and_pepper() {
        let stored = Hasher::default().hash(&key(EXAMPLE));
        let hex = stored.to_string();
        assert!(!format!("{stored:?}").contains(&hex[8..20]));
        let pepper = Pepper::new("p1", vec![b'z'; 32]).unwrap();
        assert!(!format!("{pepper:?}").contains("zzzz"));
    }

    #[test]
    fn pepper_validation() {
        assert_eq!(
            Pepper::new("p", vec![0; 31]).unwrap_err(),
            PepperError::TooShort { len: 31 }
        );
        assert_eq!(
            Pepper::new("a$b", vec![0; 32]).unwrap_err(),
            PepperError::BadId
        );
        assert_eq!(
            Pepper::from_base64("p", "not base64!").unwrap_err(),
            PepperError::NotBase64
        );
        let p = Pepper::from_base64("p", &"A".repeat(44)).unwrap();
        assert_eq!(p.id(), "p");
    }
}
