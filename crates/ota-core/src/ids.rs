//! Compact helpers: a fast deterministic hasher for server-assigned integer ids, a
//! string interner, and the build-stamp hash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::num::NonZeroU32;

/// Hasher for the engine's integer ids (`DeviceId`, `ConnId`): deterministic (same
/// iteration order for the same history) and fast. Only used with ids the server
/// assigns, never with device-controlled strings.
#[derive(Default, Clone, Copy, Debug)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // murmur3 fmix64: spreads every input bit over the low and high bits.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(29) ^ n;
    }
}

/// A map keyed by integer ids, with [`IdHasher`].
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// 64-bit FNV-1a of a build stamp, never zero (zero means "no build").
#[must_use]
pub fn build_hash(build: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in build.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

/// An interned string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Sym(NonZeroU32);

/// Strings seen in device reports and targets (owners, projects, fw-types), stored
/// once. Grows with the number of distinct values (bounded in practice by users,
/// projects and templates).
#[derive(Default, Debug)]
pub(crate) struct Interner {
    index: HashMap<Box<str>, Sym>,
    strings: Vec<Box<str>>,
}

impl Interner {
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.index.get(s) {
            return sym;
        }
        let n = u32::try_from(self.strings.len() + 1).unwrap_or(u32::MAX);
        let sym = Sym(NonZeroU32::MIN.saturating_add(n - 1));
        self.strings.push(s.into());
        self.index.insert(s.into(), sym);
        sym
    }

    pub(crate) fn get(&self, sym: Sym) -> &str {
        let i = sym.0.get() as usize - 1;
        self.strings.get(i).map_or("", |s| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_round_trips() {
        let mut i = Interner::default();
        let a = i.intern("a@x");
        let b = i.intern("b@x");
        assert_ne!(a, b);
        assert_eq!(i.intern("a@x"), a);
        assert_eq!(i.get(a), "a@x");
        assert_eq!(i.get(b), "b@x");
    }

    #[test]
    fn build_hash_is_stable_and_nonzero() {
        assert_eq!(
            build_hash("Aug 14 2017 20:31:49"),
            build_hash("Aug 14 2017 20:31:49")
        );
        assert_ne!(build_hash("111"), build_hash("112"));
        assert_ne!(build_hash(""), 0);
    }
}
