//! Requests outside `/admin` (both ports): firmware downloads ([`super::download`]);
//! everything else is 404.

use super::{Body, RequestContext, download, text};
use crate::state::Shared;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use std::sync::Arc;

/// Handles a public request.
pub async fn handle(
    shared: Arc<Shared>,
    _ctx: RequestContext,
    req: Request<Incoming>,
) -> Response<Body> {
    let Some(path) = download::download_path(req.uri().path()) else {
        if req.uri().path().starts_with("/ota/") || req.uri().path().starts_with("/static/") {
            return download::not_found();
        }
        return text(StatusCode::NOT_FOUND, "Not found.");
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = download::not_found();
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    download::serve(&shared, path, &req).await
}
