//! HTTP side: one hyper 1 connection per sniffed HTTP stream, and the request router.
//!
//! Routing: on the TLS port, `/admin` and everything under it goes to [`admin`] (allowlist,
//! Basic auth, admin routes); every other request, on either port, goes to [`public`]
//! (firmware downloads).

pub mod admin;
pub mod download;
pub mod metrics;
mod ota_api;
pub mod public;
mod registry_api;

use crate::hardware::Peer;
use crate::sessions::Transport;
use crate::state::Shared;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

/// Boxed error of response bodies (streamed bodies may fail with IO errors).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Response body type of every handler.
pub type Body = BoxBody<Bytes, BoxError>;

/// How long a client may take to send request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a request came from.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext {
    /// Client address.
    pub remote: SocketAddr,
    /// Server address the client connected to (use it to build URLs the client can reach).
    pub local: SocketAddr,
    /// Plain (`http.port`) or TLS (`https.port`).
    pub transport: Transport,
}

/// Returned by a handler to drop the connection without any response.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("connection closed without a response")]
pub struct CloseConnection;

/// A body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A response with a body and content type.
pub fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A `text/plain` response.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    respond(status, "text/plain;charset=utf-8", body)
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    respond(status, "application/json", value.to_string())
}

/// A JSON error `{"error": message[, "field": field]}`.
pub fn json_error(status: StatusCode, message: &str, field: Option<&str>) -> Response<Body> {
    let mut body = serde_json::json!({ "error": message });
    if let Some(field) = field {
        body["field"] = serde_json::Value::from(field);
    }
    json(status, &body)
}

/// A response without a body.
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// Routes one request.
pub async fn route(
    shared: Arc<Shared>,
    ctx: RequestContext,
    req: Request<Incoming>,
) -> Result<Response<Body>, CloseConnection> {
    let path = req.uri().path();
    if ctx.transport == Transport::Tls && (path == "/admin" || path.starts_with("/admin/")) {
        return admin::handle(shared, ctx, req).await;
    }
    Ok(public::handle(shared, ctx, req).await)
}

/// Serves HTTP/1.0 and 1.1 on `io` until the client closes or shutdown completes it.
pub async fn serve<S>(shared: Arc<Shared>, io: S, peer: Peer, shutdown: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ctx = RequestContext {
        remote: peer.remote,
        local: peer.local,
        transport: peer.transport,
    };
    let service = hyper::service::service_fn(move |req| route(Arc::clone(&shared), ctx, req));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(remote = %peer.remote, error = %e, "HTTP connection ended");
    }
}
