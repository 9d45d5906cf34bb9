//! One hardware session: login, info, ping, quota and idle timeout on a byte stream.
//!
//! The reading half decodes frames with [`blynk_proto::Decoder`]; every outgoing frame is
//! queued to a writer task that writes it in its own write call. The server never sends
//! PING and never uses message id 0.

use crate::config::idle_limit;
use crate::sessions::{ConnectionInfo, Registration, Transport};
use crate::state::Shared;
use crate::storage::{DeviceRecord, unix_now};
use blynk_proto::{Decoder, HardwareInfo, Internal, Message, Status, command::Command};
use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Frames queued to one connection's writer before senders see it as congested.
const OUTBOUND_QUEUE: usize = 64;
/// At most one QUOTA_LIMIT response per this period.
const QUOTA_NOTICE_PERIOD: Duration = Duration::from_secs(60);
/// How long the writer may take to flush queued frames when the session ends.
const WRITER_DRAIN: Duration = Duration::from_secs(2);
/// How long a reply may wait for room in the outbound queue (a device that stops
/// reading must not hold its session forever).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a connection came from.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The device's address.
    pub remote: SocketAddr,
    /// The server address it connected to.
    pub local: SocketAddr,
    /// Plain or TLS.
    pub transport: Transport,
}

/// Why a session ended (for the debug log, through `Debug`).
#[derive(Debug)]
#[allow(dead_code)]
enum End {
    Eof,
    Idle,
    Closed,
    Shutdown,
    Io(std::io::Error),
    Protocol(String),
}

/// Token bucket: `rate` frames per second, burst `rate`.
struct Quota {
    rate: f64,
    tokens: f64,
    last: Instant,
    last_notice: Option<Instant>,
}

impl Quota {
    fn new(per_second: u32, now: Instant) -> Self {
        let rate = f64::from(per_second.max(1));
        Self {
            rate,
            tokens: rate,
            last: now,
            last_notice: None,
        }
    }

    /// Takes one token; `false` when over the limit.
    fn admit(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether a QUOTA_LIMIT notice may be sent now (and records it).
    fn notice_due(&mut self, now: Instant) -> bool {
        let due = self
            .last_notice
            .is_none_or(|t| now.saturating_duration_since(t) >= QUOTA_NOTICE_PERIOD);
        if due {
            self.last_notice = Some(now);
        }
        due
    }
}

struct LoggedIn {
    device: DeviceRecord,
    conn: ConnectionInfo,
    _registration: Registration,
}

struct Session {
    shared: Arc<Shared>,
    peer: Peer,
    tx: mpsc::Sender<Bytes>,
    close: CancellationToken,
    idle: Option<Duration>,
    quota: Quota,
    logged_in: Option<LoggedIn>,
}

/// Runs a hardware session on `stream` until it ends; `first` holds bytes already read.
pub async fn run<S>(
    shared: Arc<Shared>,
    stream: S,
    first: BytesMut,
    peer: Peer,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, writer) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let mut writer_task = tokio::spawn(write_loop(writer, rx));
    let mut session = Session {
        idle: shared.config.hardware_idle_timeout,
        quota: Quota::new(shared.config.message_quota_per_second, Instant::now()),
        shared,
        peer,
        tx,
        close: CancellationToken::new(),
        logged_in: None,
    };
    let end = session.read_loop(&mut reader, first, &shutdown).await;
    tracing::debug!(remote = %peer.remote, reason = ?end, "hardware session ended");
    if let Some(logged_in) = session.logged_in.take() {
        let LoggedIn {
            device,
            conn,
            _registration,
        } = logged_in;
        drop(_registration);
        let still_online = session.shared.sessions.is_online(device.id);
        tracing::info!(device = %device.name, remote = %peer.remote, still_online, "device disconnected");
        let shared = Arc::clone(&session.shared);
        shared.ota.disconnected(&conn);
        shared.hooks.disconnected(&shared, &conn, still_online);
    }
    // Let the writer flush what is queued, then close (or give up on a stuck peer).
    drop(session);
    if tokio::time::timeout(WRITER_DRAIN, &mut writer_task)
        .await
        .is_err()
    {
        writer_task.abort();
    }
}

async fn write_loop<W: AsyncWrite>(writer: W, mut rx: mpsc::Receiver<Bytes>) {
    let mut writer = std::pin::pin!(writer);
    while let Some(frame) = rx.recv().await {
        if writer.write_all(&frame).await.is_err() || writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}

impl Session {
    async fn read_loop<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        mut buf: BytesMut,
        shutdown: &CancellationToken,
    ) -> End {
        let decoder = Decoder::with_max_body(self.shared.config.max_frame_body);
        // Any inbound bytes reset the idle timer.
        let mut last_activity = Instant::now();
        loop {
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(message)) => {
                        if let Err(end) = self.handle(message).await {
                            return end;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return End::Protocol(e.to_string()),
                }
            }
            // Computed after handling: an info message may have changed the limit.
            let deadline = self.idle.map(|d| last_activity + d);
            buf.reserve(4096);
            let read = tokio::select! {
                read = reader.read_buf(&mut buf) => read,
                () = sleep_until(deadline) => return End::Idle,
                () = self.close.cancelled() => return End::Closed,
                () = shutdown.cancelled() => return End::Shutdown,
            };
            match read {
                Ok(0) => return End::Eof,
                Ok(_) => last_activity = Instant::now(),
                Err(e) => return End::Io(e),
            }
        }
    }

    /// Queues one frame for the writer. Frames for id 0 are never sent.
    async fn send(&self, message: Message) -> Result<(), End> {
        if message.id() == 0 {
            tracing::debug!(remote = %self.peer.remote, "not answering a frame with id 0");
            return Ok(());
        }
        let mut out = BytesMut::with_capacity(message.frame_len());
        message
            .encode(&mut out)
            .map_err(|e| End::Protocol(format!("cannot encode reply: {e}")))?;
        match tokio::time::timeout(SEND_TIMEOUT, self.tx.send(out.freeze())).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Io(std::io::ErrorKind::BrokenPipe.into())),
            Err(_) => Err(End::Io(std::io::ErrorKind::TimedOut.into())),
        }
    }

    async fn handle(&mut self, message: Message) -> Result<(), End> {
        let Some(logged_in) = &self.logged_in else {
            return match message {
                Message::Login { id, token, .. } => self.login(id, &token).await,
                other => Err(End::Protocol(format!("{:?} before login", other.command()))),
            };
        };
        let device_id = logged_in.device.id;
        let now = Instant::now();
        if !self.quota.admit(now) {
            if self.quota.notice_due(now) {
                tracing::debug!(remote = %self.peer.remote, "message quota exceeded");
                self.send(Message::response(message.id(), Status::QuotaLimit))
                    .await?;
            }
            return Ok(());
        }
        match message {
            Message::Login { id, .. } => {
                self.send(Message::response(id, Status::AlreadyRegistered))
                    .await
            }
            Message::Ping { id } => self.send(Message::ok(id)).await,
            Message::Internal {
                id,
                internal: Internal::Info(info),
            } => self.info(device_id, id, info).await,
            Message::Raw {
                command: Command::Other(code),
                ..
            } => Err(End::Protocol(format!("unknown command {code}"))),
            // RESPONSE, HARDWARE, HARDWARE_SYNC, BRIDGE, PROPERTY, other INTERNAL, ...:
            // accepted and ignored.
            _ => Ok(()),
        }
    }

    async fn login(&mut self, id: u16, token: &[u8]) -> Result<(), End> {
        let token = String::from_utf8_lossy(token).trim().to_owned();
        let found = if token.is_empty() || token.contains('\0') {
            None
        } else {
            let lookup = token.clone();
            match self
                .shared
                .store
                .call(move |s| s.device_by_token(&lookup))
                .await
            {
                Ok(found) => found,
                Err(e) => {
                    tracing::error!(error = %e, "token lookup failed");
                    return self.send(Message::response(id, Status::ServerError)).await;
                }
            }
        };
        let Some(device) = found else {
            tracing::debug!(remote = %self.peer.remote, "login with an unknown token");
            return self.send(Message::response(id, Status::InvalidToken)).await;
        };
        let conn = ConnectionInfo {
            id: self.shared.sessions.next_conn_id(),
            device: device.id,
            remote: self.peer.remote,
            local: self.peer.local,
            transport: self.peer.transport,
            connected_since: unix_now(),
            info: None,
        };
        let registration =
            self.shared
                .sessions
                .register(conn.clone(), self.tx.clone(), self.close.clone());
        self.send(Message::ok(id)).await?;
        tracing::info!(device = %device.name, user = %device.user, remote = %self.peer.remote,
            transport = self.peer.transport.as_str(), "device logged in");
        self.shared.hooks.logged_in(&self.shared, &conn);
        self.logged_in = Some(LoggedIn {
            device,
            conn,
            _registration: registration,
        });
        Ok(())
    }

    async fn info(&mut self, device_id: i64, id: u16, info: HardwareInfo) -> Result<(), End> {
        let info = Arc::new(info);
        let pairs = info.pairs().to_vec();
        if let Err(e) = self
            .shared
            .store
            .call(move |s| s.record_info(device_id, &pairs, unix_now()))
            .await
        {
            tracing::error!(error = %e, "storing device info failed");
        }
        let Some(logged_in) = self.logged_in.as_mut() else {
            return Ok(());
        };
        self.shared
            .sessions
            .set_info(device_id, logged_in.conn.id, Arc::clone(&info));
        logged_in.conn.info = Some(Arc::clone(&info));
        // A reported heartbeat replaces the configured idle limit (unless that is off).
        if self.idle.is_some() {
            if let Some(limit) = info.heartbeat().and_then(idle_limit) {
                self.idle = Some(limit);
            }
        }
        self.send(Message::ok(id)).await?;
        if let Some(logged_in) = &self.logged_in {
            self.shared
                .ota
                .info_reported(&logged_in.device, &logged_in.conn, &info);
            self.shared
                .hooks
                .info_reported(&self.shared, &logged_in.conn, &info);
        }
        Ok(())
    }
}

/// Sleeps until `deadline`, or forever without one.
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_bucket() {
        let t0 = Instant::now();
        let mut q = Quota::new(3, t0);
        assert!(q.admit(t0) && q.admit(t0) && q.admit(t0));
        assert!(!q.admit(t0));
        assert!(q.notice_due(t0));
        assert!(!q.notice_due(t0 + Duration::from_secs(59)));
        assert!(q.notice_due(t0 + Duration::from_secs(60)));
        // A third of a second refills one token.
        assert!(q.admit(t0 + Duration::from_millis(340)));
        assert!(!q.admit(t0 + Duration::from_millis(340)));
    }
}
