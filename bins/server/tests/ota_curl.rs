//! The seed's five curl commands (`../shared/seed/OTA.md`) run through the `curl`
//! binary, verbatim except host, port and the token/user values of this test's devices.
//! The image is copied to `Template_ESP8266.ino.nodemcu.bin` in curl's working folder, so
//! even the file argument is the seed's. Skipped with a visible message if curl is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

fn curl_available() -> bool {
    std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `curl <args>` (the seed's words) in `cwd`; returns the status code from `-v`
/// output and the body.
async fn curl(cwd: &std::path::Path, args: &[&str]) -> (u16, String) {
    let out = tokio::process::Command::new("curl")
        .args(args)
        .current_dir(cwd)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "curl {args:?} failed: {stderr}");
    let status = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("< HTTP/"))
        .next_back()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in: {stderr}"));
    (status, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn the_seeds_curl_commands_work_as_written() {
    if !curl_available() {
        eprintln!(
            "SKIPPED: the `curl` binary is not installed; the seed's curl commands were not run"
        );
        return;
    }
    let t = start().await;
    let port = t.server.https_addr().port();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("Template_ESP8266.ino.nodemcu.bin"),
        firmware_fixture("esp8266_legacy_build.bin"),
    )
    .unwrap();
    let token = t.create_device("pupkin@gmail.com", "123", "nodemcu").await;
    let mut device = device_with_info(&t, &token, &info_with_build("111")).await;
    let base = format!("https://localhost:{port}");
    // `curl -v -F file=@Template_ESP8266.ino.nodemcu.bin --insecure -u admin@blynk.cc:admin <url>`
    let upload = |url: String| {
        let dir = work.path().to_path_buf();
        async move {
            curl(
                &dir,
                &[
                    "-v",
                    "-F",
                    "file=@Template_ESP8266.ino.nodemcu.bin",
                    "--insecure",
                    "-u",
                    "admin@blynk.cc:admin",
                    &url,
                ],
            )
            .await
        }
    };

    // Trigger update for the specific hardware (the seed's token 123 is unknown here).
    let (status, body) = upload(format!("{base}/admin/ota/start?token=123")).await;
    assert_eq!((status, body.as_str()), (400, "Invalid token."));
    let (status, body) = upload(format!("{base}/admin/ota/start?token={token}")).await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json["firmware"]["file_name"],
        "Template_ESP8266.ino.nodemcu.bin"
    );
    assert_eq!(json["notified"], 1);
    read_ota(&mut device).await;

    // Trigger OTA for all devices.
    let (status, body) = upload(format!("{base}/admin/ota/start")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""type":"all""#), "{body}");

    // Trigger OTA for the specific user.
    let (status, body) = upload(format!("{base}/admin/ota/start?user=pupkin@gmail.com")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""type":"user""#), "{body}");

    // Trigger OTA for the specific user and project.
    let (status, body) = upload(format!(
        "{base}/admin/ota/start?user=pupkin@gmail.com&project=123"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""type":"user_project""#), "{body}");

    // Stop OTA.
    let (status, body) = curl(
        work.path(),
        &[
            "-v",
            "--insecure",
            "-u",
            "admin@blynk.cc:admin",
            &format!("{base}/admin/ota/stop"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let stopped: serde_json::Value = serde_json::from_str(&body).unwrap();
    // Every campaign above was still active: the token one (its device has not reported
    // back), all devices, the user, and the user's project.
    assert_eq!(
        stopped["stopped"],
        serde_json::json!([1, 2, 3, 4]),
        "{body}"
    );
    let status = t.ota_status().await;
    let states: Vec<&str> = status["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert!(states.iter().all(|s| *s != "active"), "{states:?}");
}

/// curl sends `Expect: 100-continue` for large files: an upload declared over the limit
/// is answered 413 before any of it is sent; one just over the limit is read up to the
/// limit and still gets its 413.
#[tokio::test]
async fn curl_sees_413_for_over_size_uploads() {
    if !curl_available() {
        eprintln!(
            "SKIPPED: the `curl` binary is not installed; the over-size curl upload was not run"
        );
        return;
    }
    let limit = 1024 * 1024;
    let t = start_with(|c| c.max_firmware_size = limit).await;
    let work = tempfile::tempdir().unwrap();
    let url = format!(
        "https://localhost:{}/admin/ota/start",
        t.server.https_addr().port()
    );
    for (name, size) in [
        ("big.bin", 3 * limit as usize),
        ("edge.bin", limit as usize + 10_000),
    ] {
        let mut image = vec![0xE9u8, 1, 0, 0];
        image.resize(size, 7);
        std::fs::write(work.path().join(name), &image).unwrap();
        let file = format!("file=@{name}");
        let (status, body) = curl(
            work.path(),
            &[
                "-v",
                "-F",
                &file,
                "--insecure",
                "-u",
                "admin@blynk.cc:admin",
                &url,
            ],
        )
        .await;
        assert_eq!(status, 413, "{name}: {body}");
        assert_eq!(
            body,
            format!("Firmware image is larger than the limit of {limit} bytes.")
        );
    }
    assert_eq!(t.blob_count(), 0);
}
