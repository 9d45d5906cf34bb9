//! The ESP8266 download client against raw HTTP answers: good image, injected faults,
//! wrong `x-MD5`, missing `Content-Length`, 404, bad first byte, chunked.
#![allow(clippy::unwrap_used)] // test helpers

use blynk_sim::download::{DownloadFaults, download};
use std::net::Ipv4Addr;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const BUILD: &str = "Dec  5 2026 10:00:00";

/// Serves `response` to every connection after reading the request; returns the URL
/// and a channel receiving each request's text.
async fn serve(response: Vec<u8>) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/ota/fw.bin?token=abc",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let response = response.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                }
                let _ = tx.send(String::from_utf8(req).unwrap());
                let _ = s.write_all(&response).await;
            });
        }
    });
    (url, rx)
}

fn image() -> Vec<u8> {
    blynk_sim::image::esp8266_image(300_000, "0.2.0", "TMPL0001", BUILD)
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ok_response(body: &[u8], md5: &str) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nx-MD5: {md5}\r\nContent-Type: application/octet-stream\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

async fn fetch(
    response: Vec<u8>,
    faults: DownloadFaults,
) -> Result<blynk_sim::download::Downloaded, String> {
    let (url, _) = serve(response).await;
    download(&url, Ipv4Addr::new(127, 0, 0, 3), 7, "0.1.0", faults)
        .await
        .map_err(|e| e.reason)
}

#[tokio::test]
async fn verified_download_reads_the_build_and_sends_updater_headers() {
    let img = image();
    let (url, mut requests) = serve(ok_response(&img, &md5_hex(&img))).await;
    let d = download(
        &url,
        Ipv4Addr::new(127, 0, 0, 3),
        7,
        "0.1.0",
        DownloadFaults::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        (d.bytes, d.build.as_str(), d.version.as_deref()),
        (300_000, BUILD, Some("0.2.0"))
    );
    let req = requests.recv().await.unwrap();
    assert!(
        req.starts_with("GET /ota/fw.bin?token=abc HTTP/1.0\r\n"),
        "{req}"
    );
    assert!(req.contains("User-Agent: ESP8266-http-Update\r\n"));
    assert!(req.contains("x-ESP8266-version: 0.1.0\r\n"));
}

#[tokio::test]
async fn failures_are_reported_with_the_updater_reason() {
    let img = image();
    let good = ok_response(&img, &md5_hex(&img));
    let drop = fetch(
        good.clone(),
        DownloadFaults {
            drop_midway: true,
            bad_md5: false,
        },
    )
    .await;
    assert_eq!(drop.unwrap_err(), "download dropped midway (injected)");
    let md5 = fetch(
        good,
        DownloadFaults {
            drop_midway: false,
            bad_md5: true,
        },
    )
    .await;
    assert_eq!(md5.unwrap_err(), "MD5 verification failed (injected)");
    let wrong = fetch(
        ok_response(&img, "0123456789abcdef0123456789abcdef"),
        DownloadFaults::default(),
    )
    .await;
    assert!(
        wrong
            .unwrap_err()
            .starts_with("MD5 verification failed: expected 0123")
    );
    let short_md5 = fetch(ok_response(&img, "abc"), DownloadFaults::default()).await;
    assert!(short_md5.unwrap_err().contains("not 32 characters"));
    let mut no_len = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    no_len.extend_from_slice(&img);
    assert!(
        fetch(no_len, DownloadFaults::default())
            .await
            .unwrap_err()
            .contains("Did Not Report Size")
    );
    let nf = fetch(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
        DownloadFaults::default(),
    )
    .await;
    assert_eq!(nf.unwrap_err(), "HTTP status 404");
    let mut bad = img.clone();
    bad[0] = 0;
    let header = fetch(ok_response(&bad, &md5_hex(&bad)), DownloadFaults::default()).await;
    assert!(header.unwrap_err().starts_with("Verify Bin Header Failed"));
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec();
    assert!(fetch(chunked, DownloadFaults::default()).await.is_err());
    let mut cut = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", img.len()).into_bytes();
    cut.extend_from_slice(&img[..1000]);
    assert!(
        fetch(cut, DownloadFaults::default())
            .await
            .unwrap_err()
            .contains("after 1000 of 300000")
    );
    let untagged = vec![0xe9u8; 5000];
    let plain = fetch(
        ok_response(&untagged, &md5_hex(&untagged)),
        DownloadFaults::default(),
    )
    .await;
    assert_eq!(plain.unwrap_err(), "the image carries no build stamp");
    let https = download(
        "https://127.0.0.1:1/x",
        Ipv4Addr::LOCALHOST,
        0,
        "",
        DownloadFaults::default(),
    )
    .await;
    assert!(https.unwrap_err().reason.contains("only handles http://"));
}
