//! TLS set-up: PEM files from the configuration, or a self-signed certificate generated
//! on first start into `<data folder>/tls/` and reused afterwards. TLS 1.2 and 1.3 only.

use crate::config::{Config, TlsSource};
use crate::error::{Error, Result};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Sub-folder of the data folder holding the generated certificate.
pub const TLS_DIR: &str = "tls";
/// File name of the generated certificate (PEM).
pub const CERT_FILE: &str = "cert.pem";
/// File name of the generated private key (PEM, mode 0600).
pub const KEY_FILE: &str = "key.pem";

/// A ready TLS server configuration and facts to log.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    /// The rustls server configuration.
    pub server_config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the leaf certificate (DER), upper-case hex pairs joined by `:`.
    pub fingerprint: String,
    /// Where the certificate came from.
    pub cert_path: PathBuf,
    /// Whether it was generated during this start.
    pub generated_now: bool,
}

/// Loads or generates the certificate as configured.
pub fn setup(config: &Config) -> Result<TlsSetup> {
    let (cert_path, key_path, generated_now) = match &config.tls {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone(), false),
        TlsSource::Generated => {
            let dir = config.data_folder.join(TLS_DIR);
            let (cert, key) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
            let generated = match (cert.exists(), key.exists()) {
                (true, true) => false,
                (false, false) => {
                    generate(&dir, &cert, &key, config.server_host.as_deref())?;
                    true
                }
                (true, false) => return Err(missing(&key)),
                (false, true) => return Err(missing(&cert)),
            };
            (cert, key, generated)
        }
    };
    let certs = read_certs(&cert_path)?;
    let key = read_key(&key_path)?;
    let fingerprint = certs.first().map(fingerprint).unwrap_or_default();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(TlsSetup {
        server_config: Arc::new(server_config),
        fingerprint,
        cert_path,
        generated_now,
    })
}

fn missing(path: &Path) -> Error {
    Error::Pem {
        path: path.to_path_buf(),
        reason: "missing while its pair exists; restore it or delete both to regenerate".into(),
    }
}

/// SHA-256 fingerprint of a DER certificate as `AB:CD:...`.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::File {
        path: path.to_path_buf(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_file(path)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem {
            path: path.to_path_buf(),
            reason: format!("unreadable PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(Error::Pem {
            path: path.to_path_buf(),
            reason: "no CERTIFICATE block found".into(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = read_file(path)?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| Error::Pem {
            path: path.to_path_buf(),
            reason: format!("unreadable PEM: {e}"),
        })?
        .ok_or_else(|| Error::Pem {
            path: path.to_path_buf(),
            reason: "no PRIVATE KEY block found".into(),
        })
}

fn generate(dir: &Path, cert: &Path, key: &Path, host: Option<&str>) -> Result<()> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(host) = host {
        names.push(host.to_owned());
    }
    let generated = rcgen::generate_simple_self_signed(names)?;
    std::fs::create_dir_all(dir).map_err(|source| Error::File {
        path: dir.to_path_buf(),
        source,
    })?;
    write_atomically(key, generated.signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_atomically(cert, generated.cert.pem().as_bytes(), 0o644)?;
    Ok(())
}

/// Writes to `<path>.tmp`, syncs, then renames over `path`.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let io = |source| Error::File {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_in(dir: &Path) -> Config {
        Config {
            data_folder: dir.to_path_buf(),
            ..Config::default()
        }
    }

    #[test]
    fn generates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = setup(&config_in(dir.path())).unwrap();
        assert!(first.generated_now);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        let second = setup(&config_in(dir.path())).unwrap();
        assert!(!second.generated_now);
        assert_eq!(first.fingerprint, second.fingerprint);
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(TLS_DIR).join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn half_a_generated_pair_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        setup(&config_in(dir.path())).unwrap();
        std::fs::remove_file(dir.path().join(TLS_DIR).join(KEY_FILE)).unwrap();
        let err = setup(&config_in(dir.path())).unwrap_err().to_string();
        assert!(err.contains(KEY_FILE), "{err}");
    }

    #[test]
    fn configured_files_errors() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        setup(&config_in(a.path())).unwrap();
        setup(&config_in(b.path())).unwrap();
        let files = |cert: PathBuf, key: PathBuf| Config {
            tls: TlsSource::Files { cert, key },
            ..config_in(a.path())
        };
        let cert_a = a.path().join(TLS_DIR).join(CERT_FILE);
        let key_a = a.path().join(TLS_DIR).join(KEY_FILE);
        let key_b = b.path().join(TLS_DIR).join(KEY_FILE);
        // Configured pair works.
        assert!(setup(&files(cert_a.clone(), key_a.clone())).is_ok());
        // Mismatched key.
        let err = setup(&files(cert_a.clone(), key_b)).unwrap_err();
        assert!(matches!(err, Error::Tls(_)), "{err}");
        // Missing file.
        let err = setup(&files(a.path().join("nope.pem"), key_a.clone())).unwrap_err();
        assert!(err.to_string().contains("nope.pem"));
        // Key where the certificate should be.
        let err = setup(&files(key_a.clone(), key_a)).unwrap_err();
        assert!(err.to_string().contains("no CERTIFICATE"), "{err}");
        // Certificate where the key should be.
        let err = setup(&files(cert_a.clone(), cert_a)).unwrap_err();
        assert!(err.to_string().contains("no PRIVATE KEY"), "{err}");
    }
}
