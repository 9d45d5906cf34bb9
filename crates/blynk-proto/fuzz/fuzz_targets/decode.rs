//! Fuzz target: the streaming decoder on arbitrary bytes.
//!
//! The first input byte picks the decoder configuration (body limit, text-status
//! tolerance); the rest is the stream. Checks: no panic; a decoded frame consumes a
//! prefix of at least a header; `Ok(None)` and `Err` leave the buffer untouched; every
//! decoded message with a non-zero id re-encodes and decodes back to itself.
#![no_main]

use blynk_proto::{Decoder, Message};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&config, stream)) = data.split_first() else {
        return;
    };
    let max = match config & 0b11 {
        0 => 0,
        1 => 64,
        2 => 1024,
        _ => usize::MAX,
    };
    let decoder = Decoder::with_max_body(max).text_status(config & 0b100 == 0);
    let mut buf = BytesMut::from(stream);
    loop {
        let before = buf.len();
        match decoder.decode(&mut buf) {
            Ok(Some(message)) => {
                assert!(before - buf.len() >= blynk_proto::HEADER_LEN);
                round_trip(&message);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before);
                assert!(decoder.needed(&buf) > 0);
                break;
            }
            Err(_) => {
                assert_eq!(buf.len(), before);
                assert_eq!(decoder.needed(&buf), 0);
                break;
            }
        }
    }
});

/// Re-encodes `message` (followed by a PING, so a status-3 RESPONSE is not held for the
/// `blynklib` text form) and checks it decodes back to itself.
fn round_trip(message: &Message) {
    if message.id() == 0 {
        return;
    }
    let mut out = BytesMut::new();
    message.encode(&mut out).expect("decoded messages re-encode");
    Message::ping(1).encode(&mut out).expect("PING encodes");
    let decoder = Decoder::new();
    assert_eq!(decoder.decode(&mut out).expect("re-decodes").as_ref(), Some(message));
}
