//! `blynk-server`: the Blynk-compatible device server binary.

fn main() {
    println!("blynk-server {}", blynk_server::VERSION);
}
