//! Requests outside `/admin` (both ports). Only a 404 for now: the firmware download
//! routes of the OTA issue are added here.

use super::{Body, RequestContext, text};
use crate::state::Shared;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use std::sync::Arc;

/// Handles a public request.
pub async fn handle(
    _shared: Arc<Shared>,
    _ctx: RequestContext,
    _req: Request<Incoming>,
) -> Response<Body> {
    text(StatusCode::NOT_FOUND, "Not found.")
}
