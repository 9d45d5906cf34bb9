//! The crate's one error type.

use crate::types::{CampaignId, DeviceId};

/// Everything the engine can refuse. Errors never change engine state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A user / user+project / all campaign needs the firmware's build stamp (from the
    /// `blnkinf` tag or the legacy `\0build\0` marker) to tell updated devices from
    /// old ones; this firmware has none.
    #[error(
        "firmware has no build information (no blnkinf tag, no legacy build marker): a user, project or all-devices campaign needs it to recognise updated devices"
    )]
    NoBuildForDeferred,
    /// A token campaign was started but the server named no live connection of the
    /// device (legacy answer: `No device in session.`).
    #[error("device {0} has no live connection")]
    DeviceOffline(DeviceId),
    /// The target is malformed (e.g. an empty e-mail).
    #[error("invalid target: {0}")]
    InvalidTarget(&'static str),
    /// A campaign option is out of range.
    #[error("invalid campaign options: {0}")]
    InvalidOptions(&'static str),
    /// No campaign has this id.
    #[error("unknown campaign {0}")]
    UnknownCampaign(CampaignId),
    /// The campaign exists but is no longer active (stopped, superseded or finished).
    #[error("campaign {0} is not active")]
    CampaignNotActive(CampaignId),
    /// The campaign has no entry for this device (it was never sent anything).
    #[error("campaign {campaign} has no record of device {device}")]
    UnknownDevice {
        /// The campaign asked about.
        campaign: CampaignId,
        /// The device asked about.
        device: DeviceId,
    },
    /// Reloaded state is inconsistent (e.g. two active campaigns for one target, or a
    /// device record for a campaign never recorded).
    #[error("inconsistent engine state: {0}")]
    InconsistentState(String),
}
