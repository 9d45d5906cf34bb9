//! The simulator's error type.

use std::path::PathBuf;

/// Everything that can stop a simulator run (single devices failing are counted in the
/// summary instead, see [`crate::summary`]).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A command-line value is unusable.
    #[error("invalid option {option}: {reason}")]
    Option {
        /// The option, e.g. `--tokens`.
        option: &'static str,
        /// Why.
        reason: String,
    },
    /// The TLS setup failed (bad CA file, no usable certificate).
    #[error("TLS setup: {0}")]
    Tls(String),
    /// The admin API answered with an unexpected status or body.
    #[error("admin API {what}: HTTP {status}: {body}")]
    Admin {
        /// Request, e.g. `POST /admin/devices`.
        what: String,
        /// HTTP status.
        status: u16,
        /// Response body (the server's message).
        body: String,
    },
    /// Network error talking to the admin API or a baseline peer.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// HTTP client error talking to the admin API.
    #[error("admin API {what}: {reason}")]
    Http {
        /// Request, e.g. `POST /admin/devices`.
        what: String,
        /// What went wrong.
        reason: String,
    },
    /// A child simulator process failed.
    #[error("simulator process {index}: {reason}")]
    Child {
        /// Shard index.
        index: usize,
        /// What happened.
        reason: String,
    },
}

impl SimError {
    /// An [`SimError::Option`].
    pub fn option(option: &'static str, reason: impl Into<String>) -> Self {
        SimError::Option {
            option,
            reason: reason.into(),
        }
    }

    /// A [`SimError::File`].
    pub fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SimError::File {
            path: path.into(),
            source,
        }
    }

    /// A [`SimError::Io`].
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        SimError::Io {
            what: what.into(),
            source,
        }
    }
}
