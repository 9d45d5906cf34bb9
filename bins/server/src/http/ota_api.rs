//! The admin OTA API: `/admin/ota/start` (POST upload, GET re-send), `/admin/ota/stop`,
//! `/admin/ota/status`. Reached only after the admin gate (allowlist, Basic auth).
//!
//! A POST validates everything it can before reading the body (options, target: token
//! known and online, user known), then streams the first file part of the multipart
//! body into the firmware store; the rest of the body is read and discarded. An image
//! stored by a request that then fails is deleted again unless something else uses it.
//! Error bodies are one plain-text line (the legacy strings where legacy had one).

use super::registry_api::query_pairs;
use super::{Body, json, text};
use crate::ota::{CampaignStatus, StartError, StartRequest, TargetSpec, engine_device};
use crate::state::Shared;
use crate::storage::{DeviceFilter, DeviceRecord, FirmwareRow};
use firmware_store::{BlobId, FirmwareInfo, StoreError};
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use ota_core::{
    AttemptFailure, CampaignId, CampaignOptions, CampaignState, DeviceId, DeviceState, FailReason,
    FirmwareRef, ImageKind, SkipReason, Target,
};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Headroom over the image size limit for the rest of a multipart body (part headers,
/// small fields). Kept small so that after a too-large image the unread rest of the body
/// fits in socket buffers and the client still reads the 413.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// Largest non-file field accepted.
const MAX_TEXT_FIELD: u64 = 64 * 1024;

type Failure = Box<Response<Body>>;

fn fail(status: StatusCode, message: impl Into<String>) -> Failure {
    Box::new(text(status, message.into()))
}

/// The parsed query of a start request.
struct StartQuery {
    token: Option<String>,
    user: Option<String>,
    project: Option<String>,
    file_name: Option<String>,
    options: CampaignOptions,
}

fn parse_bool(key: &str, value: &str) -> Result<bool, Failure> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(fail(
            StatusCode::BAD_REQUEST,
            format!("Invalid value for {key}: expected true or false."),
        )),
    }
}

fn start_query(query: &str) -> Result<StartQuery, Failure> {
    let mut q = StartQuery {
        token: None,
        user: None,
        project: None,
        file_name: None,
        options: CampaignOptions::default(),
    };
    for (key, value) in query_pairs(query) {
        match key.as_str() {
            "token" => q.token = Some(value),
            "user" => q.user = Some(value),
            "project" => q.project = Some(value),
            "fileName" => q.file_name = Some(value),
            "notify_online" => q.options.notify_online = parse_bool(&key, &value)?,
            "force" => q.options.force = parse_bool(&key, &value)?,
            "max_attempts" => {
                q.options.max_attempts =
                    value
                        .parse::<u8>()
                        .ok()
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| {
                            fail(
                                StatusCode::BAD_REQUEST,
                                "Invalid value for max_attempts: expected a number from 1 to 255.",
                            )
                        })?;
            }
            _ => {}
        }
    }
    Ok(q)
}

/// Resolves the target before any body byte is read.
async fn resolve_target(shared: &Shared, q: &StartQuery) -> Result<TargetSpec, Failure> {
    let storage = |e: crate::error::Error| {
        tracing::error!(error = %e, "OTA request failed in storage");
        fail(StatusCode::INTERNAL_SERVER_ERROR, "Storage error.")
    };
    if let Some(token) = &q.token {
        let lookup = token.clone();
        let device = shared
            .store
            .call(move |s| s.device_by_token(&lookup))
            .await
            .map_err(storage)?
            .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "Invalid token."))?;
        if !shared.sessions.is_online(device.id) {
            return Err(fail(StatusCode::BAD_REQUEST, "No device in session."));
        }
        return Ok(TargetSpec::Token(device));
    }
    if let Some(user) = &q.user {
        let users = shared
            .store
            .call(|s| s.list_users())
            .await
            .map_err(storage)?;
        let wanted = user.trim().to_lowercase();
        let found = users
            .into_iter()
            .find(|u| u.email.to_lowercase() == wanted)
            .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "Requested user not found."))?;
        return Ok(match &q.project {
            Some(project) if !project.is_empty() => {
                TargetSpec::UserProject(found.email, project.clone())
            }
            _ => TargetSpec::User(found.email),
        });
    }
    Ok(TargetSpec::All)
}

fn too_large(limit: u64) -> Failure {
    fail(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Firmware image is larger than the limit of {limit} bytes."),
    )
}

fn multipart_failure(e: &multer::Error, limit: u64) -> Failure {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large(limit)
        }
        other => fail(
            StatusCode::BAD_REQUEST,
            format!("Malformed multipart body: {other}."),
        ),
    }
}

fn ingest_failure(e: StoreError, limit: u64) -> Failure {
    match e {
        StoreError::TooLarge { limit } => too_large(limit),
        StoreError::Empty => fail(StatusCode::BAD_REQUEST, "The firmware file is empty."),
        StoreError::Source(source) => match source.downcast_ref::<multer::Error>() {
            Some(m) => multipart_failure(m, limit),
            None => fail(
                StatusCode::BAD_REQUEST,
                format!("The upload failed: {source}."),
            ),
        },
        other => {
            tracing::error!(error = %other, "storing an uploaded firmware failed");
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Storing the firmware failed.",
            )
        }
    }
}

/// Reads the multipart body: the first file part into the store, the rest discarded.
async fn receive_upload(
    shared: &Shared,
    req: Request<Incoming>,
) -> Result<(FirmwareInfo, bool), Failure> {
    let limit = shared.config.max_firmware_size;
    // A declared length over the limit is refused before any body byte is read (a client
    // that sent `Expect: 100-continue`, as curl does for large files, uploads nothing).
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit.saturating_add(MULTIPART_OVERHEAD)) {
        return Err(too_large(limit));
    }
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| {
            fail(
                StatusCode::BAD_REQUEST,
                "Expected a multipart/form-data body with the firmware file.",
            )
        })?;
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limit.saturating_add(MULTIPART_OVERHEAD))
            .per_field(limit.saturating_add(1)),
    );
    let stream = req.into_body().into_data_stream();
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut stored: Option<(FirmwareInfo, bool)> = None;
    let outcome: Result<(), Failure> = async {
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|e| multipart_failure(&e, limit))?
        {
            if stored.is_none() && field.file_name().is_some() {
                let name = field.file_name().map(str::to_owned);
                let ingested = shared
                    .ota
                    .firmware()
                    .ingest(field, name.as_deref())
                    .await
                    .map_err(|e| ingest_failure(e, limit))?;
                stored = Some((ingested.info, ingested.created));
                continue;
            }
            let mut seen = 0u64;
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| multipart_failure(&e, limit))?
            {
                seen += chunk.len() as u64;
                if stored.is_none() && seen > MAX_TEXT_FIELD {
                    return Err(fail(
                        StatusCode::BAD_REQUEST,
                        "A form field before the firmware file is too large.",
                    ));
                }
            }
        }
        Ok(())
    }
    .await;
    match (outcome, stored) {
        (Ok(()), Some(stored)) => Ok(stored),
        (Ok(()), None) => Err(fail(
            StatusCode::BAD_REQUEST,
            "Can't find binary data in request.",
        )),
        (Err(failure), Some((info, created))) => {
            if created {
                shared.ota.discard_if_unused(info.sha256).await;
            }
            Err(failure)
        }
        (Err(failure), None) => Err(failure),
    }
}

/// `POST /admin/ota/start[?token=|?user=[&project=]][&notify_online=][&force=][&max_attempts=]`.
pub async fn start_upload(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let q = match start_query(req.uri().query().unwrap_or("")) {
        Ok(q) => q,
        Err(failure) => return *failure,
    };
    let target = match resolve_target(shared, &q).await {
        Ok(t) => t,
        Err(failure) => return *failure,
    };
    let (firmware, created) = match receive_upload(shared, req).await {
        Ok(stored) => stored,
        Err(failure) => return *failure,
    };
    start(shared, target, firmware, created, q.options).await
}

/// `GET /admin/ota/start?token=T[&fileName=F]`: re-sends a published firmware (by its
/// download name; default the newest).
pub async fn start_stored(shared: &Shared, req: &Request<Incoming>) -> Response<Body> {
    let q = match start_query(req.uri().query().unwrap_or("")) {
        Ok(q) => q,
        Err(failure) => return *failure,
    };
    if q.token.is_none() {
        return text(StatusCode::BAD_REQUEST, "Invalid token.");
    }
    let target = match resolve_target(shared, &q).await {
        Ok(t) => t,
        Err(failure) => return *failure,
    };
    let Some(row) = shared.ota.published(q.file_name.clone()).await else {
        return match q.file_name {
            Some(name) => text(StatusCode::NOT_FOUND, format!("No firmware named {name}.")),
            None => text(StatusCode::NOT_FOUND, "No firmware has been uploaded yet."),
        };
    };
    let info = match BlobId::parse(&row.sha256) {
        Ok(id) => shared.ota.firmware().info(&id).await,
        Err(e) => Err(e),
    };
    match info {
        Ok(info) => start(shared, target, info, false, q.options).await,
        Err(e) => {
            tracing::error!(error = %e, name = %row.name, "published firmware unreadable");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Firmware {} cannot be read.", row.name),
            )
        }
    }
}

async fn start(
    shared: &Shared,
    target: TargetSpec,
    firmware: FirmwareInfo,
    created: bool,
    options: CampaignOptions,
) -> Response<Body> {
    let token_device = match &target {
        TargetSpec::Token(device) => Some(device.clone()),
        _ => None,
    };
    let request = StartRequest {
        target,
        firmware,
        created,
        options,
        initiator: shared.config.admin.email().to_owned(),
    };
    match shared.ota.start_campaign(request).await {
        Ok(started) => {
            let devices: HashMap<DeviceId, DeviceRecord> = token_device
                .into_iter()
                .map(|d| (engine_device(d.id), d))
                .collect();
            let target = shared
                .ota
                .status(Some(started.campaign))
                .await
                .and_then(|mut list| list.pop())
                .map(|s| target_json(&s.campaign.info.spec.target, &devices))
                .unwrap_or(Value::Null);
            json(
                StatusCode::OK,
                &json!({
                    "campaign": started.campaign.0,
                    "firmware": firmware_json(&started.firmware, Some(&started.published)),
                    "target": target,
                    "notified": started.notified,
                }),
            )
        }
        Err(e) => {
            let status = match e {
                StartError::DeviceOffline | StartError::NoBuild | StartError::Refused(_) => {
                    StatusCode::BAD_REQUEST
                }
                StartError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
                StartError::Gone => StatusCode::SERVICE_UNAVAILABLE,
            };
            text(status, e.to_string())
        }
    }
}

fn campaign_param(req: &Request<Incoming>) -> Result<Option<CampaignId>, Failure> {
    let Some(value) = query_pairs(req.uri().query().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "campaign")
        .map(|(_, v)| v)
    else {
        return Ok(None);
    };
    value
        .trim()
        .parse::<u64>()
        .map(|id| Some(CampaignId(id)))
        .map_err(|_| fail(StatusCode::NOT_FOUND, format!("Unknown campaign {value}.")))
}

/// `GET /admin/ota/stop[?campaign=ID]`.
pub async fn stop(shared: &Shared, req: &Request<Incoming>) -> Response<Body> {
    let campaign = match campaign_param(req) {
        Ok(c) => c,
        Err(failure) => return *failure,
    };
    match shared.ota.stop(campaign, shared.config.admin.email()).await {
        Some(ids) => {
            tracing::info!(?ids, "OTA campaigns stopped");
            let ids: Vec<u64> = ids.iter().map(|c| c.0).collect();
            json(StatusCode::OK, &json!({ "stopped": ids }))
        }
        None => unknown_campaign(campaign),
    }
}

fn unknown_campaign(campaign: Option<CampaignId>) -> Response<Body> {
    match campaign {
        Some(id) => text(StatusCode::NOT_FOUND, format!("Unknown campaign {id}.")),
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is shutting down.",
        ),
    }
}

/// `GET /admin/ota/status[?campaign=ID]`.
pub async fn status(shared: &Shared, req: &Request<Incoming>) -> Response<Body> {
    let campaign = match campaign_param(req) {
        Ok(c) => c,
        Err(failure) => return *failure,
    };
    let Some(list) = shared.ota.status(campaign).await else {
        return unknown_campaign(campaign);
    };
    let devices = match shared
        .store
        .call(|s| s.list_devices(&DeviceFilter::default()))
        .await
    {
        Ok(all) => all
            .into_iter()
            .map(|d| (engine_device(d.id), d))
            .collect::<HashMap<_, _>>(),
        Err(e) => {
            tracing::error!(error = %e, "OTA status failed in storage");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "Storage error.");
        }
    };
    let campaigns: Vec<Value> = list.iter().map(|c| campaign_json(c, &devices)).collect();
    json(StatusCode::OK, &json!({ "campaigns": campaigns }))
}

fn image_kind(kind: ImageKind) -> &'static str {
    match kind {
        ImageKind::Esp8266 => "esp8266",
        ImageKind::Esp32 => "esp32",
        ImageKind::Esp8266Gzip => "esp8266-gzip",
        ImageKind::Unknown => "unknown",
    }
}

/// The firmware object of the contract.
fn firmware_json(fw: &FirmwareRef, row: Option<&FirmwareRow>) -> Value {
    json!({
        "id": fw.id,
        "path": row.map(|r| format!("/static/ota/{}", r.name)),
        "file_name": row.and_then(|r| r.file_name.clone()),
        "size": fw.size,
        "md5": fw.md5,
        "sha256": fw.sha256,
        "build": fw.build,
        "version": fw.version,
        "fw_type": fw.fw_type,
        "image_kind": image_kind(fw.kind),
    })
}

fn target_json(target: &Target, devices: &HashMap<DeviceId, DeviceRecord>) -> Value {
    match target {
        Target::Token(device) => json!({
            "type": "token",
            "token": devices.get(device).map(|d| d.token.clone()),
        }),
        Target::User(user) => json!({ "type": "user", "user": user }),
        Target::UserProject { email, project } => json!({
            "type": "user_project",
            "user": email,
            "project": project,
        }),
        Target::All => json!({ "type": "all" }),
    }
}

fn failure_text(f: AttemptFailure) -> &'static str {
    match f {
        AttemptFailure::NoDownload => "the command was sent but no download started in time",
        AttemptFailure::Stalled => "the download stalled",
        AttemptFailure::Reconnected => "the device reconnected before finishing the download",
        AttemptFailure::OldBuildAfterDownload => {
            "the device downloaded the image but came back with its old build"
        }
        AttemptFailure::NoReportAfterDownload => {
            "the device downloaded the image but did not report back in time"
        }
    }
}

fn skip_text(r: SkipReason) -> &'static str {
    match r {
        SkipReason::FirmwareTypeMismatch => {
            "the device's fw-type (template) differs from the image's"
        }
        SkipReason::ChipMismatch => "the image is for another chip family than the device's board",
        SkipReason::NoBuildReported => {
            "the device reports no build, so it cannot be told up to date or not"
        }
    }
}

fn campaign_json(status: &CampaignStatus, devices: &HashMap<DeviceId, DeviceRecord>) -> Value {
    let info = &status.campaign.info;
    let fw = &info.spec.firmware;
    let state = match info.state {
        CampaignState::Active => "active",
        CampaignState::Stopped { .. } => "stopped",
        CampaignState::Superseded { .. } => "superseded",
        CampaignState::Finished { .. } => "finished",
    };
    let mut entries: Vec<(&DeviceId, &ota_core::DeviceEntry)> =
        status.campaign.devices.iter().collect();
    entries.sort_by_key(|(id, _)| **id);
    let list: Vec<Value> = entries
        .into_iter()
        .map(|(id, entry)| {
            let record = devices.get(id);
            let (name, bytes, reason) = match entry.state {
                DeviceState::Pending => (
                    "pending",
                    0,
                    entry
                        .last_failure
                        .map(|f| format!("attempt {} failed: {}", entry.attempts, failure_text(f))),
                ),
                DeviceState::Sent => ("sent", 0, None),
                DeviceState::Downloading { bytes, .. } => ("downloading", u64::from(bytes), None),
                DeviceState::Downloaded => ("downloaded", fw.size, None),
                DeviceState::Updated => ("updated", fw.size, None),
                DeviceState::Failed(FailReason::AttemptsExhausted(f)) => (
                    "failed",
                    0,
                    Some(format!(
                        "all {} attempts used; the last failed: {}",
                        entry.attempts,
                        failure_text(f)
                    )),
                ),
                DeviceState::UpToDate => ("up_to_date", 0, None),
                DeviceState::Skipped(r) => ("skipped", 0, Some(skip_text(r).to_owned())),
                DeviceState::Superseded => ("superseded", 0, None),
                DeviceState::Stopped => ("stopped", 0, None),
            };
            let reason = match (reason, status.notes.get(id)) {
                (Some(r), Some(n)) => Some(format!("{r}; {n}")),
                (r, n) => r.or_else(|| n.cloned()),
            };
            json!({
                "token": record.map(|d| d.token.clone()),
                "name": record.map(|d| d.name.clone()),
                "user": record.map(|d| d.user.clone()),
                "project": record.map(|d| d.project.clone()),
                "state": name,
                "attempts": entry.attempts,
                "bytes": bytes,
                "total": fw.size,
                "updated_at": entry.changed_at.0,
                "reason": reason,
            })
        })
        .collect();
    json!({
        "id": info.id.0,
        "state": state,
        "target": target_json(&info.spec.target, devices),
        "firmware": firmware_json(fw, status.published.as_ref()),
        "initiator": info.spec.initiator,
        "created_at": info.created_at.0,
        "options": {
            "force": info.spec.options.force,
            "notify_online": info.spec.options.notify_online,
            "max_attempts": info.spec.options.max_attempts,
        },
        "devices": list,
    })
}
