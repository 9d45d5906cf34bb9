//! The embedded SQLite backend (bundled SQLite, WAL journal, versioned migrations).

use super::{
    DeviceFilter, DeviceId, DeviceRecord, FirmwareRow, NewDevice, OtaLink, ProjectSummary, Storage,
    StoredInfo, UserRecord,
};
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Schema migrations, applied in order; `PRAGMA user_version` holds how many ran.
/// Never edit a released entry: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: registry.
    "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE projects (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (user_id, name)
    );
    CREATE TABLE devices (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        token TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        last_info TEXT,
        last_info_at INTEGER
    );
    CREATE INDEX devices_project ON devices(project_id);",
    // 2: OTA. Engine records (full upserts, serde JSON), stored firmware names, the
    // per-device download keys and delivery notes.
    "CREATE TABLE ota_firmware (
        sha256 TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        file_name TEXT,
        uploaded_at INTEGER NOT NULL
    );
    CREATE TABLE ota_campaigns (
        id INTEGER PRIMARY KEY,
        info TEXT NOT NULL
    );
    CREATE TABLE ota_devices (
        campaign INTEGER NOT NULL,
        device INTEGER NOT NULL,
        entry TEXT NOT NULL,
        PRIMARY KEY (campaign, device)
    );
    CREATE TABLE ota_links (
        campaign INTEGER NOT NULL,
        device INTEGER NOT NULL,
        url_key TEXT NOT NULL UNIQUE,
        note TEXT,
        PRIMARY KEY (campaign, device)
    );",
];

/// The database file name inside the data folder.
pub const DATABASE_FILE: &str = "blynk-ota.sqlite3";

/// SQLite storage; one connection guarded by a mutex (calls are short).
#[derive(Debug)]
pub struct SqliteStorage {
    conn: Mutex<Connection>,
}

impl SqliteStorage {
    /// Opens (creating if needed) `<data folder>/blynk-ota.sqlite3` and migrates it.
    pub fn open_in(data_folder: &Path) -> Result<Self> {
        Self::open(&data_folder.join(DATABASE_FILE))
    }

    /// Opens (creating if needed) the database file and migrates it.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Self::from_connection(conn)
    }

    /// An in-memory database (tests, tools).
    pub fn in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", true)?;
        Self::from_connection(conn)
    }

    fn from_connection(mut conn: Connection) -> Result<Self> {
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-done transaction (rusqlite
        // rolls back on drop), so a poisoned lock is safe to keep using.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let supported = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > supported {
        return Err(Error::SchemaTooNew {
            found: current,
            supported,
        });
    }
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(index + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
        tracing::info!(version = index + 1, "database migrated");
    }
    Ok(())
}

const DEVICE_SELECT: &str =
    "SELECT d.id, u.email, p.name, d.name, d.token, d.created_at, d.last_info, d.last_info_at
     FROM devices d JOIN projects p ON p.id = d.project_id JOIN users u ON u.id = p.user_id";

fn device_from_row(row: &Row<'_>) -> rusqlite::Result<DeviceRecord> {
    let info_json: Option<String> = row.get(6)?;
    let info_at: Option<i64> = row.get(7)?;
    let last_info = match (info_json, info_at) {
        (Some(json), Some(reported_at)) => {
            // Stored by this server; an unreadable value is treated as "no info".
            serde_json::from_str::<Vec<(String, String)>>(&json)
                .ok()
                .map(|pairs| StoredInfo { pairs, reported_at })
        }
        _ => None,
    };
    Ok(DeviceRecord {
        id: row.get(0)?,
        user: row.get(1)?,
        project: row.get(2)?,
        name: row.get(3)?,
        token: row.get(4)?,
        created_at: row.get(5)?,
        last_info,
    })
}

fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

impl Storage for SqliteStorage {
    fn schema_version(&self) -> Result<i64> {
        Ok(self
            .lock()
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn create_device(&self, device: &NewDevice, now: i64) -> Result<DeviceRecord> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO users (email, created_at) VALUES (?1, ?2) ON CONFLICT (email) DO NOTHING",
            params![device.user, now],
        )?;
        let user_id: i64 = tx.query_row(
            "SELECT id FROM users WHERE email = ?1",
            [&device.user],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO projects (user_id, name, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id, name) DO NOTHING",
            params![user_id, device.project, now],
        )?;
        let project_id: i64 = tx.query_row(
            "SELECT id FROM projects WHERE user_id = ?1 AND name = ?2",
            params![user_id, device.project],
            |r| r.get(0),
        )?;
        let inserted = tx.execute(
            "INSERT INTO devices (project_id, name, token, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![project_id, device.name, device.token, now],
        );
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(Error::DuplicateToken),
            Err(e) => return Err(e.into()),
        }
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(DeviceRecord {
            id,
            user: device.user.clone(),
            project: device.project.clone(),
            name: device.name.clone(),
            token: device.token.clone(),
            created_at: now,
            last_info: None,
        })
    }

    fn device_by_token(&self, token: &str) -> Result<Option<DeviceRecord>> {
        let conn = self.lock();
        let sql = format!("{DEVICE_SELECT} WHERE d.token = ?1");
        Ok(conn.query_row(&sql, [token], device_from_row).optional()?)
    }

    fn list_devices(&self, filter: &DeviceFilter) -> Result<Vec<DeviceRecord>> {
        let conn = self.lock();
        let sql = format!(
            "{DEVICE_SELECT} WHERE (?1 IS NULL OR u.email = ?1) AND (?2 IS NULL OR p.name = ?2)
             ORDER BY u.email, p.name, d.name, d.id"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params![filter.user, filter.project], device_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn delete_device(&self, token: &str) -> Result<Option<DeviceRecord>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let sql = format!("{DEVICE_SELECT} WHERE d.token = ?1");
        let found = tx.query_row(&sql, [token], device_from_row).optional()?;
        if let Some(device) = &found {
            tx.execute("DELETE FROM devices WHERE id = ?1", [device.id])?;
        }
        tx.commit()?;
        Ok(found)
    }

    fn list_users(&self) -> Result<Vec<UserRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT u.email, p.name, COUNT(d.id)
             FROM users u LEFT JOIN projects p ON p.user_id = u.id
             LEFT JOIN devices d ON d.project_id = p.id
             GROUP BY u.id, p.id ORDER BY u.email, p.name",
        )?;
        let mut users: Vec<UserRecord> = Vec::new();
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (email, project, devices) = row?;
            if users.last().is_none_or(|u| u.email != email) {
                users.push(UserRecord {
                    email,
                    projects: Vec::new(),
                });
            }
            if let (Some(user), Some(name)) = (users.last_mut(), project) {
                user.projects.push(ProjectSummary {
                    name,
                    devices: u64::try_from(devices).unwrap_or(0),
                });
            }
        }
        Ok(users)
    }

    fn record_info(&self, device: DeviceId, pairs: &[(String, String)], now: i64) -> Result<()> {
        let json = serde_json::to_string(pairs).map_err(|e| Error::StorageTask(e.to_string()))?;
        self.lock().execute(
            "UPDATE devices SET last_info = ?1, last_info_at = ?2 WHERE id = ?3",
            params![json, now, device],
        )?;
        Ok(())
    }

    fn ota_save(&self, records: &[ota_core::Record]) -> Result<()> {
        let mut conn = self.lock();
        // A command is sent only after its record commits: make that commit survive a
        // power loss too (the rest of the database keeps the cheaper NORMAL level).
        conn.pragma_update(None, "synchronous", "FULL")?;
        let result = save_records(&mut conn, records);
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        result
    }

    fn ota_load(&self) -> Result<Vec<ota_core::Record>> {
        let conn = self.lock();
        let mut records = Vec::new();
        let mut stmt = conn.prepare("SELECT info FROM ota_campaigns ORDER BY id")?;
        for json in stmt.query_map([], |r| r.get::<_, String>(0))? {
            let info: ota_core::CampaignInfo = from_json(&json?)?;
            records.push(ota_core::Record::Campaign(Box::new(info)));
        }
        let mut stmt = conn
            .prepare("SELECT campaign, device, entry FROM ota_devices ORDER BY campaign, device")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (campaign, device, json) = row?;
            records.push(ota_core::Record::Device {
                campaign: ota_core::CampaignId(u64::try_from(campaign).unwrap_or(0)),
                device: ota_core::DeviceId(u64::try_from(device).unwrap_or(0)),
                entry: from_json(&json)?,
            });
        }
        Ok(records)
    }

    fn firmware_publish(&self, row: &FirmwareRow) -> Result<FirmwareRow> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO ota_firmware (sha256, name, file_name, uploaded_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (sha256) DO NOTHING",
            params![row.sha256, row.name, row.file_name, row.uploaded_at],
        )?;
        Ok(conn.query_row(
            "SELECT sha256, name, file_name, uploaded_at FROM ota_firmware WHERE sha256 = ?1",
            [&row.sha256],
            firmware_from_row,
        )?)
    }

    fn firmware_rows(&self) -> Result<Vec<FirmwareRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT sha256, name, file_name, uploaded_at FROM ota_firmware ORDER BY uploaded_at, rowid",
        )?;
        let rows = stmt.query_map([], firmware_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn ota_link(
        &self,
        campaign: u64,
        device: DeviceId,
        key: &str,
        note: Option<&str>,
    ) -> Result<String> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let campaign = sql_u64(campaign)?;
        tx.execute(
            "INSERT INTO ota_links (campaign, device, url_key) VALUES (?1, ?2, ?3)
             ON CONFLICT (campaign, device) DO NOTHING",
            params![campaign, device, key],
        )?;
        if let Some(note) = note {
            tx.execute(
                "UPDATE ota_links SET note = ?3 WHERE campaign = ?1 AND device = ?2",
                params![campaign, device, note],
            )?;
        }
        let stored: String = tx.query_row(
            "SELECT url_key FROM ota_links WHERE campaign = ?1 AND device = ?2",
            params![campaign, device],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(stored)
    }

    fn ota_links(&self) -> Result<Vec<OtaLink>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT campaign, device, url_key, note FROM ota_links ORDER BY campaign")?;
        let rows = stmt.query_map([], |r| {
            Ok(OtaLink {
                campaign: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                device: r.get(1)?,
                key: r.get(2)?,
                note: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

/// Upserts engine records in one transaction.
fn save_records(conn: &mut Connection, records: &[ota_core::Record]) -> Result<()> {
    let tx = conn.transaction()?;
    for record in records {
        match record {
            ota_core::Record::Campaign(info) => {
                let json = to_json(info.as_ref())?;
                tx.execute(
                    "INSERT INTO ota_campaigns (id, info) VALUES (?1, ?2)
                         ON CONFLICT (id) DO UPDATE SET info = excluded.info",
                    params![sql_u64(info.id.0)?, json],
                )?;
            }
            ota_core::Record::Device {
                campaign,
                device,
                entry,
            } => {
                tx.execute(
                    "INSERT INTO ota_devices (campaign, device, entry) VALUES (?1, ?2, ?3)
                         ON CONFLICT (campaign, device) DO UPDATE SET entry = excluded.entry",
                    params![sql_u64(campaign.0)?, sql_u64(device.0)?, to_json(entry)?],
                )?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

fn firmware_from_row(row: &Row<'_>) -> rusqlite::Result<FirmwareRow> {
    Ok(FirmwareRow {
        sha256: row.get(0)?,
        name: row.get(1)?,
        file_name: row.get(2)?,
        uploaded_at: row.get(3)?,
    })
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::OtaState(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::OtaState(e.to_string()))
}

/// SQLite integers are signed; ids above `i64::MAX` are refused rather than wrapped.
fn sql_u64(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::OtaState(format!("id {value} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(user: &str, project: &str, name: &str, token: &str) -> NewDevice {
        NewDevice {
            user: user.into(),
            project: project.into(),
            name: name.into(),
            token: token.into(),
        }
    }

    #[test]
    fn create_list_delete() {
        let s = SqliteStorage::in_memory().unwrap();
        assert_eq!(s.schema_version().unwrap(), 2);
        let a = s
            .create_device(&new("a@x.io", "home", "lamp", "t1"), 10)
            .unwrap();
        s.create_device(&new("a@x.io", "home", "fan", "t2"), 11)
            .unwrap();
        s.create_device(&new("b@x.io", "farm", "pump", "t3"), 12)
            .unwrap();
        assert!(matches!(
            s.create_device(&new("c@x.io", "p", "n", "t1"), 13),
            Err(Error::DuplicateToken)
        ));
        // The failed insert rolled back its user too.
        assert_eq!(s.list_users().unwrap().len(), 2);

        let all = s.list_devices(&DeviceFilter::default()).unwrap();
        let names: Vec<_> = all.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["fan", "lamp", "pump"]);
        let only_a = s
            .list_devices(&DeviceFilter {
                user: Some("a@x.io".into()),
                project: Some("home".into()),
            })
            .unwrap();
        assert_eq!(only_a.len(), 2);

        assert_eq!(s.device_by_token("t1").unwrap().unwrap(), a);
        s.record_info(a.id, &[("ver".into(), "1".into())], 20)
            .unwrap();
        let info = s.device_by_token("t1").unwrap().unwrap().last_info.unwrap();
        assert_eq!(info.get("ver"), Some("1"));
        assert_eq!(info.reported_at, 20);

        assert_eq!(s.delete_device("t1").unwrap().unwrap().id, a.id);
        assert!(s.delete_device("t1").unwrap().is_none());
        assert!(s.device_by_token("t1").unwrap().is_none());

        let users = s.list_users().unwrap();
        assert_eq!(users[0].email, "a@x.io");
        assert_eq!(users[0].projects[0].name, "home");
        assert_eq!(users[0].projects[0].devices, 1);
    }

    #[test]
    fn ota_records_firmware_and_links_round_trip() {
        use ota_core::{CampaignOptions, CampaignSpec, Engine, FirmwareRef, ImageKind, Target};
        let s = SqliteStorage::in_memory().unwrap();
        let mut engine = Engine::new();
        let firmware = FirmwareRef {
            id: "ab".repeat(32),
            build: Some("b1".into()),
            version: None,
            fw_type: None,
            kind: ImageKind::Esp8266,
            size: 10,
            md5: "00".repeat(16),
            sha256: "ab".repeat(32),
        };
        let spec = CampaignSpec {
            target: Target::All,
            firmware,
            options: CampaignOptions::default(),
            initiator: "admin@x.io".into(),
        };
        let id = engine
            .start_campaign(ota_core::Timestamp(5), spec, &[])
            .unwrap();
        engine.device_info(
            ota_core::Timestamp(6),
            ota_core::ConnId(1),
            ota_core::DeviceId(7),
            "a@x.io",
            "p",
            &ota_core::DeviceReport {
                build: Some("old".into()),
                ..Default::default()
            },
        );
        let mut records = Vec::new();
        while let Some(r) = engine.poll_record() {
            records.push(r);
        }
        s.ota_save(&records).unwrap();
        s.ota_save(&records).unwrap(); // upserts: saving twice changes nothing
        let reloaded = Engine::from_records(s.ota_load().unwrap()).unwrap();
        assert_eq!(reloaded.state(), engine.state());
        assert_eq!(
            reloaded
                .device_entry(id, ota_core::DeviceId(7))
                .unwrap()
                .attempts,
            1
        );

        let row = FirmwareRow {
            sha256: "ab".repeat(32),
            name: "abab.bin".into(),
            file_name: Some("fw.bin".into()),
            uploaded_at: 1,
        };
        assert_eq!(s.firmware_publish(&row).unwrap(), row);
        let again = FirmwareRow {
            name: "other.bin".into(),
            uploaded_at: 2,
            ..row.clone()
        };
        assert_eq!(s.firmware_publish(&again).unwrap(), row);
        assert_eq!(s.firmware_rows().unwrap(), vec![row]);

        assert_eq!(s.ota_link(1, 7, "k1", None).unwrap(), "k1");
        assert_eq!(s.ota_link(1, 7, "k2", Some("too big")).unwrap(), "k1");
        let links = s.ota_links().unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].note.as_deref(), Some("too big"));
    }

    #[test]
    fn reopen_keeps_data_and_refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStorage::open_in(dir.path()).unwrap();
            s.create_device(&new("a@x.io", "p", "n", "tok"), 1).unwrap();
        }
        let s = SqliteStorage::open_in(dir.path()).unwrap();
        assert!(s.device_by_token("tok").unwrap().is_some());
        s.lock().pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        assert!(matches!(
            SqliteStorage::open_in(dir.path()),
            Err(Error::SchemaTooNew { found: 99, .. })
        ));
    }
}
