//! Peak memory of an ingest does not grow with the image: a 64 MiB upload (generated
//! chunk by chunk, never held whole) raises the process's peak RSS by far less than
//! the image size. Its own test binary so no other test shares the process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use firmware_store::{FirmwareStore, StoreConfig};

const CHUNK: usize = 64 * 1024;

/// A `/proc/self/status` value in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `total` bytes as fresh 64 KiB chunks; counts the bytes handed out.
fn generated(
    total: u64,
    produced: Arc<AtomicU64>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(0u64, move |sent| {
        let produced = produced.clone();
        async move {
            if sent >= total {
                return None;
            }
            let len = (total - sent).min(CHUNK as u64) as usize;
            let mut chunk = vec![0u8; len];
            for (i, b) in chunk.iter_mut().enumerate() {
                *b = ((sent as usize + i) % 251) as u8;
            }
            if sent == 0 {
                chunk[0] = 0xe9;
            }
            produced.fetch_add(len as u64, Ordering::Relaxed);
            Some((Ok(Bytes::from(chunk)), sent + len as u64))
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_of_64_mib_has_constant_peak_memory() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        max_size: 128 << 20,
    };
    let store = FirmwareStore::open(dir.path(), config).await.unwrap();
    // Warm up thread pools and the allocator with a small ingest.
    let warm = store
        .ingest(generated(1 << 20, Arc::default()), None)
        .await
        .unwrap();
    store.delete(&warm.info.sha256).await.unwrap();

    // Reset the peak to the current RSS (Linux >= 4.0), so the peak measured below
    // belongs to the big ingest alone; without it the delta is still an upper bound.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let peak_before = status_kib("VmHWM:");
    let produced = Arc::new(AtomicU64::new(0));
    let size = 64u64 << 20;
    let got = store
        .ingest(generated(size, produced.clone()), None)
        .await
        .unwrap();
    let peak_after = status_kib("VmHWM:");

    assert_eq!(got.info.size, size);
    assert_eq!(produced.load(Ordering::Relaxed), size);
    assert_eq!(
        std::fs::metadata(dir.path().join(format!("blobs/{}.bin", got.info.sha256)))
            .unwrap()
            .len(),
        size
    );
    let growth_kib = peak_after.saturating_sub(peak_before);
    println!("peak RSS growth during a 64 MiB ingest: {growth_kib} KiB (before {peak_before} KiB)");
    // 64 MiB went through; the pipeline holds a few 64 KiB chunks at a time.
    assert!(
        growth_kib < 8 * 1024,
        "peak RSS grew by {growth_kib} KiB for a 64 MiB image"
    );
    // The stored bytes are the generated ones (rehash from disk).
    assert_eq!(
        store.recompute_info(&got.info.sha256).await.unwrap(),
        got.info
    );
}
