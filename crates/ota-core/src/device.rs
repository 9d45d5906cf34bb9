//! Per-device OTA state inside one campaign.

use serde::{Deserialize, Serialize};

use crate::types::Timestamp;

/// Why one attempt (one command) did not lead to the new firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttemptFailure {
    /// The command was sent but no download started within `sent_timeout_ms`.
    NoDownload,
    /// The download started but made no progress within `stall_timeout_ms`.
    Stalled,
    /// The device logged in again (sent its info) before finishing the download.
    Reconnected,
    /// The device downloaded the whole image, then reported a build other than the
    /// firmware's (normally its old one): the update did not take.
    OldBuildAfterDownload,
    /// The device downloaded the whole image but did not report within
    /// `install_timeout_ms`.
    NoReportAfterDownload,
}

/// Why a campaign gave up on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailReason {
    /// `max_attempts` commands were sent and none succeeded; holds why the last failed.
    /// The device is never sent this campaign again.
    AttemptsExhausted(AttemptFailure),
}

/// Why a campaign decided not to send its firmware to a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SkipReason {
    /// Device and firmware both state a `fw-type` (the device's template id stands in
    /// when it sends no `fw-type`) and they differ.
    FirmwareTypeMismatch,
    /// The image is for another chip family than the device's board (ESP8266 vs ESP32).
    ChipMismatch,
    /// The device reports no `build`, so a deferred campaign cannot tell whether it is
    /// up to date (legacy behaviour, made visible).
    NoBuildReported,
}

/// Where one device stands in one campaign. See the crate doc for the diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeviceState {
    /// No command outstanding: nothing sent yet, or waiting for the backoff after a
    /// failed attempt (`attempts > 0`).
    Pending,
    /// A command was recorded (and then sent) at `sent_at`; no byte downloaded yet.
    Sent,
    /// The device is downloading: `bytes` of `of` served so far.
    Downloading {
        /// Bytes served so far in this attempt.
        bytes: u32,
        /// Image size the server is serving.
        of: u32,
    },
    /// The whole image was served; waiting for the device to report after its reboot.
    Downloaded,
    /// After a command, the device reported the firmware's build. Terminal.
    Updated,
    /// Attempts exhausted. Terminal.
    Failed(FailReason),
    /// The device already reported the firmware's build before any command. Terminal for
    /// a token campaign; a deferred campaign looks again at the device's next info.
    UpToDate,
    /// Not sent, for the reason given. Terminal like `UpToDate`.
    Skipped(SkipReason),
    /// A newer campaign for exactly the same target replaced this one. Terminal.
    Superseded,
    /// The campaign was stopped before the device finished. Terminal.
    Stopped,
}

impl DeviceState {
    /// True for the end states (each carries or is its reason).
    #[must_use]
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            DeviceState::Pending
                | DeviceState::Sent
                | DeviceState::Downloading { .. }
                | DeviceState::Downloaded
        )
    }

    /// True while a command is outstanding (sent, downloading, downloaded).
    #[must_use]
    pub fn in_flight(self) -> bool {
        matches!(
            self,
            DeviceState::Sent | DeviceState::Downloading { .. } | DeviceState::Downloaded
        )
    }
}

/// One device's record in one campaign (persisted; about 40 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEntry {
    /// Current state.
    pub state: DeviceState,
    /// Commands sent so far in this campaign (never more than `max_attempts`). Several
    /// connections of the device served at the same instant count as one attempt.
    pub attempts: u8,
    /// Why the latest failed attempt failed, if one did.
    pub last_failure: Option<AttemptFailure>,
    /// When the latest command was recorded (zero if none).
    pub sent_at: Timestamp,
    /// When the state (or the download progress) last changed.
    pub changed_at: Timestamp,
    /// Hash of the build the device reported when the latest command was sent (zero if
    /// none): tells "new build" from "old build" for firmware without a build stamp.
    pub old_build: u64,
}

impl DeviceEntry {
    /// A fresh entry: `Pending`, no attempt.
    #[must_use]
    pub fn new(now: Timestamp) -> DeviceEntry {
        DeviceEntry {
            state: DeviceState::Pending,
            attempts: 0,
            last_failure: None,
            sent_at: Timestamp(0),
            changed_at: now,
            old_build: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_and_in_flight_states() {
        let dl = DeviceState::Downloading { bytes: 1, of: 2 };
        for s in [
            DeviceState::Pending,
            DeviceState::Sent,
            dl,
            DeviceState::Downloaded,
        ] {
            assert!(!s.is_terminal(), "{s:?}");
        }
        for s in [
            DeviceState::Updated,
            DeviceState::UpToDate,
            DeviceState::Stopped,
            DeviceState::Superseded,
            DeviceState::Skipped(SkipReason::ChipMismatch),
            DeviceState::Failed(FailReason::AttemptsExhausted(AttemptFailure::Stalled)),
        ] {
            assert!(s.is_terminal(), "{s:?}");
            assert!(!s.in_flight(), "{s:?}");
        }
        assert!(dl.in_flight() && !DeviceState::Pending.in_flight());
    }

    #[test]
    fn entry_stays_small() {
        assert!(std::mem::size_of::<DeviceEntry>() <= 48);
    }
}
