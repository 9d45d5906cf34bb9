//! Durability: campaigns live in SQLite, so after a restart (graceful, or `kill -9` of the
//! real binary) active campaigns continue and no device is sent more commands than its
//! attempt budget.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use blynk_server::Server;
use common::*;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

#[tokio::test]
async fn campaign_survives_a_restart_and_a_reconnecting_device_is_updated() {
    let t = start().await;
    let token = t.create_device("a@x.io", "home", "lamp").await;
    let image = firmware_fixture("esp8266_legacy_build.bin");
    let r = t.upload("", &image).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["campaign"].clone();

    let TestServer { server, dir } = t;
    server.shutdown().await;
    let server = Server::start(test_config(dir.path())).await.unwrap();
    let t = TestServer { server, dir };

    let status = t.ota_status().await;
    assert_eq!(status["campaigns"][0]["id"], id);
    assert_eq!(status["campaigns"][0]["state"], "active");
    let mut device = device_with_info(&t, &token, &info_with_build("111")).await;
    let url = read_ota(&mut device).await;
    assert!(
        url.contains(&format!(":{}/ota/", t.server.http_addr().port())),
        "{url}"
    );
    assert_eq!(t.http_get("GET", &url_path(&url), &[]).await.body, image);
    drop(device);
    let _rebooted = device_with_info(&t, &token, &info_with_build(LEGACY_BUILD)).await;
    eventually("the device shows as updated", || async {
        t.ota_status().await["campaigns"][0]["devices"][0]["state"] == "updated"
    })
    .await;
    // One command in all: the restart did not re-send.
    let next = t.ota_status().await;
    assert_eq!(next["campaigns"][0]["devices"][0]["attempts"], 1);
}

/// A `blynk-server` child process on ports chosen by the OS.
struct Child {
    child: tokio::process::Child,
    http: std::net::SocketAddr,
    https: std::net::SocketAddr,
}

async fn spawn_server(dir: &std::path::Path) -> Child {
    let props = dir.join("server.properties");
    std::fs::write(
        &props,
        format!(
            "http.port=0\nhttps.port=0\nlisten.address=127.0.0.1\ndata.folder={}\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_blynk-server"))
        .arg("--config")
        .arg(&props)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = |line: &str, key: &str| -> Option<std::net::SocketAddr> {
        let start = line.find(key)? + key.len();
        let rest = &line[start..];
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        rest[..end].parse().ok()
    };
    let (http, https) = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let line = lines.next_line().await.unwrap().expect("server output");
            if let (Some(h), Some(s)) = (addr(&line, "http_addr="), addr(&line, "https_addr=")) {
                return (h, s);
            }
        }
    })
    .await
    .expect("the server reports its addresses");
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Child { child, http, https }
}

async fn admin_call(
    child: &Child,
    dir: &std::path::Path,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> HttpResponse {
    let mut s = tls_connect(child.https, dir).await;
    http_request(&mut s, method, path, body, Some(&basic(ADMIN, PASS))).await
}

async fn child_device(child: &Child, token: &str, info: &str) -> TcpStream {
    let mut s = TcpStream::connect(child.http).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut s, &login(1, token))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 1, 200, vec![])));
    send_info(&mut s, info).await;
    s
}

#[tokio::test]
async fn kill_9_never_lets_a_device_exceed_its_attempt_budget() {
    let dir = tempfile::tempdir().unwrap();
    let a = spawn_server(dir.path()).await;
    let created = admin_call(
        &a,
        dir.path(),
        "POST",
        "/admin/devices",
        Some(r#"{"user":"a@x.io","project":"home","name":"lamp"}"#),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let token = created.json()["token"].as_str().unwrap().to_owned();
    let (ct, body) = multipart(&[(
        "file",
        Some("fw.bin"),
        &firmware_fixture("esp8266_legacy_build.bin"),
    )]);
    let mut s = tls_connect(a.https, dir.path()).await;
    let head = format!(
        "POST /admin/ota/start?max_attempts=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nAuthorization: {}\r\n",
        body.len(),
        basic(ADMIN, PASS)
    );
    let r = raw_exchange(&mut s, &head, &body).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // The one allowed command is sent (so it was recorded first), then the server dies.
    let mut device = child_device(&a, &token, &info_with_build("111")).await;
    read_ota(&mut device).await;
    let Child { mut child, .. } = a;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    drop(device);

    let b = spawn_server(dir.path()).await;
    let mut again = child_device(&b, &token, &info_with_build("111")).await;
    assert_silent(&mut again, Duration::from_millis(500)).await;
    let status = admin_call(&b, dir.path(), "GET", "/admin/ota/status", None)
        .await
        .json();
    let entry = &status["campaigns"][0]["devices"][0];
    assert_eq!(status["campaigns"][0]["state"], "active");
    assert_eq!(entry["attempts"], 1, "{entry}");
    assert_eq!(entry["state"], "failed", "{entry}");
    assert!(
        entry["reason"].as_str().unwrap().contains("reconnected"),
        "{entry}"
    );
}
