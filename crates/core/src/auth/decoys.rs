//! Records of keys nobody holds, checked for unknown prefixes.

use std::sync::{
    atomic::{AtomicU8, Ordering},
    Arc,
};

use crate::{
    hash::{Algorithm, Hasher},
    key::ApiKey,
    store::KeyRecord,
};

/// Holds the algorithm of a store's records and a decoy record of each
/// algorithm for unknown prefixes.
///
/// The algorithm is as the store says, or, when it does not, as last seen,
/// shared by every request: one relaxed load per unknown prefix, and a
/// store only when a record of another algorithm comes by.
pub(super) struct Decoys {
    code: AtomicU8,
    follows: bool,
    /// Records hashed from keys nobody holds, by algorithm code.
    decoys: [Option<Arc<KeyRecord>>; 3],
}

impl Decoys {
    const ALGORITHMS: [Algorithm; 3] =
        [Algorithm::Sha256, Algorithm::Sha512, Algorithm::HmacSha256];

    /// The algorithm a store says its records use.
    pub(super) fn fixed(algorithm: Algorithm, hasher: &Hasher) -> Self {
        Self {
            code: AtomicU8::new(Self::code(algorithm)),
            follows: false,
            decoys: Self::decoys(hasher),
        }
    }

    /// A first guess, then whatever the records served show.
    pub(super) fn following(algorithm: Algorithm, hasher: &Hasher) -> Self {
        Self {
            code: AtomicU8::new(Self::code(algorithm)),
            follows: true,
            decoys: Self::decoys(hasher),
        }
    }

    pub(super) fn decoys(hasher: &Hasher) -> [Option<Arc<KeyRecord>>; 3] {
        Self::ALGORITHMS.map(|algorithm| {
            let hash = hasher.decoy(algorithm)?;
            let prefix = ApiKey::generate().ok()?.prefix();
            Some(Arc::new(KeyRecord::new("", "", prefix, hash)))
        })
    }

    /// The decoy record of the algorithm now followed.
    #[inline]
    pub(super) fn decoy(&self) -> Option<Arc<KeyRecord>> {
        let code = usize::from(self.code.load(Ordering::Relaxed)) % Self::ALGORITHMS.len();
        self.decoys[code].clone()
    }

    pub(super) fn code(algorithm: Algorithm) -> u8 {
        match algorithm {
            Algorithm::Sha256 => 0,
            Algorithm::Sha512 => 1,
            Algorithm::HmacSha256 => 2,
            _ => 1,
        }
    }

    pub(super) fn get(&self) -> Algorithm {
        Self::ALGORITHMS[usize::from(self.code.load(Ordering::Relaxed)) % Self::ALGORITHMS.len()]
    }

    pub(super) fn follow(&self, algorithm: Algorithm) {
        // A slow hash is never the dummy's model: it would make every
        // unknown prefix cost a password hash.
        if algorithm.is_slow() {
            return;
        }
        let code = Self::code(algorithm);
        if self.follows && self.code.load(Ordering::Relaxed) != code {
            self.code.store(code, Ordering::Relaxed);
        }
    }
}
