//! Admin registry endpoints: devices and users.

use super::{Body, empty, json, json_error};
use crate::error::Error;
use crate::registry;
use crate::sessions::ConnectionInfo;
use crate::state::Shared;
use crate::storage::{DeviceFilter, DeviceRecord, unix_now};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};

/// Largest accepted JSON request body.
const MAX_JSON_BODY: usize = 64 * 1024;

/// `GET /admin/devices[?user=&project=]`.
pub async fn list_devices(shared: &Shared, req: &Request<Incoming>) -> Response<Body> {
    let mut filter = DeviceFilter::default();
    for (key, value) in query_pairs(req.uri().query().unwrap_or("")) {
        match key.as_str() {
            "user" => filter.user = Some(value),
            "project" => filter.project = Some(value),
            _ => {}
        }
    }
    match shared.store.call(move |s| s.list_devices(&filter)).await {
        Ok(devices) => {
            let list: Vec<Value> = devices.iter().map(|d| device_json(shared, d)).collect();
            json(StatusCode::OK, &Value::Array(list))
        }
        Err(e) => storage_failure(&e),
    }
}

/// `POST /admin/devices` with `{"user", "project", "name", "token"?}`.
pub async fn create_device(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let bytes = match Limited::new(req.into_body(), MAX_JSON_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large or unreadable",
                None,
            );
        }
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}"), None),
    };
    let Some(object) = value.as_object() else {
        return json_error(StatusCode::BAD_REQUEST, "expected a JSON object", None);
    };
    let field = |name: &'static str| object.get(name).and_then(Value::as_str);
    let mut strings = [("user", ""), ("project", ""), ("name", "")];
    for (name, slot) in &mut strings {
        match field(name) {
            Some(v) => *slot = v,
            None => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    &format!("`{name}` is required and must be a string"),
                    Some(name),
                );
            }
        }
    }
    let token = match object.get("token") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "`token` must be a string",
                Some("token"),
            );
        }
    };
    let [(_, user), (_, project), (_, name)] = strings;
    let new = match registry::new_device(user, project, name, token) {
        Ok(new) => new,
        Err(e) => return error_response(&e),
    };
    match shared
        .store
        .call(move |s| s.create_device(&new, unix_now()))
        .await
    {
        Ok(device) => {
            tracing::info!(device = %device.name, user = %device.user, project = %device.project, "device created");
            json(StatusCode::CREATED, &device_json(shared, &device))
        }
        Err(e) => error_response(&e),
    }
}

/// `DELETE /admin/devices/{token}`: removes the device and disconnects it.
pub async fn delete_device(shared: &Shared, token: &str) -> Response<Body> {
    let token = percent_decode(token);
    match shared.store.call(move |s| s.delete_device(&token)).await {
        Ok(Some(device)) => {
            let closed = shared.sessions.disconnect(device.id);
            tracing::info!(device = %device.name, closed, "device deleted");
            empty(StatusCode::NO_CONTENT)
        }
        Ok(None) => error_response(&Error::UnknownToken),
        Err(e) => error_response(&e),
    }
}

/// `GET /admin/users`.
pub async fn list_users(shared: &Shared) -> Response<Body> {
    match shared.store.call(|s| s.list_users()).await {
        Ok(users) => {
            let list: Vec<Value> = users
                .iter()
                .map(|u| {
                    json!({
                        "email": u.email,
                        "projects": u.projects.iter().map(|p| json!({
                            "name": p.name,
                            "devices": p.devices,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json(StatusCode::OK, &Value::Array(list))
        }
        Err(e) => storage_failure(&e),
    }
}

fn error_response(e: &Error) -> Response<Body> {
    match e {
        Error::InvalidField { field, reason } => json_error(
            StatusCode::BAD_REQUEST,
            &format!("invalid `{field}`: {reason}"),
            Some(field),
        ),
        Error::DuplicateToken => {
            json_error(StatusCode::CONFLICT, "token already in use", Some("token"))
        }
        Error::UnknownToken => json_error(StatusCode::NOT_FOUND, "no device with this token", None),
        other => storage_failure(other),
    }
}

fn storage_failure(e: &Error) -> Response<Body> {
    tracing::error!(error = %e, "admin request failed in storage");
    json_error(StatusCode::INTERNAL_SERVER_ERROR, "storage error", None)
}

/// The JSON view of a device: registry fields, live state, last info.
pub fn device_json(shared: &Shared, device: &DeviceRecord) -> Value {
    let connections = shared.sessions.connections(device.id);
    let newest = connections.last();
    let info = device.last_info.as_ref().map(|info| {
        let pairs: serde_json::Map<String, Value> = info
            .pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        json!({
            "firmware_version": info.get("mcu").or_else(|| info.get("fw")),
            "library_version": info.get("blynk").or_else(|| info.get("ver")),
            "build": info.get("build"),
            "board": info.get("dev"),
            "fw_type": info.get("fw-type"),
            "template": info.get("tmpl"),
            "heartbeat": info.get("h-beat").and_then(|v| v.parse::<u32>().ok()),
            "buff_in": info.get("buff-in").and_then(|v| v.parse::<u32>().ok()),
            "reported_at": info.reported_at,
            "pairs": pairs,
        })
    });
    json!({
        "user": device.user,
        "project": device.project,
        "name": device.name,
        "token": device.token,
        "created_at": device.created_at,
        "online": !connections.is_empty(),
        "connected_since": connections.iter().map(|c| c.connected_since).min(),
        "remote_address": newest.map(|c| c.remote.to_string()),
        "connections": connections.iter().map(connection_json).collect::<Vec<_>>(),
        "info": info,
    })
}

fn connection_json(c: &ConnectionInfo) -> Value {
    json!({
        "remote_address": c.remote.to_string(),
        "local_address": c.local.to_string(),
        "transport": c.transport.as_str(),
        "connected_since": c.connected_since,
    })
}

/// `application/x-www-form-urlencoded` query pairs (`+` is a space, `%XX` decoded).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Decodes `%XX` escapes (invalid escapes are kept; invalid UTF-8 replaced).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn query_decoding() {
        assert_eq!(
            query_pairs("user=a%40b.c&project=my+home&x&bad=%zz"),
            vec![
                ("user".into(), "a@b.c".into()),
                ("project".into(), "my home".into()),
                ("x".into(), "".into()),
                ("bad".into(), "%zz".into()),
            ]
        );
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("a%4"), "a%4");
    }

    proptest! {
        #[test]
        fn decoding_never_panics(s in "\\PC{0,40}") {
            let _ = query_pairs(&s);
        }
    }
}
