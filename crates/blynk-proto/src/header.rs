//! The 5-byte frame header: command u8, message id u16, length (or status) u16, all
//! big-endian.

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::number::streaming::{be_u8, be_u16};

use crate::HEADER_LEN;

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Command code.
    pub(crate) command: u8,
    /// Message id.
    pub(crate) id: u16,
    /// Body length, or the status for RESPONSE frames.
    pub(crate) len: u16,
}

impl Header {
    /// Parses a header from the front of `input` (nom streaming: `Incomplete` with the
    /// missing byte count when fewer than 5 bytes are present).
    pub(crate) fn parse(input: &[u8]) -> nom::IResult<&[u8], Header, ()> {
        (be_u8, be_u16, be_u16)
            .map(|(command, id, len)| Header { command, id, len })
            .parse(input)
    }

    /// Reads a header if at least [`HEADER_LEN`] bytes are present.
    #[inline]
    pub(crate) fn peek(input: &[u8]) -> Option<Header> {
        match Header::parse(input) {
            Ok((_, header)) => Some(header),
            Err(_) => None,
        }
    }

    /// Appends the 5 header bytes.
    #[inline]
    pub(crate) fn write(self, dst: &mut BytesMut) {
        dst.put_u8(self.command);
        dst.put_u16(self.id);
        dst.put_u16(self.len);
    }
}

/// Bytes still missing before a full header is buffered.
pub(crate) fn missing_header_bytes(buffered: usize) -> usize {
    HEADER_LEN.saturating_sub(buffered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_big_endian_fields() {
        let (rest, h) = Header::parse(&[0x14, 0x00, 0x03, 0x00, 0x07, 0x76]).unwrap();
        assert_eq!(
            h,
            Header {
                command: 20,
                id: 3,
                len: 7
            }
        );
        assert_eq!(rest, &[0x76]);
    }

    #[test]
    fn short_input_is_incomplete() {
        for n in 0..HEADER_LEN {
            assert!(matches!(
                Header::parse(&[0u8; 5][..n]),
                Err(nom::Err::Incomplete(_))
            ));
            assert_eq!(Header::peek(&[0u8; 5][..n]), None);
            assert_eq!(missing_header_bytes(n), HEADER_LEN - n);
        }
    }

    #[test]
    fn writes_what_it_parses() {
        let h = Header {
            command: 17,
            id: 7777,
            len: 54,
        };
        let mut dst = BytesMut::new();
        h.write(&mut dst);
        assert_eq!(&dst[..], &[0x11, 0x1e, 0x61, 0x00, 0x36]);
        assert_eq!(Header::peek(&dst), Some(h));
    }
}
