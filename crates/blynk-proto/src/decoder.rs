//! The streaming frame decoder.

use bytes::{Buf, BytesMut};

use crate::header::{Header, missing_header_bytes};
use crate::response::{TEXT_STATUS_LEN, TextStatus, text_status};
use crate::{Command, HEADER_LEN, MAX_BODY_LEN, Message, ProtoError, Status};

/// Streaming decoder: feed it the receive buffer, take frames off its front.
///
/// It keeps no state between calls (all state is the buffer), so one decoder can serve
/// many connections. See the crate docs for an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoder {
    max_body: usize,
    text_status: bool,
}

/// What the front of a buffer holds.
enum Front {
    /// This many more bytes are needed.
    Incomplete(usize),
    /// A complete frame of `total` bytes (header included) with this header. For a
    /// text-status RESPONSE, `header.len` already holds the parsed status.
    Frame { header: Header, total: usize },
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder accepting bodies up to [`MAX_BODY_LEN`] (the wire maximum) and the
    /// `blynklib` text-status RESPONSE (see [`Decoder::text_status`]).
    pub fn new() -> Self {
        Decoder {
            max_body: MAX_BODY_LEN,
            text_status: true,
        }
    }

    /// A decoder rejecting frames whose body is longer than `max` bytes (values above
    /// [`MAX_BODY_LEN`] behave as [`MAX_BODY_LEN`]).
    pub fn with_max_body(max: usize) -> Self {
        Decoder {
            max_body: max.min(MAX_BODY_LEN),
            ..Decoder::new()
        }
    }

    /// Whether to accept the `blynklib` RESPONSE that carries its status as the 3-byte
    /// text body `200` (on by default; described in [`crate::response`]). With `false`
    /// every RESPONSE is exactly 5 bytes.
    pub fn text_status(self, accept: bool) -> Self {
        Decoder {
            text_status: accept,
            ..self
        }
    }

    /// The configured body limit.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Decodes one frame from the front of `buf` if it is complete, consuming exactly its
    /// bytes.
    ///
    /// `Ok(None)`: more bytes are needed ([`Decoder::needed`] says how many) and `buf`
    /// is untouched. `Err`: the stream is malformed (command ≥ 100, body over the limit,
    /// malformed REDIRECT); `buf` is untouched, nothing was allocated, and the
    /// connection should be closed.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Message>, ProtoError> {
        let (header, total) = match self.front(buf)? {
            Front::Incomplete(_) => return Ok(None),
            Front::Frame { header, total } => (header, total),
        };
        let id = header.id;
        let command = Command::from(header.command);
        match command {
            Command::Response => {
                buf.advance(total);
                let status = Status::from(header.len);
                Ok(Some(Message::Response { id, status }))
            }
            Command::Ping => {
                buf.advance(total);
                Ok(Some(Message::Ping { id }))
            }
            _ => {
                Message::check_frame(command, buf.get(HEADER_LEN..total).unwrap_or_default())?;
                let mut frame = buf.split_to(total);
                frame.advance(HEADER_LEN);
                Ok(Some(Message::from_frame(command, id, frame.freeze())))
            }
        }
    }

    /// How many more bytes are needed before [`Decoder::decode`] can make progress: 0
    /// when a frame is complete or when `decode` would return an error.
    pub fn needed(&self, buf: &[u8]) -> usize {
        match self.front(buf) {
            Ok(Front::Incomplete(n)) => n,
            Ok(Front::Frame { .. }) | Err(_) => 0,
        }
    }

    /// Looks at the front of `buf` without consuming anything.
    #[inline]
    fn front(&self, buf: &[u8]) -> Result<Front, ProtoError> {
        let Some(header) = Header::peek(buf) else {
            return Ok(Front::Incomplete(missing_header_bytes(buf.len())));
        };
        if header.command >= Command::FIRST_INVALID {
            return Err(ProtoError::InvalidCommand {
                code: header.command,
            });
        }
        let mut header = header;
        let total = if header.command == 0 {
            if self.text_status && usize::from(header.len) == TEXT_STATUS_LEN {
                match text_status(buf) {
                    TextStatus::NeedMore(n) => return Ok(Front::Incomplete(n)),
                    TextStatus::Status(status) => {
                        header.len = status;
                        HEADER_LEN + TEXT_STATUS_LEN
                    }
                    TextStatus::Plain => HEADER_LEN,
                }
            } else {
                HEADER_LEN
            }
        } else {
            let len = usize::from(header.len);
            if len > self.max_body {
                return Err(ProtoError::BodyTooLarge {
                    len,
                    max: self.max_body,
                });
            }
            HEADER_LEN + len
        };
        match total.checked_sub(buf.len()) {
            Some(missing) if missing > 0 => Ok(Front::Incomplete(missing)),
            _ => Ok(Front::Frame { header, total }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Internal, LoginKind};
    use bytes::Bytes;

    fn buf(bytes: &[u8]) -> BytesMut {
        BytesMut::from(bytes)
    }

    #[test]
    fn yields_frames_one_by_one_and_consumes_exactly_them() {
        let mut b =
            buf(b"\x06\x00\x65\x00\x00\x00\x00\x01\x00\xc8\x14\x00\x03\x00\x07vw\x000\x0010\x06");
        let d = Decoder::new();
        assert_eq!(d.decode(&mut b).unwrap(), Some(Message::ping(101)));
        assert_eq!(b.len(), 5 + 12 + 1);
        assert_eq!(d.decode(&mut b).unwrap(), Some(Message::ok(1)));
        assert_eq!(
            d.decode(&mut b).unwrap(),
            Some(Message::hardware(3, Bytes::from_static(b"vw\x000\x0010")))
        );
        assert_eq!(&b[..], b"\x06");
        assert_eq!(d.decode(&mut b).unwrap(), None);
        assert_eq!(&b[..], b"\x06", "buffer untouched while incomplete");
        assert_eq!(d.needed(&b), 4);
    }

    #[test]
    fn needed_counts_missing_header_then_body_bytes() {
        let frame = b"\x1d\x00\x01\x00\x20abcdefghijklmnopqrstuvwxyz012345";
        let d = Decoder::new();
        for n in 0..frame.len() {
            let expected = if n < HEADER_LEN {
                HEADER_LEN - n
            } else {
                frame.len() - n
            };
            assert_eq!(d.needed(&frame[..n]), expected, "prefix {n}");
            assert_eq!(d.decode(&mut buf(&frame[..n])).unwrap(), None);
        }
        assert_eq!(d.needed(frame), 0);
        let m = d.decode(&mut buf(frame)).unwrap().unwrap();
        assert_eq!(
            m,
            Message::login(
                1,
                LoginKind::HwLogin,
                Bytes::from_static(b"abcdefghijklmnopqrstuvwxyz012345")
            )
        );
    }

    #[test]
    fn oversized_body_is_an_error_naming_the_limit_before_the_body_arrives() {
        let d = Decoder::with_max_body(1024);
        let mut b = buf(b"\x14\x00\x01\x04\x01");
        let err = d.decode(&mut b).unwrap_err();
        assert!(matches!(
            err,
            ProtoError::BodyTooLarge {
                len: 1025,
                max: 1024
            }
        ));
        assert!(err.to_string().contains("limit of 1024 bytes"), "{err}");
        assert_eq!(b.len(), 5, "nothing consumed");
        assert_eq!(d.needed(&b), 0);
        assert!(
            d.decode(&mut buf(b"\x14\x00\x01\x04\x00"))
                .unwrap()
                .is_none()
        );
        assert_eq!(Decoder::with_max_body(usize::MAX).max_body(), MAX_BODY_LEN);
        // RESPONSE's third field is a status, never checked against the limit.
        assert_eq!(
            Decoder::with_max_body(0)
                .decode(&mut buf(b"\x00\x00\x01\x00\xc8"))
                .unwrap(),
            Some(Message::ok(1))
        );
    }

    #[test]
    fn commands_from_100_are_rejected() {
        let d = Decoder::new();
        let err = d.decode(&mut buf(b"\x64\x00\x01\x00\x00")).unwrap_err();
        assert!(matches!(err, ProtoError::InvalidCommand { code: 100 }));
        // "GET /" is not a Blynk frame either: 'G' = 71 is a valid code, so it reads as a
        // header with a large length; with a small limit it is rejected at once.
        assert!(
            Decoder::with_max_body(1024)
                .decode(&mut buf(b"GET / HTTP/1.1"))
                .is_err()
        );
        assert!(matches!(
            d.decode(&mut buf(b"\x63\x00\x01\x00\x00")).unwrap(),
            Some(Message::Raw { id: 1, .. })
        ));
    }

    #[test]
    fn blynklib_text_status_response() {
        let d = Decoder::new();
        let mut b = buf(b"\x00\x00\x65\x00\x03200\x06\x00\x02\x00\x00");
        assert_eq!(d.decode(&mut b).unwrap(), Some(Message::ok(101)));
        assert_eq!(d.decode(&mut b).unwrap(), Some(Message::ping(2)));
        assert!(b.is_empty());
        // Held until the 3 bytes arrive, then read as text or as a plain status 3.
        assert_eq!(d.decode(&mut buf(b"\x00\x00\x65\x00\x0320")).unwrap(), None);
        assert_eq!(d.needed(b"\x00\x00\x65\x00\x0320"), 1);
        let mut plain = buf(b"\x00\x00\x65\x00\x03\x06\x00\x02\x00\x00");
        assert_eq!(
            d.decode(&mut plain).unwrap(),
            Some(Message::response(101, 3u16))
        );
        assert_eq!(d.decode(&mut plain).unwrap(), Some(Message::ping(2)));
        // Strict mode: 5 bytes, then the stray "200" is read as a header.
        let strict = Decoder::new().text_status(false);
        let mut b = buf(b"\x00\x00\x65\x00\x03200");
        assert_eq!(
            strict.decode(&mut b).unwrap(),
            Some(Message::response(101, 3u16))
        );
        assert_eq!(&b[..], b"200");
        assert_eq!(strict.decode(&mut b).unwrap(), None);
    }

    #[test]
    fn typed_bodies() {
        let d = Decoder::new();
        let mut b = buf(b"\x11\x1e\x61\x00\x0aota\x00http:/\x29\x00\x05\x00\x07host\x0080\x06\x00\x07\x00\x02xy\x37\x00\x08\x00\x02hi");
        assert_eq!(
            d.decode(&mut b).unwrap(),
            Some(Message::Internal {
                id: 7777,
                internal: Internal::ota(Bytes::from_static(b"http:/"))
            })
        );
        assert_eq!(
            d.decode(&mut b).unwrap(),
            Some(Message::redirect(5, Bytes::from_static(b"host"), Some(80)))
        );
        assert_eq!(
            d.decode(&mut b).unwrap(),
            Some(Message::ping(7)),
            "PING body skipped"
        );
        assert_eq!(
            d.decode(&mut b).unwrap(),
            Some(Message::DebugPrint {
                id: 8,
                body: Bytes::from_static(b"hi")
            })
        );
        let mut bad = buf(b"\x29\x00\x05\x00\x06host\x00x");
        assert!(matches!(
            d.decode(&mut bad),
            Err(ProtoError::MalformedBody { .. })
        ));
        assert_eq!(bad.len(), 11, "nothing consumed on error");
    }

    #[test]
    fn id_zero_is_accepted_when_decoding() {
        assert_eq!(
            Decoder::new()
                .decode(&mut buf(b"\x06\x00\x00\x00\x00"))
                .unwrap(),
            Some(Message::ping(0))
        );
    }
}
