//! The crate's one error type.

use std::path::PathBuf;

use crate::BlobId;

/// Everything that can go wrong in the firmware store.
///
/// Errors of an ingest never leave a partial blob behind: the temporary file is removed
/// before the error is returned (or, if the ingest future is dropped, by the worker that
/// owns it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The upload is larger than the store's size limit. The ingest stopped at the chunk
    /// that crossed the limit; nothing was stored.
    #[error("firmware image is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The upload contained no bytes at all.
    #[error("firmware image is empty")]
    Empty,
    /// No blob with this id is stored.
    #[error("firmware {0} not found")]
    NotFound(BlobId),
    /// A text that should name a blob is not 64 hexadecimal digits.
    #[error("invalid firmware id {0:?}: expected 64 hexadecimal digits (a SHA-256)")]
    InvalidId(String),
    /// A requested byte range does not lie inside the blob (`start > end` or
    /// `end > size`).
    #[error("byte range {start}..{end} is outside the firmware of {size} bytes")]
    RangeNotSatisfiable {
        /// First byte requested.
        start: u64,
        /// One past the last byte requested.
        end: u64,
        /// Size of the blob.
        size: u64,
    },
    /// The stream of upload chunks returned an error (for example the client went away
    /// in the middle of a multipart body).
    #[error("the upload stream failed: {0}")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A file system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What the store was doing (`"create"`, `"write"`, `"rename"`, ...).
        op: &'static str,
        /// The file or folder involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A metadata file next to a blob could not be read as JSON (it can be recomputed
    /// with [`FirmwareStore::recompute_info`](crate::FirmwareStore::recompute_info)).
    #[error("unreadable firmware metadata {}: {source}", path.display())]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A stored blob no longer hashes to its name (disk corruption or a file placed in
    /// the store by hand).
    #[error("firmware {id} is corrupt: its content hashes to {actual}")]
    Corrupt {
        /// The blob's name.
        id: BlobId,
        /// The SHA-256 of the bytes actually on disk.
        actual: BlobId,
    },
    /// A background file task stopped without an answer (it panicked, or the runtime is
    /// shutting down).
    #[error("firmware store background task failed: {0}")]
    Task(String),
}

impl StoreError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| StoreError::Io { op, path, source }
    }
}
