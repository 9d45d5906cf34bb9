//! Real crashes: a child process (this test binary, re-run in "child" mode) ingests
//! and is killed with SIGKILL; the parent reopens the store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use common::*;
use firmware_store::{BlobId, FirmwareStore, StoreConfig};

const CHILD_DIR: &str = "FIRMWARE_STORE_CRASH_CHILD_DIR";
const CHILD_MODE: &str = "FIRMWARE_STORE_CRASH_CHILD_MODE";

/// Generated image: ESP8266 header then `mib` MiB of pattern.
fn image(mib: usize) -> Vec<u8> {
    let mut data = vec![0xe9, 0x01, 0x00, 0x00];
    data.extend(filler(mib << 20));
    data
}

/// Child side; does nothing in a normal test run.
#[test]
fn crash_child() {
    let (Some(dir), Ok(mode)) = (std::env::var_os(CHILD_DIR), std::env::var(CHILD_MODE)) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let store = FirmwareStore::open(&dir, StoreConfig::default())
            .await
            .unwrap();
        let data = image(2);
        if mode == "partial" {
            // Send the first MiB, announce, then never finish.
            let head: Vec<_> = data[..1 << 20]
                .chunks(64 << 10)
                .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
                .collect();
            let stream = futures_util::StreamExt::chain(
                futures_util::stream::iter(head),
                futures_util::stream::once(async {
                    println!("READY");
                    std::future::pending::<Result<Bytes, std::io::Error>>().await
                }),
            );
            let _ = store.ingest(stream, None).await;
        } else {
            let got = store.ingest(chunks(&data, 64 << 10), None).await.unwrap();
            println!("DONE {}", got.info.sha256);
            std::future::pending::<()>().await;
        }
    });
}

/// Kills the child if a test fails before it does (the child never exits by itself).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_child(dir: &Path, mode: &str) -> (KillOnDrop, impl Iterator<Item = String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| l.unwrap());
    (KillOnDrop(child), lines)
}

fn wait_for_temp_bytes(dir: &Path, at_least: u64) {
    for _ in 0..1000 {
        let bytes: u64 = std::fs::read_dir(dir.join("tmp"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        if bytes >= at_least {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the child never wrote {at_least} bytes");
}

#[tokio::test]
async fn kill_9_during_ingest_leaves_no_blob() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut lines) = spawn_child(dir.path(), "partial");
    // libtest prints `test crash_child ... ` before the child's own output.
    assert!(lines.any(|l| l.ends_with("READY")), "child did not start");
    wait_for_temp_bytes(dir.path(), 1 << 20);
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    assert_eq!(
        files_in(&dir.path().join("tmp")).len(),
        1,
        "the crash left a partial file"
    );
    let store = FirmwareStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    assert!(
        files_in(&dir.path().join("tmp")).is_empty(),
        "open removed it"
    );
    assert!(files_in(&dir.path().join("blobs")).is_empty());
    assert!(store.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn kill_9_after_ingest_leaves_a_complete_verified_blob() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut lines) = spawn_child(dir.path(), "complete");
    let done = lines
        .find(|l| l.contains("DONE "))
        .expect("child finished its ingest");
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    let id = BlobId::parse(done.rsplit("DONE ").next().unwrap()).unwrap();
    let store = FirmwareStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    let listed = store.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sha256, id);
    assert_eq!(listed[0].size, (2 << 20) + 4);
    // Rehash from disk: the content matches its name.
    assert_eq!(store.recompute_info(&id).await.unwrap(), listed[0]);
}
