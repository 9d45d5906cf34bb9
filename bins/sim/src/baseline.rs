//! The "bytes alone" reference for the OTA fan-out: the same ESP8266 download client
//! fetching the same image from a trivial in-process HTTP/1.0 server that writes it from
//! memory over loopback — no Blynk sessions, no campaign, no storage.

use crate::SimError;
use crate::download::{DownloadFaults, download};
use crate::net::source_ip;
use md5::{Digest as _, Md5};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpSocket;
use tokio::time::Instant;

/// Result of a baseline run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Baseline {
    /// Downloads completed and verified.
    pub downloads: u64,
    /// Failed downloads.
    pub failed: u64,
    /// Body bytes received.
    pub bytes: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Bytes per second.
    pub bytes_per_second: f64,
}

/// Serves `image` to `downloads` clients, `concurrency` at a time, spread over `spread`
/// source addresses; the reference server listens with `backlog` (the kernel caps it at
/// `net.core.somaxconn`).
pub async fn run(
    image: Vec<u8>,
    downloads: u64,
    concurrency: u64,
    spread: u32,
    backlog: u32,
) -> Result<Baseline, SimError> {
    let md5: [u8; 16] = Md5::digest(&image).into();
    let md5_hex: String = md5.iter().map(|b| format!("{b:02x}")).collect();
    let mut response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nx-MD5: {md5_hex}\r\nConnection: close\r\n\r\n",
        image.len()
    )
    .into_bytes();
    let head_len = response.len();
    response.extend_from_slice(&image);
    let response: Arc<[u8]> = response.into();
    let listener = TcpSocket::new_v4()
        .and_then(|s| {
            s.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
            s.listen(backlog)
        })
        .map_err(|e| SimError::io("baseline listen", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| SimError::io("baseline listen", e))?;
    let server_response = Arc::clone(&response);
    let server = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let response = Arc::clone(&server_response);
            tokio::spawn(async move {
                let mut req = [0u8; 2048];
                let mut got = 0;
                while got < req.len() {
                    match stream.read(&mut req[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                    if req[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                // Header block in one write, then the body.
                if stream.write_all(&response[..head_len]).await.is_ok() {
                    let _ = stream.write_all(&response[head_len..]).await;
                }
            });
        }
    });
    let url = format!("http://{addr}/firmware.bin");
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, downloads.max(1)) {
        let url = url.clone();
        let next = Arc::clone(&next);
        workers.spawn(async move {
            let (mut ok, mut failed, mut bytes) = (0u64, 0u64, 0u64);
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= downloads {
                    break;
                }
                match download(
                    &url,
                    source_ip(i, spread),
                    i,
                    "0.1.0",
                    DownloadFaults::default(),
                )
                .await
                {
                    Ok(d) => {
                        ok += 1;
                        bytes += d.bytes;
                    }
                    Err(e) => {
                        failed += 1;
                        bytes += e.bytes;
                    }
                }
            }
            (ok, failed, bytes)
        });
    }
    let (mut ok, mut failed, mut bytes) = (0, 0, 0);
    while let Some(joined) = workers.join_next().await {
        if let Ok((o, f, b)) = joined {
            ok += o;
            failed += f;
            bytes += b;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    server.abort();
    Ok(Baseline {
        downloads: ok,
        failed,
        bytes,
        seconds,
        bytes_per_second: if seconds > 0.0 {
            bytes as f64 / seconds
        } else {
            0.0
        },
    })
}
