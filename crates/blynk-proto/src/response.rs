//! RESPONSE (command 0): the status travels in the header's length field, no body.
//!
//! # The `blynklib` text status
//!
//! PyPI `blynklib` 0.2.6 answers a server PING with `00 <id> 00 03 32 30 30`: a
//! RESPONSE whose third field is 3 followed by the three ASCII bytes `200`, i.e. it puts
//! the status in a body. Read strictly, that is a RESPONSE with status 3
//! (`NotRegistered`) followed by three stray bytes that would desynchronise the stream.
//!
//! By default the decoder accepts that form: a RESPONSE whose status field is exactly
//! [`TEXT_STATUS_LEN`] (3) **and** whose next three bytes are ASCII digits is read as one
//! 8-byte frame whose status is the decimal number (`200` → [`crate::Status::Ok`]). A
//! device never sends status 3 (it is a server-side registration status), so the only
//! cost is that a bare status-3 RESPONSE is held until the next bytes show whether they
//! are digits (a non-digit decides at once: a plain 5-byte frame; three digits: the text
//! form). Turn it off with
//! [`crate::Decoder::text_status`]`(false)`.

use crate::HEADER_LEN;

/// Length of the `blynklib` text status body (`200`).
pub const TEXT_STATUS_LEN: usize = 3;

/// What follows a RESPONSE header whose status field equals [`TEXT_STATUS_LEN`].
pub(crate) enum TextStatus {
    /// Fewer than [`TEXT_STATUS_LEN`] bytes after the header: wait.
    NeedMore(usize),
    /// The three bytes are ASCII digits: the frame is 8 bytes with this status.
    Status(u16),
    /// Not a text status: a plain 5-byte RESPONSE.
    Plain,
}

/// Classifies the bytes after a RESPONSE header whose status field is 3. `frame` starts
/// at the header. A non-digit among the bytes already buffered decides `Plain` at once;
/// only an all-digit prefix shorter than 3 bytes waits.
pub(crate) fn text_status(frame: &[u8]) -> TextStatus {
    let body = frame.get(HEADER_LEN..).unwrap_or_default();
    let digits = body.get(..TEXT_STATUS_LEN).unwrap_or(body);
    if !digits.iter().all(u8::is_ascii_digit) {
        TextStatus::Plain
    } else if digits.len() < TEXT_STATUS_LEN {
        TextStatus::NeedMore(TEXT_STATUS_LEN - digits.len())
    } else {
        TextStatus::Status(
            digits
                .iter()
                .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_blynklib_form() {
        assert!(matches!(
            text_status(b"\0\0\x65\0\x03"),
            TextStatus::NeedMore(3)
        ));
        assert!(matches!(
            text_status(b"\0\0\x65\0\x0320"),
            TextStatus::NeedMore(1)
        ));
        assert!(matches!(
            text_status(b"\0\0\x65\0\x03200"),
            TextStatus::Status(200)
        ));
        assert!(matches!(
            text_status(b"\0\0\x65\0\x03999\x06"),
            TextStatus::Status(999)
        ));
        assert!(matches!(
            text_status(b"\0\0\x65\0\x03\x06\0\x01"),
            TextStatus::Plain
        ));
        assert!(matches!(
            text_status(b"\0\0\x65\0\x0320x"),
            TextStatus::Plain
        ));
    }
}
