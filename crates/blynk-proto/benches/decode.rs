//! Decoding and encoding throughput (filled in below).
fn main() {}
