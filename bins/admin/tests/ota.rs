//! `ota start|stop|status` against an in-process server: the OTA guide's scenarios
//! (token, all devices, user, user + project, stop) and their error paths.

mod common;

use common::*;
use serde_json::Value;

const BUILD: &str = "Dec  4 2026 14:51:12";
const OLD_BUILD: &str = "Dec  1 2026 10:00:00";

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `--json ota start <args>`, which must succeed; its JSON reply.
async fn start_json(t: &TestServer, args: &[&str]) -> Value {
    t.run(&[&["--json", "ota", "start"][..], args].concat())
        .await
        .ok()
        .json()
}

#[tokio::test]
async fn token_campaign_end_to_end_with_watch() {
    let t = start().await;
    let token = t.add_device("pupkin@gmail.com", "123", "lamp").await;
    let mut device = t.device_online(&token, &esp_info(OLD_BUILD)).await;
    let image = fixture("esp8266_blnkinf.bin");
    let bytes = std::fs::read(&image).unwrap();

    let r = t
        .run(&[
            "--json",
            "ota",
            "start",
            image.to_str().unwrap(),
            "--token",
            &token,
        ])
        .await
        .ok();
    // Piped stdout: no progress bar.
    assert!(r.stderr.is_empty(), "{r:?}");
    let started = r.json();
    let campaign = started["campaign"].as_u64().unwrap();
    let fw = &started["firmware"];
    assert_eq!(fw["size"], bytes.len());
    assert_eq!(fw["md5"], md5_hex(&bytes));
    assert_eq!(fw["file_name"], "esp8266_blnkinf.bin");
    assert_eq!(fw["build"], BUILD);
    assert_eq!(fw["version"], "1.2.3");
    assert_eq!(fw["fw_type"], "TMPL0001");
    assert_eq!(fw["image_kind"], "esp8266");
    assert_eq!(started["target"]["type"], "token");
    assert_eq!(started["target"]["token"], token.as_str());
    assert_eq!(started["notified"], 1);

    // What `firmware info` predicted is what the server read.
    let local = t
        .run(&["--json", "firmware", "info", image.to_str().unwrap()])
        .await
        .ok()
        .json();
    for key in [
        "size",
        "md5",
        "sha256",
        "build",
        "version",
        "fw_type",
        "image_kind",
    ] {
        assert_eq!(local[key], fw[key], "{key}");
    }

    let url = device.ota_url().await;
    let status = t
        .run(&[
            "--json",
            "ota",
            "status",
            "--campaign",
            &campaign.to_string(),
        ])
        .await
        .ok()
        .json();
    let c = &status["campaigns"][0];
    assert_eq!(c["id"], campaign);
    assert_eq!(c["state"], "active");
    assert_eq!(c["initiator"], ADMIN);
    assert_eq!(c["devices"][0]["token"], token.as_str());
    assert_eq!(c["devices"][0]["state"], "sent");

    // Watch in the background while the device downloads and comes back updated.
    let url_arg = t.url();
    let cert = t.cert();
    let id = campaign.to_string();
    let watch = tokio::spawn(async move {
        run_raw(
            &[
                "--server",
                &url_arg,
                "--ca",
                cert.to_str().unwrap(),
                "ota",
                "status",
                "--campaign",
                &id,
                "--watch",
                "--interval",
                "0.1",
            ],
            &[],
        )
        .await
    });
    assert_eq!(download(&url).await, bytes);
    drop(device);
    let _device = t.device_online(&token, &esp_info(BUILD)).await;
    let watched = watch.await.unwrap().ok();
    let last = watched.stdout.rsplit("Campaign ").next().unwrap();
    assert!(last.contains(": finished"), "{watched:?}");
    let row = last.lines().find(|l| l.starts_with(&token)).unwrap();
    assert!(row.contains("updated"), "{row}");

    // Text status after the fact: one line per finished campaign, details on request.
    let r = t.run(&["ota", "status"]).await.ok();
    assert!(r.stdout.starts_with("Earlier campaigns"), "{r:?}");
    let line = r.stdout.lines().nth(1).unwrap();
    assert!(
        line.contains(&format!(
            "Campaign {campaign}: finished, target device {token}"
        )),
        "{line}"
    );
    assert!(line.ends_with("1 updated"), "{line}");
    let r = t
        .run(&["ota", "status", "--campaign", &campaign.to_string()])
        .await
        .ok();
    assert!(r.stdout.contains("devices: 1 updated"), "{r:?}");
    assert!(
        r.stdout.contains("TOKEN") && r.stdout.contains("100% 4.0 KiB/4.0 KiB"),
        "{r:?}"
    );
}

#[tokio::test]
async fn text_output_of_start() {
    let t = start().await;
    let token = t.add_device("pupkin@gmail.com", "123", "lamp").await;
    let _device = t.device_online(&token, &esp_info(OLD_BUILD)).await;
    let image = fixture("esp8266_blnkinf.bin");
    let r = t
        .run(&["ota", "start", image.to_str().unwrap(), "--token", &token])
        .await
        .ok();
    assert!(
        r.stdout.contains(&format!(
            "started for device {token}; 1 device told to update now."
        )),
        "{r:?}"
    );
    for text in [
        "esp8266_blnkinf.bin",
        "/static/ota/",
        BUILD,
        "TMPL0001",
        "1.2.3",
        "esp8266",
    ] {
        assert!(r.stdout.contains(text), "{text:?} not in {}", r.stdout);
    }
    assert!(r.stderr.is_empty(), "no progress bar when piped: {r:?}");
}

#[tokio::test]
async fn deferred_campaigns_all_user_project_and_stop() {
    let t = start().await;
    let token = t.add_device("pupkin@gmail.com", "123", "lamp").await;
    t.add_device("other@x.io", "home", "fan").await;
    let image = fixture("esp8266_blnkinf.bin");
    let file = image.to_str().unwrap();

    // All devices (no target), like `curl -F file=@fw.bin .../admin/ota/start`.
    let all = start_json(&t, &[file]).await;
    assert_eq!(all["target"], serde_json::json!({"type": "all"}));
    assert_eq!(all["notified"], 0);
    // One user.
    let user = start_json(&t, &[file, "--user", "pupkin@gmail.com"]).await;
    assert_eq!(user["target"]["type"], "user");
    assert_eq!(user["target"]["user"], "pupkin@gmail.com");
    // One user's project, with options.
    let project = start_json(
        &t,
        &[
            file,
            "--user",
            "pupkin@gmail.com",
            "--project",
            "123",
            "--force",
            "--max-attempts",
            "5",
        ],
    )
    .await;
    assert_eq!(project["target"]["type"], "user_project");
    assert_eq!(project["target"]["project"], "123");
    let id = project["campaign"].as_u64().unwrap();
    let status = t
        .run(&["--json", "ota", "status", "--campaign", &id.to_string()])
        .await
        .ok()
        .json();
    let options = &status["campaigns"][0]["options"];
    assert_eq!(options["force"], true);
    assert_eq!(options["max_attempts"], 5);
    assert_eq!(options["notify_online"], false);

    // The deferred campaign reaches the device when it connects.
    let mut device = t.device_online(&token, &esp_info(OLD_BUILD)).await;
    let url = device.ota_url().await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    // Status lists every campaign, newest first.
    let listed = t.run(&["--json", "ota", "status"]).await.ok().json();
    let ids: Vec<u64> = listed["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert!(ids.contains(&id), "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    // Stop one, then all.
    let r = t
        .run(&["ota", "stop", "--campaign", &id.to_string()])
        .await
        .ok();
    assert_eq!(r.stdout.trim(), format!("Stopped campaign {id}."));
    let stopped = t.run(&["--json", "ota", "stop"]).await.ok().json();
    let remaining: Vec<Value> = stopped["stopped"].as_array().unwrap().clone();
    assert!(!remaining.contains(&Value::from(id)));
    assert!(remaining.contains(&all["campaign"]) || remaining.contains(&user["campaign"]));
    let r = t.run(&["ota", "stop"]).await.ok();
    assert_eq!(r.stdout.trim(), "No active campaign to stop.");
    let listed = t.run(&["--json", "ota", "status"]).await.ok().json();
    assert!(
        listed["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["state"] != "active"),
        "{listed}"
    );
    // --watch returns at once when nothing is active.
    t.run(&["ota", "status", "--watch", "--interval", "0.1"])
        .await
        .ok();
}

#[tokio::test]
async fn notify_online_tells_connected_devices_now() {
    let t = start().await;
    let token = t.add_device("pupkin@gmail.com", "123", "lamp").await;
    let mut device = t.device_online(&token, &esp_info(OLD_BUILD)).await;
    let image = fixture("esp8266_blnkinf.bin");
    let started = start_json(
        &t,
        &[
            image.to_str().unwrap(),
            "--user",
            "pupkin@gmail.com",
            "--notify-online",
        ],
    )
    .await;
    assert_eq!(started["notified"], 1);
    device.ota_url().await;
}

#[tokio::test]
async fn ota_error_paths() {
    let t = start().await;
    let image = fixture("esp8266_blnkinf.bin");
    let file = image.to_str().unwrap();

    t.run(&["ota", "start", file, "--token", "no-such-token"])
        .await
        .fails(EXIT_REJECTED, "Invalid token. (HTTP 400)");
    let offline = t.add_device("pupkin@gmail.com", "123", "lamp").await;
    t.run(&["ota", "start", file, "--token", &offline])
        .await
        .fails(EXIT_REJECTED, "No device in session. (HTTP 400)");
    t.run(&["ota", "start", file, "--user", "nobody@x.io"])
        .await
        .fails(EXIT_REJECTED, "Requested user not found. (HTTP 400)");
    // A deferred campaign needs a build string.
    let plain = fixture("esp8266_plain.bin");
    t.run(&["ota", "start", plain.to_str().unwrap()])
        .await
        .fails(EXIT_REJECTED, "no build information");
    t.run(&["ota", "stop", "--campaign", "999"])
        .await
        .fails(EXIT_REJECTED, "Unknown campaign 999. (HTTP 404)");
    t.run(&["ota", "status", "--campaign", "999"])
        .await
        .fails(EXIT_REJECTED, "Unknown campaign 999.");
    t.run(&["--user-pass", "admin@blynk.cc:wrong", "ota", "start", file])
        .await
        .fails(EXIT_AUTH, "Authentication failed.");
    t.run(&["ota", "start", "/nonexistent/fw.bin"])
        .await
        .fails(EXIT_FILE, "/nonexistent/fw.bin");
    let r = t
        .run(&["--json", "ota", "start", file, "--token", "no-such-token"])
        .await;
    let e = r.error_json();
    assert_eq!(e["message"], "Invalid token.");
    assert_eq!(e["status"], 400);
    assert_eq!(e["exit_code"], EXIT_REJECTED);
}

/// An upload larger than socket buffers: streamed, exact, and early rejections (before
/// the server reads the body) still show the server's message.
#[tokio::test]
async fn large_upload_and_early_rejection() {
    let t = start().await;
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    let mut content = std::fs::read(fixture("esp8266_blnkinf.bin")).unwrap();
    content.extend((0..6 * 1024 * 1024u32).map(|i| (i % 251) as u8));
    std::fs::write(&big, &content).unwrap();
    let file = big.to_str().unwrap();

    let token = t.add_device("pupkin@gmail.com", "123", "lamp").await;
    t.run(&["ota", "start", file, "--token", &token])
        .await
        .fails(EXIT_REJECTED, "No device in session.");
    t.run(&["--user-pass", "admin@blynk.cc:wrong", "ota", "start", file])
        .await
        .fails(EXIT_AUTH, "Authentication failed.");

    let _device = t.device_online(&token, &esp_info(OLD_BUILD)).await;
    let started = start_json(&t, &[file, "--token", &token]).await;
    assert_eq!(started["firmware"]["size"], content.len());
    assert_eq!(started["firmware"]["md5"], md5_hex(&content));
}

#[tokio::test]
/// Larger than socket buffers: whether the server refuses it from the declared length
/// (then, with `Expect: 100-continue`, nothing is sent) or while the body is still being
/// sent (`early_close` unit test), the operator gets its message.
async fn too_large_image_is_refused_with_the_limit() {
    let t = start_with(|c| c.max_firmware_size = 64 * 1024).await;
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![0xE9u8; 4 * 1024 * 1024]).unwrap();
    t.run(&["ota", "start", big.to_str().unwrap()])
        .await
        .fails(EXIT_REJECTED, "larger than the limit of 65536 bytes");
}

#[tokio::test]
async fn resend_a_stored_image() {
    let t = start().await;
    let token = t.add_device("pupkin@gmail.com", "123", "lamp").await;
    t.run(&["ota", "resend", "--token", &token])
        .await
        .fails(EXIT_REJECTED, "No device in session.");
    let mut device = t.device_online(&token, &esp_info(OLD_BUILD)).await;
    t.run(&["ota", "resend", "--token", &token]).await.fails(
        EXIT_REJECTED,
        "No firmware has been uploaded yet. (HTTP 404)",
    );

    let image = fixture("esp8266_blnkinf.bin");
    let first = start_json(&t, &[image.to_str().unwrap(), "--token", &token]).await;
    device.ota_url().await;
    let stored = first["firmware"]["path"].as_str().unwrap();
    let name = stored.rsplit('/').next().unwrap();

    let again = t
        .run(&[
            "--json",
            "ota",
            "resend",
            "--token",
            &token,
            "--file-name",
            name,
        ])
        .await
        .ok()
        .json();
    assert_ne!(again["campaign"], first["campaign"]);
    assert_eq!(again["firmware"]["sha256"], first["firmware"]["sha256"]);
    assert_eq!(again["notified"], 1);
    device.ota_url().await;
    // Without a name: the newest upload; text output as for start.
    let r = t.run(&["ota", "resend", "--token", &token]).await.ok();
    assert!(
        r.stdout.contains(&format!("started for device {token}")),
        "{r:?}"
    );
    t.run(&[
        "ota",
        "resend",
        "--token",
        &token,
        "--file-name",
        "nope.bin",
    ])
    .await
    .fails(EXIT_REJECTED, "No firmware named nope.bin. (HTTP 404)");
}

/// `--json ota status --watch`: one JSON document per change, ends when the campaign
/// is no longer active (here: stopped by another command).
#[tokio::test]
async fn json_watch_until_stopped() {
    let t = start().await;
    let (id, mut child, mut out, _err) = watched_campaign(&t).await;
    let first = next_doc(&mut out).await.unwrap();
    assert_eq!(first["campaigns"][0]["state"], "active");
    t.run(&["ota", "stop", "--campaign", &id]).await.ok();
    let mut last = first;
    while let Some(doc) = next_doc(&mut out).await {
        last = doc;
    }
    assert_eq!(last["campaigns"][0]["state"], "stopped");
    let status = tokio::time::timeout(IO_TIMEOUT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

/// The progress bar shows when stdout is a terminal (run under `script`, which gives the
/// command a pseudo-terminal; util-linux, present on every Debian system), and not with
/// `--json` even then.
#[tokio::test]
async fn progress_bar_only_on_a_terminal() {
    let t = start().await;
    let token = t.add_device("pupkin@gmail.com", "123", "lamp").await;
    let _device = t.device_online(&token, &esp_info(OLD_BUILD)).await;
    let image = fixture("esp8266_blnkinf.bin");
    let on_tty = async |extra: &str| {
        let command = format!(
            "'{}' --server '{}' --ca '{}' {extra} ota start '{}' --token='{token}'",
            env!("CARGO_BIN_EXE_blynk-admin"),
            t.url(),
            t.cert().display(),
            image.display(),
        );
        let out = tokio::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env_remove("BLYNK_ADMIN")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("`script` (util-linux) runs the command on a pseudo-terminal");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = on_tty("").await;
    assert!(
        text.contains("] 100%") && text.contains("4.0 KiB/4.0 KiB"),
        "{text:?}"
    );
    assert!(text.contains("1 device told to update now"), "{text:?}");
    let json = on_tty("--json").await;
    assert!(!json.contains("100%"), "{json:?}");
    assert!(json.contains("\"campaign\""), "{json:?}");
}

/// `ota status --watch` waits out a server restart: the campaign survives it, and the
/// watcher reports the state the restarted server gives.
#[tokio::test]
async fn watch_survives_a_server_restart() {
    let t = start().await;
    let (id, mut child, mut out, mut err) = watched_campaign(&t).await;
    let first = next_doc(&mut out).await.unwrap();
    assert_eq!(first["campaigns"][0]["state"], "active");

    // Restart on the same ports and data folder.
    let TestServer { server, dir } = t;
    let (http, https) = (server.http_addr().port(), server.https_addr().port());
    server.shutdown().await;
    let down = next_line(&mut err).await.unwrap();
    assert!(
        down.contains("connection to") && down.contains("retrying"),
        "{down}"
    );
    let t = start_in(dir, |c| {
        c.http_port = http;
        c.https_port = https;
    })
    .await;
    t.run(&["ota", "stop", "--campaign", &id]).await.ok();
    let back = next_line(&mut err).await.unwrap();
    assert!(back.contains("back"), "{back}");
    let mut last = first;
    while let Some(doc) = next_doc(&mut out).await {
        last = doc;
    }
    assert_eq!(last["campaigns"][0]["state"], "stopped");
    let status = tokio::time::timeout(IO_TIMEOUT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}
