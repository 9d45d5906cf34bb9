//! Campaigns: what is delivered, to whom, with which options, and where each device stands.

use serde::{Deserialize, Serialize};

use crate::device::DeviceEntry;
use crate::error::Error;
use crate::ids::IdMap;
use crate::types::{CampaignId, DeviceId, FirmwareRef, Target, Timestamp};

/// Per-campaign options. `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignOptions {
    /// Turn the compatibility guard (fw-type / chip family) off. Default `false`.
    pub force: bool,
    /// Also reach devices that are online when the campaign starts (deferred targets
    /// only), at most `notify_rate_per_sec` devices per second. Default `false`: like the
    /// legacy server, online devices are reached only when they send their info again.
    pub notify_online: bool,
    /// Rate limit for `notify_online`, devices per second (≥ 1). Default 10.
    pub notify_rate_per_sec: u32,
    /// At most this many commands per device in this campaign (1..=255). Default 3.
    pub max_attempts: u8,
    /// Wait after the n-th failed attempt before attempt n+1, in milliseconds; the last
    /// value repeats. Must not be empty. Default 1 min, 5 min, 30 min.
    pub backoff_ms: Vec<u64>,
    /// A sent command with no download started after this long is a failed attempt.
    /// Default 5 min.
    pub sent_timeout_ms: u64,
    /// A download with no progress for this long is a failed attempt. Default 2 min.
    pub stall_timeout_ms: u64,
    /// A device that downloaded everything but has not reported within this long is a
    /// failed attempt. Default 10 min.
    pub install_timeout_ms: u64,
}

impl Default for CampaignOptions {
    fn default() -> Self {
        CampaignOptions {
            force: false,
            notify_online: false,
            notify_rate_per_sec: 10,
            max_attempts: 3,
            backoff_ms: vec![60_000, 300_000, 1_800_000],
            sent_timeout_ms: 300_000,
            stall_timeout_ms: 120_000,
            install_timeout_ms: 600_000,
        }
    }
}

impl CampaignOptions {
    /// Checks the options, naming the first bad one.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_attempts == 0 {
            return Err(Error::InvalidOptions("max_attempts must be at least 1"));
        }
        if self.backoff_ms.is_empty() {
            return Err(Error::InvalidOptions("backoff_ms must not be empty"));
        }
        if self.notify_online && self.notify_rate_per_sec == 0 {
            return Err(Error::InvalidOptions(
                "notify_rate_per_sec must be at least 1",
            ));
        }
        Ok(())
    }

    /// Backoff after the `failed`-th failed attempt (1-based), in milliseconds.
    #[must_use]
    pub fn backoff_after(&self, failed: u8) -> u64 {
        let i = usize::from(failed.saturating_sub(1));
        self.backoff_ms
            .get(i)
            .or(self.backoff_ms.last())
            .copied()
            .unwrap_or(0)
    }
}

/// Lifecycle of a campaign. Nothing is ever deleted: history stays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CampaignState {
    /// Devices are being targeted.
    Active,
    /// Stopped by an operator.
    Stopped {
        /// When.
        at: Timestamp,
        /// Who asked (e-mail or other operator name).
        by: String,
    },
    /// Replaced by a newer campaign for exactly the same target.
    Superseded {
        /// When.
        at: Timestamp,
        /// The newer campaign.
        by: CampaignId,
    },
    /// A token campaign whose device reached a terminal state.
    Finished {
        /// When.
        at: Timestamp,
    },
}

/// What to start: the caller's part of a campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignSpec {
    /// Who gets it.
    pub target: Target,
    /// What they get.
    pub firmware: FirmwareRef,
    /// How.
    pub options: CampaignOptions,
    /// Who started it (admin e-mail).
    pub initiator: String,
}

/// A campaign's header: everything but the per-device entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignInfo {
    /// Engine-assigned id.
    pub id: CampaignId,
    /// Target, firmware, options and initiator as given at the start.
    pub spec: CampaignSpec,
    /// When it was started.
    pub created_at: Timestamp,
    /// Active / stopped / superseded / finished.
    pub state: CampaignState,
}

impl CampaignInfo {
    /// True while the campaign targets devices.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.state == CampaignState::Active
    }
}

/// A campaign with its per-device entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// The header.
    pub info: CampaignInfo,
    /// One entry per device the campaign has decided about.
    pub devices: IdMap<DeviceId, DeviceEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_are_valid_and_backoff_grows_then_repeats() {
        let o = CampaignOptions::default();
        o.validate().unwrap();
        assert_eq!(o.backoff_after(1), 60_000);
        assert_eq!(o.backoff_after(2), 300_000);
        assert_eq!(o.backoff_after(3), 1_800_000);
        assert_eq!(o.backoff_after(9), 1_800_000);
    }

    #[test]
    fn bad_options_are_named() {
        type Edit = fn(&mut CampaignOptions);
        let cases: [(Edit, &str); 3] = [
            (|o| o.max_attempts = 0, "max_attempts"),
            (|o| o.backoff_ms.clear(), "backoff_ms"),
            (
                |o| {
                    o.notify_online = true;
                    o.notify_rate_per_sec = 0;
                },
                "notify_rate_per_sec",
            ),
        ];
        for (edit, word) in cases {
            let mut o = CampaignOptions::default();
            edit(&mut o);
            let err = o.validate().unwrap_err().to_string();
            assert!(err.contains(word), "{err}");
        }
    }
}
