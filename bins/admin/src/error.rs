//! The one error type of `blynk-admin`, its one-line messages and exit codes.

use std::path::PathBuf;

/// Everything that can make a command fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line value is unusable (URL, credentials, option combination).
    #[error("{0}")]
    Usage(String),
    /// A local file (the firmware image, the `--ca` file) could not be read.
    #[error("cannot read {}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The server could not be reached, or the connection failed (refused,
    /// unresolvable, timed out, dropped).
    #[error("connection to {server} failed: {reason}")]
    Connect {
        /// `host:port`.
        server: String,
        /// What went wrong.
        reason: String,
    },
    /// The TLS handshake failed.
    #[error("TLS with {server} failed: {reason}{}", hint(*certificate))]
    Tls {
        /// `host:port`.
        server: String,
        /// What rustls reported.
        reason: String,
        /// The failure is about trusting the certificate (the message suggests
        /// `--insecure` or `--ca`).
        certificate: bool,
    },
    /// The server refused the admin credentials (401 or 403).
    #[error("{message} (HTTP {status}; check --user-pass or BLYNK_ADMIN)")]
    Auth {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server answered with another error status; its message is shown as is.
    #[error("{message} (HTTP {status})")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server answered something this client does not understand.
    #[error("unexpected response from the server: {0}")]
    BadResponse(String),
    /// Writing the result to stdout failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

fn hint(certificate: bool) -> &'static str {
    if certificate {
        "; the certificate is not trusted: pass --insecure to accept it (self-signed \
         servers), or --ca FILE with the server's certificate (<data folder>/tls/cert.pem)"
    } else {
        ""
    }
}

impl Error {
    /// The process exit code of this error's class (documented in `--help`).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::BadResponse(_) | Error::Output(_) => 1,
            Error::Usage(_) => 2,
            Error::Connect { .. } | Error::Tls { .. } => 3,
            Error::Auth { .. } => 4,
            Error::Rejected { .. } => 5,
            Error::File { .. } => 6,
        }
    }

    /// A short name of the class, used in `--json` error output.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Usage(_) => "usage",
            Error::File { .. } => "file",
            Error::Connect { .. } => "connection",
            Error::Tls { .. } => "tls",
            Error::Auth { .. } => "authentication",
            Error::Rejected { .. } => "rejected",
            Error::BadResponse(_) => "bad_response",
            Error::Output(_) => "output",
        }
    }

    /// The HTTP status, for errors that carry one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Auth { status, .. } | Error::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error as a JSON object (`--json`): `{"error", "kind", "status", "exit_code"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "error": self.to_string(),
            "message": match self {
                Error::Auth { message, .. } | Error::Rejected { message, .. } => message.clone(),
                other => other.to_string(),
            },
            "kind": self.kind(),
            "status": self.status(),
            "exit_code": self.exit_code(),
        })
    }

    /// A file error from an IO error.
    pub fn file(path: &std::path::Path, e: &std::io::Error) -> Error {
        Error::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_have_distinct_codes() {
        let errors = [
            Error::Usage("u".into()),
            Error::Connect {
                server: "s".into(),
                reason: "r".into(),
            },
            Error::Auth {
                status: 403,
                message: "Authentication failed.".into(),
            },
            Error::Rejected {
                status: 400,
                message: "Invalid token.".into(),
            },
            Error::File {
                path: "f".into(),
                reason: "r".into(),
            },
            Error::BadResponse("x".into()),
        ];
        let codes: Vec<u8> = errors.iter().map(Error::exit_code).collect();
        assert_eq!(codes, [2, 3, 4, 5, 6, 1]);
    }

    #[test]
    fn messages_are_one_line_and_carry_the_server_text() {
        let e = Error::Rejected {
            status: 400,
            message: "No device in session.".into(),
        };
        assert_eq!(e.to_string(), "No device in session. (HTTP 400)");
        let e = Error::Tls {
            server: "localhost:9443".into(),
            reason: "invalid peer certificate: UnknownIssuer".into(),
            certificate: true,
        };
        let text = e.to_string();
        assert!(!text.contains('\n'));
        assert!(text.contains("--insecure") && text.contains("--ca"));
        assert_eq!(e.to_json()["kind"], "tls");
    }
}
