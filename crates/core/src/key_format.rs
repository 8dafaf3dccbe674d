//! Keys that secret scanners can find (opt-in): the DRF key behind a brand,
//! with a checksum after it, in the manner of GitHub's tokens.
//!
//! ```text
//! myco_n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0 1YlV0M
//! ^^^^^ ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ ^^^^^^
//! brand the key (PREFIX.SECRET)                   CRC32 of all before it, base62
//! ```
//!
//! (written without the spaces). A leaked key then matches one regular
//! expression that GitHub's custom patterns, gitleaks or trufflehog can use
//! without false positives, and a mistyped or made-up key fails its
//! checksum: it is refused before any hash or store call. The stored hash is
//! the DRF key's, so a key works in both forms, and a server can accept
//! both while clients move over.
//!
//! ```
//! use api_key_auth::{key_format::KeyFormat, Authenticator, KeyManager, MemoryStore, NewKey};
//! use http::HeaderMap;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let format = KeyFormat::branded("myco")?;
//! let store = MemoryStore::new();
//! let (_, key) = store.create(NewKey::named("ci")).await?.reveal();
//! let handed_out = format.render(&key);               // what the client gets
//! assert!(handed_out.starts_with("myco_"));
//! assert!(regex_lite_match(&format.pattern(), &handed_out));
//!
//! let auth = Authenticator::builder(store).accept(format).build()?;
//! let mut headers = HeaderMap::new();
//! headers.insert("authorization", format!("Api-Key {}", &*handed_out).parse()?);
//! assert!(auth.authenticate(&headers).await.is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! # fn regex_lite_match(pattern: &str, text: &str) -> bool { regex::Regex::new(pattern).unwrap().is_match(text) }
//! ```

use std::{fmt, sync::Arc};

use zeroize::Zeroizing;

use crate::{error::ConfigError, key::KEY_LEN, store::PlaintextKey};

/// The characters of the checksum, in order of value.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// A CRC32 in base62 takes six characters (62^6 > 2^32).
pub const CHECKSUM_LEN: usize = 6;

/// How keys are written for clients: as DRF writes them (the default), or
/// behind a brand with a checksum.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyFormat {
    /// `PREFIX.SECRET`, as djangorestframework-api-key writes keys.
    #[default]
    Drf,
    /// `<brand>_PREFIX.SECRET<checksum>`.
    Branded(Brand),
}

/// A brand: 2 to 16 lowercase letters and digits, starting with a letter
/// (`myco`, `acme2`). Scanners find keys by it: choose one no other vendor uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Brand(Arc<str>);

impl Brand {
    /// Checks `brand`.
    pub fn new(brand: &str) -> Result<Self, ConfigError> {
        let ok = (2..=16).contains(&brand.len())
            && brand.starts_with(|c: char| c.is_ascii_lowercase())
            && brand
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(Arc::from(brand)))
        } else {
            Err(ConfigError::Brand(brand.to_owned()))
        }
    }

    /// The brand as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Brand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl KeyFormat {
    /// Keys behind `brand` (checked as [`Brand::new`] says).
    pub fn branded(brand: &str) -> Result<Self, ConfigError> {
        Brand::new(brand).map(Self::Branded)
    }

    /// The text a client is given for `key`: the key itself, or branded.
    pub fn render(&self, key: &PlaintextKey) -> Zeroizing<String> {
        match self {
            Self::Drf => Zeroizing::new(key.expose_secret().to_owned()),
            Self::Branded(brand) => brand_key(brand, key.expose_secret()),
        }
    }

    /// The regular expression a secret scanner finds keys of this format
    /// with; for the DRF format, the key alone (which matches other things too).
    pub fn pattern(&self) -> String {
        match self {
            Self::Drf => r"\b[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}\b".to_owned(),
            Self::Branded(brand) => format!(
                r"\b{brand}_[A-Za-z0-9]{{8}}\.[A-Za-z0-9]{{{}}}\b",
                32 + CHECKSUM_LEN
            ),
        }
    }
}

/// `<brand>_<key><checksum>`, in memory that is wiped on drop.
fn brand_key(brand: &Brand, key: &str) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::with_capacity(
        brand.0.len() + 1 + key.len() + CHECKSUM_LEN,
    ));
    text.push_str(&brand.0);
    text.push('_');
    text.push_str(key);
    let checksum = checksum(text.as_bytes());
    text.push_str(std::str::from_utf8(&checksum).unwrap_or_default());
    text
}

/// CRC32 of `bytes` in six base62 characters, most significant first.
fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut value = crc32fast::hash(bytes);
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// Why a branded value is not a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unbranded {
    /// Not behind any accepted brand: read it as a DRF key, if those are accepted.
    NotBranded,
    /// Behind an accepted brand, but not the right length or checksum.
    BadChecksum,
}

/// The DRF key inside a branded `value`, if it is behind one of `brands`
/// and its checksum holds.
pub(crate) fn unbrand<'a>(brands: &[Brand], value: &'a [u8]) -> Result<&'a [u8], Unbranded> {
    for brand in brands {
        let tag = brand.0.as_bytes();
        let branded = value.len() > tag.len() && value.starts_with(tag) && value[tag.len()] == b'_';
        if !branded {
            continue;
        }
        if value.len() != tag.len() + 1 + KEY_LEN + CHECKSUM_LEN {
            return Err(Unbranded::BadChecksum);
        }
        let (body, given) = value.split_at(value.len() - CHECKSUM_LEN);
        if checksum(body) != given {
            return Err(Unbranded::BadChecksum);
        }
        return Ok(&body[tag.len() + 1..]);
    }
    Err(Unbranded::NotBranded)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0";

    #[test]
    fn a_branded_key_reads_back_and_any_changed_character_fails_its_checksum() {
        let brand = Brand::new("myco").unwrap();
        let branded = brand_key(&brand, KEY);
        assert_eq!(branded.len(), 5 + KEY_LEN + CHECKSUM_LEN);
        // The example of the module docs and the README: CRC32 (IEEE) of
        // everything before the checksum, in six base62 digits.
        assert_eq!(
            &*brand_key(&brand, "n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0"),
            "myco_n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL01YlV0M"
        );
        assert_eq!(
            unbrand(std::slice::from_ref(&brand), branded.as_bytes()),
            Ok(KEY.as_bytes())
        );
        // Every one-character change in the key or the checksum is caught
        // (CRC32 catches every single-byte error).
        for i in 5..branded.len() {
            let mut changed = branded.as_bytes().to_vec();
            changed[i] = if changed[i] == b'a' { b'b' } else { b'a' };
            assert_eq!(
                unbrand(std::slice::from_ref(&brand), &changed),
                Err(Unbranded::BadChecksum),
                "byte {i}"
            );
        }
        assert_eq!(
            unbrand(std::slice::from_ref(&brand), KEY.as_bytes()),
            Err(Unbranded::NotBranded)
        );
        assert_eq!(
            unbrand(
                std::slice::from_ref(&brand),
                &branded.as_bytes()[..branded.len() - 1]
            ),
            Err(Unbranded::BadChecksum)
        );
        let other = Brand::new("acme").unwrap();
        assert_eq!(
            unbrand(&[other], branded.as_bytes()),
            Err(Unbranded::NotBranded)
        );
    }

    #[test]
    fn brands_are_checked() {
        for bad in ["", "m", "My", "1abc", "my-co", "my_co", "abcdefghijklmnopq"] {
            assert!(Brand::new(bad).is_err(), "{bad}");
        }
        assert!(Brand::new("myco").is_ok() && Brand::new("a1").is_ok());
    }
}
