//! `blynk-sim`: a fleet of simulated Blynk devices for load, OTA fan-out and
//! fault-injection runs against a server on the same machine.
//!
//! What it does: each device connects (plain or TLS, from one of many loopback source
//! addresses), logs in with LOGIN or HW_LOGIN, sends its info message in the Arduino 1.3+
//! or the legacy layout, pings at its heartbeat and optionally sends HARDWARE traffic or
//! floods the server with pipelined frames. On the OTA command (`ota\0URL`) it behaves
//! like the ESP8266 updater (`../shared/docs/esp-http-update.md` section 1): drops the
//! session, downloads the URL over HTTP/1.0 with the updater's headers, checks
//! `Content-Length` and `x-MD5`, reads the build from the image's `blnkinf` tag
//! ([`firmware_store::ImageScanner`]), "reboots" and logs in again reporting the new
//! build. Faults can be injected ([`fault`]). A run can create its devices and start a
//! campaign through the admin API, trigger a reconnect storm, sample the server's
//! memory, split itself over several processes, and ends with a [`Summary`].
//!
//! What it does not do: talk to anything but loopback addresses, run without a time
//! bound (`--duration`), or judge the server: it reports what it saw; the caller
//! compares it with targets.

pub mod admin;
pub mod baseline;
pub mod cli;
pub mod device;
pub mod download;
mod error;
pub mod fault;
pub mod fleet;
pub mod image;
mod multi;
pub mod net;
pub mod summary;

pub use error::SimError;
pub use summary::{Outcome, Summary};
