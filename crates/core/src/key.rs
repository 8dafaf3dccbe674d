//! The API key itself: `PREFIX.SECRET`, parsed from header bytes and generated
//! from the operating system's CSPRNG.
//!
//! ```
//! use api_key_auth::key::ApiKey;
//!
//! let key = ApiKey::parse(b"n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0")?;
//! assert_eq!(key.prefix().as_str(), "n58lzybi");
//! // The secret never shows itself.
//! assert!(!format!("{key:?}").contains("1M2baTIH"));
//!
//! assert!(ApiKey::parse(b"n58lzybi.too-short").is_err());
//! # Ok::<(), api_key_auth::key::KeyParseError>(())
//! ```

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// Length of the public prefix, in bytes.
pub const PREFIX_LEN: usize = 8;
/// Length of the secret part, in bytes.
pub const SECRET_LEN: usize = 32;
/// Length of a whole key, `PREFIX.SECRET`, in bytes.
pub const KEY_LEN: usize = PREFIX_LEN + 1 + SECRET_LEN;

/// The 62 characters a key is drawn from, as djangorestframework-api-key draws them.
const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Why bytes are not a key. Carries positions and lengths, never the bytes themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyParseError {
    /// The key is not 41 bytes long.
    #[error("an API key is {KEY_LEN} bytes long (8-character prefix, '.', 32-character secret), got {len}")]
    WrongLength {
        /// How many bytes were presented.
        len: usize,
    },
    /// Byte 8 is not the `.` separating prefix and secret.
    #[error("an API key has a '.' after its 8-character prefix")]
    MissingSeparator,
    /// A byte outside `[A-Za-z0-9]`.
    #[error(
        "an API key holds only the characters A-Z, a-z and 0-9; byte {position} is not one of them"
    )]
    InvalidCharacter {
        /// Zero-based position of the first offending byte.
        position: usize,
    },
}

/// The public, 8-character part of a key, by which a store finds it.
///
/// A prefix identifies a key; it is not a secret and may appear in logs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Prefix([u8; PREFIX_LEN]);

impl std::hash::Hash for Prefix {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // One word rather than a length and a slice: equal prefixes are equal
        // words, and SipHash does half the work on a store's hot lookup.
        state.write_u64(u64::from_le_bytes(self.0));
    }
}

impl Prefix {
    /// Parses a prefix: exactly 8 characters of `[A-Za-z0-9]`.
    pub fn parse(text: impl AsRef<[u8]>) -> Result<Self, KeyParseError> {
        let bytes = text.as_ref();
        if bytes.len() != PREFIX_LEN {
            return Err(KeyParseError::WrongLength { len: bytes.len() });
        }
        check_alphanumeric(bytes, 0)?;
        let mut prefix = [0; PREFIX_LEN];
        prefix.copy_from_slice(bytes);
        Ok(Self(prefix))
    }

    /// The prefix as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics ever get in, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The prefix's bytes.
    pub fn as_bytes(&self) -> &[u8; PREFIX_LEN] {
        &self.0
    }
}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Prefix").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Prefix {
    type Err = KeyParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A whole API key: a [`Prefix`] and a 32-character secret.
///
/// The secret is zeroized when the key is dropped, and neither `Debug` nor any
/// other method of this type shows it: code that must hand a new key to its
/// owner gets it once, from [`CreatedKey::reveal`](crate::store::CreatedKey::reveal).
#[derive(Clone)]
pub struct ApiKey {
    /// `PREFIX.SECRET`, checked, little-endian in 64-bit words (the last
    /// holding byte 40 and zeros): wiping six words on drop costs a fraction
    /// of wiping 41 bytes one volatile write at a time.
    words: Zeroizing<[u64; WORDS]>,
}

/// 64-bit words that hold a key.
const WORDS: usize = KEY_LEN.div_ceil(8);

impl ApiKey {
    /// Parses `PREFIX.SECRET` from raw bytes, such as a header value.
    ///
    /// Any input is safe: the function never panics and reports what was wrong
    /// without echoing the input.
    pub fn parse(bytes: &[u8]) -> Result<Self, KeyParseError> {
        if bytes.len() != KEY_LEN {
            return Err(KeyParseError::WrongLength { len: bytes.len() });
        }
        check_alphanumeric(&bytes[..PREFIX_LEN], 0)?;
        if bytes[PREFIX_LEN] != b'.' {
            return Err(KeyParseError::MissingSeparator);
        }
        check_alphanumeric(&bytes[PREFIX_LEN + 1..], PREFIX_LEN + 1)?;

        Ok(Self::from_checked(bytes))
    }

    /// Draws a new key from the operating system's CSPRNG.
    ///
    /// Each character is an unbiased draw from the 62 of `[A-Za-z0-9]`, so the
    /// secret carries 32 x log2(62), about 190, bits.
    pub fn generate() -> Result<Self, KeyGenError> {
        let mut bytes = Zeroizing::new([0; KEY_LEN]);
        fill_alphanumeric(&mut bytes[..PREFIX_LEN])?;
        bytes[PREFIX_LEN] = b'.';
        fill_alphanumeric(&mut bytes[PREFIX_LEN + 1..])?;
        Ok(Self::from_checked(bytes.as_ref()))
    }

    /// The key's public prefix.
    pub fn prefix(&self) -> Prefix {
        Prefix(self.words[0].to_le_bytes())
    }

    /// Packs 41 checked bytes into words.
    fn from_checked(bytes: &[u8]) -> Self {
        let mut words = Zeroizing::new([0u64; WORDS]);
        for (word, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut eight = [0u8; 8];
            eight[..chunk.len()].copy_from_slice(chunk);
            *word = u64::from_le_bytes(eight);
        }
        Self { words }
    }

    /// Writes the whole key, `PREFIX.SECRET`, into `out`'s first 41 bytes,
    /// for hashing inside this crate only.
    pub(crate) fn write_to(&self, out: &mut [u8]) {
        for (chunk, word) in out[..KEY_LEN].chunks_mut(8).zip(self.words.iter()) {
            chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
        }
    }

    /// Runs `f` on the whole key's bytes, wiping the copy afterwards.
    pub(crate) fn with_bytes<T>(&self, f: impl FnOnce(&[u8; KEY_LEN]) -> T) -> T {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        self.write_to(bytes.as_mut());
        f(&bytes)
    }

    /// The whole key as text, for [`PlaintextKey`](crate::store::PlaintextKey) only.
    pub(crate) fn to_plaintext(&self) -> Zeroizing<String> {
        // Only ASCII alphanumerics and '.' ever get in, one char per byte.
        self.with_bytes(|bytes| Zeroizing::new(bytes.iter().map(|&b| char::from(b)).collect()))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("prefix", &self.prefix())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The operating system's random number generator failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct KeyGenError(getrandom::Error);

fn check_alphanumeric(bytes: &[u8], offset: usize) -> Result<(), KeyParseError> {
    // A branch-free pass the compiler vectorises; the position is only
    // searched for on the (rare, slow) path of a bad key.
    let all = bytes
        .iter()
        .fold(true, |ok, b| ok & b.is_ascii_alphanumeric());
    if all {
        return Ok(());
    }
    let index = bytes
        .iter()
        .position(|b| !b.is_ascii_alphanumeric())
        .unwrap_or_default();
    Err(KeyParseError::InvalidCharacter {
        position: offset + index,
    })
}

/// Fills `out` with characters of [`ALPHABET`], each drawn without bias by
/// rejecting random bytes at or above 248 (the largest multiple of 62 below 256).
fn fill_alphanumeric(out: &mut [u8]) -> Result<(), KeyGenError> {
    const LIMIT: u8 = 248;
    let mut pool = Zeroizing::new([0u8; 64]);
    let mut filled = 0;
    while filled < out.len() {
        getrandom::fill(pool.as_mut()).map_err(KeyGenError)?;
        for &byte in pool.iter().filter(|&&b| b < LIMIT) {
            if filled == out.len() {
                break;
            }
            out[filled] = ALPHABET[usize::from(byte % 62)];
            filled += 1;
        }
    }
    pool.zeroize();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0";

    #[test]
    fn parses_the_documented_example() {
        let key = ApiKey::parse(KEY).expect("valid key");
        assert_eq!(key.prefix().as_str(), "n58lzybi");
        assert_eq!(key.to_plaintext().as_str().as_bytes(), KEY);
    }

    #[test]
    fn reports_what_is_wrong_without_echoing_input() {
        assert_eq!(
            ApiKey::parse(&KEY[..40]).unwrap_err(),
            KeyParseError::WrongLength { len: 40 }
        );
        let mut no_dot = KEY.to_vec();
        no_dot[8] = b'x';
        assert_eq!(
            ApiKey::parse(&no_dot).unwrap_err(),
            KeyParseError::MissingSeparator
        );
        let mut bad = KEY.to_vec();
        bad[20] = b'-';
        let err = ApiKey::parse(&bad).unwrap_err();
        assert_eq!(err, KeyParseError::InvalidCharacter { position: 20 });
        assert!(!err.to_string().contains("1M2ba"));
    }

    #[test]
    fn debug_redacts_the_secret() {
        let key = ApiKey::parse(KEY).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("n58lzybi"));
        assert!(!shown.contains("1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0"));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn generated_keys_parse_and_differ() {
        let a = ApiKey::generate().unwrap();
        let b = ApiKey::generate().unwrap();
        let text = a.to_plaintext();
        assert_eq!(ApiKey::parse(text.as_bytes()).unwrap().prefix(), a.prefix());
        assert_ne!(a.to_plaintext(), b.to_plaintext());
    }

    #[test]
    fn generation_uses_the_whole_alphabet_roughly_evenly() {
        // 2,000 secrets give 64,000 draws, about 1,032 per character; a biased
        // or truncated alphabet would leave characters far off that mean.
        let mut counts = [0u32; 256];
        for _ in 0..2_000 {
            let key = ApiKey::generate().unwrap();
            for &b in &key.with_bytes(|bytes| *bytes)[PREFIX_LEN + 1..] {
                counts[usize::from(b)] += 1;
            }
        }
        for &c in ALPHABET {
            let n = counts[usize::from(c)];
            assert!((800..1300).contains(&n), "{} drawn {n} times", c as char);
        }
        let total: u32 = counts.iter().sum();
        assert_eq!(total, 64_000);
    }

    #[test]
    fn prefix_parse_checks_length_and_alphabet() {
        assert!(Prefix::parse("n58lzybi").is_ok());
        assert!(Prefix::parse("n58lzyb").is_err());
        assert!(Prefix::parse("n58lzyb_").is_err());
    }
}
