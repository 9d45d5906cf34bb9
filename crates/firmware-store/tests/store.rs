//! Store behaviour: limits, errors, dedup, concurrency, visibility, recovery, reads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use firmware_store::{BlobId, FirmwareStore, StoreConfig, StoreError};
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

async fn open(dir: &tempfile::TempDir) -> FirmwareStore {
    FirmwareStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap()
}

/// A fresh store holding one fixture, ingested in `chunk`-byte pieces.
async fn store_with(
    name: &str,
    chunk: usize,
) -> (tempfile::TempDir, FirmwareStore, Vec<u8>, BlobId) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let data = fixture(name);
    let id = store
        .ingest(chunks(&data, chunk), None)
        .await
        .unwrap()
        .info
        .sha256;
    (dir, store, data, id)
}

fn sha256_of(data: &[u8]) -> BlobId {
    use sha2::Digest;
    BlobId::from_digest(sha2::Sha256::digest(data).into())
}

/// Waits (bounded) until `cond` holds; for conditions reached by background workers.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn size_limit_stops_at_the_crossing_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let store = FirmwareStore::open(dir.path(), StoreConfig { max_size: 1000 })
        .await
        .unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let endless = futures_util::stream::repeat_with(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok::<_, std::io::Error>(Bytes::from_static(&[0xe9; 300]))
    });
    let err = store.ingest(endless, None).await.unwrap_err();
    assert!(
        matches!(err, StoreError::TooLarge { limit: 1000 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("1000 bytes"), "{err}");
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        4,
        "stopped at the chunk crossing the limit"
    );
    assert!(files_in(&dir.path().join("tmp")).is_empty());
    assert!(store.list().await.unwrap().is_empty());
    // Exactly at the limit is accepted.
    let ok = store
        .ingest(chunks(&[0xe9; 1000], 300), None)
        .await
        .unwrap();
    assert_eq!(ok.info.size, 1000);
}

#[tokio::test]
async fn default_limit_is_16_mib() {
    assert_eq!(StoreConfig::default().max_size, 16 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let big = futures_util::stream::iter(
        (0..17).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 1 << 20]))),
    );
    let err = store.ingest(big, None).await.unwrap_err();
    assert!(
        matches!(err, StoreError::TooLarge { limit: 16_777_216 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn empty_input_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let none = futures_util::stream::iter(Vec::<Result<Bytes, std::io::Error>>::new());
    assert!(matches!(
        store.ingest(none, None).await,
        Err(StoreError::Empty)
    ));
    let empties = futures_util::stream::iter((0..3).map(|_| Ok::<_, std::io::Error>(Bytes::new())));
    assert!(matches!(
        store.ingest(empties, None).await,
        Err(StoreError::Empty)
    ));
    assert!(files_in(&dir.path().join("tmp")).is_empty());
    assert!(files_in(&dir.path().join("blobs")).is_empty());
}

#[tokio::test]
async fn stream_error_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let failing = futures_util::stream::iter(vec![
        Ok(Bytes::from_static(b"\xe9\x01\x00\x00abc")),
        Err(std::io::Error::other("client went away")),
        Ok(Bytes::from_static(b"never read")),
    ]);
    let err = store.ingest(failing, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Source(_)), "{err:?}");
    assert!(err.to_string().contains("client went away"));
    assert!(files_in(&dir.path().join("tmp")).is_empty());
    assert!(store.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn io_error_is_reported_and_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    std::fs::remove_dir(dir.path().join("tmp")).unwrap();
    let err = store
        .ingest(chunks(&fixture("esp8266_plain.bin"), 100), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Io { op: "create", .. }),
        "{err:?}"
    );
    assert!(files_in(&dir.path().join("blobs")).is_empty());
}

#[tokio::test]
async fn identical_content_is_stored_once_and_keeps_the_first_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let data = fixture("esp8266_blnkinf.bin");
    let first = store
        .ingest(chunks(&data, 100), Some("first.bin"))
        .await
        .unwrap();
    let second = store
        .ingest(chunks(&data, 999), Some("second.bin"))
        .await
        .unwrap();
    assert!(first.created && !second.created);
    assert_eq!(first.info, second.info);
    assert_eq!(second.info.file_name.as_deref(), Some("first.bin"));
    assert_eq!(first.info.sha256, sha256_of(&data));
    let id = first.info.sha256;
    assert_eq!(
        files_in(&dir.path().join("blobs")),
        [format!("{id}.bin"), format!("{id}.json")]
    );
    assert!(files_in(&dir.path().join("tmp")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ingests_are_safe() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let base = fixture("esp32_blnkinf.bin");
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        // Four distinct contents, each uploaded four times at once.
        let mut data = base.clone();
        data.push((i % 4) as u8);
        tasks.push(tokio::spawn(async move {
            store
                .ingest(chunks(&data, 333), Some(&format!("fw{i}.bin")))
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    let mut ids = HashSet::new();
    for t in tasks {
        let got = t.await.unwrap();
        created += usize::from(got.created);
        ids.insert(got.info.sha256);
    }
    assert_eq!((created, ids.len()), (4, 4));
    let listed: HashSet<_> = store
        .list()
        .await
        .unwrap()
        .iter()
        .map(|i| i.sha256)
        .collect();
    assert_eq!(listed, ids);
    assert!(files_in(&dir.path().join("tmp")).is_empty());
    for id in &ids {
        assert_eq!(store.recompute_info(id).await.unwrap().sha256, *id);
    }
}

/// A stream fed by hand, to hold an ingest in the middle.
fn manual_stream() -> (
    tokio::sync::mpsc::Sender<Bytes>,
    impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + use<>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let stream =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|b| (Ok(b), rx)) },
        );
    (tx, stream)
}

fn temp_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[tokio::test]
async fn blob_is_visible_only_after_the_rename() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let data = fixture("esp8266_blnkinf.bin");
    let id = sha256_of(&data);
    let (tx, stream) = manual_stream();
    let ingest = tokio::spawn({
        let store = store.clone();
        async move { store.ingest(stream, None).await }
    });
    tx.send(Bytes::copy_from_slice(&data[..3000]))
        .await
        .unwrap();
    eventually("temp file with the first bytes", || {
        temp_bytes(dir.path()) == 3000
    })
    .await;
    assert!(store.list().await.unwrap().is_empty());
    assert!(matches!(
        store.open_blob(&id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(files_in(&dir.path().join("blobs")).is_empty());
    tx.send(Bytes::copy_from_slice(&data[3000..]))
        .await
        .unwrap();
    drop(tx);
    let got = ingest.await.unwrap().unwrap();
    assert_eq!(got.info.sha256, id);
    assert_eq!(
        store.open_blob(&id).await.unwrap().size(),
        data.len() as u64
    );
    assert!(files_in(&dir.path().join("tmp")).is_empty());
}

#[tokio::test]
async fn dropped_ingest_removes_its_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let (tx, stream) = manual_stream();
    let ingest = tokio::spawn({
        let store = store.clone();
        async move { store.ingest(stream, None).await }
    });
    tx.send(Bytes::from_static(&[0xe9; 5000])).await.unwrap();
    eventually("temp file", || temp_bytes(dir.path()) == 5000).await;
    ingest.abort(); // e.g. the HTTP connection closed: the future is dropped
    assert!(ingest.await.unwrap_err().is_cancelled());
    eventually("temp file removed", || {
        files_in(&dir.path().join("tmp")).is_empty()
    })
    .await;
    assert!(store.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn reopen_removes_partial_temp_files_and_orphan_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let kept = store
        .ingest(chunks(&fixture("esp8266_plain.bin"), 1000), None)
        .await
        .unwrap();
    drop(store);
    // What a crash leaves: a partial upload, half-written metadata, and metadata whose
    // blob rename never happened.
    std::fs::write(
        dir.path().join("tmp/4242-0.part"),
        &fixture("esp32_blnkinf.bin")[..3000],
    )
    .unwrap();
    std::fs::write(dir.path().join("tmp/4242-1.json"), b"{\"sha256\":").unwrap();
    let orphan = sha256_of(b"never committed");
    std::fs::write(dir.path().join(format!("blobs/{orphan}.json")), b"{}").unwrap();
    let store = open(&dir).await;
    assert!(files_in(&dir.path().join("tmp")).is_empty());
    let listed = store.list().await.unwrap();
    let id = kept.info.sha256;
    assert_eq!(listed, [kept.info]);
    assert_eq!(
        files_in(&dir.path().join("blobs")),
        [format!("{id}.bin"), format!("{id}.json")]
    );
}

#[tokio::test]
async fn missing_or_broken_metadata_is_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let data = fixture("esp8266_blnkinf.bin");
    let got = store
        .ingest(chunks(&data, 1000), Some("fw.bin"))
        .await
        .unwrap()
        .info;
    let id = got.sha256;
    let meta = dir.path().join(format!("blobs/{id}.json"));
    std::fs::write(&meta, b"not json").unwrap();
    drop(store);
    let store = open(&dir).await;
    let again = store.info(&id).await.unwrap();
    // Everything except the uploader's name is in the image itself.
    assert_eq!(again.file_name, None);
    assert_eq!(
        again,
        firmware_store::FirmwareInfo {
            file_name: None,
            ..got.clone()
        }
    );
    std::fs::remove_file(&meta).unwrap();
    assert_eq!(store.list().await.unwrap(), [again]);
    assert!(meta.exists(), "list() repaired the metadata");
}

#[tokio::test]
async fn corrupt_blob_is_detected_and_quarantined() {
    let (dir, store, _, id) = store_with("esp8266_plain.bin", 1000).await;
    let blob = dir.path().join(format!("blobs/{id}.bin"));
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&blob, &bytes).unwrap();
    let err = store.recompute_info(&id).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { id: named, actual } if named == id && actual == sha256_of(&bytes))
    );
    std::fs::remove_file(dir.path().join(format!("blobs/{id}.json"))).unwrap();
    drop(store);
    let store = open(&dir).await;
    assert!(store.list().await.unwrap().is_empty());
    assert_eq!(
        std::fs::read(dir.path().join(format!("corrupt/{id}.bin"))).unwrap(),
        bytes
    );
}

#[tokio::test]
async fn ranges_read_only_what_was_asked() {
    let (_dir, store, data, id) = store_with("esp32_blnkinf.bin", 4096).await;
    let blob = store.open_blob(&id).await.unwrap();
    assert_eq!(blob.size(), data.len() as u64);
    assert_eq!(blob.etag(), format!("\"{id}\""));
    let mut range = blob.range(100..4100).await.unwrap();
    assert_eq!(
        (range.start, range.len, range.size, range.id),
        (100, 4000, data.len() as u64, id)
    );
    let mut got = Vec::new();
    range.reader.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, &data[100..4100]);
    let mut last = store
        .open_range(&id, 7000..data.len() as u64)
        .await
        .unwrap();
    let mut got = Vec::new();
    last.reader.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, &data[7000..]);
    let mut whole = Vec::new();
    store
        .open_blob(&id)
        .await
        .unwrap()
        .into_file()
        .read_to_end(&mut whole)
        .await
        .unwrap();
    assert_eq!(whole, data);
    let size = data.len() as u64;
    #[allow(clippy::reversed_empty_ranges)] // deliberately backwards
    let backwards = 10..5;
    for bad in [0..size + 1, backwards, size + 1..size + 2] {
        let err = store.open_range(&id, bad.clone()).await.unwrap_err();
        assert!(
            matches!(err, StoreError::RangeNotSatisfiable { .. }),
            "{bad:?}: {err:?}"
        );
    }
    let missing = sha256_of(b"nothing");
    assert!(
        matches!(store.open_blob(&missing).await, Err(StoreError::NotFound(m)) if m == missing)
    );
}

#[tokio::test]
async fn delete_and_gc() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let mut ids = Vec::new();
    for name in ["esp8266_plain.bin", "esp8266_gzip.bin", "esp32_blnkinf.bin"] {
        ids.push(
            store
                .ingest(chunks(&fixture(name), 512), Some(name))
                .await
                .unwrap()
                .info
                .sha256,
        );
    }
    let keep: HashSet<_> = [ids[0]].into();
    let mut removed = store.gc(&keep).await.unwrap();
    removed.sort();
    let mut expected = vec![ids[1], ids[2]];
    expected.sort();
    assert_eq!(removed, expected);
    let listed: Vec<_> = store
        .list()
        .await
        .unwrap()
        .iter()
        .map(|i| i.sha256)
        .collect();
    assert_eq!(listed, [ids[0]]);
    assert!(store.gc(&keep).await.unwrap().is_empty());
    store.delete(&ids[0]).await.unwrap();
    assert!(matches!(
        store.delete(&ids[0]).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.info(&ids[0]).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(files_in(&dir.path().join("blobs")).is_empty());
}

#[tokio::test]
async fn an_open_reader_survives_delete() {
    let (_dir, store, data, id) = store_with("esp8266_plain.bin", 512).await;
    let mut file = store.open_blob(&id).await.unwrap().into_file();
    store.delete(&id).await.unwrap();
    let mut got = Vec::new();
    file.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, data);
}

#[tokio::test]
async fn file_name_is_sanitised_and_never_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let got = store
        .ingest(
            chunks(&fixture("esp8266_gzip.bin"), 64),
            Some("../../etc/evil\n.bin"),
        )
        .await
        .unwrap();
    assert_eq!(got.info.file_name.as_deref(), Some("evil.bin"));
    let id = got.info.sha256;
    assert_eq!(
        files_in(&dir.path().join("blobs")),
        [format!("{id}.bin"), format!("{id}.json")]
    );
    assert_eq!(files_in(dir.path()), ["blobs", "tmp"]);
}

#[tokio::test]
async fn metadata_json_is_readable_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let info = store
        .ingest(chunks(&fixture("esp8266_blnkinf.bin"), 64), Some("fw.bin"))
        .await
        .unwrap()
        .info;
    let json =
        std::fs::read_to_string(dir.path().join(format!("blobs/{}.json", info.sha256))).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["sha256"], info.sha256.to_string());
    assert_eq!(value["md5"], "ce7b4500dc59ff19ba1d274e062cc008");
    assert_eq!(value["size"], 4076);
    assert_eq!(value["file_name"], "fw.bin");
    assert_eq!(value["image"]["kind"]["type"], "esp8266");
    assert_eq!(value["image"]["kind"]["flash_size_code"], 0);
    assert_eq!(value["image"]["tag"][1]["key"], "fw-type");
    assert_eq!(value["image"]["build"], "Dec  4 2026 14:51:12");
    assert_eq!(value["image"]["build_time"]["year"], 2026);
}

#[tokio::test]
async fn accepts_any_chunk_type_and_error_type() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    // Vec<u8> chunks and String errors, as another producer might yield.
    let data = fixture("esp8266_plain.bin");
    let stream = futures_util::stream::iter(
        data.chunks(100)
            .map(|c| Ok::<_, String>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let got = store.ingest(stream.boxed(), None).await.unwrap();
    assert_eq!(got.info.md5, "01534f2df4db0fa5817d299edab1e80f");
}

#[tokio::test]
async fn reopen_uses_stored_metadata_without_rescanning() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let info = store
        .ingest(chunks(&fixture("esp8266_blnkinf.bin"), 512), Some("fw.bin"))
        .await
        .unwrap()
        .info;
    drop(store);
    // Mark the stored metadata: a rescan at open would overwrite the mark.
    let meta = dir.path().join(format!("blobs/{}.json", info.sha256));
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    value["image"]["build"] = "marked".into();
    std::fs::write(&meta, serde_json::to_vec(&value).unwrap()).unwrap();
    let store = open(&dir).await;
    let again = store.info(&info.sha256).await.unwrap();
    assert_eq!(again.image.build.as_deref(), Some("marked"));
    // An explicit recomputation restores what the image says (and keeps the name).
    assert_eq!(store.recompute_info(&info.sha256).await.unwrap(), info);
}
