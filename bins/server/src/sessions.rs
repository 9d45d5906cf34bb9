//! The registry of live hardware connections, by device.
//!
//! Several connections may be logged in with one token at once (legacy behaviour); all
//! of them are kept and all receive what is sent to the device. Each connection records
//! the local address it came in on (the address a device reached this server at, which
//! download URLs should use) and the last info message it reported.
//!
//! Sending is synchronous and never blocks: a frame is encoded once, then queued to each
//! connection's writer task, which writes every queued frame in its own write (`blynklib`
//! parses one message per receive).

use crate::storage::DeviceId;
use blynk_proto::{HEADER_LEN, HardwareInfo, Message, ProtoError};
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Process-unique id of a connection.
pub type ConnId = u64;

/// The receive limit assumed for a device that has not reported `buff-in`
/// (the legacy default of 255 minus the 5-byte header).
pub const DEFAULT_BUFF_IN: u32 = 250;

/// How a connection reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP (`http.port`).
    Plain,
    /// TLS (`https.port`).
    Tls,
}

impl Transport {
    /// `"tcp"` or `"tls"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Plain => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// A snapshot of one live, logged-in hardware connection.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// Connection id.
    pub id: ConnId,
    /// The device it is logged in as.
    pub device: DeviceId,
    /// The device's address.
    pub remote: SocketAddr,
    /// The server address the device connected to.
    pub local: SocketAddr,
    /// Plain or TLS.
    pub transport: Transport,
    /// Login time (Unix seconds).
    pub connected_since: i64,
    /// The info message reported on this connection, if any yet.
    pub info: Option<Arc<HardwareInfo>>,
}

impl ConnectionInfo {
    /// The device's receive limit: its reported `buff-in`, else [`DEFAULT_BUFF_IN`].
    pub fn buff_in(&self) -> u32 {
        self.info.as_ref().map_or(DEFAULT_BUFF_IN, |i| i.buff_in())
    }

    /// Whether a frame with a body of `body_len` bytes fits the device's receive limit
    /// (body + header ≤ `buff-in`, the legacy rule, so the body never exceeds it).
    pub fn fits(&self, body_len: usize) -> bool {
        u64::try_from(body_len + HEADER_LEN).unwrap_or(u64::MAX) <= u64::from(self.buff_in())
    }
}

/// What happened to a frame sent to a device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendReport {
    /// Connections the frame was queued to.
    pub delivered: usize,
    /// Connections skipped because the body exceeds their `buff-in`.
    pub too_big: usize,
    /// Connections skipped because their outbound queue was full or closing.
    pub congested: usize,
}

struct Entry {
    info: ConnectionInfo,
    tx: mpsc::Sender<Bytes>,
    close: CancellationToken,
}

/// Live connections by device. Cheap to share (`Arc`).
#[derive(Default)]
pub struct DeviceSessions {
    devices: Mutex<HashMap<DeviceId, Vec<Entry>>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for DeviceSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSessions")
            .field("devices", &self.lock().len())
            .finish()
    }
}

/// Removes its connection from the registry when dropped.
#[derive(Debug)]
pub struct Registration {
    sessions: Arc<DeviceSessions>,
    device: DeviceId,
    id: ConnId,
}

impl Registration {
    /// The connection id.
    pub fn id(&self) -> ConnId {
        self.id
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.sessions.remove(self.device, self.id);
    }
}

impl DeviceSessions {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<DeviceId, Vec<Entry>>> {
        self.devices.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Adds a logged-in connection; `tx` feeds its writer, `close` ends it.
    pub fn register(
        self: &Arc<Self>,
        info: ConnectionInfo,
        tx: mpsc::Sender<Bytes>,
        close: CancellationToken,
    ) -> Registration {
        let (device, id) = (info.device, info.id);
        self.lock()
            .entry(device)
            .or_default()
            .push(Entry { info, tx, close });
        Registration {
            sessions: Arc::clone(self),
            device,
            id,
        }
    }

    fn remove(&self, device: DeviceId, id: ConnId) {
        let mut devices = self.lock();
        if let Some(entries) = devices.get_mut(&device) {
            entries.retain(|e| e.info.id != id);
            if entries.is_empty() {
                devices.remove(&device);
            }
        }
    }

    /// Records the info message reported on a connection.
    pub fn set_info(&self, device: DeviceId, id: ConnId, info: Arc<HardwareInfo>) {
        if let Some(entry) = self
            .lock()
            .get_mut(&device)
            .and_then(|entries| entries.iter_mut().find(|e| e.info.id == id))
        {
            entry.info.info = Some(info);
        }
    }

    /// Whether the device has at least one live connection.
    pub fn is_online(&self, device: DeviceId) -> bool {
        self.lock().contains_key(&device)
    }

    /// Snapshots of the device's live connections, oldest first.
    pub fn connections(&self, device: DeviceId) -> Vec<ConnectionInfo> {
        self.lock()
            .get(&device)
            .map(|entries| entries.iter().map(|e| e.info.clone()).collect())
            .unwrap_or_default()
    }

    /// Devices with at least one live connection.
    pub fn online_devices(&self) -> Vec<DeviceId> {
        self.lock().keys().copied().collect()
    }

    /// Total live logged-in connections.
    pub fn connection_count(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Queues `message` to every live connection of `device` whose `buff-in` it fits.
    ///
    /// Errors only when the message cannot be encoded (e.g. id 0).
    pub fn send(&self, device: DeviceId, message: &Message) -> Result<SendReport, ProtoError> {
        let frame = encode(message)?;
        let mut report = SendReport::default();
        if let Some(entries) = self.lock().get(&device) {
            for entry in entries {
                deliver(entry, &frame, message.body_len(), &mut report);
            }
        }
        Ok(report)
    }

    /// Queues `message` to one connection (if it is still live and the message fits).
    pub fn send_to_connection(
        &self,
        device: DeviceId,
        id: ConnId,
        message: &Message,
    ) -> Result<SendReport, ProtoError> {
        let frame = encode(message)?;
        let mut report = SendReport::default();
        if let Some(entry) = self
            .lock()
            .get(&device)
            .and_then(|entries| entries.iter().find(|e| e.info.id == id))
        {
            deliver(entry, &frame, message.body_len(), &mut report);
        }
        Ok(report)
    }

    /// Closes every connection of `device`; returns how many there were.
    pub fn disconnect(&self, device: DeviceId) -> usize {
        self.lock().get(&device).map_or(0, |entries| {
            entries.iter().for_each(|e| e.close.cancel());
            entries.len()
        })
    }
}

fn encode(message: &Message) -> Result<Bytes, ProtoError> {
    let mut buf = BytesMut::with_capacity(message.frame_len());
    message.encode(&mut buf)?;
    Ok(buf.freeze())
}

fn deliver(entry: &Entry, frame: &Bytes, body_len: usize, report: &mut SendReport) {
    if !entry.info.fits(body_len) {
        report.too_big += 1;
    } else if entry.tx.try_send(frame.clone()).is_ok() {
        report.delivered += 1;
    } else {
        report.congested += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(sessions: &DeviceSessions, device: DeviceId) -> ConnectionInfo {
        ConnectionInfo {
            id: sessions.next_conn_id(),
            device,
            remote: "127.0.0.1:5000".parse().unwrap(),
            local: "127.0.0.1:8080".parse().unwrap(),
            transport: Transport::Plain,
            connected_since: 0,
            info: None,
        }
    }

    #[test]
    fn fan_out_buff_in_and_removal() {
        let sessions = DeviceSessions::new();
        let (tx1, mut rx1) = mpsc::channel(4);
        let (tx2, mut rx2) = mpsc::channel(4);
        let c1 = conn(&sessions, 7);
        let c2 = conn(&sessions, 7);
        let close2 = CancellationToken::new();
        let r1 = sessions.register(c1.clone(), tx1, CancellationToken::new());
        let r2 = sessions.register(c2.clone(), tx2, close2.clone());
        assert!(sessions.is_online(7));
        assert_eq!(sessions.connections(7).len(), 2);

        // Second connection reports a tiny buff-in.
        let info = HardwareInfo::parse(b"ver\x000.2.6\x00buff-in\x0012");
        sessions.set_info(7, c2.id, Arc::new(info));
        let small = Message::hardware(5, &b"vw\x001\x0012"[..]);
        let large = Message::hardware(6, &b"vw\x001\x00123"[..]);
        let report = sessions.send(7, &small).unwrap();
        assert_eq!(report.delivered, 2);
        let report = sessions.send(7, &large).unwrap();
        assert_eq!((report.delivered, report.too_big), (1, 1));
        assert_eq!(rx1.try_recv().unwrap().len(), 12);
        assert_eq!(rx1.try_recv().unwrap().len(), 13);
        assert_eq!(rx2.try_recv().unwrap().len(), 12);
        assert!(rx2.try_recv().is_err());

        // id 0 is refused by the encoder.
        assert!(sessions.send(7, &Message::hardware(0, &b"x"[..])).is_err());

        assert_eq!(sessions.disconnect(7), 2);
        assert!(close2.is_cancelled());
        drop(r1);
        assert!(sessions.is_online(7));
        drop(r2);
        assert!(!sessions.is_online(7));
        assert_eq!(sessions.send(7, &small).unwrap(), SendReport::default());
    }

    #[test]
    fn default_buff_in_without_info() {
        let sessions = DeviceSessions::new();
        let c = conn(&sessions, 1);
        assert!(c.fits(245));
        assert!(!c.fits(246));
    }
}
