//! CONNECT_REDIRECT (41): body `host\0port`, port optional (the device defaults to 80).

use bytes::{BufMut, BytesMut};
use nom::Parser;
use nom::bytes::complete::{take_till1, take_while1};
use nom::combinator::{all_consuming, opt};
use nom::sequence::preceded;

use crate::{Command, ProtoError};

/// `host`, then `\0` and an optional run of digits.
type Parsed<'a> = nom::IResult<&'a [u8], (&'a [u8], Option<Option<&'a [u8]>>), ()>;

/// Parses a redirect body into `(host length, port)`: the host is `body[..host_len]`.
/// An empty port field (`host\0`) means no port.
pub(crate) fn parse(body: &[u8]) -> Result<(usize, Option<u16>), ProtoError> {
    let malformed = |reason| ProtoError::MalformedBody {
        command: Command::Redirect,
        reason,
    };
    let mut parser = all_consuming((
        take_till1(|b| b == 0),
        opt(preceded(
            nom::bytes::complete::tag(&b"\0"[..]),
            opt(take_while1(|b: u8| b.is_ascii_digit())),
        )),
    ));
    let result: Parsed<'_> = parser.parse(body);
    let (_, (host, port)) =
        result.map_err(|_| malformed("expected `host` or `host\\0port` with a decimal port"))?;
    let port = match port.flatten() {
        None => None,
        Some(digits) => Some(
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<u16>().ok())
                .ok_or_else(|| malformed("port does not fit in 16 bits"))?,
        ),
    };
    Ok((host.len(), port))
}

/// Length of the encoded body.
pub(crate) fn body_len(host: &[u8], port: Option<u16>) -> usize {
    host.len() + port.map_or(0, |p| 1 + decimal_len(p))
}

/// Checks that `host` reads back unchanged.
pub(crate) fn check(host: &[u8]) -> Result<(), ProtoError> {
    if host.is_empty() || host.contains(&0) {
        return Err(ProtoError::Unencodable {
            command: Command::Redirect,
            reason: "the host must be non-empty and contain no NUL",
        });
    }
    Ok(())
}

/// Appends the encoded body.
pub(crate) fn write(host: &[u8], port: Option<u16>, dst: &mut BytesMut) {
    dst.put_slice(host);
    if let Some(port) = port {
        dst.put_u8(0);
        dst.put_slice(port.to_string().as_bytes());
    }
}

fn decimal_len(n: u16) -> usize {
    match n {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(body: &[u8]) -> Result<(&[u8], Option<u16>), ProtoError> {
        parse(body).map(|(host_len, port)| (&body[..host_len], port))
    }

    #[test]
    fn parses_host_and_optional_port() {
        assert_eq!(
            p(b"example.com\x008442").unwrap(),
            (&b"example.com"[..], Some(8442))
        );
        assert_eq!(p(b"example.com").unwrap(), (&b"example.com"[..], None));
        assert_eq!(p(b"example.com\x00").unwrap(), (&b"example.com"[..], None));
        for bad in [
            &b""[..],
            b"\x0080",
            b"h\x00x",
            b"h\x0080\x00",
            b"h\x0099999",
            b"h\x00\x00",
        ] {
            assert!(
                matches!(parse(bad), Err(ProtoError::MalformedBody { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn writes_and_measures() {
        for port in [
            None,
            Some(0),
            Some(9),
            Some(80),
            Some(443),
            Some(8080),
            Some(65535),
        ] {
            let mut dst = BytesMut::new();
            write(b"h.example", port, &mut dst);
            assert_eq!(dst.len(), body_len(b"h.example", port));
            assert_eq!(parse(&dst).unwrap(), (9, port));
        }
        assert!(check(b"").is_err());
        assert!(check(b"a\0b").is_err());
        assert!(check(b"a").is_ok());
    }
}
