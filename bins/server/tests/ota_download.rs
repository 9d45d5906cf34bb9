//! Firmware downloads as the ESP updaters do them (`../shared/docs/esp-http-update.md`),
//! and the whole "Done when" path: command → download → reconnect with the new build →
//! `updated` in `/admin/ota/status`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The ESP8266 updater's request (core 3.x), HTTP/1.0 with `Connection: close`.
fn esp8266_request(path: &str, port: u16, sketch_md5: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: ESP8266-http-Update\r\nConnection: close\r\n\
x-ESP8266-Chip-ID: 15602487\r\nx-ESP8266-STA-MAC: DE:BA:7A:B1:E0:42\r\nx-ESP8266-AP-MAC: DE:BA:7A:B1:E0:42\r\n\
x-ESP8266-free-space: 4194304\r\nx-ESP8266-sketch-size: 400000\r\nx-ESP8266-sketch-md5: {sketch_md5}\r\n\
x-ESP8266-chip-size: 4194304\r\nx-ESP8266-sdk-version: 2.5.0\r\nx-ESP8266-mode: sketch\r\nx-ESP8266-version: 0.1.0\r\n{extra}Content-Length: 0\r\n"
    )
}

async fn esp8266_get(t: &TestServer, path: &str, sketch_md5: &str, extra: &str) -> RawResponse {
    let mut s = t.plain().await;
    let head = esp8266_request(path, t.server.http_addr().port(), sketch_md5, extra);
    raw_exchange(&mut s, &head, b"").await
}

fn md5_of_plain() -> &'static str {
    "01534f2df4db0fa5817d299edab1e80f"
}

#[tokio::test]
async fn esp8266_download_then_reboot_with_the_new_build_is_updated() {
    let t = start().await;
    let token = t.create_device("a@x.io", "home", "lamp").await;
    let image = firmware_fixture("esp8266_legacy_build.bin");
    let r = t.upload("", &image).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let fw = r.json()["firmware"].clone();
    let md5 = fw["md5"].as_str().unwrap().to_owned();

    // The device logs in with its old build and is sent its own URL.
    let mut device = device_with_info(&t, &token, &info_with_build("Jan  1 2017 00:00:00")).await;
    let url = read_ota(&mut device).await;
    let path = url_path(&url);
    assert!(path.starts_with("/ota/") && path.len() == 5 + 32, "{path}");

    // The updater, still running the old image: 200 + exact length + x-MD5.
    let d = esp8266_get(&t, &path, "00000000000000000000000000000000", "").await;
    assert_eq!(d.status, 200);
    assert_eq!(
        d.header("content-length"),
        Some(image.len().to_string().as_str())
    );
    assert_eq!(d.header("x-md5"), Some(md5.as_str()));
    assert_eq!(d.header("x-sha256"), fw["sha256"].as_str());
    assert_eq!(d.header("content-type"), Some("application/octet-stream"));
    assert_eq!(
        d.header("etag"),
        Some(format!("\"{}\"", fw["sha256"].as_str().unwrap()).as_str())
    );
    assert!(d.header("last-modified").unwrap().ends_with(" GMT"));
    assert!(d.header("transfer-encoding").is_none());
    assert_eq!(d.body, image);
    eventually("the download shows as complete", || async {
        t.ota_status().await["campaigns"][0]["devices"][0]["state"] == "downloaded"
    })
    .await;
    let entry = t.ota_status().await["campaigns"][0]["devices"][0].clone();
    assert_eq!(entry["bytes"], entry["total"]);

    // It reboots and reports the image's build: updated, and no further command.
    drop(device);
    let mut rebooted = device_with_info(&t, &token, &info_with_build(LEGACY_BUILD)).await;
    assert_silent(&mut rebooted, Duration::from_millis(300)).await;
    let entry = t.ota_status().await["campaigns"][0]["devices"][0].clone();
    assert_eq!(entry["state"], "updated", "{entry}");
    assert_eq!(entry["attempts"], 1);

    // Running the image already: 304, nothing sent.
    let d = esp8266_get(&t, &path, &md5, "").await;
    assert_eq!(d.status, 304);
    assert!(d.body.is_empty());
}

#[tokio::test]
async fn ranges_conditionals_head_and_unknown_links() {
    let t = start().await;
    let token = t.create_device("a@x.io", "home", "lamp").await;
    let mut device = logged_in_plain(&t, &token).await;
    let image = firmware_fixture("esp8266_plain.bin");
    let r = t.upload(&format!("?token={token}"), &image).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let etag = format!("\"{}\"", r.json()["firmware"]["sha256"].as_str().unwrap());
    let path = url_path(&read_ota(&mut device).await);
    let size = image.len();

    // A resumed download: 206 with the exact Content-Range.
    let d = esp8266_get(&t, &path, "0", "Range: bytes=1000-\r\n").await;
    assert_eq!(d.status, 206);
    assert_eq!(
        d.header("content-range"),
        Some(format!("bytes 1000-{}/{size}", size - 1).as_str())
    );
    assert_eq!(
        d.header("content-length"),
        Some((size - 1000).to_string().as_str())
    );
    assert_eq!(d.body, image[1000..]);
    // If-Range with the current ETag keeps the range; with another one: the whole image.
    let keep = t
        .http_get(
            "GET",
            &path,
            &["Range: bytes=0-99", &format!("If-Range: {etag}")],
        )
        .await;
    assert_eq!((keep.status, keep.body.len()), (206, 100));
    let whole = t
        .http_get("GET", &path, &["Range: bytes=0-99", "If-Range: \"other\""])
        .await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, image);
    // Beyond the end: 416.
    let beyond = t
        .http_get("GET", &path, &[&format!("Range: bytes={size}-")])
        .await;
    assert_eq!(beyond.status, 416);
    assert_eq!(
        beyond.header("content-range"),
        Some(format!("bytes */{size}").as_str())
    );
    // If-None-Match and the ESP32 sketch header give 304.
    assert_eq!(
        t.http_get("GET", &path, &[&format!("If-None-Match: {etag}")])
            .await
            .status,
        304
    );
    let esp32 = format!("x-ESP32-sketch-md5: {}", md5_of_plain());
    assert_eq!(t.http_get("GET", &path, &[&esp32]).await.status, 304);
    // HEAD: the length, no body.
    let head = t.http_get("HEAD", &path, &[]).await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(size.to_string().as_str())
    );
    assert_eq!(head.header("x-md5"), Some(md5_of_plain()));
    assert!(head.body.is_empty());
    // Query strings are tolerated.
    assert_eq!(
        t.http_get("GET", &format!("{path}?x=1"), &[]).await.body,
        image
    );
    // The HTTPS port serves the same URL.
    let mut tls = t.tls().await;
    let https = raw_exchange(
        &mut tls,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"),
        b"",
    )
    .await;
    assert_eq!(https.body, image);

    // Unknown links: 404 with Content-Length 0.
    for p in [
        "/ota/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/static/ota/nope.bin",
        "/static/ota/../blynk-ota.sqlite3",
    ] {
        let nf = t.http_get("GET", p, &[]).await;
        assert_eq!(nf.status, 404, "{p}");
        assert_eq!(nf.header("content-length"), Some("0"), "{p}");
    }
    // A stopped campaign's device link is gone; the shared path stays.
    assert_eq!(t.admin_get("/admin/ota/stop").await.status, 200);
    let gone = t.http_get("GET", &path, &[]).await;
    assert_eq!(
        (gone.status, gone.header("content-length")),
        (404, Some("0"))
    );
}

/// The Edgent ESP8266 downloader reads headers only while bytes are available: the
/// whole header block must come in one piece, and it needs Content-Length.
#[tokio::test]
async fn edgent_style_http10_keep_alive_request_gets_the_headers_at_once() {
    let t = start().await;
    let token = t.create_device("a@x.io", "home", "lamp").await;
    let mut device = logged_in_plain(&t, &token).await;
    let image = firmware_fixture("esp8266_plain.bin");
    assert_eq!(
        t.upload(&format!("?token={token}"), &image).await.status,
        200
    );
    let path = url_path(&read_ota(&mut device).await);
    let mut s = t.plain().await;
    s.write_all(
        format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut first = vec![0u8; 65536];
    let n = s.read(&mut first).await.unwrap();
    let got = &first[..n];
    let end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("whole header block in the first read");
    let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
    assert!(
        head.contains(&format!("content-length: {}", image.len())),
        "{head}"
    );
    assert!(head.contains("x-md5: "), "{head}");
    assert!(!head.contains("chunked"), "{head}");
}
