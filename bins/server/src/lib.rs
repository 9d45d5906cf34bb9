//! Wiring of the blynk-ota server: listeners, TLS, hardware sessions, HTTP, storage.
//!
//! Skeleton: the server arrives with its own issue.

/// The server's version, as built.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
