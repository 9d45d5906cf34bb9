//! The admin API gate and route table (`/admin/...`, HTTPS port only).
//!
//! Order of checks, before any body is read: client address against the admin allowlist
//! (refused → the connection is closed without a response), then HTTP Basic auth
//! (missing or undecodable → 401 with `WWW-Authenticate`; wrong → 403
//! `Authentication failed.`), then the route.

use super::{Body, CloseConnection, RequestContext, json_error, ota_api, registry_api, text};
use crate::admin_auth::AuthOutcome;
use crate::state::Shared;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use std::sync::Arc;

/// Realm announced in `WWW-Authenticate`.
pub const REALM: &str = "blynk-ota admin";

/// Gate + route for an admin request.
pub async fn handle(
    shared: Arc<Shared>,
    ctx: RequestContext,
    req: Request<Incoming>,
) -> Result<Response<Body>, CloseConnection> {
    if !shared.admin_allowlist.allows(ctx.remote.ip()) {
        tracing::warn!(remote = %ctx.remote, "admin request from a client outside the allowlist; closing");
        return Err(CloseConnection);
    }
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match shared.config.admin.check(header) {
        AuthOutcome::Missing => {
            let mut response = text(StatusCode::UNAUTHORIZED, "Authentication required.");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"blynk-ota admin\", charset=\"UTF-8\""),
            );
            return Ok(response);
        }
        AuthOutcome::Wrong => {
            tracing::warn!(remote = %ctx.remote, "admin authentication failed");
            return Ok(text(StatusCode::FORBIDDEN, "Authentication failed."));
        }
        AuthOutcome::Granted => {}
    }
    Ok(route(shared, ctx, req).await)
}

/// The admin route table (authenticated requests).
async fn route(
    shared: Arc<Shared>,
    _ctx: RequestContext,
    req: Request<Incoming>,
) -> Response<Body> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (segments.as_slice(), req.method()) {
        (["admin", "devices"], &Method::GET) => registry_api::list_devices(&shared, &req).await,
        (["admin", "devices"], &Method::POST) => registry_api::create_device(&shared, req).await,
        (["admin", "devices"], _) => method_not_allowed("GET, POST"),
        (["admin", "devices", token], &Method::DELETE) => {
            registry_api::delete_device(&shared, token).await
        }
        (["admin", "devices", _], _) => method_not_allowed("DELETE"),
        (["admin", "users"], &Method::GET) => registry_api::list_users(&shared).await,
        (["admin", "users"], _) => method_not_allowed("GET"),
        (["admin", "metrics"], &Method::GET) => super::metrics::handle(&shared),
        (["admin", "ota", "start"], &Method::POST) => ota_api::start_upload(&shared, req).await,
        (["admin", "ota", "start"], &Method::GET) => ota_api::start_stored(&shared, &req).await,
        (["admin", "ota", "start"], _) => method_not_allowed("GET, POST"),
        (["admin", "ota", "stop"], &Method::GET) => ota_api::stop(&shared, &req).await,
        (["admin", "ota", "stop"], _) => method_not_allowed("GET"),
        (["admin", "ota", "status"], &Method::GET) => ota_api::status(&shared, &req).await,
        (["admin", "ota", "status"], _) => method_not_allowed("GET"),
        _ => json_error(StatusCode::NOT_FOUND, "no such admin endpoint", None),
    }
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = json_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed", None);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}
