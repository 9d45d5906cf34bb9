//! The crate's error type.

use crate::Command;

/// Everything that can go wrong while decoding or encoding a frame.
///
/// A decoding error means the byte stream cannot be trusted any more: the caller should
/// close the connection. Nothing is allocated for a frame that is rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// A frame's body is longer than the limit (the decoder's configured maximum, or
    /// 65 535 bytes, the largest length the 16-bit header field can carry, when encoding).
    #[error("frame body of {len} bytes exceeds the limit of {max} bytes")]
    BodyTooLarge {
        /// The body length announced by the header (decoding) or needed (encoding).
        len: usize,
        /// The limit that was exceeded.
        max: usize,
    },
    /// An attempt to encode a message with id 0: device libraries treat id 0 as a broken
    /// header and drop the connection, so it is never sent.
    #[error("message id 0 is never sent: device libraries drop the connection on it")]
    ZeroMessageId,
    /// A command code of 100 or more: not a Blynk hardware command (the legacy server
    /// closes such connections too).
    #[error("command code {code} is not a Blynk command (codes must be below 100)")]
    InvalidCommand {
        /// The offending code.
        code: u8,
    },
    /// A body that does not have the structure its command requires (e.g. a REDIRECT
    /// whose port is not a number).
    #[error("malformed {command:?} body: {reason}")]
    MalformedBody {
        /// The frame's command.
        command: Command,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A message whose fields cannot be put on the wire unambiguously (e.g. a NUL
    /// inside a REDIRECT host or an info key).
    #[error("cannot encode {command:?}: {reason}")]
    Unencodable {
        /// The message's command.
        command: Command,
        /// Why it cannot be encoded.
        reason: &'static str,
    },
    /// An IO error reported through the `codec` feature's tokio-util adapter (the
    /// decoder and encoder themselves never do IO).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
