//! Blob ids: the SHA-256 of the content, written as 64 lower-case hex digits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::StoreError;

/// The name of a stored firmware: the SHA-256 digest of its bytes.
///
/// Displays (and serialises) as 64 lower-case hex digits; parses from 64 hex digits of
/// either case. Because the name is the content hash, it is also a strong HTTP validator
/// (see [`BlobId::etag`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId([u8; 32]);

impl BlobId {
    /// Wraps a raw SHA-256 digest.
    pub const fn from_digest(digest: [u8; 32]) -> Self {
        BlobId(digest)
    }

    /// The raw digest bytes.
    pub const fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits (upper or lower case).
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let invalid = || StoreError::InvalidId(text.chars().take(80).collect());
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(invalid());
        }
        let mut digest = [0u8; 32];
        for (out, pair) in digest.iter_mut().zip(bytes.chunks_exact(2)) {
            let hi = hex_value(pair[0]).ok_or_else(invalid)?;
            let lo = hex_value(pair[1]).ok_or_else(invalid)?;
            *out = (hi << 4) | lo;
        }
        Ok(BlobId(digest))
    }

    /// The strong HTTP entity tag of the blob: the hex digest in double quotes.
    pub fn etag(&self) -> String {
        format!("\"{self}\"")
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({self})")
    }
}

impl FromStr for BlobId {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        BlobId::parse(text)
    }
}

impl Serialize for BlobId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for BlobId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        BlobId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_normalises_case() {
        let text = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        let id = BlobId::parse(text).unwrap();
        assert_eq!(id.to_string(), text.to_ascii_lowercase());
        assert_eq!(id.etag(), format!("\"{}\"", text.to_ascii_lowercase()));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<BlobId>(&json).unwrap(), id);
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in [
            "",
            "abc",
            &"g".repeat(64),
            &"a".repeat(63),
            &"a".repeat(65),
            "../etc/passwd",
        ] {
            assert!(
                matches!(BlobId::parse(bad), Err(StoreError::InvalidId(_))),
                "{bad}"
            );
        }
        // Multi-byte characters must not panic the pair walk.
        assert!(BlobId::parse(&"é".repeat(32)).is_err());
    }
}
