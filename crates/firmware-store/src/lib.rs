//! Durable, content-addressed storage of firmware images, with the metadata the image
//! itself tells (the `blnkinf` tag, the legacy build marker, the ESP image header).
//!
//! What it does: [`FirmwareStore::ingest`] streams an upload (any
//! `Stream<Item = Result<Bytes, E>>`, e.g. a `multer::Field`) to disk with constant
//! memory, computing SHA-256, MD5, size and [`ImageFacts`] on the way; the read side
//! opens a blob for a byte range ([`Blob::range`]), lists, deletes and garbage-collects.
//! [`ImageScanner`] is the sans-IO part: feed it chunks, get [`ImageFacts`]
//! (`../shared/docs/blynk-protocol.md` sections 10.1 and 10.2,
//! `../shared/docs/esp-http-update.md` section 2).
//!
//! What it does not do: HTTP (Range parsing, headers), authentication, deciding which
//! blobs are still referenced (the caller passes that set to [`FirmwareStore::gc`]),
//! or anything about devices and campaigns. One process owns a store folder.
//!
//! # On-disk layout
//!
//! ```text
//! <root>/tmp/<pid>-<n>.part          upload in progress (removed at open)
//! <root>/tmp/<pid>-<n>.json          metadata being written (removed at open)
//! <root>/blobs/<sha256>.bin          the image, named by the SHA-256 of its bytes
//! <root>/blobs/<sha256>.json         its FirmwareInfo (serde JSON)
//! <root>/corrupt/<sha256>.bin        blobs found not to match their name (kept)
//! ```
//!
//! # Crash safety
//!
//! Bytes are written to `tmp/` (same file system), fsynced, and only then renamed into
//! `blobs/` under their content hash, followed by an fsync of `blobs/`. Metadata is
//! written the same way and renamed *before* the blob. `rename` is atomic, so after a
//! crash at any moment `blobs/<id>.bin` is either absent or complete with the hash in
//! its name. [`FirmwareStore::open`] then removes everything in `tmp/`, removes
//! metadata without a blob, and recomputes missing metadata (checking the hash).
//! Deletion removes the blob before its metadata, so the same repair applies.
//!
//! # IO model
//!
//! `std::fs` on tokio's blocking pool rather than `tokio::fs`: `tokio::fs::File` hands
//! every write to the pool separately and copies it into its own buffer, while an
//! ingest here keeps two long-lived blocking workers fed by bounded channels of
//! reference-counted [`bytes::Bytes`] (no copy): one writes, SHA-256es and scans, the
//! other computes the MD5 (the slowest step), so hashing is off the async threads and
//! runs beside the writing. The writer also flushes every 4 MiB (`fdatasync`), so the
//! disk works during the upload and the commit fsync is short. Reads return a
//! `tokio::fs::File`, which a server can stream from directly.

mod build_time;
mod error;
mod id;
mod scan;
mod store;

pub use build_time::BuildTime;
pub use error::StoreError;
pub use id::BlobId;
pub use scan::{
    ImageFacts, ImageKind, ImageScanner, LEGACY_VALUE_MAX, TAG_CANDIDATES, TAG_MAX, TagPair,
};
pub use store::{
    Blob, BlobRange, DEFAULT_MAX_SIZE, FirmwareInfo, FirmwareStore, Ingested, StoreConfig,
    sanitize_file_name,
};
