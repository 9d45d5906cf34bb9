//! The admin registry API over HTTPS: gate (allowlist, auth) and every endpoint and error.

mod common;

use blynk_server::admin_auth::AdminCredentials;
use blynk_server::allowlist::IpAllowlist;
use common::*;

#[tokio::test]
async fn missing_auth_is_401_with_challenge() {
    let t = start().await;
    let r = t.request("GET", "/admin/devices", None, None).await;
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .starts_with("Basic realm=")
    );
    // Undecodable credentials count as missing.
    let r = t
        .request("GET", "/admin/devices", None, Some("Basic %%%"))
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn wrong_credentials_are_403() {
    let t = start().await;
    for auth in [basic(ADMIN, "nope"), basic("other@x.io", PASS)] {
        let r = t.request("GET", "/admin/devices", None, Some(&auth)).await;
        assert_eq!(r.status, 403);
        assert_eq!(r.body, "Authentication failed.");
    }
    // The user part is case-insensitive (legacy).
    let r = t
        .request(
            "GET",
            "/admin/users",
            None,
            Some(&basic("ADMIN@blynk.cc", PASS)),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn client_outside_the_allowlist_gets_no_response() {
    let t = start_with(|c| {
        c.admin = AdminCredentials::new(ADMIN, "not-the-default");
        c.allowed_admin_ips = IpAllowlist::parse("10.0.0.0/8").unwrap();
    })
    .await;
    let mut s = t.tls().await;
    let auth = basic(ADMIN, "not-the-default");
    let raw = read_raw_response(&mut s, "GET", "/admin/devices", None, Some(&auth)).await;
    assert!(
        raw.is_empty(),
        "expected no bytes, got {:?}",
        String::from_utf8_lossy(&raw)
    );
    // Non-admin paths are still served to that client.
    let r = t.request("GET", "/somewhere", None, None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn allowlisted_client_with_changed_password() {
    let t = start_with(|c| {
        c.admin = AdminCredentials::new(ADMIN, "s3cret");
        c.allowed_admin_ips = IpAllowlist::parse("127.0.0.1").unwrap();
    })
    .await;
    let r = t
        .request("GET", "/admin/users", None, Some(&basic(ADMIN, "s3cret")))
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn admin_is_not_served_on_the_plain_port() {
    let t = start().await;
    let mut s = t.plain().await;
    let auth = basic(ADMIN, PASS);
    let r = http_request(&mut s, "GET", "/admin/devices", None, Some(&auth)).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn create_list_filter_delete() {
    let t = start().await;
    let body = r#"{"user":"a@x.io","project":"home","name":"lamp","token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
    let r = t.admin("POST", "/admin/devices", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json();
    assert_eq!(created["token"], "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(created["user"], "a@x.io");
    assert_eq!(created["project"], "home");
    assert_eq!(created["name"], "lamp");
    assert_eq!(created["online"], false);
    assert!(created["info"].is_null());

    let generated = t.create_device("a@x.io", "garden", "pump").await;
    assert_eq!(generated.len(), 32);
    assert!(
        generated
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    t.create_device("b@x.io", "home", "fan").await;

    let all = t.admin("GET", "/admin/devices", None).await;
    assert_eq!(all.status, 200);
    assert_eq!(all.header("content-type"), Some("application/json"));
    assert_eq!(all.json().as_array().unwrap().len(), 3);
    let a = t
        .admin("GET", "/admin/devices?user=a%40x.io", None)
        .await
        .json();
    assert_eq!(a.as_array().unwrap().len(), 2);
    let homes = t
        .admin("GET", "/admin/devices?project=home", None)
        .await
        .json();
    assert_eq!(homes.as_array().unwrap().len(), 2);
    let one = t
        .admin("GET", "/admin/devices?user=a@x.io&project=garden", None)
        .await
        .json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["token"], generated.as_str());
    let none = t
        .admin("GET", "/admin/devices?user=nobody@x.io", None)
        .await
        .json();
    assert_eq!(none.as_array().unwrap().len(), 0);

    let users = t.admin("GET", "/admin/users", None).await;
    assert_eq!(users.status, 200);
    let users = users.json();
    assert_eq!(users[0]["email"], "a@x.io");
    assert_eq!(users[0]["projects"][0]["name"], "garden");
    assert_eq!(users[0]["projects"][1]["name"], "home");
    assert_eq!(users[0]["projects"][1]["devices"], 1);
    assert_eq!(users[1]["email"], "b@x.io");

    let r = t
        .admin(
            "DELETE",
            "/admin/devices/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    let r = t
        .admin(
            "DELETE",
            "/admin/devices/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(t.list_len("/admin/devices").await, 2);
}

#[tokio::test]
async fn duplicate_token_is_409() {
    let t = start().await;
    let body =
        r#"{"user":"a@x.io","project":"p","name":"n","token":"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"}"#;
    assert_eq!(
        t.admin("POST", "/admin/devices", Some(body)).await.status,
        201
    );
    let again =
        r#"{"user":"c@x.io","project":"q","name":"m","token":"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"}"#;
    let r = t.admin("POST", "/admin/devices", Some(again)).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["field"], "token");
    // The failed request created no user.
    let users = t.admin("GET", "/admin/users", None).await.json();
    assert_eq!(users.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let t = start().await;
    let cases: &[(&str, Option<&str>)] = &[
        ("{not json", None),
        ("[1,2]", None),
        ("", None),
        (r#"{"project":"p","name":"n"}"#, Some("user")),
        (r#"{"user":5,"project":"p","name":"n"}"#, Some("user")),
        (r#"{"user":"a@x.io","name":"n"}"#, Some("project")),
        (r#"{"user":"a@x.io","project":"p"}"#, Some("name")),
        (
            r#"{"user":"not-an-email","project":"p","name":"n"}"#,
            Some("user"),
        ),
        (
            r#"{"user":"a@x.io","project":"  ","name":"n"}"#,
            Some("project"),
        ),
        (r#"{"user":"a@x.io","project":"p","name":""}"#, Some("name")),
        (
            r#"{"user":"a@x.io","project":"p","name":"n","token":"short"}"#,
            Some("token"),
        ),
        (
            r#"{"user":"a@x.io","project":"p","name":"n","token":7}"#,
            Some("token"),
        ),
    ];
    for (body, field) in cases {
        let r = t.admin("POST", "/admin/devices", Some(body)).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let json = r.json();
        assert!(json["error"].is_string(), "{body}");
        match field {
            Some(f) => assert_eq!(json["field"], *f, "{body}"),
            None => assert!(json["field"].is_null(), "{body}"),
        }
    }
    assert_eq!(t.list_len("/admin/users").await, 0);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let t = start().await;
    let big = format!(
        r#"{{"user":"a@x.io","project":"p","name":"{}"}}"#,
        "x".repeat(70_000)
    );
    let r = t.admin("POST", "/admin/devices", Some(&big)).await;
    assert_eq!(r.status, 413);
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let t = start().await;
    let r = t.admin("GET", "/admin/nothing", None).await;
    assert_eq!(r.status, 404);
    let r = t.admin("PUT", "/admin/devices", None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let r = t.admin("GET", "/admin/devices/sometoken", None).await;
    assert_eq!(r.status, 405);
    let r = t.admin("POST", "/admin/users", None).await;
    assert_eq!(r.status, 405);
    // Auth comes before routing: unknown admin paths still need credentials.
    let r = t.request("GET", "/admin/nothing", None, None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn http_1_0_is_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = start().await;
    let mut s = t.plain().await;
    s.write_all(b"GET /x HTTP/1.0\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.0 404"), "{text}");
}
