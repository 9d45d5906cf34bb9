//! `device add|list|rm` and `user list` over the registry API (`/admin/devices`,
//! `/admin/users`).

use crate::cli::{DeviceAdd, DeviceList};
use crate::client::{Client, encode, with_query};
use crate::error::{Error, Result};
use crate::output::{cell, field, print, print_json, table};
use serde_json::{Value, json};

/// `device add`: `POST /admin/devices`.
pub async fn device_add(client: &Client, args: &DeviceAdd, json_out: bool) -> Result<()> {
    let mut body = json!({
        "user": args.user,
        "project": args.project,
        "name": args.name,
    });
    if let Some(token) = &args.token {
        body["token"] = Value::from(token.as_str());
    }
    let device = client.post_json("/admin/devices", &body).await?.json()?;
    if json_out {
        return print_json(&device);
    }
    let token = device
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::BadResponse("the created device has no token".into()))?;
    print(&format!(
        "Created device {} for {} / {}.\ntoken: {token}",
        field(&device, "name"),
        field(&device, "user"),
        field(&device, "project"),
    ))
}

/// `device list`: `GET /admin/devices[?user=&project=]`.
pub async fn device_list(client: &Client, args: &DeviceList, json_out: bool) -> Result<()> {
    let path = with_query(
        "/admin/devices",
        &[
            ("user", args.user.clone()),
            ("project", args.project.clone()),
        ],
    );
    let list = client.get(&path).await?.json()?;
    if json_out {
        return print_json(&list);
    }
    let devices = list
        .as_array()
        .ok_or_else(|| Error::BadResponse("the device list is not a JSON array".into()))?;
    if devices.is_empty() {
        return print("No devices.");
    }
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| {
            let info = d.get("info").unwrap_or(&Value::Null);
            vec![
                field(d, "token"),
                field(d, "user"),
                field(d, "project"),
                field(d, "name"),
                if d.get("online") == Some(&Value::Bool(true)) {
                    "online".to_owned()
                } else {
                    "offline".to_owned()
                },
                cell(info.get("firmware_version")),
                cell(info.get("build")),
            ]
        })
        .collect();
    print(&table(
        &[
            "TOKEN", "USER", "PROJECT", "NAME", "STATE", "FIRMWARE", "BUILD",
        ],
        &rows,
    ))
}

/// `device rm TOKEN`: `DELETE /admin/devices/{token}`.
pub async fn device_rm(client: &Client, token: &str, json_out: bool) -> Result<()> {
    client
        .delete(&format!("/admin/devices/{}", encode(token)))
        .await?;
    if json_out {
        print_json(&json!({ "removed": token }))
    } else {
        print(&format!("Removed device {token}."))
    }
}

/// `user list`: `GET /admin/users`.
pub async fn user_list(client: &Client, json_out: bool) -> Result<()> {
    let list = client.get("/admin/users").await?.json()?;
    if json_out {
        return print_json(&list);
    }
    let users = list
        .as_array()
        .ok_or_else(|| Error::BadResponse("the user list is not a JSON array".into()))?;
    if users.is_empty() {
        return print("No users.");
    }
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            let projects = u.get("projects").and_then(Value::as_array);
            let devices: u64 = projects
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("devices").and_then(Value::as_u64))
                .sum();
            let names: Vec<String> = projects
                .into_iter()
                .flatten()
                .map(|p| format!("{} ({})", field(p, "name"), field(p, "devices")))
                .collect();
            vec![field(u, "email"), devices.to_string(), names.join(", ")]
        })
        .collect();
    print(&table(&["EMAIL", "DEVICES", "PROJECTS (DEVICES)"], &rows))
}
