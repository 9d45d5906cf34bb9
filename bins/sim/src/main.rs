//! `blynk-sim`: simulates a fleet of Blynk devices against a server.
//!
//! Skeleton: the simulator arrives with its own issue.

fn main() {
    println!("blynk-sim {}", env!("CARGO_PKG_VERSION"));
}
