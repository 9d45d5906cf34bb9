//! NUL-separated body fields and `key\0value` pairs.
//!
//! Blynk bodies are text fields separated by single NUL bytes. The device info message
//! and the `blnkinf` firmware tag are sequences of `key\0value` pairs; [`pairs`] reads
//! them without copying; [`join`] and [`put`] build bodies.

use bytes::{BufMut, Bytes, BytesMut};

/// Splits a body on NUL bytes, without copying.
///
/// An empty body yields no field; a trailing NUL yields a final empty field, as on the
/// wire (`b"a\0"` → `a`, ``).
pub fn split(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(body).filter(|b| !b.is_empty());
    std::iter::from_fn(move || {
        let current = rest?;
        match memchr::memchr(0, current) {
            Some(at) => {
                rest = Some(&current[at + 1..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Joins fields with single NULs (no trailing NUL), e.g. `["vw", "1", "hello"]` →
/// `vw\01\0hello`, the body of a virtual-pin write.
pub fn join<I, F>(fields: I) -> Bytes
where
    I: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut dst = BytesMut::new();
    put(&mut dst, fields);
    dst.freeze()
}

/// Appends fields separated by single NULs (no trailing NUL) to `dst`.
pub fn put<I, F>(dst: &mut BytesMut, fields: I)
where
    I: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            dst.put_u8(0);
        }
        dst.put_slice(field.as_ref());
    }
}

/// Reads `key\0value\0key\0value...` pairs, without copying.
///
/// Stops at the first empty key (the `blnkinf` terminator, or a trailing NUL on an info
/// message). A key without a value (odd trailing element) is ignored, as the legacy
/// server does. Unknown keys are returned in order.
pub fn pairs(body: &[u8]) -> Pairs<'_> {
    Pairs { rest: body }
}

/// Iterator returned by [`pairs`].
#[derive(Debug, Clone)]
pub struct Pairs<'a> {
    rest: &'a [u8],
}

impl<'a> Pairs<'a> {
    /// The bytes not consumed yet (after the pairs read so far).
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let key_end = memchr::memchr(0, self.rest)?;
        if key_end == 0 {
            return None;
        }
        let key = &self.rest[..key_end];
        let after_key = &self.rest[key_end + 1..];
        let (value, rest) = match memchr::memchr(0, after_key) {
            Some(at) => (&after_key[..at], &after_key[at + 1..]),
            None => (after_key, &after_key[after_key.len()..]),
        };
        self.rest = rest;
        Some((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_trailing_empty_field() {
        let v: Vec<&[u8]> = split(b"vw\x001\x00").collect();
        assert_eq!(v, vec![&b"vw"[..], b"1", b""]);
        assert_eq!(split(b"").count(), 0);
    }

    #[test]
    fn join_is_the_inverse_of_split() {
        assert_eq!(&join(["vw", "1", "hello"])[..], b"vw\x001\x00hello");
        assert_eq!(&join::<_, &[u8]>([])[..], b"");
        let body = join([&b"a"[..], b"", b"c"]);
        assert_eq!(split(&body).collect::<Vec<_>>(), [&b"a"[..], b"", b"c"]);
    }

    #[test]
    fn pairs_stop_at_empty_key_and_ignore_odd_key() {
        let v: Vec<_> = pairs(b"mcu\x001.0\x00build\x00Dec  4 2026\x00\x00\x00junk").collect();
        assert_eq!(
            v,
            vec![(&b"mcu"[..], &b"1.0"[..]), (b"build", b"Dec  4 2026")]
        );
        let v: Vec<_> = pairs(b"ver\x000.2.6\x00dev\x00python\x00odd").collect();
        assert_eq!(v, vec![(&b"ver"[..], &b"0.2.6"[..]), (b"dev", b"python")]);
        let v: Vec<_> = pairs(b"ver\x000.2.6\x00dev\x00python").collect();
        assert_eq!(v.len(), 2);
    }
}
