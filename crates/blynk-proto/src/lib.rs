//! Sans-IO parser and encoder of the Blynk hardware (device) protocol.
//!
//! This crate turns bytes into Blynk frames and messages and back. It does no IO,
//! reads no clock and spawns nothing, so it can be embedded in any server or client.
//!
//! It does **not** know about users, campaigns, sockets or files.

pub mod fields;
