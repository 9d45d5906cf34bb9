//! `blynk-admin`: command-line client for the blynk-ota admin API.
//!
//! Skeleton: the client arrives with its own issue.

fn main() {
    println!("blynk-admin {}", env!("CARGO_PKG_VERSION"));
}
