//! Helpers shared by the integration tests: fixture images and chunk streams.
#![allow(dead_code)] // each test binary uses a different subset
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::PathBuf;

use bytes::Bytes;
use futures_util::Stream;

/// `fixtures/firmware/` of the workspace.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/firmware")
}

/// Reads a committed fixture.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).unwrap()
}

/// Filler bytes `i mod 256` (never contains `blnkinf` or NUL `build` NUL).
pub fn filler(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 256) as u8).collect()
}

/// The ESP8266-like blnkinf tag of the brief (and `blynk`, the usual fourth key).
pub const ESP8266_TAG: &[u8] =
    b"blnkinf\0mcu\x001.2.3\0fw-type\0TMPL0001\0build\0Dec  4 2026 14:51:12\0blynk\x001.3.2\0\0\0";
/// An ESP32 tag with every key the library knows about.
pub const ESP32_TAG: &[u8] = b"blnkinf\0mcu\x000.9.1\0fw-type\0TMPL32ES\0build\0May  8 2018 19:30:18\0blynk\x001.3.2\0hw\0esp32-devkit\0\0\0";
/// Info pairs as a 2017 library put them in the image (no tag, legacy marker only).
pub const LEGACY_INFO: &[u8] =
    b"ver\x000.4.8\0h-beat\x0010\0buff-in\x001024\0dev\0NodeMCU\0build\0Aug 14 2017 20:31:49\0";

/// An ESP32 image header with its extended header (chip id 0 = ESP32, hash appended).
pub fn esp32_header() -> Vec<u8> {
    let mut h = vec![0xe9, 0x06, 0x02, 0x20];
    h.extend_from_slice(&0x4008_07a8u32.to_le_bytes()); // entry point
    h.push(0xee); // wp pin: disabled
    h.extend_from_slice(&[0, 0, 0]); // spi pin drive
    h.extend_from_slice(&0u16.to_le_bytes()); // chip id
    h.push(0); // min chip rev
    h.extend_from_slice(&[0, 0, 0xff, 0xff]); // min/max chip rev full
    h.extend_from_slice(&[0, 0, 0, 0]); // reserved
    h.push(1); // hash appended
    assert_eq!(h.len(), 24);
    h
}

fn image(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Every committed fixture, built from scratch (name, bytes).
pub fn build_fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let esp8266 = [0xe9, 0x01, 0x00, 0x00];
    vec![
        (
            "esp8266_blnkinf.bin",
            image(&[&esp8266, &filler(1996), ESP8266_TAG, &filler(2000)]),
        ),
        (
            "esp8266_legacy_build.bin",
            image(&[
                &[0xe9, 0x01, 0x00, 0x40],
                &filler(3000),
                LEGACY_INFO,
                &filler(1000),
            ]),
        ),
        // esp-http-update.md section 2: MD5 01534f2df4db0fa5817d299edab1e80f.
        ("esp8266_plain.bin", image(&[&esp8266, &filler(4096)])),
        (
            "esp32_blnkinf.bin",
            image(&[&esp32_header(), &filler(4856), ESP32_TAG, &filler(3000)]),
        ),
        (
            "esp8266_gzip.bin",
            image(&[
                &[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03],
                &filler(500),
            ]),
        ),
        (
            "truncated_tag.bin",
            image(&[
                &esp8266,
                &filler(300),
                b"blnkinf\0mcu\x001.2.3\0build\0Dec  4 20",
            ]),
        ),
        (
            "unterminated_tag.bin",
            image(&[
                &esp8266,
                &filler(300),
                b"blnkinf\0mcu\x001.2.3\0fw-type\0TMPL0001\0\xff\xfe",
                &filler(300),
            ]),
        ),
    ]
}

/// `data` as a stream of `size`-byte chunks.
pub fn chunks(
    data: &[u8],
    size: usize,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + use<> {
    let pieces: Vec<_> = data
        .chunks(size.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(pieces)
}

/// `data` split at the given offsets.
pub fn split_at(
    data: &[u8],
    cuts: &[usize],
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + use<> {
    let mut pieces = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        pieces.push(Ok(Bytes::copy_from_slice(&data[from..cut])));
        from = cut;
    }
    futures_util::stream::iter(pieces)
}

/// Names of the files in a folder.
pub fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
