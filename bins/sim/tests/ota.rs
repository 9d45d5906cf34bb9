//! The CI-sized OTA run: 200 simulated ESP8266 devices against the real in-process
//! server, a deferred campaign for every device, 10 % of downloads dropped midway.
//! Every device must end `Updated` or `Failed(reason)`, and no device may receive more
//! OTA commands than the attempt budget — as the simulator saw it and as the server's
//! campaign status says.
//!
//! Two runs: the campaign started through the admin API like an operator would (default
//! options: a failed attempt is retried only after 1 minute, so within a CI run the
//! devices that hit a fault stay `Failed` on the device side and `pending` on the
//! server), and the campaign started through the server library with a 300 ms backoff so
//! retries happen inside the test.

mod common;

const DEVICES: u64 = 200;

/// Options both runs share: 10 % of downloads dropped, budget 3, quick reboots, 40 s bound.
const SHARED: &[&str] = &[
    "--spread",
    "8",
    "--drop-download",
    "10",
    "--max-attempts",
    "3",
    "--reboot-delay-ms",
    "100",
    "--reconnect-delay-ms",
    "200",
    "--duration",
    "40",
];

/// Runs the fleet; returns the summary and its text (also printed).
#[allow(clippy::unwrap_used)] // test helper
async fn run(args: blynk_sim::cli::RunArgs) -> (blynk_sim::Summary, String) {
    let s = blynk_sim::fleet::run(&args).await.unwrap();
    let report = s.text();
    eprintln!("{report}");
    (s, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_campaign_with_injected_download_failures() {
    let server = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("fw-0.2.0.bin");
    let bytes =
        blynk_sim::image::esp8266_image(64 * 1024, "0.2.0", "TMPL0001", "Dec  5 2026 10:00:00");
    std::fs::write(&image, &bytes).unwrap();
    let devices = DEVICES.to_string();
    let args = server.args(
        &[
            SHARED,
            &[
                "--create",
                &devices,
                "--campaign-image",
                image.to_str().unwrap(),
                "--storm",
                "--until-devices-done",
            ],
        ]
        .concat(),
    );
    let (s, report) = run(args).await;

    // Simulator side.
    assert_eq!(s.devices, DEVICES);
    assert_eq!(s.connected, DEVICES, "{report}");
    assert_eq!(
        s.outcome("updated") + s.outcome("failed"),
        DEVICES,
        "{report}"
    );
    assert_eq!(s.over_budget, 0, "{report}");
    assert!(s.max_commands_per_device <= 3, "{report}");
    // One attempt each within the run: about 10 % fail.
    assert!(s.outcome("updated") >= DEVICES * 7 / 10, "{report}");
    assert!(s.downloads_failed > 0, "faults were injected: {report}");
    for reason in s.failure_reasons.keys() {
        assert!(!reason.is_empty());
    }
    assert!(s.bytes_downloaded >= s.downloads_ok * bytes.len() as u64);

    // Server side: updated as the devices say; the rest wait for the 1-minute backoff
    // (`pending`) or failed; nobody beyond the budget. The server records the last
    // devices' new build a moment after they sent it: poll for up to 5 s.
    let id = s.server_campaign.as_ref().expect("campaign status").id;
    let mut admin = server.admin_client().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let c = loop {
        let status = admin.ota_status(id).await.unwrap();
        let c = blynk_sim::fleet::server_campaign(&status, id).unwrap();
        let settled = c
            .states
            .keys()
            .all(|state| ["updated", "pending", "failed"].contains(&state.as_str()));
        if settled || tokio::time::Instant::now() > deadline {
            break c;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let report = format!("{report}server at the end: {c:?}");
    assert_eq!(c.over_budget, 0, "{report}");
    assert!(c.max_attempts <= 3, "{report}");
    assert_eq!(c.states.values().sum::<u64>(), DEVICES, "{report}");
    let updated = c.states.get("updated").copied().unwrap_or(0);
    assert_eq!(updated, s.outcome("updated"), "{report}");
    for state in c.states.keys() {
        assert!(
            ["updated", "pending", "failed"].contains(&state.as_str()),
            "{report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_within_the_budget_with_a_short_backoff() {
    let server = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.txt");
    let id = devices_and_campaign(&server, DEVICES, &tokens).await;

    let args = server.args(
        &[
            SHARED,
            &[
                "--tokens",
                tokens.to_str().unwrap(),
                "--campaign",
                &id,
                "--until-settled",
                "--bad-md5",
                "5",
            ],
        ]
        .concat(),
    );
    let (s, report) = run(args).await;
    assert_eq!(s.connected, DEVICES, "{report}");
    assert_eq!(
        s.outcome("updated") + s.outcome("failed"),
        DEVICES,
        "{report}"
    );
    assert_eq!(s.over_budget, 0, "{report}");
    // Some devices needed a second or third command.
    assert!(s.max_commands_per_device >= 2, "{report}");
    let c = s.server_campaign.as_ref().expect("campaign status");
    assert_eq!(c.over_budget, 0, "{report}");
    assert!(c.max_attempts <= 3, "{report}");
    let updated = c.states.get("updated").copied().unwrap_or(0);
    let failed = c.states.get("failed").copied().unwrap_or(0);
    assert_eq!(updated + failed, DEVICES, "{report}");
    assert_eq!(updated, s.outcome("updated"), "{report}");
    assert_eq!(failed, s.outcome("failed"), "{report}");
}

/// Registers `devices` devices (tokens written to `tokens`), then starts a deferred
/// campaign for every device through the server library with a 300 ms backoff (the
/// admin API has no backoff option); returns the campaign id.
#[allow(clippy::unwrap_used)] // test helper
async fn devices_and_campaign(
    server: &common::TestServer,
    devices: u64,
    tokens: &std::path::Path,
) -> String {
    use blynk_server::ota::{StartRequest, TargetSpec};
    let created = server.args(&[
        "--create",
        &devices.to_string(),
        "--tokens-out",
        tokens.to_str().unwrap(),
        "--duration",
        "10",
    ]);
    let first = blynk_sim::fleet::run(&created).await.unwrap();
    assert_eq!(first.connected, devices);
    let bytes =
        blynk_sim::image::esp8266_image(64 * 1024, "0.2.0", "TMPL0001", "Dec  5 2026 10:00:00");
    let shared = server.server.shared();
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))]);
    let ingested = shared
        .ota
        .firmware()
        .ingest(chunks, Some("fw-0.2.0.bin"))
        .await
        .unwrap();
    let options = ota_core::CampaignOptions {
        max_attempts: 3,
        backoff_ms: vec![300],
        ..ota_core::CampaignOptions::default()
    };
    let started = shared
        .ota
        .start_campaign(StartRequest {
            target: TargetSpec::All,
            firmware: ingested.info,
            created: ingested.created,
            options,
            initiator: "admin@blynk.cc".into(),
        })
        .await
        .unwrap();
    started.campaign.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_devices_and_old_builds_are_reported_and_stay_within_budget() {
    use blynk_sim::fault::{FaultKind, Faults};
    const N: u64 = 60;
    let server = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.txt");
    let id = devices_and_campaign(&server, N, &tokens).await;
    let args = server.args(&[
        "--tokens",
        tokens.to_str().unwrap(),
        "--campaign",
        &id,
        "--never-reconnect",
        "10",
        "--old-build",
        "20",
        "--reboot-delay-ms",
        "50",
        "--reconnect-delay-ms",
        "100",
        "--hold",
        "3",
        "--duration",
        "30",
    ]);
    let s = blynk_sim::fleet::run(&args).await.unwrap();
    let report = s.text();
    eprintln!("{report}");
    let faults = Faults {
        never_reconnect: 10.0,
        seed: 1,
        ..Faults::default()
    };
    let lost = (0..N)
        .filter(|&i| faults.hits(FaultKind::NeverReconnect, i, 0))
        .count() as u64;
    assert!(lost > 0, "the seed hits some devices");
    assert_eq!(s.outcome("lost"), lost, "{report}");
    assert_eq!(
        s.outcome("updated") + s.outcome("failed") + lost,
        N,
        "{report}"
    );
    assert_eq!(s.over_budget, 0, "{report}");
    assert!(
        s.max_commands_per_device >= 2,
        "old builds were retried: {report}"
    );
    for reason in s.failure_reasons.keys() {
        assert_eq!(reason, "rebooted into the old build (injected)", "{report}");
    }
    let c = s.server_campaign.as_ref().expect("campaign status");
    assert_eq!(c.over_budget, 0, "{report}");
}
