//! Bad input to the OTA admin API: every failure gets a clear answer and leaves nothing
//! stored.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

#[tokio::test]
async fn missing_or_wrong_auth_stores_nothing() {
    let t = start().await;
    let (ct, body) = multipart(&[(
        "file",
        Some("fw.bin"),
        &firmware_fixture("esp8266_legacy_build.bin"),
    )]);
    let missing = t.post_multipart("", &ct, &body, None).await;
    assert_eq!(missing.status, 401);
    assert!(
        missing
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic")
    );
    let wrong = t
        .post_multipart("", &ct, &body, Some(&basic(ADMIN, "nope")))
        .await;
    assert_eq!(
        (wrong.status, wrong.text().as_str()),
        (403, "Authentication failed.")
    );
    assert_eq!(t.blob_count(), 0);
    assert_eq!(t.ota_status().await["campaigns"], serde_json::json!([]));
    for path in ["/admin/ota/stop", "/admin/ota/status"] {
        let r = t
            .request("GET", path, None, Some(&basic("x@y.z", "bad")))
            .await;
        assert_eq!(r.status, 403, "{path}");
    }
}

#[tokio::test]
async fn not_multipart_and_no_file_part() {
    let t = start().await;
    let r = t
        .post_multipart(
            "",
            "application/octet-stream",
            &firmware_fixture("esp8266_plain.bin"),
            Some(&basic(ADMIN, PASS)),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("multipart/form-data"), "{}", r.text());
    let (ct, body) = multipart(&[("comment", None, b"hello")]);
    let r = t
        .post_multipart("", &ct, &body, Some(&basic(ADMIN, PASS)))
        .await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Can't find binary data in request.")
    );
    assert_eq!(t.blob_count(), 0);
}

#[tokio::test]
async fn two_file_parts_use_the_first_and_store_only_it() {
    let t = start().await;
    let first = firmware_fixture("esp8266_legacy_build.bin");
    let second = firmware_fixture("esp8266_blnkinf.bin");
    let (ct, body) = multipart(&[
        ("a", Some("one.bin"), &first),
        ("b", Some("two.bin"), &second),
    ]);
    let r = t
        .post_multipart("", &ct, &body, Some(&basic(ADMIN, PASS)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let fw = &r.json()["firmware"];
    assert_eq!(fw["file_name"], "one.bin");
    assert_eq!(fw["size"], first.len());
    assert_eq!(fw["build"], LEGACY_BUILD);
    assert_eq!(t.blob_count(), 1);
}

#[tokio::test]
async fn truncated_multipart_stores_nothing() {
    let t = start().await;
    let (ct, body) = multipart(&[(
        "file",
        Some("fw.bin"),
        &firmware_fixture("esp8266_legacy_build.bin"),
    )]);
    let cut = &body[..body.len() / 2];
    let r = t
        .post_multipart("", &ct, cut, Some(&basic(ADMIN, PASS)))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().starts_with("Malformed multipart body"),
        "{}",
        r.text()
    );
    // Complete file part but no closing boundary.
    let no_end = &body[..body.len() - 4 - "----blynkotatestboundary7MA4YWxkTrZu0gW".len() - 4];
    let r = t
        .post_multipart("", &ct, no_end, Some(&basic(ADMIN, PASS)))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(t.blob_count(), 0);
    assert_eq!(t.ota_status().await["campaigns"], serde_json::json!([]));
}

#[tokio::test]
async fn over_size_upload_is_413_and_stores_nothing() {
    let t = start_with(|c| c.max_firmware_size = 1000).await;
    let r = t.upload("", &firmware_fixture("esp8266_plain.bin")).await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (
            413,
            "Firmware image is larger than the limit of 1000 bytes."
        )
    );
    assert_eq!(t.blob_count(), 0);
    assert!(
        std::fs::read_dir(t.dir.path().join("firmware/tmp"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[tokio::test]
async fn path_traversal_in_the_file_name_is_only_a_display_name() {
    let t = start().await;
    let image = firmware_fixture("esp8266_legacy_build.bin");
    let (ct, body) = multipart(&[("file", Some("../../../evil.bin"), &image)]);
    let r = t
        .post_multipart("", &ct, &body, Some(&basic(ADMIN, PASS)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let fw = &r.json()["firmware"];
    assert_eq!(fw["file_name"], "evil.bin");
    let path = fw["path"].as_str().unwrap();
    assert!(
        path.starts_with("/static/ota/") && !path.contains(".."),
        "{path}"
    );
    assert!(!t.dir.path().parent().unwrap().join("evil.bin").exists());
    for p in [
        "/static/ota/../../evil.bin",
        "/static/ota/..%2Fevil.bin",
        "/static/ota/evil.bin",
    ] {
        assert_eq!(t.http_get("GET", p, &[]).await.status, 404, "{p}");
    }
}

#[tokio::test]
async fn deferred_campaign_without_build_information_is_refused_and_the_blob_removed() {
    let t = start().await;
    t.create_device("a@x.io", "home", "lamp").await;
    for query in ["", "?user=a@x.io", "?user=A@X.io&project=home"] {
        let r = t
            .upload(query, &firmware_fixture("esp8266_plain.bin"))
            .await;
        assert_eq!(r.status, 400, "{query}");
        assert!(
            r.text().starts_with("This image has no build information"),
            "{}",
            r.text()
        );
    }
    assert_eq!(t.blob_count(), 0);
}

#[tokio::test]
async fn unknown_campaign_ids_and_bad_options() {
    let t = start().await;
    for path in [
        "/admin/ota/stop?campaign=999",
        "/admin/ota/status?campaign=999",
    ] {
        let r = t.admin_get(path).await;
        assert_eq!(
            (r.status, r.text().as_str()),
            (404, "Unknown campaign 999."),
            "{path}"
        );
    }
    assert_eq!(
        t.admin_get("/admin/ota/status?campaign=abc").await.status,
        404
    );
    let r = t
        .upload(
            "?max_attempts=0",
            &firmware_fixture("esp8266_legacy_build.bin"),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = t
        .upload(
            "?force=maybe",
            &firmware_fixture("esp8266_legacy_build.bin"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(t.blob_count(), 0);
    // Options are kept with the campaign.
    let r = t
        .upload(
            "?max_attempts=5&force=true&notify_online=true",
            &firmware_fixture("esp8266_legacy_build.bin"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["campaign"].as_u64().unwrap();
    let s = t
        .admin_get(&format!("/admin/ota/status?campaign={id}"))
        .await
        .json();
    assert_eq!(
        s["campaigns"][0]["options"],
        serde_json::json!({"force": true, "notify_online": true, "max_attempts": 5})
    );
    let r = t.admin_get(&format!("/admin/ota/stop?campaign={id}")).await;
    assert_eq!(r.json()["stopped"], serde_json::json!([id]));
    // The admin routes refuse other methods.
    assert_eq!(
        t.admin("DELETE", "/admin/ota/start", None).await.status,
        405
    );
}

#[tokio::test]
async fn command_that_does_not_fit_buff_in_is_recorded_not_dropped() {
    let t = start().await;
    let small = t.create_device("a@x.io", "home", "small").await;
    let tiny = t.create_device("a@x.io", "home", "tiny").await;
    let image = firmware_fixture("esp8266_legacy_build.bin");
    assert_eq!(t.upload("", &image).await.status, 200);
    let base = format!("http://127.0.0.1:{}", t.server.http_addr().port()).len();
    // Header 5 + "ota\0" 4 + base + "/static/ota/<12 hex>.bin" 28 fits; "/ota/<32>" 37 does not.
    let shared_only = 5 + 4 + base + 28;
    let info = |buff: usize| format!("ver 0.3.1 buff-in {buff} dev Arduino build 111");
    let mut s = device_with_info(&t, &small, &info(shared_only)).await;
    let url = read_ota(&mut s).await;
    assert!(url.contains("/static/ota/"), "{url}");
    let mut n = device_with_info(&t, &tiny, &info(shared_only - 1)).await;
    assert_silent(&mut n, std::time::Duration::from_millis(300)).await;
    let devices = t.ota_status().await["campaigns"][0]["devices"].clone();
    let by_name = |name: &str| {
        devices
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .cloned()
            .unwrap()
    };
    assert!(
        by_name("small")["reason"]
            .as_str()
            .unwrap()
            .contains("shared URL")
    );
    assert!(
        by_name("tiny")["reason"]
            .as_str()
            .unwrap()
            .contains("not sent")
    );
    // The shared URL downloads.
    assert_eq!(t.http_get("GET", &url_path(&url), &[]).await.body, image);
}

#[tokio::test]
async fn notify_online_reaches_devices_already_online() {
    let t = start().await;
    let token = t.create_device("a@x.io", "home", "lamp").await;
    let mut device = device_with_info(&t, &token, &info_with_build("111")).await;
    let r = t
        .upload(
            "?notify_online=true",
            &firmware_fixture("esp8266_legacy_build.bin"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let url = read_ota(&mut device).await;
    assert!(url.contains("/ota/"), "{url}");
    let entry = t.ota_status().await["campaigns"][0]["devices"][0].clone();
    assert_eq!(entry["state"], "sent", "{entry}");
}

#[tokio::test]
async fn chip_guard_skips_with_a_reason_and_force_overrides_it() {
    let t = start().await;
    let token = t.create_device("a@x.io", "home", "lamp").await;
    let esp32 = firmware_fixture("esp32_blnkinf.bin");
    let r = t.upload("?user=a@x.io", &esp32).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["firmware"]["image_kind"], "esp32");
    let info = "ver 1.0 buff-in 1024 dev ESP8266 build 111";
    let mut device = device_with_info(&t, &token, info).await;
    assert_silent(&mut device, std::time::Duration::from_millis(300)).await;
    let entry = t.ota_status().await["campaigns"][0]["devices"][0].clone();
    assert_eq!(entry["state"], "skipped", "{entry}");
    assert!(
        entry["reason"].as_str().unwrap().contains("chip"),
        "{entry}"
    );

    // The same target with force=true supersedes it and sends despite the guard.
    let r = t.upload("?user=a@x.io&force=true", &esp32).await;
    assert_eq!(r.status, 200, "{}", r.text());
    drop(device);
    let mut again = device_with_info(&t, &token, info).await;
    read_ota(&mut again).await;
    let status = t.ota_status().await;
    assert_eq!(status["campaigns"][0]["devices"][0]["state"], "sent");
    assert_eq!(status["campaigns"][1]["state"], "superseded");
}
