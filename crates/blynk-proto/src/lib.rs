//! Sans-IO parser and encoder of the Blynk hardware (device) protocol.
//!
//! This crate turns bytes into Blynk frames and typed [`Message`]s and back: the 5-byte
//! big-endian header (command, message id, body length — or the status, for RESPONSE),
//! every command and status code, the NUL-separated body fields, the device info message
//! in both layouts ([`HardwareInfo`]), the `ota` command, `rtc`, logins and redirects.
//! The wire format is summarised in `docs/protocol.md` of the repository.
//!
//! It does **not** do IO, read a clock, spawn tasks or use async; it knows nothing about
//! users, tokens, sessions, OTA campaigns, sockets or files. The server feeds it bytes and
//! decides what the messages mean. The optional `codec` feature adds a tokio-util
//! adapter (`codec::BlynkCodec`) so it can sit under `Framed`.
//!
//! # Guarantees
//!
//! * [`Decoder::decode`] never panics, whatever the input, and never consumes bytes past
//!   the frame it returns. A partial frame gives `Ok(None)` and [`Decoder::needed`] says
//!   how many bytes are missing.
//! * An announced body longer than the limit ([`Decoder::with_max_body`], default
//!   [`MAX_BODY_LEN`]) is rejected from the header alone with
//!   [`ProtoError::BodyTooLarge`] naming the limit; nothing is allocated for it.
//! * Bodies are zero-copy [`bytes::Bytes`] slices of the receive buffer; only device
//!   info messages allocate (their pairs become `String`s).
//! * [`Message::encode`] never emits message id 0 (device libraries drop the connection
//!   on it): it returns [`ProtoError::ZeroMessageId`] instead.
//!
//! # Deviations from a strict reading of the wire
//!
//! * The `blynklib` 0.2.6 PING reply `00 00 65 00 03 32 30 30` (a RESPONSE carrying its
//!   status as the text body `200`) decodes as one 8-byte RESPONSE with status 200; see
//!   [`response`] for the exact rule and [`Decoder::text_status`] to turn it off.
//! * Commands ≥ 100 are an error ([`ProtoError::InvalidCommand`]), as in the legacy
//!   server, which closes such connections.
//! * Frames with message id 0 are accepted when decoding (be liberal in what you
//!   accept) but can never be encoded.
//!
//! # Example
//!
//! ```
//! use blynk_proto::{Decoder, Internal, LoginKind, Message};
//! use bytes::BytesMut;
//!
//! let mut buf = BytesMut::from(&b"\x1d\x00\x01\x00\x20abcdefghijklmnopqrstuvwxyz012345\x11\x00\x02"[..]);
//! let decoder = Decoder::new();
//! let login = decoder.decode(&mut buf)?.expect("a whole frame");
//! assert!(matches!(login, Message::Login { id: 1, kind: LoginKind::HwLogin, .. }));
//! assert_eq!(decoder.decode(&mut buf)?, None); // the INTERNAL header is incomplete
//! assert_eq!(decoder.needed(&buf), 2);
//!
//! let mut out = BytesMut::new();
//! Message::ok(1).encode(&mut out)?;
//! Message::ota(7777, "http://10.0.0.1:8080/fw.bin").encode(&mut out)?;
//! assert_eq!(&out[..5], b"\x00\x00\x01\x00\xc8");
//! let ota = decoder.decode(&mut out.split_off(5))?;
//! assert!(matches!(ota, Some(Message::Internal { id: 7777, internal: Internal::Ota { .. } })));
//! # Ok::<(), blynk_proto::ProtoError>(())
//! ```

pub mod command;
pub mod decoder;
pub mod error;
pub mod fields;
mod header;
pub mod info;
pub mod internal;
pub mod login;
pub mod message;
mod redirect;
pub mod response;
pub mod status;

#[cfg(feature = "codec")]
pub mod codec;

pub use command::Command;
pub use decoder::Decoder;
pub use error::ProtoError;
pub use fields::{Pairs, pairs, split};
pub use info::HardwareInfo;
pub use internal::Internal;
pub use login::LoginKind;
pub use message::Message;
pub use status::Status;

/// Length of the frame header: command u8, message id u16, length (or status) u16.
pub const HEADER_LEN: usize = 5;

/// Largest body the 16-bit length field can announce, and the decoder's default limit.
pub const MAX_BODY_LEN: usize = 65_535;
