//! Sockets: loopback-only connects from spread source addresses, plain or TLS streams.

use crate::SimError;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Source address of device `index` when spreading over `spread` loopback addresses:
/// `127.0.x.y`, cycling through `spread` addresses starting at 127.0.0.1 (1 = no
/// spreading). Each source address has its own ~28k ephemeral ports.
pub fn source_ip(index: u64, spread: u32) -> Ipv4Addr {
    let n = index % u64::from(spread.max(1));
    // Skip .0 and .255 in the last octet.
    let hi = (n / 254) as u8;
    let lo = (n % 254) as u8 + 1;
    Ipv4Addr::new(127, 0, hi, lo)
}

/// Refuses anything but a loopback address: the simulator never leaves the machine.
pub fn check_loopback(addr: SocketAddr, option: &'static str) -> Result<(), SimError> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(SimError::option(
            option,
            format!("{addr} is not a loopback address"),
        ))
    }
}

/// TCP connect to `addr` from `source` (port chosen by the OS), `TCP_NODELAY` on.
pub async fn connect_from(addr: SocketAddr, source: Ipv4Addr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if addr.ip() != IpAddr::V4(source) && !source.is_unspecified() {
        socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A TLS client trusting the certificates of a PEM file (the server's own
/// `<data folder>/tls/cert.pem` for its generated certificate).
#[derive(Clone)]
pub struct Tls {
    connector: TlsConnector,
    name: rustls::pki_types::ServerName<'static>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Trusts every certificate in `ca_pem`; connects with SNI / verification name
    /// `server_name` (`localhost` for the generated certificate).
    pub fn from_pem_file(ca_pem: &Path, server_name: &str) -> Result<Tls, SimError> {
        let pem = std::fs::read(ca_pem).map_err(|e| SimError::file(ca_pem, e))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| SimError::Tls(format!("{}: {e}", ca_pem.display())))?;
            roots
                .add(cert)
                .map_err(|e| SimError::Tls(format!("{}: {e}", ca_pem.display())))?;
        }
        if roots.is_empty() {
            return Err(SimError::Tls(format!(
                "{}: no certificate found",
                ca_pem.display()
            )));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SimError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
            .map_err(|e| SimError::Tls(format!("server name {server_name}: {e}")))?;
        Ok(Tls {
            connector: TlsConnector::from(Arc::new(config)),
            name,
        })
    }

    /// Runs the TLS handshake over `tcp`.
    pub async fn connect(&self, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        self.connector.connect(self.name.clone(), tcp).await
    }
}

/// A device connection: plain TCP or TLS.
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    /// Connects to `addr` from `source`, with TLS when `tls` is given.
    pub async fn open(addr: SocketAddr, source: Ipv4Addr, tls: Option<&Tls>) -> io::Result<Conn> {
        let tcp = connect_from(addr, source).await?;
        match tls {
            None => Ok(Conn::Plain(tcp)),
            Some(tls) => Ok(Conn::Tls(Box::new(tls.connect(tcp).await?))),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_over_loopback() {
        assert_eq!(source_ip(0, 1), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(source_ip(5, 1), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(source_ip(5, 16), Ipv4Addr::new(127, 0, 0, 6));
        assert_eq!(source_ip(254, 1000), Ipv4Addr::new(127, 0, 1, 1));
        assert!((0..5000).all(|i| source_ip(i, 3000).is_loopback()));
    }

    #[test]
    fn loopback_only() {
        assert!(check_loopback("127.0.0.1:1".parse().unwrap(), "--server").is_ok());
        assert!(check_loopback("10.0.0.1:1".parse().unwrap(), "--server").is_err());
    }
}
