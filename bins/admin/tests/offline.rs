//! Commands that need no server: `--help`, `firmware info`, usage errors.

mod common;

use common::*;

#[tokio::test]
async fn help_on_every_subcommand_with_examples() {
    let top = run_raw(&["--help"], &[]).await.ok();
    for text in ["Exit codes:", "--insecure", "BLYNK_ADMIN", "ota start"] {
        assert!(top.stdout.contains(text), "{text:?} not in top help");
    }
    let cases: &[(&[&str], &str)] = &[
        (
            &["ota", "start", "--help"],
            "ota start Template_ESP8266.ino.nodemcu.bin --token 123",
        ),
        (&["ota", "stop", "--help"], "ota stop"),
        (&["ota", "resend", "--help"], "ota resend --token 123"),
        (
            &["ota", "status", "--help"],
            "ota status --campaign 3 --watch",
        ),
        (
            &["device", "add", "--help"],
            "device add --user pupkin@gmail.com",
        ),
        (&["device", "list", "--help"], "device list --user"),
        (&["device", "rm", "--help"], "device rm "),
        (&["user", "list", "--help"], "user list"),
        (
            &["firmware", "info", "--help"],
            "firmware info Template_ESP8266",
        ),
    ];
    for (args, example) in cases {
        let r = run_raw(args, &[]).await.ok();
        assert!(r.stdout.contains("Example"), "{args:?}: {}", r.stdout);
        assert!(r.stdout.contains(example), "{args:?}: {}", r.stdout);
    }
    // The password from the environment is never shown.
    let r = run_raw(&["--help"], &[("BLYNK_ADMIN", "x@y.z:SECRETPW")])
        .await
        .ok();
    assert!(!r.stdout.contains("SECRETPW"));
}

#[tokio::test]
async fn firmware_info_text_and_json() {
    let path = fixture("esp8266_blnkinf.bin");
    let r = run_raw(&["firmware", "info", path.to_str().unwrap()], &[])
        .await
        .ok();
    assert!(r.stdout.contains("esp8266_blnkinf.bin"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("Dec  4 2026 14:51:12 (from the blnkinf tag)")
    );
    assert!(r.stdout.contains("TMPL0001"));
    assert!(r.stdout.contains("any target"));

    let r = run_raw(&["--json", "firmware", "info", path.to_str().unwrap()], &[])
        .await
        .ok();
    let j = r.json();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(j["size"], bytes.len());
    assert_eq!(j["image_kind"], "esp8266");
    assert_eq!(j["version"], "1.2.3");
    assert_eq!(j["fw_type"], "TMPL0001");
    assert_eq!(j["build"], "Dec  4 2026 14:51:12");
    assert_eq!(j["file_name"], "esp8266_blnkinf.bin");
    assert_eq!(j["id"], j["sha256"]);
    assert_eq!(j["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(j["deferred_campaign_possible"], true);

    let plain = fixture("esp8266_plain.bin");
    let j = run_raw(
        &["--json", "firmware", "info", plain.to_str().unwrap()],
        &[],
    )
    .await
    .ok()
    .json();
    assert_eq!(j["md5"], "01534f2df4db0fa5817d299edab1e80f");
    assert_eq!(j["build"], serde_json::Value::Null);
    assert_eq!(j["deferred_campaign_possible"], false);
}

#[tokio::test]
async fn usage_and_file_errors() {
    // clap's usage errors.
    let r = run_raw(&["ota", "start"], &[]).await;
    assert_eq!(r.code, EXIT_USAGE, "{r:?}");
    let r = run_raw(
        &["ota", "start", "f.bin", "--token", "t", "--user", "u"],
        &[],
    )
    .await;
    assert_eq!(r.code, EXIT_USAGE, "{r:?}");
    let r = run_raw(&["ota", "start", "f.bin", "--max-attempts", "0"], &[]).await;
    assert_eq!(r.code, EXIT_USAGE, "{r:?}");
    let r = run_raw(&["bogus"], &[]).await;
    assert_eq!(r.code, EXIT_USAGE, "{r:?}");
    // Our own usage checks.
    run_raw(&["--server", "localhost:9443", "user", "list"], &[])
        .await
        .fails(EXIT_USAGE, "must start with https://");
    run_raw(&["--user-pass", "no-colon", "user", "list"], &[])
        .await
        .fails(EXIT_USAGE, "EMAIL:PASS");
    run_raw(&["user", "list"], &[("BLYNK_ADMIN", "no-colon")])
        .await
        .fails(EXIT_USAGE, "EMAIL:PASS");
    // Local files.
    run_raw(&["firmware", "info", "/nonexistent/fw.bin"], &[])
        .await
        .fails(EXIT_FILE, "cannot read /nonexistent/fw.bin");
    run_raw(&["--ca", "/nonexistent/ca.pem", "user", "list"], &[])
        .await
        .fails(EXIT_FILE, "/nonexistent/ca.pem");
    let r = run_raw(&["--json", "firmware", "info", "/nonexistent/fw.bin"], &[]).await;
    assert_eq!(r.code, EXIT_FILE);
    let e = r.error_json();
    assert_eq!(e["kind"], "file");
    assert_eq!(e["exit_code"], EXIT_FILE);
}
