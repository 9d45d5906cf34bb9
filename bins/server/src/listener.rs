//! Accept loops: connection cap, accept back-off, TLS handshake, protocol sniffing.

use crate::hardware::{self, Peer};
use crate::sessions::Transport;
use crate::sniff::{self, Protocol, Rewind, SNIFF_LEN};
use crate::state::Shared;
use bytes::BytesMut;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shutdown signals and task tracking shared by the listeners.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// Stop accepting; HTTP connections finish their request and close.
    pub stop: CancellationToken,
    /// Close hardware sessions (after HTTP work has drained).
    pub close_sessions: CancellationToken,
    /// Every connection task.
    pub tasks: TaskTracker,
    /// HTTP connections still serving.
    pub http: TaskTracker,
}

const BACKOFF_START: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
const CAP_WARN_PERIOD: Duration = Duration::from_secs(10);

/// Accepts connections on `listener` until `lifecycle.stop` fires.
pub async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limit: Arc<Semaphore>,
    lifecycle: Lifecycle,
) {
    let transport = if tls.is_some() {
        Transport::Tls
    } else {
        Transport::Plain
    };
    let mut backoff = BACKOFF_START;
    let mut last_cap_warning: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = lifecycle.stop.cancelled() => return,
        };
        let (stream, remote) = match accepted {
            Ok(pair) => {
                backoff = BACKOFF_START;
                pair
            }
            Err(e) => {
                // E.g. EMFILE: wait instead of spinning; the error may clear as
                // connections close.
                tracing::warn!(error = %e, transport = transport.as_str(), ?backoff, "accept failed; backing off");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = lifecycle.stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            let now = Instant::now();
            if last_cap_warning.is_none_or(|t| now.saturating_duration_since(t) >= CAP_WARN_PERIOD)
            {
                tracing::warn!(%remote, "connection cap reached; refusing new connections");
                last_cap_warning = Some(now);
            }
            drop(stream);
            continue;
        };
        let local = match stream.local_addr() {
            Ok(local) => local,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        let peer = Peer {
            remote,
            local,
            transport,
        };
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        let lc = lifecycle.clone();
        lifecycle.tasks.spawn(async move {
            let _permit = permit;
            connection(shared, stream, tls, peer, lc).await;
        });
    }
}

async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    peer: Peer,
    lifecycle: Lifecycle,
) {
    let deadline = shared.config.handshake_timeout;
    match tls {
        None => sniff_and_serve(shared, stream, peer, lifecycle).await,
        Some(acceptor) => {
            let handshake = tokio::select! {
                r = tokio::time::timeout(deadline, acceptor.accept(stream)) => r,
                () = lifecycle.stop.cancelled() => return,
            };
            match handshake {
                Ok(Ok(tls_stream)) => sniff_and_serve(shared, tls_stream, peer, lifecycle).await,
                Ok(Err(e)) => {
                    tracing::debug!(remote = %peer.remote, error = %e, "TLS handshake failed")
                }
                Err(_) => tracing::debug!(remote = %peer.remote, "TLS handshake timed out"),
            }
        }
    }
}

async fn sniff_and_serve<S>(shared: Arc<Shared>, mut stream: S, peer: Peer, lifecycle: Lifecycle)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut first = BytesMut::with_capacity(1024);
    let read_first = async {
        while first.len() < SNIFF_LEN {
            if stream.read_buf(&mut first).await? == 0 {
                return Ok::<bool, std::io::Error>(false);
            }
        }
        Ok(true)
    };
    let enough = tokio::select! {
        r = tokio::time::timeout(shared.config.handshake_timeout, read_first) => r,
        () = lifecycle.stop.cancelled() => return,
    };
    match enough {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => {
            return tracing::debug!(remote = %peer.remote, "closed before sending a protocol header");
        }
        Ok(Err(e)) => return tracing::debug!(remote = %peer.remote, error = %e, "read failed"),
        Err(_) => {
            return tracing::debug!(remote = %peer.remote, "no data within the handshake timeout");
        }
    }
    match sniff::detect(&first) {
        Protocol::Http => {
            let _busy = lifecycle.http.token();
            crate::http::serve(
                shared,
                Rewind::new(first.freeze(), stream),
                peer,
                lifecycle.stop,
            )
            .await;
        }
        Protocol::Hardware => {
            hardware::run(shared, stream, first, peer, lifecycle.close_sessions).await;
        }
    }
}
