//! `device` and `user` commands against an in-process server, and the connection, TLS
//! and authentication error paths.

mod common;

use common::*;

#[tokio::test]
async fn device_add_list_rm_and_user_list() {
    let t = start().await;
    let token = "0123456789abcdef0123456789abcdef";
    let r = t
        .run(&[
            "device",
            "add",
            "--user",
            "pupkin@gmail.com",
            "--project",
            "123",
            "--name",
            "lamp",
            "--token",
            token,
        ])
        .await
        .ok();
    assert!(
        r.stdout
            .contains("Created device lamp for pupkin@gmail.com / 123."),
        "{r:?}"
    );
    assert!(r.stdout.contains(&format!("token: {token}")));
    let generated = t.add_device("pupkin@gmail.com", "garden", "pump").await;
    assert_eq!(generated.len(), 32);
    t.add_device("other@x.io", "123", "fan").await;

    // JSON list, all and filtered.
    let all = t.run(&["--json", "device", "list"]).await.ok().json();
    assert_eq!(all.as_array().unwrap().len(), 3);
    let mine = t
        .run(&["--json", "device", "list", "--user", "pupkin@gmail.com"])
        .await
        .ok()
        .json();
    let names: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"lamp") && names.contains(&"pump"));
    let project = t
        .run(&[
            "--json",
            "device",
            "list",
            "--user",
            "pupkin@gmail.com",
            "--project",
            "123",
        ])
        .await
        .ok()
        .json();
    assert_eq!(project[0]["token"], token);
    assert_eq!(project[0]["online"], false);

    // Text list shows the online state and the reported firmware.
    let mut device = t
        .device_online(token, &esp_info("Dec  1 2026 10:00:00"))
        .await;
    let r = t
        .run(&["device", "list", "--user", "pupkin@gmail.com"])
        .await
        .ok();
    let lamp = r.stdout.lines().find(|l| l.starts_with(token)).unwrap();
    assert!(
        lamp.contains("online") && lamp.contains("Dec  1 2026 10:00:00"),
        "{lamp}"
    );
    assert!(r.stdout.starts_with("TOKEN"));

    // Users.
    let users = t.run(&["--json", "user", "list"]).await.ok().json();
    assert_eq!(users.as_array().unwrap().len(), 2);
    let r = t.run(&["user", "list"]).await.ok();
    let line = r.stdout.lines().find(|l| l.starts_with("pupkin")).unwrap();
    assert!(line.contains("123 (1), garden (1)"), "{line}");

    // Removal disconnects the device; removing again is a server rejection.
    let r = t.run(&["--json", "device", "rm", token]).await.ok();
    assert_eq!(r.json()["removed"], token);
    assert_eq!(
        device.read().await,
        None,
        "the removed device is disconnected"
    );
    t.run(&["device", "rm", token])
        .await
        .fails(EXIT_REJECTED, "no device with this token (HTTP 404)");
    // Generated tokens may start with `-`; such a token is still taken as a value.
    let dash = "-123456789abcdef0123456789abcdef";
    t.run(&[
        "device",
        "add",
        "--user",
        "d@x.io",
        "--project",
        "p",
        "--name",
        "n",
        "--token",
        dash,
    ])
    .await
    .ok();
    t.run(&["device", "rm", dash]).await.ok();
    let r = t.run(&["device", "rm", &generated]).await.ok();
    assert_eq!(r.stdout.trim(), format!("Removed device {generated}."));
    let all = t.run(&["--json", "device", "list"]).await.ok().json();
    assert_eq!(all.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn server_validation_messages_are_shown() {
    let t = start().await;
    t.run(&[
        "device",
        "add",
        "--user",
        "not-an-email",
        "--project",
        "p",
        "--name",
        "n",
    ])
    .await
    .fails(EXIT_REJECTED, "invalid `user`");
    let token = "0123456789abcdef0123456789abcdef";
    let add = [
        "device",
        "add",
        "--user",
        "a@x.io",
        "--project",
        "p",
        "--name",
        "n",
        "--token",
        token,
    ];
    t.run(&add).await.ok();
    let r = t.run(&[&["--json"][..], &add[..]].concat()).await;
    assert_eq!(r.code, EXIT_REJECTED);
    let e = r.error_json();
    assert_eq!(e["status"], 409);
    assert_eq!(e["message"], "token already in use");
    assert_eq!(e["kind"], "rejected");
}

#[tokio::test]
async fn wrong_password_is_an_authentication_error() {
    let t = start().await;
    t.run(&["--user-pass", "admin@blynk.cc:wrong", "user", "list"])
        .await
        .fails(EXIT_AUTH, "Authentication failed. (HTTP 403");
    // From the environment too; and the right password from there works.
    let url = t.url();
    let cert = t.cert();
    let base = [
        "--server",
        &url,
        "--ca",
        cert.to_str().unwrap(),
        "user",
        "list",
    ];
    run_raw(&base, &[("BLYNK_ADMIN", "admin@blynk.cc:nope")])
        .await
        .fails(EXIT_AUTH, "Authentication failed.");
    run_raw(&base, &[("BLYNK_ADMIN", "admin@blynk.cc:admin")])
        .await
        .ok();
    // --user-pass wins over the environment.
    let mut explicit = base.to_vec();
    explicit.extend(["--user-pass", "admin@blynk.cc:admin"]);
    run_raw(&explicit, &[("BLYNK_ADMIN", "admin@blynk.cc:nope")])
        .await
        .ok();
}

#[tokio::test]
async fn changed_admin_password_and_default_credentials() {
    let t = start_with(|c| {
        c.admin = blynk_server::admin_auth::AdminCredentials::new(ADMIN, "s3cret:with:colons");
    })
    .await;
    // The default admin@blynk.cc:admin no longer works.
    t.run(&["user", "list"])
        .await
        .fails(EXIT_AUTH, "Authentication failed.");
    // Colons after the first belong to the password.
    t.run(&[
        "--user-pass",
        "admin@blynk.cc:s3cret:with:colons",
        "user",
        "list",
    ])
    .await
    .ok();
}

#[tokio::test]
async fn self_signed_certificate_needs_insecure_or_ca() {
    let t = start().await;
    let url = t.url();
    let r = run_raw(&["--server", &url, "user", "list"], &[]).await;
    assert_eq!(r.code, EXIT_CONNECTION, "{r:?}");
    assert!(
        r.stderr.contains("--insecure") && r.stderr.contains("--ca"),
        "{r:?}"
    );
    assert!(r.stderr.contains("certificate"), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1);
    // --insecure accepts it, as curl's flag does; so does -k.
    run_raw(&["--server", &url, "--insecure", "user", "list"], &[])
        .await
        .ok();
    run_raw(&["-k", "--server", &url, "--json", "user", "list"], &[])
        .await
        .ok();
    // A CA file that does not hold the server's certificate is refused with the hint.
    let other = start().await;
    let r = run_raw(
        &[
            "--server",
            &url,
            "--ca",
            other.cert().to_str().unwrap(),
            "user",
            "list",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, EXIT_CONNECTION, "{r:?}");
    assert!(r.stderr.contains("--insecure"));
    // The certificate names localhost and 127.0.0.1.
    let by_ip = format!("https://127.0.0.1:{}", t.server.https_addr().port());
    run_raw(
        &[
            "--server",
            &by_ip,
            "--ca",
            t.cert().to_str().unwrap(),
            "user",
            "list",
        ],
        &[],
    )
    .await
    .ok();
}

#[tokio::test]
async fn server_down_is_a_connection_error() {
    let url = format!("https://127.0.0.1:{}", closed_port());
    let r = run_raw(&["--server", &url, "--insecure", "device", "list"], &[])
        .await
        .fails(EXIT_CONNECTION, "connection to 127.0.0.1:");
    assert!(r.stderr.to_lowercase().contains("refused"), "{r:?}");
    assert!(r.stderr.contains("is the server running"), "{r:?}");
    let r = run_raw(&["--json", "--server", &url, "-k", "user", "list"], &[]).await;
    assert_eq!(r.code, EXIT_CONNECTION);
    assert_eq!(r.error_json()["kind"], "connection");
}

#[tokio::test]
async fn https_url_on_the_plain_port_is_a_tls_error() {
    let t = start().await;
    let url = format!("https://127.0.0.1:{}", t.server.http_addr().port());
    let r = run_raw(&["--server", &url, "--insecure", "user", "list"], &[]).await;
    assert_eq!(r.code, EXIT_CONNECTION, "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
}
