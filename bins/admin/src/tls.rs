//! The TLS client configuration: which certificates are trusted, and how handshake
//! failures are told apart (certificate problems get the `--insecure` / `--ca` hint).

use crate::error::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// Which server certificates are accepted.
#[derive(Debug, Clone)]
pub enum Trust<'a> {
    /// The operating system's trusted roots.
    System,
    /// Only the certificates of this PEM file (`--ca`).
    CaFile(&'a Path),
    /// Any certificate (`--insecure`); handshake signatures are still checked.
    Insecure,
}

/// Builds the client configuration for `trust`.
pub fn client_config(trust: &Trust<'_>) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Usage(format!("TLS set-up failed: {e}")))?;
    let config = match trust {
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
            .with_no_client_auth(),
        Trust::System => {
            // No roots at all (a minimal container) is not an error here: the handshake
            // then fails as "certificate not trusted", with the --insecure/--ca hint.
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::CaFile(path) => {
            let roots = read_roots(path)?;
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// Reads every certificate of a PEM file into a root store.
fn read_roots(path: &Path) -> Result<RootCertStore> {
    let pem = std::fs::read(path).map_err(|e| Error::file(path, &e))?;
    let mut roots = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| Error::File {
            path: path.to_path_buf(),
            reason: format!("unreadable PEM: {e}"),
        })?;
        roots.add(cert).map_err(|e| Error::File {
            path: path.to_path_buf(),
            reason: format!("unusable certificate: {e}"),
        })?;
    }
    if roots.is_empty() {
        return Err(Error::File {
            path: path.to_path_buf(),
            reason: "no CERTIFICATE block found".into(),
        });
    }
    Ok(roots)
}

/// Turns a failed handshake into an [`Error::Tls`], noting certificate problems.
pub fn handshake_error(server: &str, e: &std::io::Error) -> Error {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let certificate = matches!(
        rustls_error,
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    );
    let reason = match rustls_error {
        Some(rustls::Error::InvalidMessage(_)) => {
            format!("{e} (is this the HTTPS port? the plain port needs an http:// URL)")
        }
        _ => e.to_string(),
    };
    Error::Tls {
        server: server.to_owned(),
        reason,
        certificate,
    }
}

/// `--insecure`: accepts every certificate chain and name, but still checks that the
/// server holds the key of the certificate it sent.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_get_the_hint() {
        let inner = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
        let e = handshake_error("localhost:9443", &io);
        assert!(matches!(
            e,
            Error::Tls {
                certificate: true,
                ..
            }
        ));
        assert!(e.to_string().contains("--insecure"));
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let e = handshake_error("localhost:9443", &io);
        assert!(!e.to_string().contains("--insecure"));
    }

    #[test]
    fn ca_file_errors_are_file_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        let e = client_config(&Trust::CaFile(&missing)).unwrap_err();
        assert_eq!(e.exit_code(), 6);
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a pem").unwrap();
        let e = client_config(&Trust::CaFile(&empty)).unwrap_err();
        assert!(e.to_string().contains("no CERTIFICATE"), "{e}");
        assert!(client_config(&Trust::Insecure).is_ok());
    }
}
