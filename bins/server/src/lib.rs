//! Wiring of the blynk-ota server: listeners, TLS, hardware sessions, HTTP, storage.
//!
//! Everything lives in this library so the server can be embedded and tested in-process;
//! the `blynk-server` binary only parses arguments, sets up logging, loads the
//! configuration and runs a [`Server`] until SIGINT/SIGTERM.
//!
//! What it does: binds the plain (`http.port`) and TLS (`https.port`) listeners, sniffs the
//! first bytes of each connection to tell HTTP from the Blynk hardware protocol, runs
//! hardware sessions (login, info, ping, quota, idle timeout), keeps the device registry in
//! SQLite, serves the admin registry and OTA APIs over HTTPS, runs OTA campaigns durably
//! ([`ota`]: engine records stored in SQLite before commands are sent) and serves firmware
//! downloads on both ports.
//!
//! What it does not do: the mobile-app protocol, web sockets, MQTT, several nodes.

pub mod admin_auth;
pub mod allowlist;
pub mod cli;
pub mod config;
pub mod error;
pub mod hardware;
pub mod http;
pub mod limits;
mod listener;
pub mod ota;
mod properties;
pub mod registry;
mod server;
pub mod sessions;
pub mod sniff;
pub mod state;
pub mod storage;
pub mod tls;

pub use config::Config;
pub use error::{Error, Result};
pub use server::{Server, ShutdownHandle};
pub use state::{NoHooks, SessionHooks, Shared};

/// The server's version, as built.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
