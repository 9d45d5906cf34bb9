//! Deterministic fault injection: which device fails which download attempt.
//!
//! Every decision is a pure function of (seed, device index, attempt, fault kind), so a
//! run with the same options injects exactly the same faults.

use serde::{Deserialize, Serialize};

/// What can be injected, each as a percentage (0–100).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Close the download connection halfway through (per download attempt).
    pub drop_download: f64,
    /// Report an MD5 mismatch after a complete download (per attempt).
    pub bad_md5: f64,
    /// After a good download, never come back (per device).
    pub never_reconnect: f64,
    /// After a good download, reboot but report the old build (per attempt).
    pub old_build: f64,
    /// Seed of the decisions.
    pub seed: u64,
}

/// The kinds of fault, used to decorrelate the decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// See [`Faults::drop_download`].
    DropDownload,
    /// See [`Faults::bad_md5`].
    BadMd5,
    /// See [`Faults::never_reconnect`].
    NeverReconnect,
    /// See [`Faults::old_build`].
    OldBuild,
}

impl Faults {
    /// Whether `kind` hits device `index` on download `attempt` (1-based; ignored for
    /// [`FaultKind::NeverReconnect`], which is per device).
    pub fn hits(&self, kind: FaultKind, index: u64, attempt: u32) -> bool {
        let (pct, salt, attempt) = match kind {
            FaultKind::DropDownload => (self.drop_download, 1, attempt),
            FaultKind::BadMd5 => (self.bad_md5, 2, attempt),
            FaultKind::NeverReconnect => (self.never_reconnect, 3, 0),
            FaultKind::OldBuild => (self.old_build, 4, attempt),
        };
        if pct <= 0.0 {
            return false;
        }
        let h = mix(self.seed ^ mix(index ^ mix(u64::from(attempt) ^ mix(salt))));
        // 53 random bits → [0, 100).
        let x = (h >> 11) as f64 / (1u64 << 53) as f64 * 100.0;
        x < pct
    }
}

/// SplitMix64 finaliser: a well-mixed 64-bit hash of `x`.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_close_to_the_percentage() {
        let f = Faults {
            drop_download: 10.0,
            seed: 7,
            ..Faults::default()
        };
        let hits = (0..10_000)
            .filter(|&i| f.hits(FaultKind::DropDownload, i, 1))
            .count();
        assert!((900..1100).contains(&hits), "{hits}");
        assert!(!(0..1000).any(|i| f.hits(FaultKind::BadMd5, i, 1)));
    }

    #[test]
    fn deterministic_and_per_attempt() {
        let f = Faults {
            bad_md5: 50.0,
            seed: 1,
            ..Faults::default()
        };
        let a: Vec<bool> = (0..64).map(|i| f.hits(FaultKind::BadMd5, i, 1)).collect();
        let b: Vec<bool> = (0..64).map(|i| f.hits(FaultKind::BadMd5, i, 1)).collect();
        let c: Vec<bool> = (0..64).map(|i| f.hits(FaultKind::BadMd5, i, 2)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let full = Faults {
            never_reconnect: 100.0,
            ..Faults::default()
        };
        assert!((0..100).all(|i| full.hits(FaultKind::NeverReconnect, i, 9)));
    }
}
