//! The committed firmware fixtures: they match their generator, and ingesting each one
//! yields every expected field. Regenerate with
//! `BLESS=1 cargo test -p firmware-store --test fixtures`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use common::*;
use firmware_store::{BuildTime, FirmwareInfo, FirmwareStore, ImageKind, StoreConfig, TagPair};

#[test]
fn committed_fixtures_match_their_generator() {
    let bless = std::env::var_os("BLESS").is_some();
    for (name, bytes) in build_fixtures() {
        let path = fixture_dir().join(name);
        if bless {
            std::fs::write(&path, &bytes).unwrap();
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{name} is stale: run with BLESS=1"
        );
    }
}

async fn ingest_fixture(name: &str, chunk: usize) -> FirmwareInfo {
    let dir = tempfile::tempdir().unwrap();
    let store = FirmwareStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    let data = fixture(name);
    let got = store
        .ingest(chunks(&data, chunk), Some(name))
        .await
        .unwrap();
    assert!(got.created);
    assert_eq!(got.info.size, data.len() as u64);
    assert_eq!(got.info.file_name.as_deref(), Some(name));
    // The stored metadata reads back equal, and so does a recomputation from disk.
    assert_eq!(store.info(&got.info.sha256).await.unwrap(), got.info);
    assert_eq!(
        store.recompute_info(&got.info.sha256).await.unwrap(),
        got.info
    );
    got.info
}

fn pairs(list: &[(&str, &str)]) -> Vec<TagPair> {
    list.iter()
        .map(|(k, v)| TagPair {
            key: k.to_string(),
            value: v.to_string(),
        })
        .collect()
}

/// Expected digests come from `sha256sum` / `md5sum` of the fixture files.
#[tokio::test]
async fn esp8266_with_blnkinf_tag() {
    for chunk in [1 << 16, 1000, 7] {
        let info = ingest_fixture("esp8266_blnkinf.bin", chunk).await;
        assert_eq!(info.size, 4 + 1996 + 76 + 2000);
        assert_eq!(
            info.sha256.to_string(),
            "9c85dc8407591cb3a584b37f71c7766c2ccab5e9f64fa66bd16e22a9258abdd2"
        );
        assert_eq!(info.md5, "ce7b4500dc59ff19ba1d274e062cc008");
        let image = &info.image;
        assert_eq!(image.kind, ImageKind::Esp8266 { flash_size_code: 0 });
        assert_eq!(image.kind.flash_size_bytes(), Some(512 * 1024));
        assert_eq!(
            image.tag,
            pairs(&[
                ("mcu", "1.2.3"),
                ("fw-type", "TMPL0001"),
                ("build", "Dec  4 2026 14:51:12"),
                ("blynk", "1.3.2")
            ])
        );
        assert_eq!(image.tag_offset, Some(2000));
        assert_eq!(image.tag_value("fw-type"), Some("TMPL0001"));
        assert_eq!(image.legacy_build.as_deref(), Some("Dec  4 2026 14:51:12"));
        assert_eq!(image.legacy_build_offset, Some(2000 + 34));
        assert_eq!(image.build.as_deref(), Some("Dec  4 2026 14:51:12"));
        assert_eq!(
            image.build_time,
            Some(BuildTime {
                year: 2026,
                month: 12,
                day: 4,
                hour: 14,
                minute: 51,
                second: 12
            })
        );
        assert_eq!(image.build_time.unwrap().unix_timestamp(), 1_796_395_872);
    }
}

#[tokio::test]
async fn esp8266_with_legacy_marker_only() {
    let info = ingest_fixture("esp8266_legacy_build.bin", 4096).await;
    assert_eq!(info.size, 4 + 3000 + LEGACY_INFO.len() as u64 + 1000);
    assert_eq!(
        info.sha256.to_string(),
        "33d7aa9c9887fda1a5f688bce5ba3443a401aee9cc6281fc72044930ab267cc1"
    );
    assert_eq!(info.md5, "a2c94753e85990e5aa068cce9ae4c5be");
    let image = &info.image;
    assert_eq!(image.kind, ImageKind::Esp8266 { flash_size_code: 4 });
    assert_eq!(image.kind.flash_size_bytes(), Some(4 << 20));
    assert!(image.tag.is_empty());
    assert_eq!(image.tag_offset, None);
    assert_eq!(image.legacy_build.as_deref(), Some("Aug 14 2017 20:31:49"));
    assert_eq!(image.legacy_build_offset, Some(3004 + 44));
    assert_eq!(image.build.as_deref(), Some("Aug 14 2017 20:31:49"));
    assert_eq!(image.build_time.unwrap().unix_timestamp(), 1_502_742_709);
}

#[tokio::test]
async fn esp8266_with_neither() {
    let info = ingest_fixture("esp8266_plain.bin", 512).await;
    assert_eq!(info.size, 4100);
    assert_eq!(
        info.sha256.to_string(),
        "3e19b51480836f8be40962ea5888ffa8cf3a2610adb1abebe148d432ac4c9762"
    );
    // The value given in ../shared/docs/esp-http-update.md section 2.
    assert_eq!(info.md5, "01534f2df4db0fa5817d299edab1e80f");
    let image = &info.image;
    assert_eq!(image.kind, ImageKind::Esp8266 { flash_size_code: 0 });
    assert!(image.tag.is_empty());
    assert_eq!(image.tag_offset, None);
    assert_eq!(image.legacy_build, None);
    assert_eq!(image.legacy_build_offset, None);
    assert_eq!(image.build, None);
    assert_eq!(image.build_time, None);
}

#[tokio::test]
async fn esp32_with_blnkinf_tag() {
    let info = ingest_fixture("esp32_blnkinf.bin", 1 << 16).await;
    assert_eq!(info.size, 24 + 4856 + ESP32_TAG.len() as u64 + 3000);
    assert_eq!(
        info.sha256.to_string(),
        "17afe84bdf779c524ac9fc57dc6c3c5c20b49f403df55b72ae8dac4010111ae9"
    );
    assert_eq!(info.md5, "665a9707d308706e4604363785cdb4f4");
    let image = &info.image;
    assert_eq!(image.kind, ImageKind::Esp32 { chip_id: 0 });
    assert_eq!(image.kind.chip_name(), Some("ESP32"));
    assert_eq!(
        image.tag,
        pairs(&[
            ("mcu", "0.9.1"),
            ("fw-type", "TMPL32ES"),
            ("build", "May  8 2018 19:30:18"),
            ("blynk", "1.3.2"),
            ("hw", "esp32-devkit")
        ])
    );
    assert_eq!(image.tag_offset, Some(4880));
    assert_eq!(image.legacy_build.as_deref(), Some("May  8 2018 19:30:18"));
    assert_eq!(image.legacy_build_offset, Some(4880 + 34));
    assert_eq!(image.build.as_deref(), Some("May  8 2018 19:30:18"));
    assert_eq!(
        image.build_time,
        Some(BuildTime {
            year: 2018,
            month: 5,
            day: 8,
            hour: 19,
            minute: 30,
            second: 18
        })
    );
}

#[tokio::test]
async fn gzip_image() {
    let info = ingest_fixture("esp8266_gzip.bin", 100).await;
    assert_eq!(info.size, 510);
    assert_eq!(
        info.sha256.to_string(),
        "758a357a6a810e046cd12d36688cb09b392e1de8be65417dfad6e8e0159028e3"
    );
    assert_eq!(info.md5, "2b373ad5b9ab8f04a7cc85287939f42f");
    assert_eq!(info.image.kind, ImageKind::Esp8266Gzip);
    assert_eq!(info.image.kind.flash_size_bytes(), None);
    assert!(info.image.tag.is_empty());
    assert_eq!(info.image.build, None);
}

#[tokio::test]
async fn truncated_and_unterminated_tags_are_absent() {
    for name in ["truncated_tag.bin", "unterminated_tag.bin"] {
        let info = ingest_fixture(name, 64).await;
        assert_eq!(
            info.image.kind,
            ImageKind::Esp8266 { flash_size_code: 0 },
            "{name}"
        );
        assert!(info.image.tag.is_empty(), "{name}");
        assert_eq!(info.image.tag_offset, None, "{name}");
        assert_eq!(info.image.build, None, "{name}");
        assert_eq!(info.image.build_time, None, "{name}");
    }
    // The truncated one still has a legacy marker whose value runs to end of file:
    // unterminated, so absent rather than cut.
    let info = ingest_fixture("truncated_tag.bin", 5).await;
    assert_eq!(info.image.legacy_build, None);
    assert_eq!(info.image.legacy_build_offset, None);
}

#[tokio::test]
async fn tag_split_across_chunk_boundaries() {
    let data = fixture("esp8266_blnkinf.bin");
    let dir = tempfile::tempdir().unwrap();
    let store = FirmwareStore::open(dir.path(), StoreConfig::default())
        .await
        .unwrap();
    let whole = store
        .ingest(chunks(&data, data.len()), None)
        .await
        .unwrap()
        .info;
    // Cut inside the needle, inside a key, right after each NUL, in the terminator.
    for cut in 2000..2000 + 76 {
        let info = store.ingest(split_at(&data, &[cut]), None).await.unwrap();
        assert!(!info.created);
        let dir2 = tempfile::tempdir().unwrap();
        let fresh = FirmwareStore::open(dir2.path(), StoreConfig::default())
            .await
            .unwrap();
        let info = fresh
            .ingest(split_at(&data, &[cut - 3, cut]), None)
            .await
            .unwrap()
            .info;
        assert_eq!(info, whole, "cut at {cut}");
    }
}
