//! The OTA engine: campaigns, targeting rules and per-device OTA state.
//!
//! Deterministic and sans-IO: it is fed events and the current time, and answers with
//! actions. It does no IO and never reads the clock.
//!
//! Skeleton: the engine arrives with its own issue.
