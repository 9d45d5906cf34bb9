//! Decoding and encoding throughput of the Blynk frame codec.
//!
//! Run: `cargo bench -p blynk-proto --bench decode` (results: `docs/benchmarks.md`).
//!
//! * `decode/small` — the steady state of a connection: alternating PING and HARDWARE
//!   `vw\0 0\0 <n>` frames (what a device sends for hours after login).
//! * `decode/session` — a realistic mixed stream per connection: HW_LOGIN, the ESP8266
//!   1.4 info message, then 62 alternating PING / HARDWARE `vw` frames.
//! * `decode/info` — the info message alone (the only message that allocates).
//! * `encode/small` — encoding the same small frames (RESPONSE OK and HARDWARE `vw`).

// Benchmark setup may unwrap: a failure is a broken benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use blynk_proto::{Decoder, LoginKind, Message};
use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const ESP8266_INFO: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/proto/esp8266-1.4-info.bin"
));

/// `count` alternating PING / HARDWARE `vw` frames.
fn small_frames(count: usize) -> Vec<Message> {
    (0..count)
        .map(|i| {
            let id = (i % 60_000 + 1) as u16;
            if i % 2 == 0 {
                Message::ping(id)
            } else {
                Message::hardware(id, format!("vw\0{}\0{}", i % 8, i % 1000))
            }
        })
        .collect()
}

fn encode(messages: &[Message]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for m in messages {
        m.encode(&mut out).unwrap();
    }
    out.to_vec()
}

/// `sessions` connections' worth of login + info + 62 small frames.
fn session_stream(sessions: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut frames = 0;
    for _ in 0..sessions {
        out.extend(encode(&[Message::login(
            1,
            LoginKind::HwLogin,
            "abcdefghijklmnopqrstuvwxyz012345",
        )]));
        out.extend_from_slice(ESP8266_INFO);
        out.extend(encode(&small_frames(62)));
        frames += 64;
    }
    (out, frames)
}

/// Decodes every frame of `stream`; returns the count.
fn decode_all(decoder: &Decoder, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while let Ok(Some(m)) = decoder.decode(buf) {
        black_box(&m);
        n += 1;
    }
    n
}

fn bench_decode_stream(c: &mut Criterion, name: &str, stream: &[u8], frames: usize) {
    let decoder = Decoder::new();
    let mut check = BytesMut::from(stream);
    assert_eq!(decode_all(&decoder, &mut check), frames);
    assert!(check.is_empty());

    let mut group = c.benchmark_group("decode");
    for (unit, throughput) in [
        ("frames", Throughput::Elements(frames as u64)),
        ("bytes", Throughput::Bytes(stream.len() as u64)),
    ] {
        group.throughput(throughput);
        group.bench_function(format!("{name}/{unit}"), |b| {
            b.iter_batched_ref(
                || BytesMut::from(stream),
                |buf| decode_all(&decoder, buf),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let small = small_frames(4096);
    bench_decode_stream(c, "small", &encode(&small), small.len());
    let (stream, frames) = session_stream(64);
    bench_decode_stream(c, "session", &stream, frames);
    bench_decode_stream(c, "info", ESP8266_INFO, 1);
}

fn encode_bench(c: &mut Criterion) {
    let messages: Vec<Message> = small_frames(4096)
        .into_iter()
        .map(|m| match m {
            Message::Ping { id } => Message::ok(id),
            other => other,
        })
        .collect();
    let bytes = encode(&messages).len();
    let mut group = c.benchmark_group("encode");
    for (unit, throughput) in [
        ("frames", Throughput::Elements(messages.len() as u64)),
        ("bytes", Throughput::Bytes(bytes as u64)),
    ] {
        group.throughput(throughput);
        let mut out = BytesMut::with_capacity(bytes);
        group.bench_function(format!("small/{unit}"), |b| {
            b.iter(|| {
                out.clear();
                for m in &messages {
                    m.encode(&mut out).unwrap();
                }
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = decode, encode_bench
}
criterion_main!(benches);
