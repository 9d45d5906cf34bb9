//! Persistent state behind a small trait, so another backend (PostgreSQL for several
//! nodes) can follow the embedded SQLite one.
//!
//! The trait is synchronous: [`Store`] runs each call on tokio's blocking pool so the
//! async code never blocks a runtime thread on the database.

mod sqlite;

pub use sqlite::SqliteStorage;

use crate::error::{Error, Result};
use std::sync::Arc;

/// Database id of a device.
pub type DeviceId = i64;

/// A device to create (user and project are created when missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    /// Owner's e-mail.
    pub user: String,
    /// Project (legacy "dashboard") name, unique per user.
    pub project: String,
    /// Device name.
    pub name: String,
    /// Auth token, unique over all devices.
    pub token: String,
}

/// The last info message a device reported, as key/value pairs in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInfo {
    /// Every pair, in order.
    pub pairs: Vec<(String, String)>,
    /// When it was reported (Unix seconds).
    pub reported_at: i64,
}

impl StoredInfo {
    /// The value of the first pair with this key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A stored device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// Database id.
    pub id: DeviceId,
    /// Owner's e-mail.
    pub user: String,
    /// Project name.
    pub project: String,
    /// Device name.
    pub name: String,
    /// Auth token.
    pub token: String,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Last reported info message, if any.
    pub last_info: Option<StoredInfo>,
}

/// A project of a user with its device count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSummary {
    /// Project name.
    pub name: String,
    /// Number of devices in it.
    pub devices: u64,
}

/// A user with their projects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// E-mail.
    pub email: String,
    /// Projects, by name.
    pub projects: Vec<ProjectSummary>,
}

/// Which devices to list; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    /// Only this user's devices.
    pub user: Option<String>,
    /// Only devices of projects with this name.
    pub project: Option<String>,
}

/// A firmware published by the OTA API under a short download name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareRow {
    /// The firmware store's id (SHA-256 hex).
    pub sha256: String,
    /// Download name under `/static/ota/` (unique).
    pub name: String,
    /// The uploader's file name, sanitised (display only).
    pub file_name: Option<String>,
    /// First upload time, milliseconds since the Unix epoch (`Last-Modified`).
    pub uploaded_at: i64,
}

/// A device's download link in one campaign, and the latest delivery problem, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtaLink {
    /// Campaign id.
    pub campaign: u64,
    /// Device id.
    pub device: DeviceId,
    /// The unguessable key in the device's download URL.
    pub key: String,
    /// Why the command could not be delivered as planned (shared URL used, or not sent).
    pub note: Option<String>,
}

/// The storage operations the server needs. Every method is a short transaction.
pub trait Storage: Send + Sync + 'static {
    /// Schema version of the opened database.
    fn schema_version(&self) -> Result<i64>;
    /// Creates a device (and its user and project when missing).
    /// [`Error::DuplicateToken`] when the token is taken.
    fn create_device(&self, device: &NewDevice, now: i64) -> Result<DeviceRecord>;
    /// The device with this token.
    fn device_by_token(&self, token: &str) -> Result<Option<DeviceRecord>>;
    /// Devices matching `filter`, ordered by user, project, name.
    fn list_devices(&self, filter: &DeviceFilter) -> Result<Vec<DeviceRecord>>;
    /// Deletes the device with this token, returning it; `None` if there was none.
    fn delete_device(&self, token: &str) -> Result<Option<DeviceRecord>>;
    /// Users with their projects, ordered by e-mail.
    fn list_users(&self) -> Result<Vec<UserRecord>>;
    /// Stores a device's latest info message.
    fn record_info(&self, device: DeviceId, pairs: &[(String, String)], now: i64) -> Result<()>;
    /// Stores OTA engine records (full upserts) in one transaction, in order.
    fn ota_save(&self, records: &[ota_core::Record]) -> Result<()>;
    /// Every stored OTA record: campaigns by id, then device entries, ready for
    /// `ota_core::Engine::from_records`.
    fn ota_load(&self) -> Result<Vec<ota_core::Record>>;
    /// Publishes a firmware under `row.name`; when its SHA-256 is already published the
    /// stored row is kept and returned.
    fn firmware_publish(&self, row: &FirmwareRow) -> Result<FirmwareRow>;
    /// Every published firmware, oldest first.
    fn firmware_rows(&self) -> Result<Vec<FirmwareRow>>;
    /// The device's download key in a campaign: `key` is stored unless one exists (the
    /// stored key is returned); `note` replaces the delivery note when given.
    fn ota_link(
        &self,
        campaign: u64,
        device: DeviceId,
        key: &str,
        note: Option<&str>,
    ) -> Result<String>;
    /// Every download link.
    fn ota_links(&self) -> Result<Vec<OtaLink>>;
}

/// Cheap-to-clone async handle on a [`Storage`].
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn Storage>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Wraps a backend.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { inner: storage }
    }

    /// The backend, for synchronous use (start-up, tests).
    pub fn backend(&self) -> &Arc<dyn Storage> {
        &self.inner
    }

    /// Runs `f` against the backend on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Storage) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(inner.as_ref()))
            .await
            .map_err(|e| Error::StorageTask(e.to_string()))?
    }
}

/// Current wall-clock time in Unix seconds (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
