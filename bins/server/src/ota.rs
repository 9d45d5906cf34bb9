//! OTA in the server: one task that owns the [`ota_core::Engine`] and connects it to the
//! hardware sessions, the admin API, the download routes, the firmware store and SQLite.
//!
//! Every event (an info message, a closed connection, bytes served, an operator's
//! start/stop, the engine's timer) goes through one channel to that task, which feeds
//! the engine, stores every record it produced in SQLite (one transaction), and only
//! then performs the actions: "record `Sent`, then send". If storing fails, the actions
//! are dropped (the engine times the attempt out later), so a crash or a full disk can
//! lose a command, never cause one that is not counted against the attempt budget.
//!
//! The OTA command is INTERNAL id 7777 `ota\0<url>`, queued to the connection after a
//! short pause so it lands in its own receive after the OK to the info message
//! (`blynklib` parses one message per receive). The URL is
//! `http://<host>[:<http.port>]/ota/<key>` where `<key>` is 192 random bits per device
//! and campaign, and `<host>` is `server.host` or else the local address of the device's
//! own connection. When `ota\0<url>` does not fit the device's `buff-in`, the shorter
//! shared `/static/ota/<name>` URL is sent instead; when even that does not fit, nothing
//! is sent and the reason is recorded. Both cases show in `/admin/ota/status`.

use crate::error::{Error, Result};
use crate::hardware::sleep_until;
use crate::sessions::{ConnectionInfo, DeviceSessions};
use crate::storage::{DeviceRecord, FirmwareRow, Store};
use base64::Engine as _;
use blynk_proto::{HardwareInfo, Message};
use firmware_store::{BlobId, FirmwareInfo, FirmwareStore, StoreConfig};
use ota_core::{
    Action, Campaign, CampaignId, CampaignOptions, CampaignSpec, ConnId, DeviceId, DeviceReport,
    Engine, FirmwareRef, ImageKind, Target, Timestamp,
};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Message id of the OTA command (legacy value).
pub const OTA_MESSAGE_ID: u16 = 7777;

/// Pause between deciding to send and queueing the OTA frame, so that it reaches the
/// device in a receive of its own after the OK to the info message.
const OTA_PAUSE: Duration = Duration::from_millis(50);

/// Most queued inputs handled before their records are stored in one transaction.
const MAX_BATCH: usize = 512;

/// Random bytes in a per-device download key (base64url: 32 characters).
const KEY_BYTES: usize = 24;

/// Hex digits of the SHA-256 in a shared download name (`<hex>.bin`).
const SHORT_NAME_HEX: usize = 12;

/// Sub-folder of the data folder holding the firmware store.
pub const FIRMWARE_DIR: &str = "firmware";

/// Where an OTA campaign goes, as the admin API resolved it.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// One device, now.
    Token(DeviceRecord),
    /// Every device of a user (e-mail as stored).
    User(String),
    /// Every device of a user's project.
    UserProject(String, String),
    /// Every device.
    All,
}

/// A campaign to start.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// Who gets it.
    pub target: TargetSpec,
    /// The stored image.
    pub firmware: FirmwareInfo,
    /// `true` when this request stored the image (it is deleted again if the start
    /// fails and nothing else uses it).
    pub created: bool,
    /// Options.
    pub options: CampaignOptions,
    /// Admin e-mail.
    pub initiator: String,
}

/// A started campaign.
#[derive(Debug, Clone)]
pub struct Started {
    /// Its id.
    pub campaign: CampaignId,
    /// What it delivers.
    pub firmware: FirmwareRef,
    /// Under which name it is published.
    pub published: FirmwareRow,
    /// Devices sent the command right away.
    pub notified: usize,
}

/// Why a start was refused.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Token target without a live connection.
    #[error("No device in session.")]
    DeviceOffline,
    /// Deferred target, image without build information.
    #[error(
        "This image has no build information (no blnkinf tag and no \\0build\\0 marker); a deferred campaign needs it to tell updated devices apart. Use ?token= or add a build stamp."
    )]
    NoBuild,
    /// Any other refusal of the engine (bad options, ...).
    #[error("{0}")]
    Refused(String),
    /// Storage failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// The OTA task is gone (shutting down).
    #[error("the server is shutting down")]
    Gone,
}

/// One campaign for `/admin/ota/status`.
#[derive(Debug, Clone)]
pub struct CampaignStatus {
    /// The campaign and its device entries.
    pub campaign: Campaign,
    /// Its published firmware, if known.
    pub published: Option<FirmwareRow>,
    /// Delivery notes by device.
    pub notes: HashMap<DeviceId, String>,
}

/// A download path, as the public router saw it.
#[derive(Debug, Clone)]
pub enum DownloadPath {
    /// `/ota/<key>`: one device's link.
    Device(String),
    /// `/static/ota/<name>`: the shared link.
    Shared(String),
}

/// Attribution of a device download.
#[derive(Debug, Clone, Copy)]
pub struct ProgressKey {
    /// Campaign.
    pub campaign: CampaignId,
    /// Device.
    pub device: DeviceId,
    /// Attempt the bytes belong to.
    pub attempt: u8,
}

/// What a download path serves.
#[derive(Debug, Clone)]
pub struct Download {
    /// The blob.
    pub id: BlobId,
    /// When first published (ms since the Unix epoch), for `Last-Modified`.
    pub published_at: i64,
    /// Progress attribution (device links only).
    pub progress: Option<ProgressKey>,
}

enum Command {
    Info {
        conn: ConnId,
        device: DeviceId,
        owner: String,
        project: String,
        report: DeviceReport,
    },
    Disconnected(ConnId),
    Progress {
        key: ProgressKey,
        bytes: u64,
        total: u64,
    },
    Note {
        campaign: CampaignId,
        device: DeviceId,
        note: String,
    },
    Start(
        Box<StartRequest>,
        oneshot::Sender<Result<Started, StartError>>,
    ),
    Stop {
        campaign: Option<CampaignId>,
        by: String,
        reply: oneshot::Sender<Option<Vec<CampaignId>>>,
    },
    Status {
        campaign: Option<CampaignId>,
        reply: oneshot::Sender<Option<Vec<CampaignStatus>>>,
    },
    Resolve(DownloadPath, oneshot::Sender<Option<Download>>),
    Published {
        name: Option<String>,
        reply: oneshot::Sender<Option<FirmwareRow>>,
    },
    Discard(BlobId, oneshot::Sender<()>),
}

/// Handle on the OTA task. Cheap to clone.
#[derive(Clone)]
pub struct Ota {
    tx: mpsc::UnboundedSender<Command>,
    firmware: FirmwareStore,
}

impl std::fmt::Debug for Ota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ota").finish_non_exhaustive()
    }
}

/// Where download URLs point.
#[derive(Debug, Clone)]
pub struct UrlBase {
    /// `server.host`, if set.
    pub host: Option<String>,
    /// The bound plain HTTP port.
    pub http_port: u16,
}

impl UrlBase {
    /// `http://<host>[:port]` for a device connected to `local`.
    pub fn for_local(&self, local: SocketAddr) -> String {
        let host = match &self.host {
            Some(h) => h.clone(),
            None => match local.ip().to_canonical() {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            },
        };
        if self.http_port == 80 {
            format!("http://{host}")
        } else {
            format!("http://{host}:{}", self.http_port)
        }
    }
}

/// Milliseconds since the Unix epoch (0 before 1970).
pub fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn now() -> Timestamp {
    Timestamp(unix_millis())
}

/// The engine's device id for a database id (ids are positive row ids).
pub fn engine_device(id: i64) -> DeviceId {
    DeviceId(u64::try_from(id).unwrap_or(0))
}

fn db_device(id: DeviceId) -> i64 {
    i64::try_from(id.0).unwrap_or(i64::MAX)
}

/// What the engine needs from the store's metadata.
pub fn firmware_ref(info: &FirmwareInfo) -> FirmwareRef {
    let image = &info.image;
    FirmwareRef {
        id: info.sha256.to_string(),
        build: image.build.clone(),
        version: image.tag_value("mcu").map(str::to_owned),
        fw_type: image.tag_value("fw-type").map(str::to_owned),
        kind: match image.kind {
            firmware_store::ImageKind::Esp8266 { .. } => ImageKind::Esp8266,
            firmware_store::ImageKind::Esp32 { .. } => ImageKind::Esp32,
            firmware_store::ImageKind::Esp8266Gzip => ImageKind::Esp8266Gzip,
            _ => ImageKind::Unknown,
        },
        size: info.size,
        md5: info.md5.clone(),
        sha256: info.sha256.to_string(),
    }
}

/// A device's info message as the engine reads it.
pub fn device_report(info: &HardwareInfo) -> DeviceReport {
    DeviceReport {
        build: info.build().map(str::to_owned),
        firmware_version: info.firmware_version().map(str::to_owned),
        fw_type: info.fw_type().map(str::to_owned),
        template: info.template().map(str::to_owned),
        board: info.board().map(str::to_owned),
    }
}

fn new_key() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; KEY_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl Ota {
    /// Opens the firmware store under the data folder, rebuilds the engine from SQLite
    /// and starts the OTA task (stopped by `stop`).
    pub async fn start(
        data_folder: &Path,
        max_firmware_size: u64,
        store: Store,
        sessions: Arc<DeviceSessions>,
        url: UrlBase,
        stop: CancellationToken,
    ) -> Result<(Ota, JoinHandle<()>)> {
        let firmware = FirmwareStore::open(
            data_folder.join(FIRMWARE_DIR),
            StoreConfig {
                max_size: max_firmware_size,
            },
        )
        .await?;
        let (records, rows, links) = store
            .call(|s| Ok((s.ota_load()?, s.firmware_rows()?, s.ota_links()?)))
            .await?;
        let campaigns = records
            .iter()
            .filter(|r| matches!(r, ota_core::Record::Campaign(_)))
            .count();
        let engine = Engine::from_records(records).map_err(|e| Error::OtaState(e.to_string()))?;
        tracing::info!(
            campaigns,
            active = engine.active_ids().len(),
            "OTA state loaded"
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let mut task = Task {
            engine,
            store,
            firmware: firmware.clone(),
            sessions,
            url,
            tx: tx.clone(),
            keys: HashMap::new(),
            key_of: HashMap::new(),
            notes: HashMap::new(),
            published: HashMap::new(),
            by_name: HashMap::new(),
        };
        for row in rows {
            task.remember(row);
        }
        for link in links {
            let pair = (CampaignId(link.campaign), engine_device(link.device));
            task.keys.insert(link.key.clone(), pair);
            task.key_of.insert(pair, link.key);
            if let Some(note) = link.note {
                task.notes.insert(pair, note);
            }
        }
        let handle = tokio::spawn(task.run(rx, stop));
        Ok((Ota { tx, firmware }, handle))
    }

    /// The firmware store.
    pub fn firmware(&self) -> &FirmwareStore {
        &self.firmware
    }

    /// A connection reported its info message (after its OK was queued).
    pub fn info_reported(&self, device: &DeviceRecord, conn: &ConnectionInfo, info: &HardwareInfo) {
        let _ = self.tx.send(Command::Info {
            conn: ConnId(conn.id),
            device: engine_device(device.id),
            owner: device.user.to_lowercase(),
            project: device.project.clone(),
            report: device_report(info),
        });
    }

    /// A logged-in connection closed.
    pub fn disconnected(&self, conn: &ConnectionInfo) {
        let _ = self.tx.send(Command::Disconnected(ConnId(conn.id)));
    }

    /// Bytes served on a device link: `bytes` of `total` so far.
    pub fn progress(&self, key: ProgressKey, bytes: u64, total: u64) {
        let _ = self.tx.send(Command::Progress { key, bytes, total });
    }

    /// Starts a campaign.
    pub async fn start_campaign(&self, request: StartRequest) -> Result<Started, StartError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Start(Box::new(request), reply))
            .map_err(|_| StartError::Gone)?;
        rx.await.map_err(|_| StartError::Gone)?
    }

    /// Stops one campaign or all; `None` when the campaign is unknown (or the task gone).
    pub async fn stop(&self, campaign: Option<CampaignId>, by: &str) -> Option<Vec<CampaignId>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Stop {
                campaign,
                by: by.to_owned(),
                reply,
            })
            .ok()?;
        rx.await.ok().flatten()
    }

    /// Campaigns, newest first; `None` when the campaign is unknown (or the task gone).
    pub async fn status(&self, campaign: Option<CampaignId>) -> Option<Vec<CampaignStatus>> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Status { campaign, reply }).ok()?;
        rx.await.ok().flatten()
    }

    /// What a download path serves, if anything.
    pub async fn resolve(&self, path: DownloadPath) -> Option<Download> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Resolve(path, reply)).ok()?;
        rx.await.ok().flatten()
    }

    /// Deletes a blob a failed request stored, unless a campaign or publication uses it.
    pub async fn discard_if_unused(&self, id: BlobId) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::Discard(id, reply)).is_ok() {
            let _ = rx.await;
        }
    }

    /// A published firmware by download name, or the newest one.
    pub async fn published(&self, name: Option<String>) -> Option<FirmwareRow> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Published { name, reply }).ok()?;
        rx.await.ok().flatten()
    }
}

struct Task {
    engine: Engine,
    store: Store,
    firmware: FirmwareStore,
    sessions: Arc<DeviceSessions>,
    url: UrlBase,
    tx: mpsc::UnboundedSender<Command>,
    keys: HashMap<String, (CampaignId, DeviceId)>,
    key_of: HashMap<(CampaignId, DeviceId), String>,
    notes: HashMap<(CampaignId, DeviceId), String>,
    published: HashMap<String, FirmwareRow>,
    by_name: HashMap<String, String>,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>, stop: CancellationToken) {
        loop {
            let deadline = self.engine.poll_timeout().map(|t| {
                let wait = t.millis_since(now());
                tokio::time::Instant::now() + Duration::from_millis(wait)
            });
            tokio::select! {
                command = rx.recv() => match command {
                    Some(command) => {
                        // Group commit: take what else is already queued (device events,
                        // download progress) and store all of their records in one
                        // transaction before any of their actions run.
                        let mut dirty = self.handle(command).await;
                        for _ in 1..MAX_BATCH {
                            match rx.try_recv() {
                                Ok(command) => dirty |= self.handle(command).await,
                                Err(_) => break,
                            }
                        }
                        if dirty {
                            self.drain().await;
                        }
                    }
                    None => return,
                },
                () = sleep_until(deadline) => {
                    self.engine.handle_timeout(now());
                    self.drain().await;
                }
                () = stop.cancelled() => return,
            }
        }
    }

    fn remember(&mut self, row: FirmwareRow) {
        self.by_name.insert(row.name.clone(), row.sha256.clone());
        self.published.insert(row.sha256.clone(), row);
    }

    /// Handles one input. Returns true when it fed the engine and left its records and
    /// actions for the caller's [`Task::drain`]; start and stop drain before they answer,
    /// so the admin sees a campaign only once its records are stored.
    async fn handle(&mut self, command: Command) -> bool {
        match command {
            Command::Info {
                conn,
                device,
                owner,
                project,
                report,
            } => {
                self.engine
                    .device_info(now(), conn, device, &owner, &project, &report);
                return true;
            }
            Command::Disconnected(conn) => {
                self.engine.disconnected(conn);
                return true;
            }
            Command::Progress { key, bytes, total } => {
                let _ = self.engine.download_progress(
                    now(),
                    key.campaign,
                    key.device,
                    key.attempt,
                    bytes,
                    total,
                );
                return true;
            }
            Command::Note {
                campaign,
                device,
                note,
            } => self.note(campaign, device, note).await,
            Command::Start(request, reply) => {
                let result = self.start(*request).await;
                let _ = reply.send(result);
            }
            Command::Stop {
                campaign,
                by,
                reply,
            } => {
                let stopped = match campaign {
                    None => Some(self.engine.stop_all(now(), &by)),
                    Some(id) => match self.engine.stop(now(), id, &by) {
                        Ok(()) => Some(vec![id]),
                        Err(ota_core::Error::CampaignNotActive(_)) => Some(Vec::new()),
                        Err(_) => None,
                    },
                };
                self.drain().await;
                let _ = reply.send(stopped);
            }
            Command::Status { campaign, reply } => {
                let _ = reply.send(self.status(campaign));
            }
            Command::Resolve(path, reply) => {
                let _ = reply.send(self.resolve(&path));
            }
            Command::Discard(id, reply) => {
                self.discard_unused(id).await;
                let _ = reply.send(());
            }
            Command::Published { name, reply } => {
                let row = match name {
                    Some(name) => self
                        .by_name
                        .get(&name)
                        .and_then(|sha| self.published.get(sha))
                        .cloned(),
                    None => self
                        .published
                        .values()
                        .max_by_key(|r| (r.uploaded_at, r.name.clone()))
                        .cloned(),
                };
                let _ = reply.send(row);
            }
        }
        false
    }

    /// Persists every pending record, then performs the actions; returns the devices
    /// sent a command.
    async fn drain(&mut self) -> Vec<DeviceId> {
        let mut records = Vec::new();
        while let Some(record) = self.engine.poll_record() {
            records.push(record);
        }
        if !records.is_empty() {
            if let Err(e) = self.store.call(move |s| s.ota_save(&records)).await {
                tracing::error!(error = %e, "storing OTA records failed; their commands are not sent");
                while self.engine.poll_action().is_some() {}
                return Vec::new();
            }
        }
        let mut sent = Vec::new();
        while let Some(action) = self.engine.poll_action() {
            match action {
                Action::SendOta {
                    conn,
                    campaign,
                    device,
                    attempt,
                } => {
                    if self.send_ota(conn, campaign, device, attempt).await {
                        sent.push(device);
                    }
                }
            }
        }
        sent.sort_unstable();
        sent.dedup();
        sent
    }

    async fn note(&mut self, campaign: CampaignId, device: DeviceId, note: String) {
        tracing::warn!(%campaign, %device, %note, "OTA command not delivered as planned");
        let key = match self.key_of.get(&(campaign, device)) {
            Some(k) => k.clone(),
            None => match new_key() {
                Ok(k) => k,
                Err(_) => return,
            },
        };
        let stored = note.clone();
        let dev = db_device(device);
        match self
            .store
            .call(move |s| s.ota_link(campaign.0, dev, &key, Some(&stored)))
            .await
        {
            Ok(key) => {
                self.keys.insert(key.clone(), (campaign, device));
                self.key_of.insert((campaign, device), key);
                self.notes.insert((campaign, device), note);
            }
            Err(e) => tracing::error!(error = %e, "storing an OTA note failed"),
        }
    }

    /// Builds the URL, stores the link (and a note if the URL had to change), then
    /// queues the frame after [`OTA_PAUSE`]. `true` if a command is on its way.
    async fn send_ota(
        &mut self,
        conn: ConnId,
        campaign: CampaignId,
        device: DeviceId,
        attempt: u8,
    ) -> bool {
        let dev = db_device(device);
        let Some(connection) = self
            .sessions
            .connections(dev)
            .into_iter()
            .find(|c| c.id == conn.0)
        else {
            self.note(
                campaign,
                device,
                format!("attempt {attempt}: the connection closed before the command was sent"),
            )
            .await;
            return false;
        };
        let key = match self.key_of.get(&(campaign, device)) {
            Some(k) => k.clone(),
            None => match new_key() {
                Ok(k) => k,
                Err(e) => {
                    self.note(
                        campaign,
                        device,
                        format!("attempt {attempt}: no random key: {e}"),
                    )
                    .await;
                    return false;
                }
            },
        };
        let shared_name = self
            .engine
            .campaign(campaign)
            .and_then(|c| self.published.get(&c.info.spec.firmware.id))
            .map(|row| row.name.clone());
        let base = self.url.for_local(connection.local);
        let device_url = format!("{base}/ota/{key}");
        let body_len = |url: &str| 4 + url.len();
        let buff_in = connection.buff_in();
        let (url, note) = if connection.fits(body_len(&device_url)) {
            (Some(device_url), None)
        } else {
            match shared_name.map(|n| format!("{base}/static/ota/{n}")) {
                Some(shared) if connection.fits(body_len(&shared)) => {
                    let note = format!(
                        "attempt {attempt}: the device URL ({} bytes) does not fit buff-in {buff_in}; sent the shared URL {shared} (download progress is not tracked)",
                        body_len(&device_url)
                    );
                    (Some(shared), Some(note))
                }
                _ => (
                    None,
                    Some(format!(
                        "attempt {attempt}: not sent: the OTA command ({} bytes with the header) does not fit the device's buff-in of {buff_in}, not even with the shared URL",
                        body_len(&device_url) + blynk_proto::HEADER_LEN
                    )),
                ),
            }
        };
        let stored_note = note.clone();
        let stored = self
            .store
            .call(move |s| s.ota_link(campaign.0, dev, &key, stored_note.as_deref()))
            .await;
        let key = match stored {
            Ok(key) => key,
            Err(e) => {
                tracing::error!(error = %e, "storing an OTA link failed; command not sent");
                return false;
            }
        };
        self.keys.insert(key.clone(), (campaign, device));
        self.key_of.insert((campaign, device), key);
        if let Some(note) = note {
            tracing::warn!(%campaign, %device, %note, "OTA command");
            self.notes.insert((campaign, device), note);
        }
        let Some(url) = url else {
            return false;
        };
        tracing::info!(%campaign, %device, attempt, %url, "sending the OTA command");
        let sessions = Arc::clone(&self.sessions);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(OTA_PAUSE).await;
            let message = Message::ota(OTA_MESSAGE_ID, url.into_bytes());
            let problem = match sessions.send_to_connection(dev, conn.0, &message) {
                Ok(report) if report.delivered > 0 => None,
                Ok(report) if report.congested > 0 => Some("the connection's send queue was full"),
                Ok(report) if report.too_big > 0 => Some("the command does not fit buff-in"),
                Ok(_) => Some("the connection closed before the command was sent"),
                Err(_) => Some("the command could not be encoded"),
            };
            if let Some(problem) = problem {
                let _ = tx.send(Command::Note {
                    campaign,
                    device,
                    note: format!("attempt {attempt}: not delivered: {problem}"),
                });
            }
        });
        true
    }

    async fn start(&mut self, request: StartRequest) -> Result<Started, StartError> {
        let StartRequest {
            target,
            firmware,
            created,
            options,
            initiator,
        } = request;
        let fw = firmware_ref(&firmware);
        let (target, conns) = match target {
            TargetSpec::Token(device) => {
                let conns: Vec<ConnId> = self
                    .sessions
                    .connections(device.id)
                    .iter()
                    .map(|c| ConnId(c.id))
                    .collect();
                (Target::Token(engine_device(device.id)), conns)
            }
            TargetSpec::User(user) => (Target::User(user.to_lowercase()), Vec::new()),
            TargetSpec::UserProject(user, project) => (
                Target::UserProject {
                    email: user.to_lowercase(),
                    project,
                },
                Vec::new(),
            ),
            TargetSpec::All => (Target::All, Vec::new()),
        };
        let spec = CampaignSpec {
            target,
            firmware: fw.clone(),
            options,
            initiator,
        };
        let id = match self.engine.start_campaign(now(), spec, &conns) {
            Ok(id) => id,
            Err(e) => {
                if created {
                    self.discard_unused(firmware.sha256).await;
                }
                return Err(match e {
                    ota_core::Error::DeviceOffline(_) => StartError::DeviceOffline,
                    ota_core::Error::NoBuildForDeferred => StartError::NoBuild,
                    other => StartError::Refused(other.to_string()),
                });
            }
        };
        let published = match self.publish(&firmware).await {
            Ok(row) => row,
            Err(e) => {
                // The engine has the campaign but it was never stored: stop it so that
                // memory and database agree, and report the failure.
                let _ = self.engine.stop(now(), id, "storage failure");
                self.drain().await;
                return Err(StartError::Storage(e.to_string()));
            }
        };
        let notified = self.drain().await.len();
        tracing::info!(campaign = %id, firmware = %fw.id, notified, "OTA campaign started");
        Ok(Started {
            campaign: id,
            firmware: fw,
            published,
            notified,
        })
    }

    /// Publishes a firmware under a short name (the full hash if the short one is taken).
    async fn publish(&mut self, firmware: &FirmwareInfo) -> Result<FirmwareRow> {
        let sha = firmware.sha256.to_string();
        if let Some(row) = self.published.get(&sha) {
            return Ok(row.clone());
        }
        let short = format!("{}.bin", &sha[..SHORT_NAME_HEX.min(sha.len())]);
        let name = if self.by_name.contains_key(&short) {
            format!("{sha}.bin")
        } else {
            short
        };
        let row = FirmwareRow {
            sha256: sha,
            name,
            file_name: firmware.file_name.clone(),
            uploaded_at: i64::try_from(unix_millis()).unwrap_or(i64::MAX),
        };
        let row = self.store.call(move |s| s.firmware_publish(&row)).await?;
        self.remember(row.clone());
        Ok(row)
    }

    /// Deletes a blob this request stored when no campaign and no publication uses it.
    async fn discard_unused(&mut self, id: BlobId) {
        let hex = id.to_string();
        let used = self.published.contains_key(&hex)
            || self
                .engine
                .campaigns()
                .any(|c| c.info.spec.firmware.id == hex);
        if !used {
            if let Err(e) = self.firmware.delete(&id).await {
                tracing::warn!(error = %e, "could not delete an unused firmware blob");
            }
        }
    }

    fn status(&self, campaign: Option<CampaignId>) -> Option<Vec<CampaignStatus>> {
        let one = |c: &Campaign| CampaignStatus {
            campaign: c.clone(),
            published: self.published.get(&c.info.spec.firmware.id).cloned(),
            notes: self
                .notes
                .iter()
                .filter(|((cid, _), _)| *cid == c.info.id)
                .map(|((_, d), n)| (*d, n.clone()))
                .collect(),
        };
        match campaign {
            Some(id) => self.engine.campaign(id).map(|c| vec![one(c)]),
            None => {
                let mut all: Vec<CampaignStatus> = self.engine.campaigns().map(one).collect();
                all.reverse();
                Some(all)
            }
        }
    }

    fn resolve(&self, path: &DownloadPath) -> Option<Download> {
        match path {
            DownloadPath::Device(key) => {
                let &(campaign, device) = self.keys.get(key)?;
                let c = self.engine.campaign(campaign)?;
                if !c.info.is_active() {
                    return None;
                }
                let entry = c.devices.get(&device)?;
                let fw = &c.info.spec.firmware;
                let row = self.published.get(&fw.id);
                Some(Download {
                    id: BlobId::parse(&fw.id).ok()?,
                    published_at: row.map_or(0, |r| r.uploaded_at),
                    progress: Some(ProgressKey {
                        campaign,
                        device,
                        attempt: entry.attempts,
                    }),
                })
            }
            DownloadPath::Shared(name) => {
                let sha = self.by_name.get(name)?;
                let row = self.published.get(sha)?;
                Some(Download {
                    id: BlobId::parse(sha).ok()?,
                    published_at: row.uploaded_at,
                    progress: None,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_base_uses_server_host_or_the_local_address() {
        let base = UrlBase {
            host: None,
            http_port: 8080,
        };
        assert_eq!(
            base.for_local("10.0.0.5:8080".parse().unwrap()),
            "http://10.0.0.5:8080"
        );
        assert_eq!(
            base.for_local("[fe80::1]:8080".parse().unwrap()),
            "http://[fe80::1]:8080"
        );
        assert_eq!(
            base.for_local("[::ffff:192.0.2.1]:8080".parse().unwrap()),
            "http://192.0.2.1:8080"
        );
        let named = UrlBase {
            host: Some("ota.example.org".into()),
            http_port: 80,
        };
        assert_eq!(
            named.for_local("10.0.0.5:80".parse().unwrap()),
            "http://ota.example.org"
        );
    }

    #[test]
    fn keys_are_long_random_and_url_safe() {
        let a = new_key().unwrap();
        let b = new_key().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
