//! The simulator against a real in-process server (no OTA): device creation through the
//! admin API, plain and TLS sessions, both login commands and info layouts, a reconnect
//! storm, flood mode, and the download client against the loopback baseline server.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_fleet_with_storm_and_traffic() {
    let server = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.txt");
    let args = server.args(&[
        "--create",
        "60",
        "--tokens-out",
        tokens.to_str().unwrap(),
        "--spread",
        "4",
        "--ramp",
        "2000",
        "--hardware-rate",
        "20",
        "--storm",
        "--hold",
        "0.3",
        "--duration",
        "20",
    ]);
    let s = blynk_sim::fleet::run(&args).await.unwrap();
    assert_eq!(
        (s.devices, s.connected, s.online_at_end),
        (60, 60, 60),
        "{}",
        s.text()
    );
    assert_eq!(s.outcome("no_command"), 60);
    let storm = s.storm.clone().unwrap();
    assert_eq!(storm.count, 60);
    // Every device logged in twice (ramp + storm).
    assert_eq!(s.logins, 120);
    assert_eq!(s.login_ms.count, 120);
    assert_eq!(
        std::fs::read_to_string(&tokens).unwrap().lines().count(),
        60
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_legacy_login_and_flood() {
    let server = common::start().await;
    let created = server.args(&["--create", "8", "--duration", "5"]);
    let first = blynk_sim::fleet::run(&created).await.unwrap();
    assert_eq!(first.connected, 8);
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("t.txt");
    let args = server.tls_args(&[
        "--create",
        "4",
        "--tokens-out",
        tokens.to_str().unwrap(),
        "--login",
        "login",
        "--info",
        "legacy",
        "--flood",
        "hardware",
        "--flood-seconds",
        "0.3",
        "--duration",
        "20",
    ]);
    let s = blynk_sim::fleet::run(&args).await.unwrap();
    assert_eq!(s.connected, 4, "{}", s.text());
    let flood = s.flood.unwrap();
    assert!(flood.count > 0 && flood.per_second > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tokens_are_not_connected() {
    let server = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("bad.txt");
    std::fs::write(&tokens, "0123456789abcdef0123456789abcdef\n").unwrap();
    let args = server.args(&[
        "--tokens",
        tokens.to_str().unwrap(),
        "--connect-timeout",
        "2",
        "--duration",
        "5",
    ]);
    let s = blynk_sim::fleet::run(&args).await.unwrap();
    assert_eq!(s.connected, 0);
    assert_eq!(s.outcome("not_connected"), 1);
    assert_eq!(s.failure_reasons.get("invalid token"), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_client_against_the_baseline_server() {
    let image =
        blynk_sim::image::esp8266_image(64 * 1024, "0.2.0", "TMPL0001", "Dec  5 2026 10:00:00");
    let b = blynk_sim::baseline::run(image, 20, 5, 3, 128)
        .await
        .unwrap();
    assert_eq!((b.downloads, b.failed, b.bytes), (20, 0, 20 * 64 * 1024));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_metrics_show_the_cap_and_the_connected_fleet() {
    let server = common::start().await;
    let args = server.args(&["--create", "25", "--hold", "3", "--duration", "20"]);
    let fleet = tokio::spawn(async move { blynk_sim::fleet::run(&args).await });
    let shared = std::sync::Arc::clone(server.server.shared());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while shared.sessions.connection_count() < 25 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "devices did not connect"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut client = server.admin_client().await;
    let r = client
        .request(
            http::Method::GET,
            "/admin/metrics",
            None,
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    let text = r.text();
    assert_eq!(r.status, 200, "{text}");
    let cap = format!("blynk_connection_cap {}\n", server.server.connection_cap());
    assert!(text.contains(&cap), "{text}");
    assert!(text.contains("blynk_hardware_connections 25\n"), "{text}");
    assert!(text.contains("blynk_devices_online 25\n"), "{text}");
    assert!(text.contains("blynk_open_files_limit "), "{text}");
    let s = fleet.await.unwrap().unwrap();
    assert_eq!(s.connected, 25);
}
