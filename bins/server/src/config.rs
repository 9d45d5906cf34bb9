//! Server configuration: `server.properties` keys (legacy Blynk names) and code-only knobs.
//!
//! [`Config::default`] is the embedded default; [`Config::from_properties`] applies a
//! properties text on top of it. Tests build a [`Config`] in code (ports 0, a temporary
//! data folder, short timeouts).

use crate::admin_auth::{AdminCredentials, DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASS};
use crate::allowlist::IpAllowlist;
use crate::error::Error;
use crate::properties;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the TLS certificate and key come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// Self-signed, generated on first start into `<data folder>/tls/` and reused.
    Generated,
    /// PEM files given by `server.ssl.cert` and `server.ssl.key`.
    Files {
        /// Certificate chain (PEM).
        cert: PathBuf,
        /// Private key (PEM: PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
}

/// Every setting of the server.
#[derive(Debug, Clone)]
pub struct Config {
    /// `http.port`: plain TCP, HTTP and raw hardware multiplexed (0 = OS-chosen).
    pub http_port: u16,
    /// `https.port`: TLS, HTTPS (admin API) and hardware over TLS multiplexed.
    pub https_port: u16,
    /// `listen.address`: the address both listeners bind.
    pub listen_address: IpAddr,
    /// `server.host`: public host name of this server (put in the generated certificate and
    /// in OTA download URLs; unset: URLs use the address each device connected to).
    pub server_host: Option<String>,
    /// `data.folder`: the SQLite database and the generated certificate live here.
    pub data_folder: PathBuf,
    /// `admin.email` + `admin.pass`, kept as a salted hash.
    pub admin: AdminCredentials,
    /// `allowed.administrator.ips`: clients that may reach `/admin` on the HTTPS port.
    pub allowed_admin_ips: IpAllowlist,
    /// `server.ssl.cert` / `server.ssl.key`.
    pub tls: TlsSource,
    /// Read-idle limit of a hardware connection before a device reports `h-beat`
    /// (`hard.socket.idle.timeout` × 2.3, rounded up); `None` = no limit.
    pub hardware_idle_timeout: Option<Duration>,
    /// `user.message.quota.limit`: frames per second allowed per hardware connection.
    pub message_quota_per_second: u32,
    /// `ota.max.firmware.size`: largest firmware upload in bytes (used by the OTA API).
    pub max_firmware_size: u64,
    /// Largest frame body accepted from a device (code-only; the wire maximum by default).
    pub max_frame_body: usize,
    /// Cap on simultaneous connections (code-only); the file-descriptor limit also caps it.
    pub max_connections: Option<usize>,
    /// Time a new connection gets for its TLS handshake and its first bytes (code-only).
    pub handshake_timeout: Duration,
    /// How long shutdown waits for in-flight work before closing everything (code-only).
    pub shutdown_grace: Duration,
}

/// A non-fatal remark about a properties file (logged as a warning at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The key concerned.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

/// Every key this server reads from `server.properties`.
pub const KNOWN_KEYS: &[&str] = &[
    "http.port",
    "https.port",
    "listen.address",
    "server.host",
    "data.folder",
    "admin.email",
    "admin.pass",
    "allowed.administrator.ips",
    "server.ssl.cert",
    "server.ssl.key",
    "hard.socket.idle.timeout",
    "user.message.quota.limit",
    "ota.max.firmware.size",
];

/// Default `hard.socket.idle.timeout` in seconds (legacy shipped value).
pub const DEFAULT_IDLE_TIMEOUT_SECS: u32 = 10;

/// The read-idle limit for an interval `secs` (configured or reported `h-beat`):
/// `ceil(secs × 2.3)` seconds, as the legacy server computes it; `None` for 0.
pub fn idle_limit(secs: u32) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs((u64::from(secs) * 23).div_ceil(10)))
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http_port: 8080,
            https_port: 9443,
            listen_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            server_host: None,
            data_folder: PathBuf::from("./data"),
            admin: AdminCredentials::new(DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASS),
            allowed_admin_ips: IpAllowlist::everyone(),
            tls: TlsSource::Generated,
            hardware_idle_timeout: idle_limit(DEFAULT_IDLE_TIMEOUT_SECS),
            message_quota_per_second: 100,
            max_firmware_size: 16 * 1024 * 1024,
            max_frame_body: blynk_proto::MAX_BODY_LEN,
            max_connections: None,
            handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl Config {
    /// Reads a properties file over the defaults (see [`Config::from_properties`]).
    pub fn from_file(path: &Path) -> Result<(Self, Vec<ConfigWarning>), Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_properties(&text)
    }

    /// Applies properties text over the defaults.
    ///
    /// Unknown keys give a warning; an invalid value is an error naming key and value.
    pub fn from_properties(text: &str) -> Result<(Self, Vec<ConfigWarning>), Error> {
        let mut config = Self::default();
        let mut warnings = Vec::new();
        let mut admin_email = DEFAULT_ADMIN_EMAIL.to_owned();
        let mut admin_pass = DEFAULT_ADMIN_PASS.to_owned();
        let mut cert: Option<PathBuf> = None;
        let mut key: Option<PathBuf> = None;
        for prop in properties::parse(text) {
            let value = prop.value.trim();
            let invalid = |reason: &str| Error::ConfigValue {
                key: prop.key.clone(),
                value: if prop.key == "admin.pass" {
                    "<hidden>".to_owned()
                } else {
                    value.to_owned()
                },
                reason: reason.to_owned(),
            };
            match prop.key.as_str() {
                "http.port" => config.http_port = value.parse().map_err(|_| invalid(PORT))?,
                "https.port" => config.https_port = value.parse().map_err(|_| invalid(PORT))?,
                "listen.address" => {
                    config.listen_address = value
                        .parse()
                        .map_err(|_| invalid("expected an IPv4 or IPv6 address"))?;
                }
                "server.host" => {
                    config.server_host = (!value.is_empty()).then(|| value.to_owned());
                }
                "data.folder" => {
                    if value.is_empty() {
                        return Err(invalid("expected a folder path"));
                    }
                    config.data_folder = PathBuf::from(value);
                }
                "admin.email" => {
                    if !crate::registry::is_valid_email(value) {
                        return Err(invalid("expected an e-mail address"));
                    }
                    admin_email = value.to_owned();
                }
                "admin.pass" => {
                    if prop.value.is_empty() {
                        return Err(invalid("the admin password must not be empty"));
                    }
                    admin_pass = prop.value.clone();
                }
                "allowed.administrator.ips" => {
                    config.allowed_admin_ips =
                        IpAllowlist::parse(value).map_err(|e| invalid(&e.to_string()))?;
                }
                "server.ssl.cert" => cert = (!value.is_empty()).then(|| PathBuf::from(value)),
                "server.ssl.key" => key = (!value.is_empty()).then(|| PathBuf::from(value)),
                "hard.socket.idle.timeout" => {
                    let secs: u32 = value
                        .parse()
                        .map_err(|_| invalid("expected whole seconds (0 = no timeout)"))?;
                    config.hardware_idle_timeout = idle_limit(secs);
                }
                "user.message.quota.limit" => {
                    config.message_quota_per_second =
                        value
                            .parse()
                            .ok()
                            .filter(|&n: &u32| n > 0)
                            .ok_or_else(|| invalid("expected a positive number of messages"))?;
                }
                "ota.max.firmware.size" => {
                    config.max_firmware_size = value
                        .parse()
                        .ok()
                        .filter(|&n: &u64| n > 0)
                        .ok_or_else(|| invalid("expected a positive number of bytes"))?;
                }
                other => warnings.push(ConfigWarning {
                    key: other.to_owned(),
                    message: format!("unknown key on line {}; ignored", prop.line),
                }),
            }
        }
        config.tls = match (cert, key) {
            (None, None) => TlsSource::Generated,
            (Some(cert), Some(key)) => TlsSource::Files { cert, key },
            (Some(_), None) => {
                return Err(Error::TlsPair {
                    missing: "server.ssl.key",
                });
            }
            (None, Some(_)) => {
                return Err(Error::TlsPair {
                    missing: "server.ssl.cert",
                });
            }
        };
        config.admin = AdminCredentials::new(&admin_email, &admin_pass);
        Ok((config, warnings))
    }
}

const PORT: &str = "expected a port number 0..=65535";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin_auth::AuthOutcome;
    use base64::Engine as _;

    #[test]
    fn defaults() {
        let (c, w) = Config::from_properties("").unwrap();
        assert!(w.is_empty());
        assert_eq!((c.http_port, c.https_port), (8080, 9443));
        assert_eq!(c.listen_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(c.data_folder, PathBuf::from("./data"));
        assert_eq!(c.admin.email(), "admin@blynk.cc");
        assert!(c.admin.is_default_password());
        assert_eq!(c.hardware_idle_timeout, Some(Duration::from_secs(23)));
        assert_eq!(c.message_quota_per_second, 100);
        assert_eq!(c.max_firmware_size, 16 * 1024 * 1024);
        assert_eq!(c.tls, TlsSource::Generated);
    }

    #[test]
    fn every_key() {
        let text = "http.port=18080\nhttps.port=19443\nlisten.address=::1\nserver.host=ota.example.com\n\
                    data.folder=/var/lib/blynk\nadmin.email=root@example.com\nadmin.pass=s3cret\n\
                    allowed.administrator.ips=10.0.0.0/8\nserver.ssl.cert=c.pem\nserver.ssl.key=k.pem\n\
                    hard.socket.idle.timeout=0\nuser.message.quota.limit=5\nota.max.firmware.size=1024\n";
        let (c, w) = Config::from_properties(text).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!((c.http_port, c.https_port), (18080, 19443));
        assert_eq!(c.listen_address, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(c.server_host.as_deref(), Some("ota.example.com"));
        assert_eq!(c.data_folder, PathBuf::from("/var/lib/blynk"));
        assert!(!c.admin.is_default_password());
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("root@example.com:s3cret")
        );
        assert_eq!(c.admin.check(Some(header.as_bytes())), AuthOutcome::Granted);
        assert!(c.allowed_admin_ips.allows("10.1.2.3".parse().unwrap()));
        assert!(!c.allowed_admin_ips.allows("127.0.0.1".parse().unwrap()));
        assert_eq!(
            c.tls,
            TlsSource::Files {
                cert: "c.pem".into(),
                key: "k.pem".into()
            }
        );
        assert_eq!(c.hardware_idle_timeout, None);
        assert_eq!(c.message_quota_per_second, 5);
        assert_eq!(c.max_firmware_size, 1024);
    }

    #[test]
    fn unknown_keys_warn() {
        let (_, w) = Config::from_properties("hardware.mqtt.port=8440\nhttp.port=1\n").unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].key, "hardware.mqtt.port");
        assert!(w[0].message.contains("line 1"));
    }

    #[test]
    fn invalid_values_name_key_and_value() {
        for (text, key, value) in [
            ("http.port=80800", "http.port", "80800"),
            ("https.port=x", "https.port", "x"),
            ("listen.address=localhost", "listen.address", "localhost"),
            ("admin.email=nobody", "admin.email", "nobody"),
            (
                "allowed.administrator.ips=1.2.3.4/40",
                "allowed.administrator.ips",
                "1.2.3.4/40",
            ),
            (
                "hard.socket.idle.timeout=-1",
                "hard.socket.idle.timeout",
                "-1",
            ),
            (
                "user.message.quota.limit=0",
                "user.message.quota.limit",
                "0",
            ),
            ("ota.max.firmware.size=big", "ota.max.firmware.size", "big"),
            ("data.folder=", "data.folder", ""),
        ] {
            let err = Config::from_properties(text).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(key) && msg.contains(&format!("`{value}`")),
                "{msg}"
            );
        }
    }

    #[test]
    fn password_never_in_errors() {
        let err = Config::from_properties("admin.pass=").unwrap_err();
        assert!(err.to_string().contains("admin.pass"));
    }

    #[test]
    fn half_a_tls_pair_is_an_error() {
        let err = Config::from_properties("server.ssl.cert=c.pem").unwrap_err();
        assert!(err.to_string().contains("server.ssl.key"));
        let err = Config::from_properties("server.ssl.key=k.pem").unwrap_err();
        assert!(err.to_string().contains("server.ssl.cert"));
    }

    #[test]
    fn idle_limit_rounds_up() {
        assert_eq!(idle_limit(0), None);
        assert_eq!(idle_limit(1), Some(Duration::from_secs(3)));
        assert_eq!(idle_limit(10), Some(Duration::from_secs(23)));
        assert_eq!(idle_limit(40), Some(Duration::from_secs(92)));
    }
}
