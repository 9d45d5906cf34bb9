//! The crate's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can go wrong in the server: start-up, storage and registry input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A configuration key has a value that cannot be used.
    #[error("invalid value `{value}` for `{key}`: {reason}")]
    ConfigValue {
        /// The key.
        key: String,
        /// The value as written (the admin password is never shown).
        value: String,
        /// What was expected.
        reason: String,
    },
    /// Only one of `server.ssl.cert` / `server.ssl.key` is set.
    #[error("`server.ssl.cert` and `server.ssl.key` must be set together; `{missing}` is missing")]
    TlsPair {
        /// The key that is missing.
        missing: &'static str,
    },
    /// An entry of `allowed.administrator.ips` is neither an IP nor a CIDR network.
    #[error("`{entry}` is not an IP address or CIDR network")]
    AllowlistEntry {
        /// The entry.
        entry: String,
    },
    /// A file or folder in the data folder (or a configured file) could not be used.
    #[error("{path}: {source}")]
    File {
        /// The path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A PEM file holds no usable certificate or key.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// rustls rejected the certificate/key (for example a key that does not match).
    #[error("TLS certificate/key rejected: {0}")]
    Tls(#[from] rustls::Error),
    /// Generating the self-signed certificate failed.
    #[error("cannot generate a self-signed certificate: {0}")]
    CertGenerate(#[from] rcgen::Error),
    /// A listener could not bind its port.
    #[error("cannot listen on {addr} (`{key}`): {source}")]
    Bind {
        /// The property naming the port (`http.port` / `https.port`).
        key: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The IO error (e.g. address in use).
        source: std::io::Error,
    },
    /// The SQLite database failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer server with a schema this one does not know.
    #[error("database schema version {found} is newer than this server's {supported}")]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Highest version this server knows.
        supported: i64,
    },
    /// A background storage task did not complete (runtime shutting down).
    #[error("storage task failed: {0}")]
    StorageTask(String),
    /// The firmware store failed (opening its folder at start-up, or a blob operation).
    #[error("firmware store: {0}")]
    FirmwareStore(#[from] firmware_store::StoreError),
    /// Stored OTA state could not be encoded or decoded.
    #[error("stored OTA state unreadable: {0}")]
    OtaState(String),
    /// The token is already used by another device.
    #[error("token already in use")]
    DuplicateToken,
    /// No device has this token.
    #[error("no device with this token")]
    UnknownToken,
    /// A request field is missing or invalid.
    #[error("invalid `{field}`: {reason}")]
    InvalidField {
        /// The field name.
        field: &'static str,
        /// What was expected.
        reason: String,
    },
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
