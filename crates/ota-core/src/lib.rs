//! The OTA engine: campaigns, targeting rules and per-device OTA state.
//!
//! Deterministic and sans-IO, in the quinn-proto style: the server feeds it events
//! (a device's info message, download progress, a closed connection, an operator's
//! start/stop) together with the current time, and drains what the engine produced:
//! [`Record`]s to persist first ([`Engine::poll_record`]), then [`Action`]s to perform
//! ([`Engine::poll_action`], which yields nothing while records are pending: "record
//! `Sent` durably, then send"). [`Engine::poll_timeout`] tells when the engine next
//! needs [`Engine::handle_timeout`].
//!
//! It does **not** do IO, read a clock, spawn tasks, build URLs, parse protocol bytes or
//! know about users and tokens beyond the opaque ids and names the server passes in.
//!
//! # Targeting
//!
//! A campaign targets one device ([`Target::Token`], sent at once to the live
//! connections the server names), one owner, one owner's project (case-insensitive
//! name) or all devices. The last three are deferred, as in the legacy server: they act
//! when a device sends its info message after login; with the opt-in
//! [`CampaignOptions::notify_online`] they also reach devices already online, at most
//! `notify_rate_per_sec` per second. When several active campaigns match a device the
//! most specific target decides alone (token > user+project > user > all), even when it
//! has nothing to do for the device (e.g. the device already failed in it); a campaign
//! for exactly the same target as an active one supersedes it. A token campaign ends
//! (`Finished`) when its device reaches a terminal state; deferred campaigns stay active
//! until stopped or superseded.
//!
//! # Per-device state machine (one per device and campaign)
//!
//! ```text
//!            info: build == firmware build ──────────────────────────> UpToDate
//!            info: fw-type / chip differ, or no build (deferred) ────> Skipped(reason)
//!  Pending ──send (attempt n ≤ max_attempts)──> Sent ──bytes──> Downloading ──all bytes──> Downloaded
//!     ^                                          │                   │                         │
//!     │      timeout / reconnect / old build     │                   │                         │ info: firmware build
//!     └──── after backoff(n) ◄── attempt failed ◄┴───────────────────┴─────────────────────────┤
//!                                  │ n == max_attempts                                         v
//!                                  └──────────────> Failed(attempts exhausted)              Updated
//!  any non-terminal state ──stop──> Stopped     ──newer campaign, same target──> Superseded
//! ```
//!
//! `UpToDate` and `Skipped` end a token campaign; a deferred campaign looks at such a
//! device again at its next info message (it may have been reflashed). No device is
//! ever sent more than `max_attempts` commands per campaign; commands sent to several
//! connections of one device at the same instant are one attempt.
//!
//! # Persistence
//!
//! [`EngineState`] (and [`Engine`] itself) is serde data; [`Engine::from_state`] and
//! [`Engine::from_records`] rebuild a running engine from a snapshot or from the record
//! log. Connections are not persisted: after a restart devices are reached again when
//! they log in. The attempt counters are, so a restart never re-sends beyond the budget.

mod campaign;
mod device;
mod engine;
mod error;
mod ids;
mod types;

pub use campaign::{Campaign, CampaignInfo, CampaignOptions, CampaignSpec, CampaignState};
pub use device::{AttemptFailure, DeviceEntry, DeviceState, FailReason, SkipReason};
pub use engine::{Action, Engine, EngineState, Record};
pub use error::Error;
pub use ids::{IdHasher, IdMap, build_hash};
pub use types::{
    CampaignId, ChipFamily, ConnId, DeviceId, DeviceReport, FirmwareRef, ImageKind, Target,
    Timestamp, eq_ignore_case,
};
