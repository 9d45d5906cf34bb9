//! Ingest throughput against a plain `tokio::fs` copy of the same chunks, and scanner
//! speed. Numbers and the command are in docs/benchmarks.md.
//!
//! `cargo bench -p firmware-store --bench store`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // bench harness

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use firmware_store::{FirmwareStore, ImageFacts, ImageScanner, StoreConfig};
use md5::Digest as _;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

const SIZE: usize = 64 << 20;
const CHUNK: usize = 64 << 10;

/// 64 MiB of xorshift noise with an ESP8266 header (no tag: the scan runs to the end).
fn image() -> Bytes {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut data = Vec::with_capacity(SIZE);
    while data.len() < SIZE {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data[..4].copy_from_slice(&[0xe9, 0x01, 0x00, 0x00]);
    Bytes::from(data)
}

/// The image as 64 KiB chunks (zero-copy slices), the first one made unique by `n` so
/// every iteration stores new content.
fn chunks(image: &Bytes, n: u64) -> Vec<Result<Bytes, std::io::Error>> {
    let mut first = image.slice(..CHUNK).to_vec();
    first[8..16].copy_from_slice(&n.to_le_bytes());
    std::iter::once(Ok(Bytes::from(first)))
        .chain(
            (CHUNK..SIZE)
                .step_by(CHUNK)
                .map(|at| Ok(image.slice(at..at + CHUNK))),
        )
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn ingest(c: &mut Criterion) {
    let rt = runtime();
    let image = image();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(FirmwareStore::open(
            dir.path().join("store"),
            StoreConfig {
                max_size: SIZE as u64,
            },
        ))
        .unwrap();
    let mut group = c.benchmark_group("ingest_64MiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    let mut n = 0u64;

    group.bench_function("firmware_store_ingest", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let stream = futures_util::stream::iter(chunks(&image, n));
                let start = Instant::now();
                let got = rt.block_on(store.ingest(stream, None)).unwrap();
                total += start.elapsed();
                rt.block_on(store.delete(&got.info.sha256)).unwrap();
            }
            total
        })
    });

    for fsync in [false, true] {
        let name = if fsync {
            "tokio_fs_copy_fsync"
        } else {
            "tokio_fs_copy"
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let pieces = chunks(&image, n);
                    let path = dir.path().join("copy.bin");
                    let start = Instant::now();
                    rt.block_on(async {
                        let mut file = tokio::fs::File::create(&path).await.unwrap();
                        for piece in pieces {
                            file.write_all(&piece.unwrap()).await.unwrap();
                        }
                        file.flush().await.unwrap();
                        if fsync {
                            file.sync_all().await.unwrap();
                        }
                    });
                    total += start.elapsed();
                    std::fs::remove_file(&path).unwrap();
                }
                total
            })
        });
    }
    group.finish();
}

/// Feeds `data` to a scanner in 64 KiB chunks.
fn scan(data: &[u8]) -> ImageFacts {
    let mut scanner = ImageScanner::new();
    for chunk in data.chunks(CHUNK) {
        scanner.feed(black_box(chunk));
    }
    scanner.finish()
}

fn scan_and_hash(c: &mut Criterion) {
    let image = image();
    let mut group = c.benchmark_group("one_core_64MiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("image_scanner", |b| b.iter(|| black_box(scan(&image))));
    // .rodata-like: zeros, NUL-separated words and near-misses of both needles.
    let block =
        b"\0\0\0\0\0\0\0\0\0buil\0blnkin\0building\0\0mcu\0blnkinfo\0Dec  4\0\0\0\0\0\0\0\0";
    let text: Vec<u8> = block.iter().copied().cycle().take(SIZE).collect();
    group.bench_function("image_scanner_text_and_zeros", |b| {
        b.iter(|| black_box(scan(&text)))
    });
    group.bench_function("sha256", |b| {
        b.iter(|| black_box(sha2::Sha256::digest(&image)))
    });
    group.bench_function("md5", |b| b.iter(|| black_box(md5::Md5::digest(&image))));
    group.finish();
}

criterion_group!(benches, ingest, scan_and_hash);
criterion_main!(benches);
