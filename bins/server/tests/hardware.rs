//! Hardware sessions over raw bytes, plain TCP and TLS, against an in-process server.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use blynk_proto::Message;
use common::*;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn login_over_plain_tcp_with_legacy_login() {
    let t = start().await;
    let token = t.create_device("a@x.io", "home", "lamp").await;
    let mut s = t.plain().await;
    s.write_all(&login(1, &token)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 1, 200, vec![])));
    assert_eq!(t.device(&token).await["online"], true);
}

#[tokio::test]
async fn hw_login_over_tls() {
    let t = start().await;
    let token = t.create_device("a@x.io", "home", "lamp").await;
    let mut s = t.tls().await;
    s.write_all(&hw_login(1, &token)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 1, 200, vec![])));
    s.write_all(&ping(7)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 7, 200, vec![])));
    let device = t.device(&token).await;
    assert_eq!(device["connections"][0]["transport"], "tls");
    assert_eq!(
        device["connections"][0]["local_address"],
        t.server.https_addr().to_string()
    );
}

#[tokio::test]
async fn invalid_token_keeps_the_connection_open() {
    let t = start().await;
    let token = t.create_device("a@x.io", "home", "lamp").await;
    let mut s = t.plain().await;
    s.write_all(&hw_login(1, "0123456789abcdef0123456789abcdef"))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 1, 9, vec![])));
    // Still open: a correct login on the same connection works.
    s.write_all(&hw_login(3, &token)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 3, 200, vec![])));
}

#[tokio::test]
async fn info_is_acked_stored_and_shown() {
    let t = start().await;
    let (token, mut s) = t.lamp_online().await;
    let esp = b"mcu\x000.1.0\x00fw-type\x00TMPL12345678\x00build\x00Dec  4 2026 15:03:23\x00blynk\x001.4.0\x00h-beat\x0040\x00buff-in\x001024\x00dev\x00ESP8266\x00tmpl\x00TMPL12345678";
    s.write_all(&frame(17, 2, esp)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 2, 200, vec![])));
    let device = t.device(&token).await;
    let info = &device["info"];
    assert_eq!(info["firmware_version"], "0.1.0");
    assert_eq!(info["library_version"], "1.4.0");
    assert_eq!(info["build"], "Dec  4 2026 15:03:23");
    assert_eq!(info["board"], "ESP8266");
    assert_eq!(info["buff_in"], 1024);
    assert_eq!(info["heartbeat"], 40);
    assert_eq!(info["pairs"]["tmpl"], "TMPL12345678");
    // The legacy/Linux layout with a trailing NUL is recognised too.
    let linux = b"ver\x001.4.0\x00h-beat\x0040\x00buff-in\x004096\x00dev\x00Linux\x00fw\x000.2.0\x00build\x00Dec  4 2026 14:51:12\x00conn\x00Socket\x00";
    s.write_all(&frame(17, 3, linux)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 3, 200, vec![])));
    let device = t.device(&token).await;
    assert_eq!(device["info"]["firmware_version"], "0.2.0");
    assert_eq!(device["info"]["board"], "Linux");
    // Info survives the disconnect (stored).
    drop(s);
    t.wait_online(&token, false).await;
    let device = t.device(&token).await;
    assert_eq!(device["info"]["board"], "Linux");
}

#[tokio::test]
async fn ping_and_ignored_commands() {
    let t = start().await;
    let (_, mut s) = t.lamp_online().await;
    let mut burst = Vec::new();
    burst.extend(frame(20, 3, b"vw\x000\x0010")); // HARDWARE
    burst.extend(frame(16, 4, b"vr\x001")); // HARDWARE_SYNC
    burst.extend(frame(15, 5, b"vw\x001\x002")); // BRIDGE
    burst.extend(frame(19, 6, b"1\x00color\x00#fff")); // PROPERTY
    burst.extend(frame(17, 7, b"rtc")); // INTERNAL, not info
    burst.extend(frame(64, 8, b"sys_ota\x00OTA started")); // EVENT_LOG
    burst.extend(frame(55, 9, b"debug")); // DEBUG_PRINT
    burst.extend(response(10, 200)); // RESPONSE from hardware
    burst.extend(b"\x00\x00\x65\x00\x03200"); // blynklib's malformed PING reply
    burst.extend(ping(101));
    s.write_all(&burst).await.unwrap();
    // Only the PING is answered; the stream stays in sync.
    assert_eq!(read_frame(&mut s).await, Some((0, 101, 200, vec![])));
    s.write_all(&ping(102)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 102, 200, vec![])));
    // The server never pings on its own.
    assert_silent(&mut s, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn second_login_is_already_registered() {
    let t = start().await;
    let (token, mut s) = t.lamp_online().await;
    s.write_all(&hw_login(5, &token)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 5, 4, vec![])));
}

#[tokio::test]
async fn non_login_first_frame_closes() {
    let t = start().await;
    let mut s = t.plain().await;
    s.write_all(&ping(1)).await.unwrap();
    assert_closed(&mut s).await;
    let mut s = t.tls().await;
    s.write_all(&frame(20, 1, b"vw\x000\x001")).await.unwrap();
    assert_closed(&mut s).await;
}

#[tokio::test]
async fn unknown_command_closes() {
    let t = start().await;
    let (_, mut s) = t.lamp_online().await;
    s.write_all(&frame(99, 2, b"")).await.unwrap();
    assert_closed(&mut s).await;
}

#[tokio::test]
async fn oversized_body_and_bad_header_close() {
    let t = start_with(|c| c.max_frame_body = 1024).await;
    let (token, mut s) = t.lamp_online().await;
    // Header announcing 2000 bytes: closed from the header alone.
    s.write_all(&[20, 0, 2, 0x07, 0xd0]).await.unwrap();
    assert_closed(&mut s).await;
    // Command >= 100 is a malformed header.
    let mut s = logged_in_plain(&t, &token).await;
    s.write_all(&frame(200, 2, b"x")).await.unwrap();
    assert_closed(&mut s).await;
}

#[tokio::test]
async fn quota_drops_frames_once_notified_and_keeps_sync() {
    let t = start_with(|c| c.message_quota_per_second = 5).await;
    let (_, mut s) = t.lamp_online().await;
    let mut burst = Vec::new();
    for id in 1..=40u16 {
        // Bodies make a desynchronised parser visible.
        burst.extend(frame(20, 1000 + id, b"vw\x001\x00abc"));
        burst.extend(ping(id));
    }
    s.write_all(&burst).await.unwrap();
    let mut oks = 0;
    let mut quota = 0;
    while let Ok(Some(f)) =
        tokio::time::timeout(Duration::from_millis(400), read_frame(&mut s)).await
    {
        match f {
            (0, _, 200, _) => oks += 1,
            (0, _, 1, _) => quota += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(quota, 1, "exactly one QUOTA_LIMIT per minute");
    assert!(
        (1..=6).contains(&oks),
        "{oks} pings answered within the quota"
    );
    // After the bucket refills, the stream is still in sync.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.write_all(&ping(500)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 500, 200, vec![])));
    // Another burst within the minute: frames dropped, no second notice.
    let mut burst = Vec::new();
    for id in 600..640u16 {
        burst.extend(ping(id));
    }
    s.write_all(&burst).await.unwrap();
    while let Ok(Some(f)) =
        tokio::time::timeout(Duration::from_millis(400), read_frame(&mut s)).await
    {
        assert_eq!(
            (f.0, f.2),
            (0, 200),
            "no second QUOTA_LIMIT within a minute"
        );
    }
}

#[tokio::test]
async fn idle_timeout_closes_before_and_after_login() {
    let t = start_with(|c| c.hardware_idle_timeout = Some(Duration::from_millis(600))).await;
    let (token, mut s) = t.lamp_online().await;
    assert_closed(&mut s).await;
    t.wait_online(&token, false).await;
    // Before login too (a login header whose body never comes).
    let mut s = t.plain().await;
    s.write_all(&[2, 0, 1, 0, 32]).await.unwrap();
    assert_closed(&mut s).await;
    // Traffic keeps it open.
    let mut s = logged_in_plain(&t, &token).await;
    for id in 2..6 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        s.write_all(&ping(id)).await.unwrap();
        assert_eq!(read_frame(&mut s).await, Some((0, id, 200, vec![])));
    }
}

#[tokio::test]
async fn reported_heartbeat_replaces_the_idle_limit() {
    let t = start_with(|c| c.hardware_idle_timeout = Some(Duration::from_millis(300))).await;
    let (_, mut s) = t.lamp_online().await;
    // h-beat 1 → ceil(2.3) = 3 s.
    s.write_all(&frame(
        17,
        2,
        b"ver\x000.2.6\x00h-beat\x001\x00buff-in\x00256",
    ))
    .await
    .unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 2, 200, vec![])));
    tokio::time::sleep(Duration::from_millis(900)).await;
    s.write_all(&ping(3)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 3, 200, vec![])));
}

#[tokio::test]
async fn two_connections_with_one_token_are_both_kept_and_both_receive() {
    let t = start().await;
    let token = t.create_device("a@x.io", "home", "lamp").await;
    let mut a = logged_in_plain(&t, &token).await;
    let mut b = t.tls().await;
    b.write_all(&hw_login(1, &token)).await.unwrap();
    assert_eq!(read_frame(&mut b).await, Some((0, 1, 200, vec![])));
    let device = t.device(&token).await;
    assert_eq!(device["connections"].as_array().unwrap().len(), 2);

    // A server-originated frame reaches both, in its own write.
    let shared = t.server.shared();
    let device_id = shared
        .store
        .backend()
        .device_by_token(&token)
        .unwrap()
        .unwrap()
        .id;
    let report = shared
        .sessions
        .send(device_id, &Message::ota(7777, "http://127.0.0.1/fw.bin"))
        .unwrap();
    assert_eq!(report.delivered, 2);
    let expected = Some((17, 7777, 27, b"ota\x00http://127.0.0.1/fw.bin".to_vec()));
    assert_eq!(read_frame(&mut a).await, expected);
    assert_eq!(read_frame(&mut b).await, expected);

    // Offline only when the last one goes.
    drop(a);
    eventually("one connection left", || async {
        t.device(&token).await["connections"]
            .as_array()
            .unwrap()
            .len()
            == 1
    })
    .await;
    assert_eq!(t.device(&token).await["online"], true);
    drop(b);
    t.wait_online(&token, false).await;
}

#[tokio::test]
async fn frames_above_buff_in_are_not_sent() {
    let t = start().await;
    let (token, mut s) = t.lamp_online().await;
    s.write_all(&frame(17, 2, b"ver\x000.3.1\x00buff-in\x0012"))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 2, 200, vec![])));
    let shared = t.server.shared();
    let id = shared
        .store
        .backend()
        .device_by_token(&token)
        .unwrap()
        .unwrap()
        .id;
    // 7-byte body + 5 ≤ 12 is delivered; 8 bytes is not (legacy test values).
    let fits = shared
        .sessions
        .send(id, &Message::hardware(9, &b"vw\x001\x0012"[..]))
        .unwrap();
    let too_big = shared
        .sessions
        .send(id, &Message::hardware(10, &b"vw\x001\x00123"[..]))
        .unwrap();
    assert_eq!(
        (fits.delivered, too_big.delivered, too_big.too_big),
        (1, 0, 1)
    );
    assert_eq!(
        read_frame(&mut s).await,
        Some((20, 9, 7, b"vw\x001\x0012".to_vec()))
    );
    assert_silent(&mut s, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn deleting_a_device_disconnects_it() {
    let t = start().await;
    let (token, mut s) = t.lamp_online().await;
    let r = t
        .admin("DELETE", &format!("/admin/devices/{token}"), None)
        .await;
    assert_eq!(r.status, 204);
    assert_closed(&mut s).await;
}

#[tokio::test]
async fn connection_cap_refuses_at_once() {
    let t = start_with(|c| c.max_connections = Some(2)).await;
    assert_eq!(t.server.connection_cap(), 2);
    let _a = t.plain().await;
    let _b = t.plain().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = t.plain().await;
    assert_closed(&mut c).await;
    // A slot frees up when a connection closes.
    drop(_a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut d = t.plain().await;
    d.write_all(&login(1, "0123456789abcdef0123456789abcdef"))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut d).await, Some((0, 1, 9, vec![])));
}

#[tokio::test]
async fn graceful_shutdown_closes_sessions_and_listeners() {
    let t = start().await;
    let (_, mut s) = t.lamp_online().await;
    let http_addr = t.server.http_addr();
    let TestServer { server, dir: _dir } = t;
    let handle = server.shutdown_handle();
    let waiting = tokio::spawn(server.wait());
    handle.shutdown();
    assert_closed(&mut s).await;
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    assert!(tokio::net::TcpStream::connect(http_addr).await.is_err());
}

#[tokio::test]
async fn port_in_use_is_a_clear_error() {
    let t = start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.https_port = t.server.https_addr().port();
    let err = blynk_server::Server::start(config).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("https.port") && msg.contains(&t.server.https_addr().to_string()),
        "{msg}"
    );
}

#[tokio::test]
async fn generated_certificate_is_reused() {
    let t = start().await;
    let fingerprint = t.server.fingerprint().to_owned();
    let TestServer { server, dir } = t;
    server.shutdown().await;
    let mut config = test_config(dir.path());
    config.http_port = 0;
    let again = blynk_server::Server::start(config).await.unwrap();
    assert_eq!(again.fingerprint(), fingerprint);
    again.shutdown().await;
}

/// A hook like the OTA layer will use: on info, send a frame to that connection.
struct OtaOnInfo;

impl blynk_server::SessionHooks for OtaOnInfo {
    fn info_reported(
        &self,
        shared: &blynk_server::Shared,
        conn: &blynk_server::sessions::ConnectionInfo,
        _info: &std::sync::Arc<blynk_proto::HardwareInfo>,
    ) {
        let url = format!("http://{}/fw.bin", conn.local);
        let report = shared
            .sessions
            .send_to_connection(conn.device, conn.id, &Message::ota(7777, url))
            .unwrap();
        assert_eq!(report.delivered, 1);
    }
}

#[tokio::test]
async fn hooks_see_info_after_the_ok_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let server = blynk_server::Server::start_with(
        test_config(dir.path()),
        None,
        std::sync::Arc::new(OtaOnInfo),
    )
    .await
    .unwrap();
    let t = TestServer { server, dir };
    let (_, mut s) = t.lamp_online().await;
    s.write_all(&frame(17, 2, BLYNKLIB_INFO)).await.unwrap();
    // The OK first, then the hook's frame (addressed with the local address).
    assert_eq!(read_frame(&mut s).await, Some((0, 2, 200, vec![])));
    let url = format!("http://{}/fw.bin", t.server.http_addr());
    let expected_body = [b"ota\0".as_slice(), url.as_bytes()].concat();
    let (command, id, len, body) = read_frame(&mut s).await.unwrap();
    assert_eq!(
        (command, id, usize::from(len)),
        (17, 7777, expected_body.len())
    );
    assert_eq!(body, expected_body);
}

#[tokio::test]
async fn shutdown_lets_an_http_request_in_flight_finish() {
    let t = start().await;
    let (_, mut device) = t.lamp_online().await;
    // Start a POST and send only half of its body.
    let body = r#"{"user":"b@x.io","project":"p","name":"late"}"#;
    let (first, rest) = body.split_at(10);
    let mut http = t.tls().await;
    let head = format!(
        "POST /admin/devices HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n{first}",
        basic(ADMIN, PASS),
        body.len()
    );
    http.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let TestServer { server, dir: _dir } = t;
    let handle = server.shutdown_handle();
    let waiting = tokio::spawn(server.wait());
    handle.shutdown();
    // Hardware sessions stay open while HTTP work is in flight...
    assert_silent(&mut device, Duration::from_millis(200)).await;
    // ...and the request completes after shutdown started...
    http.write_all(rest.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(
        IO_TIMEOUT,
        tokio::io::AsyncReadExt::read_to_end(&mut http, &mut raw),
    )
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    // ...then hardware sessions are closed and the server stops.
    assert_closed(&mut device).await;
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
}
