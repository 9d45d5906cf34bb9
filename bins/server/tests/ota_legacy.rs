//! The legacy server's 16 `OTATest` behaviours (`../shared/docs/legacy-ota-contract.md`
//! section 12), ported against the real server on port 0: admin calls over HTTPS, raw
//! device connections over plain TCP, downloads over plain HTTP.
//!
//! Deliberate differences, as the contract allows: `GET start` answers with the JSON of
//! the campaign instead of an empty body and needs a published firmware (no implicit
//! `firmware_ota.bin`); device URLs are per device (`/ota/<key>`), the shared path
//! `/static/ota/<name>` stays; the OK to the info message comes before the OTA command.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::time::Duration;

const NO_OTA: Duration = Duration::from_millis(500);

async fn setup() -> (TestServer, String) {
    let t = start().await;
    let token = t
        .create_device("1dima@mail.ua", "My Dashboard", "device 0")
        .await;
    (t, token)
}

fn host_prefix(t: &TestServer) -> String {
    format!("http://127.0.0.1:{}/", t.server.http_addr().port())
}

/// 1 + 2. testInitiateOTA / testInitiateOTAWithFileName: GET start re-sends a stored image.
#[tokio::test]
async fn get_start_resends_a_stored_firmware_by_name() {
    let (t, token) = setup().await;
    let image = firmware_fixture("esp8266_legacy_build.bin");
    let first = t.upload("", &image).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let path = first.json()["firmware"]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let name = path.rsplit('/').next().unwrap().to_owned();
    let mut device = logged_in_plain(&t, &token).await;

    let r = t
        .admin_get(&format!("/admin/ota/start?token={token}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let url = read_ota(&mut device).await;
    assert!(url.starts_with(&host_prefix(&t)), "{url}");

    for _ in 0..2 {
        let r = t
            .admin_get(&format!("/admin/ota/start?fileName={name}&token={token}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["firmware"]["path"], path.as_str());
        let url = read_ota(&mut device).await;
        assert!(url.starts_with(&host_prefix(&t)), "{url}");
    }
    let r = t
        .admin_get(&format!("/admin/ota/start?fileName=nope.bin&token={token}"))
        .await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (404, "No firmware named nope.bin.")
    );
}

/// 3. testImprovedUploadMethod.
#[tokio::test]
async fn post_with_token_sends_the_url_and_the_url_serves_the_image() {
    let (t, token) = setup().await;
    let mut device = logged_in_plain(&t, &token).await;
    let image = firmware_fixture("esp8266_legacy_build.bin");
    let r = t.upload(&format!("?token={token}"), &image).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let json = r.json();
    let path = json["firmware"]["path"].as_str().unwrap();
    assert!(
        path.starts_with("/static") && path.ends_with("bin"),
        "{path}"
    );
    assert_eq!(json["notified"], 1);
    assert_eq!(json["target"]["token"], token.as_str());
    let url = read_ota(&mut device).await;
    assert!(
        url.starts_with(&format!("{}ota/", host_prefix(&t))),
        "{url}"
    );
    for p in [url_path(&url), path.to_owned()] {
        let d = t.http_get("GET", &p, &[]).await;
        assert_eq!(d.status, 200);
        assert_eq!(d.header("content-type"), Some("application/octet-stream"));
        assert_eq!(d.body, image);
    }
}

/// 4. testOTAFailedWhenNoDevice.
#[tokio::test]
async fn token_of_an_offline_device_is_refused_and_nothing_is_stored() {
    let (t, token) = setup().await;
    let r = t
        .upload(
            &format!("?token={token}"),
            &firmware_fixture("esp8266_plain.bin"),
        )
        .await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "No device in session.")
    );
    assert_eq!(t.blob_count(), 0);
}

/// 5. testOTAWrongToken.
#[tokio::test]
async fn unknown_token_is_refused() {
    let (t, _) = setup().await;
    let r = t
        .upload("?token=123", &firmware_fixture("esp8266_plain.bin"))
        .await;
    assert_eq!((r.status, r.text().as_str()), (400, "Invalid token."));
    assert_eq!(t.blob_count(), 0);
}

/// 6. testAuthorizationFailed.
#[tokio::test]
async fn wrong_credentials_get_403() {
    let (t, _) = setup().await;
    let (ct, body) = multipart(&[(
        "upfile",
        Some("test.bin"),
        &firmware_fixture("esp8266_plain.bin"),
    )]);
    let r = t
        .post_multipart("?token=123", &ct, &body, Some(&basic("123", "123")))
        .await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (403, "Authentication failed.")
    );
    assert_eq!(t.blob_count(), 0);
}

/// 7. ...CheckOTAStatusForDeviceThatNeverWasOnline: the status records the initiator.
#[tokio::test]
async fn token_campaign_is_recorded_with_initiator_and_time() {
    let (t, token) = setup().await;
    let mut device = logged_in_plain(&t, &token).await;
    let before = now_ms();
    let r = t
        .upload(
            &format!("?token={token}"),
            &firmware_fixture("esp8266_plain.bin"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    read_ota(&mut device).await;
    let status = t.ota_status().await;
    let c = &status["campaigns"][0];
    assert_eq!(c["initiator"], ADMIN);
    let created = c["created_at"].as_u64().unwrap();
    assert!(created >= before && created <= now_ms(), "{c}");
    let d = &c["devices"][0];
    assert_eq!(d["token"], token.as_str());
    assert_eq!(d["state"], "sent");
    assert_eq!(d["attempts"], 1);
    assert!(d["updated_at"].as_u64().unwrap() >= created);
}

/// 8. ...ForDeviceThatWasOnline: info first, then a token update.
#[tokio::test]
async fn token_campaign_for_a_device_that_reported_info() {
    let (t, token) = setup().await;
    let mut device = device_with_info(&t, &token, &info_with_build("111")).await;
    let r = t
        .upload(
            &format!("?token={token}"),
            &firmware_fixture("esp8266_legacy_build.bin"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    read_ota(&mut device).await;
    let info = t.device(&token).await["info"].clone();
    assert_eq!(info["library_version"], "0.3.1");
    assert_eq!(info["heartbeat"], 10);
    assert_eq!(info["build"], "111");
    // The same device reports build 112 on a new connection: stored, OTA record kept.
    let _second = device_with_info(&t, &token, &info_with_build("112")).await;
    assert_eq!(t.device(&token).await["info"]["build"], "112");
    let status = t.ota_status().await;
    assert_eq!(status["campaigns"][0]["devices"][0]["attempts"], 1);
}

/// 9. takeBuildDateFromBinaryFile.
#[tokio::test]
async fn build_is_taken_from_the_image() {
    let (t, _) = setup().await;
    let r = t
        .upload("", &firmware_fixture("esp8266_legacy_build.bin"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["firmware"]["build"], LEGACY_BUILD);
    assert_eq!(r.json()["target"]["type"], "all");
}

/// 10. basicOTAForAllDevices.
#[tokio::test]
async fn all_devices_campaign_does_not_touch_online_devices_and_serves_the_path() {
    let (t, token) = setup().await;
    let mut device = device_with_info(&t, &token, &info_with_build("111")).await;
    let image = firmware_fixture("esp8266_legacy_build.bin");
    let r = t.upload("", &image).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["notified"], 0);
    assert_silent(&mut device, NO_OTA).await;
    let path = r.json()["firmware"]["path"].as_str().unwrap().to_owned();
    let d = t.http_get("GET", &path, &[]).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.header("content-type"), Some("application/octet-stream"));
    assert_eq!(d.body, image);
}

/// 11. testConnectedDeviceGotOTACommand.
#[tokio::test]
async fn device_reporting_an_old_build_gets_the_command_and_the_new_build_does_not() {
    let (t, token) = setup().await;
    let mut idle = logged_in_plain(&t, &token).await;
    let r = t
        .upload("", &firmware_fixture("esp8266_legacy_build.bin"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_silent(&mut idle, NO_OTA).await;
    send_info(&mut idle, &info_with_build("123")).await;
    let url = read_ota(&mut idle).await;
    assert!(url.starts_with(&host_prefix(&t)));
    let c = &t.ota_status().await["campaigns"][0];
    assert_eq!(c["initiator"], ADMIN);
    assert_eq!(c["devices"][0]["state"], "sent");
    assert_ne!(c["created_at"], c["devices"][0]["updated_at"]);
    assert_eq!(t.device(&token).await["info"]["build"], "123");
    // Reconnects with the image's build: no command, and the device counts as updated.
    drop(idle);
    let mut updated = device_with_info(&t, &token, &info_with_build(LEGACY_BUILD)).await;
    assert_silent(&mut updated, NO_OTA).await;
    assert_eq!(
        t.ota_status().await["campaigns"][0]["devices"][0]["state"],
        "updated"
    );
}

/// 12. testStopOTA.
#[tokio::test]
async fn stopped_campaign_sends_nothing() {
    let (t, token) = setup().await;
    let r = t
        .upload("", &firmware_fixture("esp8266_legacy_build.bin"))
        .await;
    assert_eq!(r.status, 200);
    let id = r.json()["campaign"].as_u64().unwrap();
    let stop = t.admin_get("/admin/ota/stop").await;
    assert_eq!(stop.status, 200);
    assert_eq!(stop.json()["stopped"], serde_json::json!([id]));
    let mut device = device_with_info(&t, &token, &info_with_build("111")).await;
    assert_silent(&mut device, NO_OTA).await;
    assert_eq!(t.ota_status().await["campaigns"][0]["state"], "stopped");
    // Stopping again stops nothing.
    assert_eq!(
        t.admin_get("/admin/ota/stop").await.json()["stopped"],
        serde_json::json!([])
    );
}

/// 13. basicOTAForNonExistingSingleUser.
#[tokio::test]
async fn unknown_user_is_refused() {
    let (t, _) = setup().await;
    let r = t
        .upload(
            "?user=dimaxxx@mail.ua",
            &firmware_fixture("esp8266_legacy_build.bin"),
        )
        .await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Requested user not found.")
    );
    assert_eq!(t.blob_count(), 0);
}

/// 14. basicOTAForSingleUser: a second connection with the same token gets the command.
#[tokio::test]
async fn user_campaign_reaches_a_new_connection_of_the_users_device() {
    let (t, token) = setup().await;
    let mut first = logged_in_plain(&t, &token).await;
    let r = t
        .upload(
            "?user=1dima@mail.ua",
            &firmware_fixture("esp8266_legacy_build.bin"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["target"]["type"], "user");
    assert_silent(&mut first, NO_OTA).await;
    let mut second = device_with_info(&t, &token, &info_with_build("111")).await;
    read_ota(&mut second).await;
}

/// 15. basicOTAForSingleUserAndNonExistingProject.
#[tokio::test]
async fn user_campaign_for_another_project_sends_nothing() {
    let (t, token) = setup().await;
    let mut first = logged_in_plain(&t, &token).await;
    let r = t
        .upload(
            "?user=1dima@mail.ua&project=123",
            &firmware_fixture("esp8266_legacy_build.bin"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["target"]["type"], "user_project");
    assert_silent(&mut first, NO_OTA).await;
    let mut second = device_with_info(&t, &token, &info_with_build("111")).await;
    assert_silent(&mut second, NO_OTA).await;
    assert_silent(&mut first, Duration::from_millis(50)).await;
}

/// 16. basicOTAForSingleUserAndExistingProject (project name case-insensitive).
#[tokio::test]
async fn user_campaign_for_the_devices_project_sends_the_command() {
    let (t, token) = setup().await;
    let mut first = logged_in_plain(&t, &token).await;
    let r = t
        .upload(
            "?user=1dima@mail.ua&project=my%20dashboard",
            &firmware_fixture("esp8266_legacy_build.bin"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_silent(&mut first, NO_OTA).await;
    let mut second = device_with_info(&t, &token, &info_with_build("111")).await;
    read_ota(&mut second).await;
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
