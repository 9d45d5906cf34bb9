//! `firmware info FILE`: what the server will read from an image, computed offline with
//! `firmware-store`'s scanner and the same hashes.

use crate::error::{Error, Result};
use crate::output::{print, print_json};
use crate::progress::human_bytes;
use firmware_store::{BlobId, ImageFacts, ImageKind, ImageScanner, sanitize_file_name};
use md5::{Digest as _, Md5};
use serde_json::{Value, json};
use sha2::Sha256;
use std::path::Path;
use tokio::io::AsyncReadExt as _;

/// Bytes read per chunk.
const CHUNK: usize = 64 * 1024;

/// What `firmware info` reports about a file.
#[derive(Debug, Clone)]
pub struct LocalFirmware {
    /// The file name as the server would store it (sanitised).
    pub file_name: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// MD5, lower-case hex.
    pub md5: String,
    /// SHA-256 (also the server's firmware id).
    pub sha256: BlobId,
    /// What the image tells about itself.
    pub facts: ImageFacts,
}

/// Reads `path` in chunks (constant memory), hashing and scanning it.
pub async fn inspect(path: &Path) -> Result<LocalFirmware> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::file(path, &e))?;
    let mut scanner = ImageScanner::new();
    let mut md5 = Md5::new();
    let mut sha256 = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| Error::file(path, &e))?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        scanner.feed(chunk);
        md5.update(chunk);
        sha256.update(chunk);
    }
    let size = scanner.bytes_fed();
    Ok(LocalFirmware {
        file_name: path
            .file_name()
            .and_then(|n| sanitize_file_name(&n.to_string_lossy())),
        size,
        md5: hex(&md5.finalize()),
        sha256: BlobId::from_digest(sha256.finalize().into()),
        facts: scanner.finish(),
    })
}

/// The contract's `image_kind` name.
pub fn kind_name(kind: &ImageKind) -> &'static str {
    match kind {
        ImageKind::Esp8266 { .. } => "esp8266",
        ImageKind::Esp32 { .. } => "esp32",
        ImageKind::Esp8266Gzip => "esp8266-gzip",
        ImageKind::Unknown => "unknown",
    }
}

/// Where the build string comes from, if any.
fn build_source(facts: &ImageFacts) -> Option<&'static str> {
    if facts.tag_value("build").is_some() {
        Some("blnkinf tag")
    } else if facts.legacy_build.is_some() {
        Some("legacy \\0build\\0 marker")
    } else {
        None
    }
}

impl LocalFirmware {
    /// The JSON view: the server's `firmware` object fields plus what only the file
    /// shows (tag pairs, offsets, chip, flash size).
    pub fn to_json(&self) -> Value {
        let facts = &self.facts;
        let tag: serde_json::Map<String, Value> = facts
            .tag
            .iter()
            .map(|p| (p.key.clone(), Value::from(p.value.as_str())))
            .collect();
        json!({
            "id": self.sha256.to_string(),
            "file_name": self.file_name,
            "size": self.size,
            "md5": self.md5,
            "sha256": self.sha256.to_string(),
            "build": facts.build,
            "version": facts.tag_value("mcu"),
            "fw_type": facts.tag_value("fw-type"),
            "image_kind": kind_name(&facts.kind),
            "chip": facts.kind.chip_name(),
            "flash_size": facts.kind.flash_size_bytes(),
            "build_source": build_source(facts),
            "build_time_unix": facts.build_time.map(|t| t.unix_timestamp()),
            "tag": if facts.tag_offset.is_some() { Value::Object(tag) } else { Value::Null },
            "tag_offset": facts.tag_offset,
            "legacy_build": facts.legacy_build,
            "legacy_build_offset": facts.legacy_build_offset,
            "deferred_campaign_possible": facts.build.is_some(),
        })
    }

    /// The text view.
    pub fn to_text(&self) -> String {
        let facts = &self.facts;
        let image = match (
            &facts.kind,
            facts.kind.chip_name(),
            facts.kind.flash_size_bytes(),
        ) {
            (ImageKind::Esp32 { chip_id }, None, _) => format!("esp32 (chip id {chip_id})"),
            (_, Some(chip), _) => format!("esp32 ({chip})"),
            (ImageKind::Esp8266 { .. }, _, Some(flash)) => {
                format!("esp8266 (flash {})", human_bytes(u64::from(flash)))
            }
            (kind, _, _) => kind_name(kind).to_owned(),
        };
        let or_dash = |v: Option<&str>| v.map_or_else(|| "-".to_owned(), str::to_owned);
        let mut pairs = vec![
            ("file", or_dash(self.file_name.as_deref())),
            (
                "size",
                format!("{} bytes ({})", self.size, human_bytes(self.size)),
            ),
            ("md5", self.md5.clone()),
            ("sha256", self.sha256.to_string()),
            ("image", image),
            (
                "build",
                match (&facts.build, build_source(facts)) {
                    (Some(build), Some(source)) => format!("{build} (from the {source})"),
                    _ => "-".to_owned(),
                },
            ),
            ("version", or_dash(facts.tag_value("mcu"))),
            ("fw-type", or_dash(facts.tag_value("fw-type"))),
        ];
        if let Some(offset) = facts.tag_offset {
            let tag: Vec<String> = facts
                .tag
                .iter()
                .map(|p| format!("{}={}", p.key, p.value))
                .collect();
            pairs.push(("tag", format!("{} (at byte {offset})", tag.join(" "))));
        }
        if let Some(kind) = warn_kind(&facts.kind) {
            pairs.push(("warning", kind.to_owned()));
        }
        pairs.push((
            "campaigns",
            if facts.build.is_some() {
                "any target (--token, --user, all devices)".to_owned()
            } else {
                "--token only: a deferred (--user / all-device) campaign needs a build \
                 string to tell updated devices apart"
                    .to_owned()
            },
        ));
        crate::output::facts(&pairs)
    }
}

fn warn_kind(kind: &ImageKind) -> Option<&'static str> {
    matches!(kind, ImageKind::Unknown)
        .then_some("not an ESP image (first byte not 0xE9, not gzip): devices will reject it")
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `firmware info`.
pub async fn info(path: &Path, json: bool) -> Result<()> {
    let firmware = inspect(path).await?;
    if json {
        print_json(&firmware.to_json())
    } else {
        print(&firmware.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/firmware")
            .join(name)
    }

    #[tokio::test]
    async fn blnkinf_fixture() {
        let fw = inspect(&fixture("esp8266_blnkinf.bin")).await.unwrap();
        let j = fw.to_json();
        assert_eq!(j["image_kind"], "esp8266");
        assert_eq!(j["version"], "1.2.3");
        assert_eq!(j["fw_type"], "TMPL0001");
        assert_eq!(j["build"], "Dec  4 2026 14:51:12");
        assert_eq!(j["tag"]["blynk"], "1.3.2");
        assert_eq!(j["deferred_campaign_possible"], true);
        let text = fw.to_text();
        assert!(text.contains("from the blnkinf tag"), "{text}");
    }

    #[tokio::test]
    async fn plain_fixture_md5_matches_the_reference() {
        let fw = inspect(&fixture("esp8266_plain.bin")).await.unwrap();
        assert_eq!(fw.size, 4100);
        assert_eq!(fw.md5, "01534f2df4db0fa5817d299edab1e80f");
        assert!(fw.facts.build.is_none());
        assert!(fw.to_text().contains("--token only"));
        assert_eq!(fw.to_json()["tag"], Value::Null);
    }

    #[tokio::test]
    async fn kinds() {
        let legacy = inspect(&fixture("esp8266_legacy_build.bin")).await.unwrap();
        assert_eq!(legacy.facts.build.as_deref(), Some("Aug 14 2017 20:31:49"));
        assert!(legacy.to_text().contains("legacy"));
        let esp32 = inspect(&fixture("esp32_blnkinf.bin")).await.unwrap();
        assert_eq!(esp32.to_json()["image_kind"], "esp32");
        assert!(esp32.to_text().contains("esp32 (ESP32)"));
        let gz = inspect(&fixture("esp8266_gzip.bin")).await.unwrap();
        assert_eq!(gz.to_json()["image_kind"], "esp8266-gzip");
        let missing = inspect(&fixture("no-such.bin")).await.unwrap_err();
        assert_eq!(missing.exit_code(), 6);
    }
}
