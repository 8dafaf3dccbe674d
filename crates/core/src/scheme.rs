//! The scheme of an `Authorization` value, matched case-insensitively.

/// An authorization scheme, ready to find `<scheme> ` at the start of a
/// header value, its letters in either case (RFC 9110 §11.1).
///
/// Schemes of up to seven bytes (such as `Api-Key` or `Bearer`) are matched
/// in one 64-bit comparison; longer ones byte by byte.
#[derive(Clone)]
pub(crate) struct Scheme {
    name: Box<[u8]>,
    word: Option<Word>,
}

impl std::fmt::Debug for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Scheme")
            .field(&String::from_utf8_lossy(&self.name))
            .finish()
    }
}

/// `<scheme> ` packed little-endian into a word, with what a comparison needs.
#[derive(Clone, Copy)]
struct Word {
    /// The expected bytes, letters in lower case, zero past the space.
    expected: u64,
    /// 0x20 on letters: OR-ing it in lowers an upper-case letter.
    fold: u64,
    /// 0xff on the bytes that take part.
    keep: u64,
}

impl Scheme {
    /// A matcher for `name`, which the caller has checked is an HTTP token.
    pub(crate) fn new(name: &str) -> Self {
        let name: Box<[u8]> = name.as_bytes().into();
        let word = (name.len() < 8).then(|| {
            let mut expected = [0u8; 8];
            let mut fold = [0u8; 8];
            let mut keep = [0u8; 8];
            for (i, &b) in name.iter().chain(b" ").enumerate() {
                expected[i] = b.to_ascii_lowercase();
                fold[i] = if b.is_ascii_alphabetic() { 0x20 } else { 0 };
                keep[i] = 0xff;
            }
            Word {
                expected: u64::from_le_bytes(expected),
                fold: u64::from_le_bytes(fold),
                keep: u64::from_le_bytes(keep),
            }
        });
        Self { name, word }
    }

    /// What follows `<scheme> ` in `value`, or `None` when `value` does not
    /// start with the scheme and a space.
    pub(crate) fn strip<'a>(&self, value: &'a [u8]) -> Option<&'a [u8]> {
        if let (Some(word), Some(head)) = (self.word, value.first_chunk::<8>()) {
            let got = (u64::from_le_bytes(*head) | word.fold) & word.keep;
            return (got == word.expected).then(|| &value[self.name.len() + 1..]);
        }
        self.strip_bytewise(value)
    }

    fn strip_bytewise<'a>(&self, value: &'a [u8]) -> Option<&'a [u8]> {
        let (head, rest) = value.split_at_checked(self.name.len())?;
        match rest.split_first() {
            Some((b' ', key)) if head.eq_ignore_ascii_case(&self.name) => Some(key),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Scheme;

    #[test]
    fn matches_the_scheme_in_any_case_and_one_space() {
        let scheme = Scheme::new("Api-Key");
        let key = b"n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0";
        for head in ["Api-Key ", "api-key ", "API-KEY ", "aPI-kEY "] {
            let value = [head.as_bytes(), key].concat();
            assert_eq!(scheme.strip(&value), Some(&key[..]), "{head:?}");
        }
        for value in [
            &b"Api-Key"[..],
            b"Api-Keys key-follows",
            b"Api-Key\tkey-follows",
            b"Api_Key key-follows",
            b"Api-Ke  key-follows",
            b"Bearer key-follows",
            b"Api-Kez key-follows",
            // '-' | 0x20 is '-', but '\r' | 0x20 is '-' too: only letters fold.
            b"Api\rKey key-follows",
            b"",
        ] {
            assert_eq!(scheme.strip(value), None, "{value:?}");
        }
    }

    #[test]
    fn long_schemes_match_bytewise() {
        let scheme = Scheme::new("X-Company-Key");
        assert_eq!(scheme.strip(b"x-company-KEY abc"), Some(&b"abc"[..]));
        assert_eq!(scheme.strip(b"X-Company-Key"), None);
        assert_eq!(scheme.strip(b"X-Company-Kez abc"), None);
    }

    fn token() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}").unwrap()
    }

    proptest! {
        /// The one-word comparison answers exactly as the byte-wise one.
        #[test]
        fn word_match_agrees_with_bytewise(
            name in token(),
            value in proptest::collection::vec(any::<u8>(), 0..24),
            flip in proptest::collection::vec(any::<bool>(), 8),
            tail in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let scheme = Scheme::new(&name);
            // Random values rarely match: also try the scheme itself, its
            // letters' case flipped at random, then a space and a tail.
            let mut near: Vec<u8> = name
                .bytes()
                .zip(flip.iter().cycle())
                .map(|(b, &flip)| if flip && b.is_ascii_alphabetic() { b ^ 0x20 } else { b })
                .collect();
            near.push(b' ');
            near.extend(&tail);
            for value in [&value[..], &near[..]] {
                prop_assert_eq!(scheme.strip(value), scheme.strip_bytewise(value));
            }
        }
    }
}
