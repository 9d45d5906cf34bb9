//! One simulated device: connect, log in, report info, ping at its heartbeat, optional
//! HARDWARE traffic or flood, and the ESP8266 OTA cycle on `ota\0URL`.

use crate::download::{DownloadFaults, download};
use crate::fault::{FaultKind, Faults};
use crate::net::{Conn, Tls, source_ip};
use crate::summary::{DeviceReport, Outcome};
use blynk_proto::{Decoder, Internal, LoginKind, Message, Status};
use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Time allowed for connect + TLS + login answer.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Message id of the login (every real client uses 1) and of the info message.
const LOGIN_ID: u16 = 1;
const INFO_ID: u16 = 2;

/// Which info message layout to send (`../shared/docs/blynk-protocol.md` section 6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InfoLayout {
    /// Arduino library 1.3+: `mcu`, `fw-type`, `build`, `blynk`, `h-beat`, `buff-in`,
    /// `dev`, `tmpl`, no trailing NUL.
    New,
    /// Library ≤ 1.2 / 0.6: `ver`, `h-beat`, `buff-in`, `dev`, `fw-type`, `fw`, `build`,
    /// `tmpl`, with a trailing NUL.
    Legacy,
}

/// Flood mode: what each device pipelines as fast as the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FloodKind {
    /// `batch` HARDWARE `vw` frames then one PING; wait for the PING's OK.
    Hardware,
    /// `batch` PINGs; wait for all their OKs.
    Ping,
}

/// Per-device behaviour shared by the whole fleet.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// Hardware address of the server (plain `http.port` or TLS `https.port`).
    pub server: SocketAddr,
    /// TLS, when connecting to the TLS port.
    pub tls: Option<Tls>,
    /// Number of loopback source addresses to spread over.
    pub spread: u32,
    /// LOGIN (2) or HW_LOGIN (29).
    pub login: LoginKind,
    /// Info layout.
    pub layout: InfoLayout,
    /// Firmware version reported before any update (`mcu` / `fw`).
    pub fw_version: String,
    /// Build reported before any update.
    pub build: String,
    /// `fw-type` and `tmpl`.
    pub fw_type: String,
    /// Reported heartbeat, seconds; a PING goes out after this long without sending.
    pub heartbeat: u32,
    /// Reported `buff-in`.
    pub buff_in: u32,
    /// Interval between HARDWARE `vw` messages, if any.
    pub hardware_every: Option<Duration>,
    /// Flood mode (kind, frames per batch).
    pub flood: Option<(FloodKind, u16)>,
    /// Delay between the end of a download and the new login.
    pub reboot_delay: Duration,
    /// Delay before reconnecting after a lost connection.
    pub reconnect_delay: Duration,
    /// Injected faults.
    pub faults: Faults,
}

/// Live counters the fleet watches while devices run.
#[derive(Debug, Default)]
pub struct Live {
    /// Devices logged in with their info acknowledged, now.
    pub ready: AtomicU64,
    /// Devices that reported an updated build.
    pub updated: AtomicU64,
    /// Devices in the middle of an OTA cycle (downloading or rebooting).
    pub busy: AtomicU64,
    /// Devices whose latest OTA attempt failed (or that are lost) and that have not
    /// received another command since.
    pub failed_latest: AtomicU64,
    /// Storm generation announced (see [`Ctx::storm`]).
    pub storm_generation: AtomicU64,
    /// Devices ready again since the last storm started.
    pub storm_ready: AtomicU64,
    /// Latest storm-ready time, µs since the run start.
    pub storm_last_us: AtomicU64,
    /// Latest update time, µs since the run start.
    pub updated_last_us: AtomicU64,
    /// Frames carried through the server by flood mode.
    pub flood_frames: AtomicU64,
}

/// What every device task shares.
#[derive(Debug)]
pub struct Ctx {
    /// Behaviour.
    pub cfg: DeviceConfig,
    /// Stops every device.
    pub stop: CancellationToken,
    /// Reconnect storm trigger: each new value makes every device drop its connection
    /// and log in again at once.
    pub storm: watch::Receiver<u64>,
    /// Live counters.
    pub live: Live,
    /// When the campaign was started, if this run started one.
    pub campaign_started: OnceLock<Instant>,
    /// Run start.
    pub t0: Instant,
}

impl Ctx {
    fn since_t0_us(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.t0).as_micros()).unwrap_or(u64::MAX)
    }
}

/// The info body for `build` and `version` in the configured layout.
pub fn info_body(cfg: &DeviceConfig, version: &str, build: &str) -> Bytes {
    let hb = cfg.heartbeat.to_string();
    let buff = cfg.buff_in.to_string();
    let pairs: Vec<(&str, &str)> = match cfg.layout {
        InfoLayout::New => vec![
            ("mcu", version),
            ("fw-type", &cfg.fw_type),
            ("build", build),
            ("blynk", "1.4.0"),
            ("h-beat", &hb),
            ("buff-in", &buff),
            ("dev", "ESP8266"),
            ("tmpl", &cfg.fw_type),
        ],
        InfoLayout::Legacy => vec![
            ("ver", "0.6.1"),
            ("h-beat", &hb),
            ("buff-in", &buff),
            ("dev", "NodeMCU"),
            ("fw-type", &cfg.fw_type),
            ("fw", version),
            ("build", build),
            ("tmpl", &cfg.fw_type),
        ],
    };
    let mut body = Vec::new();
    for (k, v) in pairs {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    if cfg.layout == InfoLayout::New {
        body.pop();
    }
    Bytes::from(body)
}

/// Why a session ended.
enum End {
    Stop,
    Storm,
    Ota(Bytes),
    InvalidToken,
    Lost(String),
}

struct Device {
    index: u64,
    token: Bytes,
    ctx: Arc<Ctx>,
    report: DeviceReport,
    version: String,
    build: String,
    updated_reported: bool,
    lost: bool,
    last_failure: Option<String>,
    failed_counted: bool,
    last_connect_error: Option<String>,
    storm_seen: u64,
    decoder: Decoder,
}

/// Runs device `index` with `token` until the fleet stops it.
pub async fn run(index: u64, token: String, ctx: Arc<Ctx>) -> DeviceReport {
    let mut d = Device {
        index,
        token: Bytes::from(token),
        version: ctx.cfg.fw_version.clone(),
        build: ctx.cfg.build.clone(),
        storm_seen: ctx.live.storm_generation.load(Relaxed),
        ctx,
        report: DeviceReport {
            index,
            ..DeviceReport::default()
        },
        updated_reported: false,
        lost: false,
        last_failure: None,
        failed_counted: false,
        last_connect_error: None,
        decoder: Decoder::new(),
    };
    loop {
        if d.ctx.stop.is_cancelled() {
            break;
        }
        match d.session().await {
            End::Stop => break,
            End::Storm => continue,
            End::InvalidToken => {
                d.last_connect_error = Some("invalid token".into());
                break;
            }
            End::Ota(url) => {
                d.ota(&url).await;
                if d.lost {
                    break;
                }
            }
            End::Lost(reason) => {
                d.last_connect_error = Some(reason);
                tokio::select! {
                    () = tokio::time::sleep(d.ctx.cfg.reconnect_delay) => {}
                    () = d.ctx.stop.cancelled() => break,
                }
            }
        }
    }
    d.finish()
}

impl Device {
    fn finish(mut self) -> DeviceReport {
        let original = self.ctx.cfg.build.as_str();
        self.report.outcome = Some(if self.lost {
            Outcome::Lost
        } else if self.updated_reported {
            Outcome::Updated
        } else if self.build != original {
            Outcome::Failed("stopped before logging in with the new build".into())
        } else if self.report.logins == 0 {
            Outcome::NotConnected(
                self.last_connect_error
                    .take()
                    .unwrap_or_else(|| "never connected".into()),
            )
        } else if self.report.commands == 0 {
            Outcome::NoCommand
        } else {
            Outcome::Failed(
                self.last_failure
                    .take()
                    .unwrap_or_else(|| "not updated".into()),
            )
        });
        self.report
    }

    async fn send(&mut self, conn: &mut Conn, message: &Message) -> std::io::Result<()> {
        let mut out = BytesMut::with_capacity(message.frame_len());
        message
            .encode(&mut out)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        conn.write_all(&out).await?;
        self.report.frames_sent += 1;
        Ok(())
    }

    /// Connects and logs in; `Err` ends the session.
    async fn login(&mut self, buf: &mut BytesMut) -> Result<Conn, End> {
        let cfg = &self.ctx.cfg;
        let started = Instant::now();
        let source = source_ip(self.index, cfg.spread);
        let attempt = async {
            let mut conn = Conn::open(cfg.server, source, cfg.tls.as_ref())
                .await
                .map_err(|e| format!("connect failed: {e}"))?;
            let login = Message::login(LOGIN_ID, cfg.login, self.token.clone());
            let mut out = BytesMut::new();
            login.encode(&mut out).map_err(|e| e.to_string())?;
            conn.write_all(&out)
                .await
                .map_err(|e| format!("login write failed: {e}"))?;
            loop {
                match self.decoder.decode(buf) {
                    Ok(Some(Message::Response {
                        id: LOGIN_ID,
                        status,
                    })) => return Ok((conn, status)),
                    Ok(Some(_)) => continue,
                    Ok(None) => {}
                    Err(e) => return Err(format!("bad frame from the server: {e}")),
                }
                if conn
                    .read_buf(buf)
                    .await
                    .map_err(|e| format!("read failed: {e}"))?
                    == 0
                {
                    return Err("closed by the server before the login answer".to_owned());
                }
            }
        };
        let result = tokio::select! {
            r = tokio::time::timeout(LOGIN_TIMEOUT, attempt) => r.unwrap_or_else(|_| Err("login timed out".to_owned())),
            () = self.ctx.stop.cancelled() => return Err(End::Stop),
        };
        match result {
            Ok((conn, Status::Ok | Status::AlreadyRegistered)) => {
                self.report.frames_sent += 1;
                self.report.logins += 1;
                let us = started.elapsed().as_micros();
                self.report
                    .login_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
                Ok(conn)
            }
            Ok((_, Status::InvalidToken)) => {
                self.report.login_failures += 1;
                Err(End::InvalidToken)
            }
            Ok((_, status)) => {
                self.report.login_failures += 1;
                Err(End::Lost(format!(
                    "login refused with status {}",
                    status.code()
                )))
            }
            Err(reason) => {
                self.report.login_failures += 1;
                Err(End::Lost(reason))
            }
        }
    }

    async fn session(&mut self) -> End {
        let mut buf = BytesMut::with_capacity(256);
        let mut conn = match self.login(&mut buf).await {
            Ok(conn) => conn,
            Err(end) => return end,
        };
        let info = Message::Internal {
            id: INFO_ID,
            internal: Internal::Other(info_body(&self.ctx.cfg, &self.version, &self.build)),
        };
        if let Err(e) = self.send(&mut conn, &info).await {
            return End::Lost(format!("info write failed: {e}"));
        }
        let info_sent = Instant::now();
        let mut ready = false;
        let end = self.serve(&mut conn, &mut buf, info_sent, &mut ready).await;
        if ready {
            self.ctx.live.ready.fetch_sub(1, Relaxed);
        }
        end
    }

    fn became_ready(&mut self) {
        let live = &self.ctx.live;
        live.ready.fetch_add(1, Relaxed);
        let now = Instant::now();
        let generation = live.storm_generation.load(Relaxed);
        if generation > self.storm_seen {
            self.storm_seen = generation;
            live.storm_ready.fetch_add(1, Relaxed);
            live.storm_last_us
                .fetch_max(self.ctx.since_t0_us(now), Relaxed);
        }
        if !self.updated_reported && self.build != self.ctx.cfg.build {
            self.updated_reported = true;
            live.updated.fetch_add(1, Relaxed);
            live.updated_last_us
                .fetch_max(self.ctx.since_t0_us(now), Relaxed);
        }
    }

    async fn serve(
        &mut self,
        conn: &mut Conn,
        buf: &mut BytesMut,
        info_sent: Instant,
        ready: &mut bool,
    ) -> End {
        let heartbeat = Duration::from_secs(u64::from(self.ctx.cfg.heartbeat.max(1)));
        let mut last_sent = info_sent;
        let mut next_id: u16 = 3;
        let mut next_hw = self
            .ctx
            .cfg
            .hardware_every
            .map(|every| Instant::now() + every);
        let mut storm = self.ctx.storm.clone();
        storm.mark_unchanged();
        loop {
            // Frames already buffered first.
            loop {
                match self.decoder.decode(buf) {
                    Ok(Some(Message::Response { id: INFO_ID, .. })) if !*ready => {
                        *ready = true;
                        self.became_ready();
                        if let Some((kind, batch)) = self.ctx.cfg.flood {
                            return self.flood(conn, buf, kind, batch).await;
                        }
                    }
                    Ok(Some(Message::Internal {
                        internal: Internal::Ota { url },
                        ..
                    })) => {
                        self.report.commands += 1;
                        if self.failed_counted {
                            self.failed_counted = false;
                            self.ctx.live.failed_latest.fetch_sub(1, Relaxed);
                        }
                        let from = match self.ctx.campaign_started.get() {
                            Some(&c) if c > info_sent => c,
                            _ => info_sent,
                        };
                        let us = from.elapsed().as_micros();
                        self.report
                            .ota_us
                            .push(u32::try_from(us).unwrap_or(u32::MAX));
                        return End::Ota(url);
                    }
                    Ok(Some(Message::Ping { id })) => {
                        if let Err(e) = self.send(conn, &Message::ok(id)).await {
                            return End::Lost(format!("write failed: {e}"));
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => return End::Lost(format!("bad frame from the server: {e}")),
                }
            }
            let ping_at = last_sent + heartbeat;
            let hw_at = next_hw.unwrap_or(ping_at + heartbeat);
            tokio::select! {
                read = conn.read_buf(buf) => match read {
                    Ok(0) => return End::Lost("closed by the server".into()),
                    Ok(_) => {}
                    Err(e) => return End::Lost(format!("read failed: {e}")),
                },
                () = tokio::time::sleep_until(ping_at) => {
                    if let Err(e) = self.send(conn, &Message::ping(next_id)).await {
                        return End::Lost(format!("ping failed: {e}"));
                    }
                    next_id = next_id.checked_add(1).unwrap_or(1);
                    last_sent = Instant::now();
                }
                () = tokio::time::sleep_until(hw_at), if next_hw.is_some() => {
                    let body = format!("vw\0{}\0{}", next_id % 8, self.report.frames_sent);
                    if let Err(e) = self.send(conn, &Message::hardware(next_id, body)).await {
                        return End::Lost(format!("write failed: {e}"));
                    }
                    next_id = next_id.checked_add(1).unwrap_or(1);
                    last_sent = Instant::now();
                    next_hw = self.ctx.cfg.hardware_every.map(|every| hw_at + every);
                }
                changed = storm.changed() => {
                    if changed.is_ok() {
                        return End::Storm;
                    }
                }
                () = self.ctx.stop.cancelled() => return End::Stop,
            }
        }
    }

    /// Pipelines batches until stopped; counts frames the server has answered for.
    async fn flood(
        &mut self,
        conn: &mut Conn,
        buf: &mut BytesMut,
        kind: FloodKind,
        batch: u16,
    ) -> End {
        let batch = batch.max(1);
        let mut out = BytesMut::new();
        let encode = |m: Message, out: &mut BytesMut| m.encode(out).is_ok();
        for i in 0..batch {
            let id = i + 3;
            let ok = match kind {
                FloodKind::Hardware => encode(
                    Message::hardware(id, format!("vw\0{}\0{i}", i % 8)),
                    &mut out,
                ),
                FloodKind::Ping => encode(Message::ping(id), &mut out),
            };
            if !ok {
                return End::Lost("cannot encode the flood batch".into());
            }
        }
        let (frames, replies) = match kind {
            FloodKind::Hardware => {
                if !encode(Message::ping(batch + 3), &mut out) {
                    return End::Lost("cannot encode the flood batch".into());
                }
                (u64::from(batch) + 1, 1usize)
            }
            FloodKind::Ping => (u64::from(batch), usize::from(batch)),
        };
        let batch_bytes = out.freeze();
        loop {
            let round = async {
                conn.write_all(&batch_bytes).await?;
                let mut got = 0;
                while got < replies {
                    match self.decoder.decode(buf) {
                        Ok(Some(Message::Response { .. })) => got += 1,
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            if conn.read_buf(buf).await? == 0 {
                                return Err(std::io::ErrorKind::UnexpectedEof.into());
                            }
                        }
                        Err(e) => {
                            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
                        }
                    }
                }
                Ok::<(), std::io::Error>(())
            };
            tokio::select! {
                r = round => match r {
                    Ok(()) => {
                        self.report.frames_sent += frames;
                        self.ctx.live.flood_frames.fetch_add(frames, Relaxed);
                    }
                    Err(e) => return End::Lost(format!("flood: {e}")),
                },
                () = self.ctx.stop.cancelled() => return End::Stop,
            }
        }
    }

    /// The ESP8266 cycle: (connection already dropped) download, verify, "reboot".
    async fn ota(&mut self, url: &[u8]) {
        let live = &self.ctx.live;
        live.busy.fetch_add(1, Relaxed);
        let attempt = self.report.commands;
        let f = self.ctx.cfg.faults;
        let faults = DownloadFaults {
            drop_midway: f.hits(FaultKind::DropDownload, self.index, attempt),
            bad_md5: f.hits(FaultKind::BadMd5, self.index, attempt),
        };
        let url = String::from_utf8_lossy(url).into_owned();
        let source = source_ip(self.index, self.ctx.cfg.spread);
        let result = tokio::select! {
            r = download(&url, source, self.index, &self.version, faults) => r,
            () = self.ctx.stop.cancelled() => {
                self.ctx.live.busy.fetch_sub(1, Relaxed);
                self.last_failure = Some("stopped during the download".into());
                return;
            }
        };
        let mut new_build = None;
        match result {
            Ok(d) => {
                self.report.bytes += d.bytes;
                self.report.downloads_ok += 1;
                if f.hits(FaultKind::NeverReconnect, self.index, 0) {
                    self.lost = true;
                } else if f.hits(FaultKind::OldBuild, self.index, attempt) {
                    self.last_failure = Some("rebooted into the old build (injected)".into());
                } else {
                    new_build = Some((d.build, d.version));
                }
            }
            Err(e) => {
                self.report.bytes += e.bytes;
                self.report.downloads_failed += 1;
                self.report.download_failures.push(e.reason.clone());
                self.last_failure = Some(e.reason);
            }
        }
        if !self.lost {
            tokio::select! {
                () = tokio::time::sleep(self.ctx.cfg.reboot_delay) => {}
                () = self.ctx.stop.cancelled() => {}
            }
            if let Some((build, version)) = new_build {
                self.build = build;
                if let Some(v) = version {
                    self.version = v;
                }
                self.last_failure = None;
            }
        }
        if (self.lost || self.last_failure.is_some()) && !self.failed_counted {
            self.failed_counted = true;
            self.ctx.live.failed_latest.fetch_add(1, Relaxed);
        }
        self.ctx.live.busy.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(layout: InfoLayout) -> DeviceConfig {
        DeviceConfig {
            server: "127.0.0.1:1".parse().unwrap(),
            tls: None,
            spread: 1,
            login: LoginKind::HwLogin,
            layout,
            fw_version: "0.1.0".into(),
            build: "Dec  4 2026 14:51:12".into(),
            fw_type: "TMPL0001".into(),
            heartbeat: 40,
            buff_in: 1024,
            hardware_every: None,
            flood: None,
            reboot_delay: Duration::ZERO,
            reconnect_delay: Duration::ZERO,
            faults: Faults::default(),
        }
    }

    #[test]
    fn info_layouts_parse_back() {
        let new = info_body(&cfg(InfoLayout::New), "0.1.0", "Dec  4 2026 14:51:12");
        assert!(new.starts_with(
            b"mcu\x000.1.0\x00fw-type\x00TMPL0001\x00build\x00Dec  4 2026 14:51:12\x00blynk"
        ));
        assert!(!new.ends_with(b"\0"));
        let legacy = info_body(&cfg(InfoLayout::Legacy), "0.1.0", "B");
        assert!(legacy.starts_with(b"ver\x000.6.1\x00h-beat\x0040\x00"));
        assert!(legacy.ends_with(b"\0"));
        for body in [new, legacy] {
            let Internal::Info(info) = Internal::from_body(body) else {
                panic!("not an info body");
            };
            assert_eq!(info.firmware_version(), Some("0.1.0"));
            assert_eq!(info.heartbeat(), Some(40));
            assert_eq!(info.buff_in(), 1024);
        }
    }
}
