//! The typed [`Message`] and its encoder.

use bytes::{BufMut, Bytes, BytesMut};

use crate::header::Header;
use crate::{Command, HEADER_LEN, Internal, LoginKind, MAX_BODY_LEN, ProtoError, Status, redirect};

/// One decoded frame.
///
/// Bodies are [`Bytes`] slices of the receive buffer (no copy); only device info
/// messages ([`Internal::Info`]) allocate. Bodies of HARDWARE, HARDWARE_SYNC, BRIDGE,
/// PROPERTY and DEBUG_PRINT are NUL-separated fields: read them with
/// [`Message::fields`] or [`crate::split`], build them with [`crate::fields::join`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// RESPONSE (0): the answer to request `id`; no body.
    Response {
        /// Id of the request this answers.
        id: u16,
        /// The status.
        status: Status,
    },
    /// LOGIN (2) or HW_LOGIN (29) with the auth token (the whole body, verbatim; see
    /// [`crate::login::trim_token`]).
    Login {
        /// Message id (1 for every known client).
        id: u16,
        /// Which login command was used.
        kind: LoginKind,
        /// The auth token (32 characters in practice).
        token: Bytes,
    },
    /// PING (6). A body, if any, is skipped when decoding and never sent.
    Ping {
        /// Message id; the answer is RESPONSE OK with the same id.
        id: u16,
    },
    /// INTERNAL (17), classified by content.
    Internal {
        /// Message id (7777 for the legacy server's OTA command).
        id: u16,
        /// What the body holds.
        internal: Internal,
    },
    /// HARDWARE (20): `vw\0pin\0value...`, `dw`, `pm`, ...
    Hardware {
        /// Message id.
        id: u16,
        /// NUL-separated fields.
        body: Bytes,
    },
    /// HARDWARE_SYNC (16).
    HardwareSync {
        /// Message id.
        id: u16,
        /// NUL-separated fields.
        body: Bytes,
    },
    /// BRIDGE (15).
    Bridge {
        /// Message id.
        id: u16,
        /// NUL-separated fields.
        body: Bytes,
    },
    /// SET_WIDGET_PROPERTY (19).
    Property {
        /// Message id.
        id: u16,
        /// NUL-separated fields.
        body: Bytes,
    },
    /// CONNECT_REDIRECT (41): reconnect to `host`, port `port` (80 when `None`).
    Redirect {
        /// Message id.
        id: u16,
        /// Host name or address (non-empty, no NUL).
        host: Bytes,
        /// Port; `None` sends only the host.
        port: Option<u16>,
    },
    /// DEBUG_PRINT (55): text the device prints.
    DebugPrint {
        /// Message id.
        id: u16,
        /// The text.
        body: Bytes,
    },
    /// Any other command, body kept raw.
    Raw {
        /// The command.
        command: Command,
        /// Message id.
        id: u16,
        /// The body.
        body: Bytes,
    },
}

impl Message {
    /// RESPONSE OK (200) to request `id`.
    pub fn ok(id: u16) -> Message {
        Message::Response {
            id,
            status: Status::Ok,
        }
    }

    /// RESPONSE with `status` to request `id`.
    pub fn response(id: u16, status: impl Into<Status>) -> Message {
        Message::Response {
            id,
            status: status.into(),
        }
    }

    /// PING with `id`.
    pub fn ping(id: u16) -> Message {
        Message::Ping { id }
    }

    /// A login of `kind` carrying `token`.
    pub fn login(id: u16, kind: LoginKind, token: impl Into<Bytes>) -> Message {
        Message::Login {
            id,
            kind,
            token: token.into(),
        }
    }

    /// HARDWARE with `body` (build it with [`crate::fields::join`]).
    pub fn hardware(id: u16, body: impl Into<Bytes>) -> Message {
        Message::Hardware {
            id,
            body: body.into(),
        }
    }

    /// The OTA command: INTERNAL, body `ota\0<url>`.
    pub fn ota(id: u16, url: impl Into<Bytes>) -> Message {
        Message::Internal {
            id,
            internal: Internal::ota(url),
        }
    }

    /// A redirect to `host` and optional `port`.
    pub fn redirect(id: u16, host: impl Into<Bytes>, port: Option<u16>) -> Message {
        Message::Redirect {
            id,
            host: host.into(),
            port,
        }
    }

    /// The message id.
    pub fn id(&self) -> u16 {
        match *self {
            Message::Response { id, .. }
            | Message::Login { id, .. }
            | Message::Ping { id }
            | Message::Internal { id, .. }
            | Message::Hardware { id, .. }
            | Message::HardwareSync { id, .. }
            | Message::Bridge { id, .. }
            | Message::Property { id, .. }
            | Message::Redirect { id, .. }
            | Message::DebugPrint { id, .. }
            | Message::Raw { id, .. } => id,
        }
    }

    /// The command code this message is sent with.
    pub fn command(&self) -> Command {
        match self {
            Message::Response { .. } => Command::Response,
            Message::Login { kind, .. } => kind.command(),
            Message::Ping { .. } => Command::Ping,
            Message::Internal { .. } => Command::Internal,
            Message::Hardware { .. } => Command::Hardware,
            Message::HardwareSync { .. } => Command::HardwareSync,
            Message::Bridge { .. } => Command::Bridge,
            Message::Property { .. } => Command::Property,
            Message::Redirect { .. } => Command::Redirect,
            Message::DebugPrint { .. } => Command::DebugPrint,
            Message::Raw { command, .. } => *command,
        }
    }

    /// The raw body of messages that carry one verbatim (login token, HARDWARE,
    /// HARDWARE_SYNC, BRIDGE, PROPERTY, DEBUG_PRINT, raw); `None` for the others.
    pub fn body(&self) -> Option<&Bytes> {
        match self {
            Message::Login { token: body, .. }
            | Message::Hardware { body, .. }
            | Message::HardwareSync { body, .. }
            | Message::Bridge { body, .. }
            | Message::Property { body, .. }
            | Message::DebugPrint { body, .. }
            | Message::Raw { body, .. } => Some(body),
            Message::Response { .. }
            | Message::Ping { .. }
            | Message::Internal { .. }
            | Message::Redirect { .. } => None,
        }
    }

    /// The NUL-separated fields of [`Message::body`] (none when there is no body).
    pub fn fields(&self) -> impl Iterator<Item = &[u8]> {
        crate::split(self.body().map_or(&[][..], |b| &b[..]))
    }

    /// Length in bytes of the encoded body (without the 5-byte header); 0 for RESPONSE
    /// and PING.
    pub fn body_len(&self) -> usize {
        match self {
            Message::Internal { internal, .. } => internal.body_len(),
            Message::Redirect { host, port, .. } => redirect::body_len(host, *port),
            // Every other variant has a verbatim body or none (`body` is exhaustive).
            _ => self.body().map_or(0, Bytes::len),
        }
    }

    /// Length in bytes of the whole encoded frame.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.body_len()
    }

    /// Appends the wire bytes to `dst`.
    ///
    /// Errors (and appends nothing): [`ProtoError::ZeroMessageId`] for id 0 (devices
    /// drop the connection on it), [`ProtoError::BodyTooLarge`] when the body does not
    /// fit the 16-bit length, [`ProtoError::InvalidCommand`] for a raw command ≥ 100,
    /// [`ProtoError::Unencodable`] for a RESPONSE sent as [`Message::Raw`], a redirect
    /// host that is empty or contains NUL, or info pairs that would not read back the
    /// same (empty key, NUL inside a key or value).
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), ProtoError> {
        let id = self.id();
        if id == 0 {
            return Err(ProtoError::ZeroMessageId);
        }
        let command = self.command();
        let code = command.code();
        if code >= Command::FIRST_INVALID {
            return Err(ProtoError::InvalidCommand { code });
        }
        let len_field = match self {
            Message::Response { status, .. } => status.code(),
            _ => {
                self.check_encodable(command)?;
                let len = self.body_len();
                u16::try_from(len).map_err(|_| ProtoError::BodyTooLarge {
                    len,
                    max: MAX_BODY_LEN,
                })?
            }
        };
        dst.reserve(self.frame_len());
        Header {
            command: code,
            id,
            len: len_field,
        }
        .write(dst);
        match self {
            Message::Internal { internal, .. } => internal.write(dst),
            Message::Redirect { host, port, .. } => redirect::write(host, *port, dst),
            _ => {
                if let Some(body) = self.body() {
                    dst.put_slice(body);
                }
            }
        }
        Ok(())
    }

    /// Rejects messages whose encoding would not read back as themselves.
    fn check_encodable(&self, command: Command) -> Result<(), ProtoError> {
        match self {
            Message::Raw { .. } if command == Command::Response => Err(ProtoError::Unencodable {
                command,
                reason: "RESPONSE has no body: use Message::Response",
            }),
            Message::Redirect { host, .. } => redirect::check(host),
            Message::Internal {
                internal: Internal::Info(info),
                ..
            } if !info.is_encodable() => Err(ProtoError::Unencodable {
                command,
                reason: "info keys must be non-empty and keys and values free of NUL",
            }),
            _ => Ok(()),
        }
    }

    /// Builds the message for a complete frame whose body is `body` and that passed
    /// [`Message::check_frame`]. RESPONSE is handled by the decoder (no body).
    pub(crate) fn from_frame(command: Command, id: u16, body: Bytes) -> Message {
        match command {
            Command::Hardware => Message::Hardware { id, body },
            Command::Internal => Message::Internal {
                id,
                internal: Internal::from_body(body),
            },
            Command::Login => Message::Login {
                id,
                kind: LoginKind::Login,
                token: body,
            },
            Command::HwLogin => Message::Login {
                id,
                kind: LoginKind::HwLogin,
                token: body,
            },
            Command::HardwareSync => Message::HardwareSync { id, body },
            Command::Bridge => Message::Bridge { id, body },
            Command::Property => Message::Property { id, body },
            Command::DebugPrint => Message::DebugPrint { id, body },
            Command::Redirect => match redirect::parse(&body) {
                Ok((host_len, port)) => Message::Redirect {
                    id,
                    host: body.slice(..host_len),
                    port,
                },
                // Unreachable after `check_frame`; kept total without panicking.
                Err(_) => Message::Raw { command, id, body },
            },
            Command::Ping => Message::Ping { id },
            command => Message::Raw { command, id, body },
        }
    }

    /// Validates a frame body before anything is consumed, so a decoding error leaves
    /// the buffer untouched. Only REDIRECT bodies can be malformed.
    pub(crate) fn check_frame(command: Command, body: &[u8]) -> Result<(), ProtoError> {
        if command == Command::Redirect {
            redirect::parse(body)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HardwareInfo;

    fn wire(m: &Message) -> Vec<u8> {
        let mut dst = BytesMut::new();
        m.encode(&mut dst).unwrap();
        assert_eq!(dst.len(), m.frame_len());
        dst.to_vec()
    }

    #[test]
    fn encodes_reference_frames() {
        assert_eq!(wire(&Message::ok(1)), [0, 0, 1, 0, 0xc8]);
        assert_eq!(
            wire(&Message::response(1, Status::InvalidToken)),
            [0, 0, 1, 0, 9]
        );
        assert_eq!(wire(&Message::ping(101)), [6, 0, 0x65, 0, 0]);
        assert_eq!(
            wire(&Message::hardware(3, &b"vw\x000\x0010"[..])),
            b"\x14\x00\x03\x00\x07vw\x000\x0010"
        );
        let mut login = vec![0x1d, 0, 1, 0, 0x20];
        login.extend_from_slice(b"abcdefghijklmnopqrstuvwxyz012345");
        assert_eq!(
            wire(&Message::login(
                1,
                LoginKind::HwLogin,
                &b"abcdefghijklmnopqrstuvwxyz012345"[..]
            )),
            login
        );
        let ota = wire(&Message::ota(
            7777,
            &b"http://127.0.0.1:18080/static/ota/firmware_ota.bin"[..],
        ));
        assert_eq!(&ota[..9], b"\x11\x1e\x61\x00\x36ota\0");
        assert_eq!(ota.len(), 5 + 54);
        assert_eq!(
            wire(&Message::redirect(1, &b"h"[..], Some(80))),
            b"\x29\x00\x01\x00\x04h\x0080"
        );
    }

    #[test]
    fn refuses_what_cannot_be_sent() {
        let mut dst = BytesMut::new();
        assert!(matches!(
            Message::ok(0).encode(&mut dst),
            Err(ProtoError::ZeroMessageId)
        ));
        let big = Message::hardware(1, vec![b'x'; MAX_BODY_LEN + 1]);
        assert!(matches!(
            big.encode(&mut dst),
            Err(ProtoError::BodyTooLarge {
                len: 65_536,
                max: 65_535
            })
        ));
        assert!(
            Message::hardware(1, vec![b'x'; MAX_BODY_LEN])
                .encode(&mut BytesMut::new())
                .is_ok()
        );
        let raw = |code| Message::Raw {
            command: Command::from(code),
            id: 1,
            body: Bytes::new(),
        };
        assert!(matches!(
            raw(100).encode(&mut dst),
            Err(ProtoError::InvalidCommand { code: 100 })
        ));
        assert!(matches!(
            raw(0).encode(&mut dst),
            Err(ProtoError::Unencodable { .. })
        ));
        assert!(matches!(
            Message::redirect(1, &b""[..], None).encode(&mut dst),
            Err(ProtoError::Unencodable { .. })
        ));
        let info = Message::Internal {
            id: 2,
            internal: Internal::Info(HardwareInfo::from_pairs([("a\0", "b")])),
        };
        assert!(matches!(
            info.encode(&mut dst),
            Err(ProtoError::Unencodable { .. })
        ));
        assert!(dst.is_empty(), "nothing appended on error");
    }

    #[test]
    fn accessors() {
        let m = Message::hardware(3, &b"vw\x000\x0010"[..]);
        assert_eq!(m.id(), 3);
        assert_eq!(m.command(), Command::Hardware);
        assert_eq!(m.fields().collect::<Vec<_>>(), [&b"vw"[..], b"0", b"10"]);
        assert_eq!(Message::ping(1).fields().count(), 0);
        assert_eq!(
            Message::login(1, LoginKind::Login, &b"t"[..]).command(),
            Command::Login
        );
        assert_eq!(Message::ota(7777, &b"u"[..]).body_len(), 5);
        assert_eq!(Message::ok(1).body_len(), 0);
    }
}
