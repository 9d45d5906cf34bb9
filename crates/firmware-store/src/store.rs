//! The store: ingest, read, list, delete, garbage-collect.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use md5::Md5;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

use crate::id::to_hex;
use crate::{BlobId, ImageFacts, ImageScanner, StoreError};

/// Default upload size limit: 16 MiB (ESP32 images are often 1-2 MiB, the largest ESP
/// flash partitions a few MiB).
pub const DEFAULT_MAX_SIZE: u64 = 16 * 1024 * 1024;

/// Chunks in flight per pipeline stage. With the two stages this bounds the memory of
/// one ingest to about `2 * PIPELINE_DEPTH` chunks, whatever the image size.
const PIPELINE_DEPTH: usize = 4;
/// The write worker flushes to disk every this many bytes (see [`write_worker`]).
const WRITE_BEHIND: usize = 4 * 1024 * 1024;
/// Read buffer when a blob is rescanned from disk.
const RESCAN_BUFFER: usize = 64 * 1024;
/// Longest kept original file name, in bytes.
const MAX_FILE_NAME: usize = 255;

const BLOBS_DIR: &str = "blobs";
const TMP_DIR: &str = "tmp";
const CORRUPT_DIR: &str = "corrupt";
const BLOB_EXT: &str = "bin";
const INFO_EXT: &str = "json";

/// Settings of a [`FirmwareStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Largest accepted image in bytes; an ingest stops with
    /// [`StoreError::TooLarge`] as soon as it crosses this. Default
    /// [`DEFAULT_MAX_SIZE`].
    pub max_size: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}

/// Metadata of a stored firmware, kept as JSON next to the blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareInfo {
    /// SHA-256 of the content; also the blob's id and strong ETag.
    pub sha256: BlobId,
    /// Size in bytes.
    pub size: u64,
    /// MD5 of the content, 32 lower-case hex digits (the `x-MD5` header ESP updaters
    /// check).
    pub md5: String,
    /// The uploader's file name, sanitised by [`sanitize_file_name`]; for display and
    /// download names only, never used as a path. When identical content is uploaded
    /// again, the first upload's name is kept.
    #[serde(default)]
    pub file_name: Option<String>,
    /// What the image tells about itself.
    pub image: ImageFacts,
}

impl FirmwareInfo {
    /// The blob id (same as [`FirmwareInfo::sha256`]).
    pub fn id(&self) -> BlobId {
        self.sha256
    }

    /// The strong HTTP entity tag, `"<sha256 hex>"`.
    pub fn etag(&self) -> String {
        self.sha256.etag()
    }
}

/// Result of [`FirmwareStore::ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// Metadata of the stored blob.
    pub info: FirmwareInfo,
    /// `false` when identical content was already stored (the upload was discarded and
    /// the existing metadata returned).
    pub created: bool,
}

/// An open blob, ready to be read whole or in part.
#[derive(Debug)]
pub struct Blob {
    id: BlobId,
    path: PathBuf,
    file: tokio::fs::File,
    size: u64,
}

impl Blob {
    /// The blob id.
    pub fn id(&self) -> BlobId {
        self.id
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The strong HTTP entity tag.
    pub fn etag(&self) -> String {
        self.id.etag()
    }

    /// Positions the file at `range.start` and limits reading to the range; nothing
    /// outside it is read. `start <= end <= size` is required.
    pub async fn range(mut self, range: Range<u64>) -> Result<BlobRange, StoreError> {
        let Range { start, end } = range;
        if start > end || end > self.size {
            return Err(StoreError::RangeNotSatisfiable {
                start,
                end,
                size: self.size,
            });
        }
        self.file
            .seek(io::SeekFrom::Start(start))
            .await
            .map_err(StoreError::io("seek", &self.path))?;
        Ok(BlobRange {
            reader: self.file.take(end - start),
            start,
            len: end - start,
            size: self.size,
            id: self.id,
        })
    }

    /// The whole blob as an async reader positioned at 0.
    pub fn into_file(self) -> tokio::fs::File {
        self.file
    }
}

/// A byte range of a blob, for an HTTP 200 or 206 response.
#[derive(Debug)]
pub struct BlobRange {
    /// Reads exactly `len` bytes starting at `start` (an [`tokio::io::AsyncRead`]).
    pub reader: tokio::io::Take<tokio::fs::File>,
    /// First byte of the range.
    pub start: u64,
    /// Number of bytes in the range.
    pub len: u64,
    /// Size of the whole blob (for `Content-Range`).
    pub size: u64,
    /// The blob id (its `etag()` is the strong validator).
    pub id: BlobId,
}

/// A durable, content-addressed firmware store in one folder. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct FirmwareStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    blobs: PathBuf,
    tmp: PathBuf,
    config: StoreConfig,
    /// Serialises every change of `blobs/` (commit, delete, gc, metadata repair), so
    /// "already stored?" checks and renames do not race.
    changes: Mutex<()>,
    next_temp: AtomicU64,
}

impl FirmwareStore {
    /// Opens (creating if needed) the store in `root`.
    ///
    /// Recovery: removes every leftover temporary file (an ingest interrupted by a
    /// crash), removes metadata whose blob is missing, recomputes missing or unreadable
    /// metadata, and moves blobs whose content no longer matches their name to
    /// `root/corrupt/` (kept, not deleted). One process should own a store folder.
    pub async fn open(root: impl Into<PathBuf>, config: StoreConfig) -> Result<Self, StoreError> {
        let root = root.into();
        let inner = Arc::new(Inner {
            blobs: root.join(BLOBS_DIR),
            tmp: root.join(TMP_DIR),
            root,
            config,
            changes: Mutex::new(()),
            next_temp: AtomicU64::new(0),
        });
        let recovering = inner.clone();
        blocking(move || recovering.recover()).await?;
        Ok(FirmwareStore { inner })
    }

    /// The store folder.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The settings in force.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Stores an image read from `chunks` (for example a `multer::Field`), computing its
    /// SHA-256, MD5, size and [`ImageFacts`] on the way, and returns its metadata.
    ///
    /// The bytes go to a temporary file in the store folder while two blocking workers
    /// (write + SHA-256 + scan; MD5) process them, at most a few chunks in memory at a
    /// time, whatever the image size; after the last chunk the file is fsynced and
    /// renamed to its content address. Identical content is stored once
    /// (`created: false`). On any error — the stream's, the size limit, empty input,
    /// IO — nothing is stored and the temporary file is removed; the same holds if the
    /// returned future is dropped midway.
    pub async fn ingest<S, B, E>(
        &self,
        chunks: S,
        file_name: Option<&str>,
    ) -> Result<Ingested, StoreError>
    where
        S: Stream<Item = Result<B, E>>,
        B: Into<Bytes>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let limit = self.inner.config.max_size;
        let temp_path = self.inner.temp_path("part");
        let (write_tx, write_rx) = mpsc::channel::<Bytes>(PIPELINE_DEPTH);
        let (md5_tx, md5_rx) = mpsc::channel::<Bytes>(PIPELINE_DEPTH);
        let writer = tokio::task::spawn_blocking(move || write_worker(temp_path, write_rx));
        let md5er = tokio::task::spawn_blocking(move || md5_worker(md5_rx));

        let mut chunks = pin!(chunks);
        let mut size: u64 = 0;
        let mut failure = None;
        while let Some(item) = chunks.next().await {
            let chunk: Bytes = match item {
                Ok(chunk) => chunk.into(),
                Err(e) => {
                    failure = Some(StoreError::Source(e.into()));
                    break;
                }
            };
            if chunk.is_empty() {
                continue;
            }
            size += chunk.len() as u64;
            if size > limit {
                failure = Some(StoreError::TooLarge { limit });
                break;
            }
            // A closed channel means the worker stopped on an error, reported below.
            if md5_tx.send(chunk.clone()).await.is_err() || write_tx.send(chunk).await.is_err() {
                break;
            }
        }
        drop((write_tx, md5_tx));
        let written = join(writer).await;
        let md5 = join(md5er).await;
        let outcome = match (failure, written, md5) {
            (Some(e), written, _) => Err((e, written.ok())),
            (None, Err(e), _) => Err((e, None)),
            (None, Ok(written), Err(e)) => Err((e, Some(written))),
            (None, Ok(written), Ok(_)) if size == 0 => Err((StoreError::Empty, Some(written))),
            (None, Ok(written), Ok(md5)) => Ok((written, md5)),
        };
        let (written, md5) = match outcome {
            Ok(parts) => parts,
            Err((e, written)) => {
                // Unlinking is a blocking call: drop the temp file off the async thread.
                if let Some(written) = written {
                    blocking(move || {
                        drop(written);
                        Ok(())
                    })
                    .await?;
                }
                return Err(e);
            }
        };
        let Written {
            temp,
            file,
            sha256,
            image,
        } = written;
        let info = FirmwareInfo {
            sha256,
            size,
            md5,
            file_name: file_name.and_then(sanitize_file_name),
            image,
        };
        let inner = self.inner.clone();
        blocking(move || inner.commit(temp, file, info)).await
    }

    /// Metadata of one blob.
    pub async fn info(&self, id: &BlobId) -> Result<FirmwareInfo, StoreError> {
        let inner = self.inner.clone();
        let id = *id;
        blocking(move || inner.load_info(&id)).await
    }

    /// Metadata of every stored blob, ordered by id.
    pub async fn list(&self) -> Result<Vec<FirmwareInfo>, StoreError> {
        let inner = self.inner.clone();
        blocking(move || {
            let mut all = Vec::new();
            for id in inner.blob_ids()? {
                match inner.load_info(&id) {
                    Ok(info) => all.push(info),
                    Err(StoreError::NotFound(_)) => {} // deleted meanwhile
                    Err(e) => return Err(e),
                }
            }
            Ok(all)
        })
        .await
    }

    /// Opens a blob for reading; see [`Blob::range`] for a part of it.
    pub async fn open_blob(&self, id: &BlobId) -> Result<Blob, StoreError> {
        let path = self.inner.blob_path(id);
        let not_found = |source: io::Error, op| match source.kind() {
            io::ErrorKind::NotFound => StoreError::NotFound(*id),
            _ => StoreError::Io {
                op,
                path: path.clone(),
                source,
            },
        };
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| not_found(e, "open"))?;
        let size = file
            .metadata()
            .await
            .map_err(|e| not_found(e, "stat"))?
            .len();
        Ok(Blob {
            id: *id,
            path,
            file,
            size,
        })
    }

    /// Opens `range` of a blob (shorthand for [`FirmwareStore::open_blob`] then
    /// [`Blob::range`]).
    pub async fn open_range(
        &self,
        id: &BlobId,
        range: Range<u64>,
    ) -> Result<BlobRange, StoreError> {
        self.open_blob(id).await?.range(range).await
    }

    /// Deletes a blob and its metadata. Readers that already opened it keep reading
    /// the old file.
    pub async fn delete(&self, id: &BlobId) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        let id = *id;
        blocking(move || {
            let _changes = inner.lock_changes();
            if !inner.remove_blob(&id)? {
                return Err(StoreError::NotFound(id));
            }
            sync_dir(&inner.blobs)
        })
        .await
    }

    /// Deletes every blob whose id is not in `keep` and returns the deleted ids.
    ///
    /// A blob ingested but not yet recorded by the caller is deleted too: call this
    /// where no upload is between its ingest and its recording.
    pub async fn gc(&self, keep: &HashSet<BlobId>) -> Result<Vec<BlobId>, StoreError> {
        let inner = self.inner.clone();
        let keep = keep.clone();
        blocking(move || {
            let _changes = inner.lock_changes();
            let mut removed = Vec::new();
            for id in inner.blob_ids()? {
                if !keep.contains(&id) && inner.remove_blob(&id)? {
                    removed.push(id);
                }
            }
            if !removed.is_empty() {
                sync_dir(&inner.blobs)?;
            }
            Ok(removed)
        })
        .await
    }

    /// Reads a blob again from disk, checks that it still hashes to its id, recomputes
    /// its metadata (keeping the stored file name) and stores it.
    pub async fn recompute_info(&self, id: &BlobId) -> Result<FirmwareInfo, StoreError> {
        let inner = self.inner.clone();
        let id = *id;
        blocking(move || {
            let _changes = inner.lock_changes();
            inner.recompute(&id)
        })
        .await
    }
}

/// Output of the write worker: the temp file, still to be fsynced and renamed.
struct Written {
    temp: TempFile,
    file: File,
    sha256: BlobId,
    image: ImageFacts,
}

/// A temporary file that is removed when dropped, unless kept.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: a leftover is also removed at the next open.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes chunks to a new temp file, SHA-256es and scans them. If the channel closes
/// early (error or cancelled ingest), the caller drops the result and the file goes
/// away.
///
/// Every [`WRITE_BEHIND`] bytes the data written so far is flushed to disk
/// (`fdatasync`), so the disk works while the MD5 worker is still busy and the fsync at
/// commit only has the tail left.
fn write_worker(path: PathBuf, mut chunks: mpsc::Receiver<Bytes>) -> Result<Written, StoreError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(StoreError::io("create", &path))?;
    let temp = TempFile { path, keep: false };
    let mut sha = Sha256::new();
    let mut scanner = ImageScanner::new();
    let mut unsynced = 0;
    while let Some(chunk) = chunks.blocking_recv() {
        file.write_all(&chunk)
            .map_err(StoreError::io("write", &temp.path))?;
        sha.update(&chunk);
        scanner.feed(&chunk);
        unsynced += chunk.len();
        if unsynced >= WRITE_BEHIND {
            file.sync_data()
                .map_err(StoreError::io("fsync", &temp.path))?;
            unsynced = 0;
        }
    }
    Ok(Written {
        temp,
        file,
        sha256: BlobId::from_digest(sha.finalize().into()),
        image: scanner.finish(),
    })
}

/// MD5es the chunks: the slowest step (about 550 MiB/s on one core), so it has a
/// worker of its own, beside the write worker.
fn md5_worker(mut chunks: mpsc::Receiver<Bytes>) -> Result<String, StoreError> {
    let mut md5 = Md5::new();
    while let Some(chunk) = chunks.blocking_recv() {
        md5.update(&chunk);
    }
    Ok(to_hex(&md5.finalize()))
}

impl Inner {
    fn blob_path(&self, id: &BlobId) -> PathBuf {
        self.blobs.join(format!("{id}.{BLOB_EXT}"))
    }

    fn info_path(&self, id: &BlobId) -> PathBuf {
        self.blobs.join(format!("{id}.{INFO_EXT}"))
    }

    /// A fresh name in `tmp/` (process id + counter; creation uses `create_new`).
    fn temp_path(&self, ext: &str) -> PathBuf {
        let n = self.next_temp.fetch_add(1, Ordering::Relaxed);
        self.tmp.join(format!("{}-{n}.{ext}", std::process::id()))
    }

    fn lock_changes(&self) -> MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere cannot leave it inconsistent.
        self.changes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes a written temp file a blob: fsync, metadata, rename, fsync the folder.
    fn commit(
        &self,
        mut temp: TempFile,
        file: File,
        info: FirmwareInfo,
    ) -> Result<Ingested, StoreError> {
        let sha256 = info.sha256;
        file.sync_all()
            .map_err(StoreError::io("fsync", &temp.path))?;
        drop(file);
        let _changes = self.lock_changes();
        let blob = self.blob_path(&sha256);
        if exists(&blob)? {
            let info = match self.read_info(&sha256) {
                Ok(existing) => existing,
                Err(_) => {
                    self.write_info(&info)?;
                    sync_dir(&self.blobs)?;
                    info
                }
            };
            return Ok(Ingested {
                info,
                created: false,
            });
        }
        // Metadata first: a crash between the renames leaves only a metadata file,
        // which open() removes. The blob's name appearing is the commit point.
        self.write_info(&info)?;
        if let Err(source) = fs::rename(&temp.path, &blob) {
            let _ = fs::remove_file(self.info_path(&sha256));
            return Err(StoreError::Io {
                op: "rename",
                path: blob,
                source,
            });
        }
        temp.keep = true;
        sync_dir(&self.blobs)?;
        Ok(Ingested {
            info,
            created: true,
        })
    }

    /// Writes metadata atomically: temp file, fsync, rename (the caller fsyncs the
    /// folder).
    fn write_info(&self, info: &FirmwareInfo) -> Result<(), StoreError> {
        let path = self.temp_path(INFO_EXT);
        let json = serde_json::to_vec_pretty(info).map_err(|source| StoreError::Metadata {
            path: path.clone(),
            source,
        })?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(StoreError::io("create", &path))?;
        let mut temp = TempFile { path, keep: false };
        file.write_all(&json)
            .map_err(StoreError::io("write", &temp.path))?;
        file.sync_all()
            .map_err(StoreError::io("fsync", &temp.path))?;
        let target = self.info_path(&info.sha256);
        fs::rename(&temp.path, &target).map_err(StoreError::io("rename", &target))?;
        temp.keep = true;
        Ok(())
    }

    fn read_info(&self, id: &BlobId) -> Result<FirmwareInfo, StoreError> {
        let path = self.info_path(id);
        let json = fs::read(&path).map_err(StoreError::io("read", &path))?;
        let info: FirmwareInfo =
            serde_json::from_slice(&json).map_err(|source| StoreError::Metadata {
                path: path.clone(),
                source,
            })?;
        if info.sha256 != *id {
            let source = <serde_json::Error as serde::de::Error>::custom(
                "sha256 differs from the file name",
            );
            return Err(StoreError::Metadata { path, source });
        }
        Ok(info)
    }

    /// Stored metadata, recomputed (and rewritten) if it is missing or unreadable.
    fn load_info(&self, id: &BlobId) -> Result<FirmwareInfo, StoreError> {
        match self.read_info(id) {
            Ok(info) => Ok(info),
            Err(_) => {
                let _changes = self.lock_changes();
                self.recompute(id)
            }
        }
    }

    /// Rescans a blob from disk; the caller holds the change lock.
    fn recompute(&self, id: &BlobId) -> Result<FirmwareInfo, StoreError> {
        let path = self.blob_path(id);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound(*id)),
            Err(source) => {
                return Err(StoreError::Io {
                    op: "open",
                    path,
                    source,
                });
            }
        };
        let mut sha = Sha256::new();
        let mut md5 = Md5::new();
        let mut scanner = ImageScanner::new();
        let mut buf = vec![0u8; RESCAN_BUFFER];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(StoreError::Io {
                        op: "read",
                        path,
                        source,
                    });
                }
            };
            sha.update(&buf[..n]);
            md5.update(&buf[..n]);
            scanner.feed(&buf[..n]);
        }
        let actual = BlobId::from_digest(sha.finalize().into());
        if actual != *id {
            return Err(StoreError::Corrupt { id: *id, actual });
        }
        let info = FirmwareInfo {
            sha256: actual,
            size: scanner.bytes_fed(),
            md5: to_hex(&md5.finalize()),
            file_name: self.read_info(id).ok().and_then(|old| old.file_name),
            image: scanner.finish(),
        };
        self.write_info(&info)?;
        sync_dir(&self.blobs)?;
        Ok(info)
    }

    /// Removes a blob, then its metadata; `false` if the blob did not exist.
    fn remove_blob(&self, id: &BlobId) -> Result<bool, StoreError> {
        let blob = self.blob_path(id);
        let existed = match fs::remove_file(&blob) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(source) => {
                return Err(StoreError::Io {
                    op: "remove",
                    path: blob,
                    source,
                });
            }
        };
        let info = self.info_path(id);
        match fs::remove_file(&info) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Io {
                    op: "remove",
                    path: info,
                    source,
                });
            }
        }
        Ok(existed)
    }

    /// Ids of the blobs present, sorted.
    fn blob_ids(&self) -> Result<Vec<BlobId>, StoreError> {
        let mut ids: Vec<BlobId> = list_dir(&self.blobs)?
            .iter()
            .filter_map(|name| name.strip_suffix(".bin"))
            .filter_map(|stem| BlobId::parse(stem).ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn recover(&self) -> Result<(), StoreError> {
        for dir in [&self.root, &self.blobs, &self.tmp] {
            fs::create_dir_all(dir).map_err(StoreError::io("create folder", dir))?;
        }
        for name in list_dir(&self.tmp)? {
            let path = self.tmp.join(&name);
            if path.is_file() {
                fs::remove_file(&path).map_err(StoreError::io("remove", &path))?;
            }
        }
        let _changes = self.lock_changes();
        for name in list_dir(&self.blobs)? {
            let Some(id) = name
                .strip_suffix(".json")
                .and_then(|s| BlobId::parse(s).ok())
            else {
                continue;
            };
            if !exists(&self.blob_path(&id))? {
                let path = self.info_path(&id);
                fs::remove_file(&path).map_err(StoreError::io("remove", &path))?;
            }
        }
        for id in self.blob_ids()? {
            if self.read_info(&id).is_ok() {
                continue;
            }
            match self.recompute(&id) {
                Ok(_) => {}
                Err(StoreError::Corrupt { .. }) => self.quarantine(&id)?,
                Err(e) => return Err(e),
            }
        }
        sync_dir(&self.blobs)
    }

    /// Moves a blob whose content does not match its name out of the store.
    fn quarantine(&self, id: &BlobId) -> Result<(), StoreError> {
        let dir = self.root.join(CORRUPT_DIR);
        fs::create_dir_all(&dir).map_err(StoreError::io("create folder", &dir))?;
        let target = dir.join(format!("{id}.{BLOB_EXT}"));
        fs::rename(self.blob_path(id), &target).map_err(StoreError::io("rename", &target))?;
        let _ = fs::remove_file(self.info_path(id));
        Ok(())
    }
}

/// Keeps an uploader's file name for display only: drops everything up to the last
/// `/` or `\`, control characters and `"`, trims spaces, cuts to 255 bytes. `None` if
/// nothing usable is left (empty, `.` or `..`).
pub fn sanitize_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .collect();
    let trimmed = cleaned.trim();
    let mut end = trimmed.len().min(MAX_FILE_NAME);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    let kept = trimmed[..end].trim_end();
    (!kept.is_empty() && kept != "." && kept != "..").then(|| kept.to_owned())
}

fn exists(path: &Path) -> Result<bool, StoreError> {
    path.try_exists().map_err(StoreError::io("stat", path))
}

/// Names of the entries of a folder (non-UTF-8 names are skipped: the store never
/// creates them).
fn list_dir(dir: &Path) -> Result<Vec<String>, StoreError> {
    let entries = fs::read_dir(dir).map_err(StoreError::io("list", dir))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(StoreError::io("list", dir))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

/// fsyncs a folder so the renames in it survive a power loss.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io("fsync folder", dir))
}

async fn join<T>(task: tokio::task::JoinHandle<Result<T, StoreError>>) -> Result<T, StoreError> {
    task.await.map_err(|e| StoreError::Task(e.to_string()))?
}

/// Runs file work on the blocking pool (std::fs calls block).
async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    join(tokio::task::spawn_blocking(work)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compile-time check: a server can `tokio::spawn` the ingest of a `Send` stream.
    #[allow(dead_code)]
    fn ingest_future_is_send<'a>(store: &'a FirmwareStore, name: &'a str) -> impl Send + 'a {
        let empty = futures_util::stream::empty::<Result<Bytes, io::Error>>();
        store.ingest(empty, Some(name))
    }

    #[test]
    fn file_names_are_sanitised() {
        assert_eq!(sanitize_file_name("fw.bin").as_deref(), Some("fw.bin"));
        assert_eq!(
            sanitize_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            sanitize_file_name("C:\\build\\fw v2.bin").as_deref(),
            Some("fw v2.bin")
        );
        assert_eq!(
            sanitize_file_name("a\nb\r\0c\u{7f}\"d.bin").as_deref(),
            Some("abcd.bin")
        );
        assert_eq!(
            sanitize_file_name("  spaced.bin  ").as_deref(),
            Some("spaced.bin")
        );
        for none in ["", "/", "dir/", "..", ".", " \t ", "x/.."] {
            assert_eq!(sanitize_file_name(none), None, "{none:?}");
        }
        let long = "é".repeat(200); // 400 bytes
        let kept = sanitize_file_name(&long).unwrap();
        assert!(kept.len() <= MAX_FILE_NAME && kept.chars().all(|c| c == 'é'));
    }
}
