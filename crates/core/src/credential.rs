//! Reading the credential: which header carries the key, how it is parsed,
//! and how the header is protected once read (removed, or marked sensitive).
//!
//! Framework adapters hand their header map over through
//! [`CredentialHeaders`]; the rules are written once, here.

use http::{
    header::{self, Entry},
    HeaderMap, HeaderName, HeaderValue,
};

use std::sync::Arc;

use crate::{
    error::{AuthFailure, Malformed, MAX_CREDENTIAL_LEN},
    key::ApiKey,
    key_format::{unbrand, Brand, Unbranded},
    scheme::Scheme,
};

/// Where the key is read from, and what happens to its header afterwards.
#[derive(Debug, Clone)]
pub(crate) struct Credential {
    source: Source,
    /// A request without any credential header passes, with no identity.
    optional: bool,
    /// The header is removed before the inner service sees the request.
    strip: bool,
    /// Brands whose keys are read (checksum first); none by default.
    brands: Arc<[Brand]>,
    /// Whether keys in DRF's own form are read; yes by default.
    drf: bool,
}

#[derive(Debug, Clone)]
enum Source {
    /// `Authorization: <scheme> <key>`, the scheme matched case-insensitively.
    Authorization { scheme: Scheme },
    /// `<header>: <key>`, the bare key in a header of its own.
    Header(HeaderName),
}

impl Credential {
    /// The key after `scheme` in `Authorization`.
    pub(crate) fn authorization(scheme: &str, optional: bool, strip: bool) -> Self {
        Self {
            source: Source::Authorization {
                scheme: Scheme::new(scheme),
            },
            optional,
            strip,
            brands: Arc::from([]),
            drf: true,
        }
    }

    /// The bare key in the header `name`.
    pub(crate) fn header(name: HeaderName, optional: bool, strip: bool) -> Self {
        Self {
            source: Source::Header(name),
            optional,
            strip,
            brands: Arc::from([]),
            drf: true,
        }
    }

    /// Reads keys of these brands too, and DRF's own form only if `drf`.
    pub(crate) fn with_formats(mut self, brands: Vec<Brand>, drf: bool) -> Self {
        self.brands = Arc::from(brands);
        self.drf = drf;
        self
    }

    /// The header the key travels in.
    pub(crate) fn name(&self) -> &HeaderName {
        match &self.source {
            Source::Authorization { .. } => &header::AUTHORIZATION,
            Source::Header(name) => name,
        }
    }

    pub(crate) fn strips(&self) -> bool {
        self.strip
    }

    /// The key in the credential header's values. `Ok(None)`: no header, and
    /// none is required.
    pub(crate) fn read<'a>(
        &self,
        mut values: impl Iterator<Item = &'a [u8]>,
    ) -> Result<Option<ApiKey>, AuthFailure> {
        let Some(bytes) = values.next() else {
            return if self.optional {
                Ok(None)
            } else {
                Err(AuthFailure::Missing)
            };
        };
        let extra = values.count();
        if extra > 0 {
            return Err(Malformed::MultipleHeaders(extra + 1).into());
        }
        if bytes.len() > MAX_CREDENTIAL_LEN {
            return Err(Malformed::Oversized(bytes.len()).into());
        }
        // Whitespace around a field value is not part of it (RFC 9110 §5.5):
        // HTTP/1.1 parsers drop it, so drop it here too, whatever the protocol.
        let bytes = bytes.trim_ascii();
        let key = match &self.source {
            Source::Authorization { scheme } => scheme.strip(bytes).ok_or(Malformed::Scheme)?,
            Source::Header(_) => bytes,
        };
        let (key, branded) = if self.brands.is_empty() {
            (key, false)
        } else {
            // A branded key's checksum is checked before anything else: a
            // mistyped or made-up one costs no hash and no store call.
            match unbrand(&self.brands, key) {
                Ok(inner) => (inner, true),
                Err(Unbranded::BadChecksum) => return Err(Malformed::Checksum.into()),
                Err(Unbranded::NotBranded) => (key, false),
            }
        };
        if !branded && !self.drf {
            // Only branded keys are read, and this one was not behind a brand.
            return Err(Malformed::Format.into());
        }
        ApiKey::parse(key)
            .map(Some)
            .map_err(|e| Malformed::Key(e).into())
    }
}

/// A request's headers, as a framework keeps them: what the core needs to
/// read the credential and protect its header.
pub(crate) trait CredentialHeaders {
    /// Reads the key from the credential header and then protects the
    /// header: removes it, or marks every value sensitive, so that HTTP/2
    /// never indexes it and `Debug` of the headers never shows it.
    fn take_key(&mut self, credential: &Credential) -> Result<Option<ApiKey>, AuthFailure>;

    /// The values of the header `name`, in order (for the forwarding
    /// headers of trusted proxies; rarely asked).
    fn values(&self, name: &str) -> Vec<&[u8]>;
}

impl CredentialHeaders for HeaderMap {
    fn values(&self, name: &str) -> Vec<&[u8]> {
        self.get_all(name)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect()
    }

    fn take_key(&mut self, credential: &Credential) -> Result<Option<ApiKey>, AuthFailure> {
        let name = credential.name();
        // An entry serves reading and protecting with one lookup, but asking
        // for one grows a full map: then two lookups are cheaper.
        if self.keys_len() < self.capacity() {
            match self.try_entry(name) {
                Ok(Entry::Occupied(mut entry)) => {
                    let key = credential.read(entry.iter().map(HeaderValue::as_bytes));
                    if credential.strips() {
                        drop(entry.remove_entry_mult());
                    } else {
                        entry.iter_mut().for_each(|value| value.set_sensitive(true));
                    }
                    return key;
                }
                Ok(Entry::Vacant(_)) => return credential.read(std::iter::empty()),
                // Not with room to spare; the path below answers all the same.
                Err(_) => {}
            }
        }
        let key = credential.read(self.get_all(name).iter().map(HeaderValue::as_bytes));
        if credential.strips() {
            self.remove(name);
        } else if let Some(value) = self.get_mut(name) {
            // More than one value is refused: marking the first is enough.
            value.set_sensitive(true);
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0";

    fn headers(values: &[&str], spare_room: bool) -> HeaderMap {
        let mut headers = if spare_room {
            HeaderMap::with_capacity(32)
        } else {
            HeaderMap::new()
        };
        for value in values {
            headers.append(header::AUTHORIZATION, value.parse().unwrap());
        }
        if !spare_room {
            // Fill the map to its capacity, as hyper often leaves it.
            let mut i = 0;
            while headers.keys_len() < headers.capacity() {
                headers.insert(
                    HeaderName::from_bytes(format!("x-filler-{i}").as_bytes()).unwrap(),
                    HeaderValue::from_static("1"),
                );
                i += 1;
            }
        }
        headers
    }

    /// Both ways through a header map (an entry when it has room, two
    /// lookups when it is full) read the same key and protect the header alike.
    #[test]
    fn a_roomy_and_a_full_map_give_the_same_answer() {
        for strip in [false, true] {
            let credential = Credential::authorization("Api-Key", false, strip);
            for spare_room in [true, false] {
                let mut map = headers(&[&format!("api-key {KEY}")], spare_room);
                let key = map.take_key(&credential).unwrap().unwrap();
                assert_eq!(key.prefix().as_str(), "n58lzybi");
                match map.get(header::AUTHORIZATION) {
                    Some(value) => assert!(!strip && value.is_sensitive()),
                    None => assert!(strip),
                }
                let mut map = headers(&[&format!("Api-Key {KEY}"), "Api-Key x"], spare_room);
                assert!(matches!(
                    map.take_key(&credential),
                    Err(AuthFailure::Malformed(Malformed::MultipleHeaders(2)))
                ));
                let mut map = headers(&[], spare_room);
                assert!(matches!(
                    map.take_key(&credential),
                    Err(AuthFailure::Missing)
                ));
            }
        }
    }

    #[test]
    fn an_optional_credential_may_be_absent_but_not_malformed() {
        let credential = Credential::header(HeaderName::from_static("x-api-key"), true, false);
        assert!(credential.read(std::iter::empty()).unwrap().is_none());
        let long = vec![b'a'; MAX_CREDENTIAL_LEN + 1];
        assert!(matches!(
            credential.read(std::iter::once(&long[..])),
            Err(AuthFailure::Malformed(Malformed::Oversized(257)))
        ));
        let key = credential.read(std::iter::once(
            &b" n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0\t"[..],
        ));
        assert!(
            key.unwrap().is_some(),
            "surrounding whitespace is not part of the value"
        );
    }
}
