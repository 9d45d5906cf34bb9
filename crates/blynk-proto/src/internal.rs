//! INTERNAL (17): device info, the server's `ota` command, `rtc`, and anything else.

use bytes::{BufMut, Bytes, BytesMut};

use crate::HardwareInfo;

/// Prefix of the OTA command body: `ota` and one NUL, then the URL.
pub const OTA_PREFIX: &[u8] = b"ota\0";

/// The body of an INTERNAL message, recognised by content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Internal {
    /// A device info message (either layout, see [`HardwareInfo::is_info_body`]).
    Info(HardwareInfo),
    /// The OTA command `ota\0<url>`; `url` is every byte after the prefix, verbatim (the
    /// server sends no trailing NUL, no size, no hash).
    Ota {
        /// The firmware URL.
        url: Bytes,
    },
    /// An `rtc` request (`rtc`) or reply (`rtc\0<epoch seconds>`): the whole body,
    /// including the `rtc` prefix. Build one with [`Internal::rtc_request`] or
    /// [`Internal::rtc_reply`].
    Rtc {
        /// The whole body, starting with `rtc`.
        body: Bytes,
    },
    /// Any other body (`acon`, `adis`, `utc`, `dbg`, empty, ...), kept raw.
    Other(Bytes),
}

impl Internal {
    /// Classifies an INTERNAL body: `ota\0...` → [`Internal::Ota`], `rtc` or `rtc\0...`
    /// → [`Internal::Rtc`], a known info key first → [`Internal::Info`], else
    /// [`Internal::Other`]. Only info bodies allocate.
    pub fn from_body(body: Bytes) -> Internal {
        if let Some(url) = body.strip_prefix(OTA_PREFIX) {
            let url = body.slice_ref(url);
            Internal::Ota { url }
        } else if body == b"rtc"[..] || body.starts_with(b"rtc\0") {
            Internal::Rtc { body }
        } else if HardwareInfo::is_info_body(&body) {
            Internal::Info(HardwareInfo::parse(&body))
        } else {
            Internal::Other(body)
        }
    }

    /// The `ota` command for `url`.
    pub fn ota(url: impl Into<Bytes>) -> Internal {
        Internal::Ota { url: url.into() }
    }

    /// An `rtc` request (body `rtc`), as devices send it.
    pub fn rtc_request() -> Internal {
        Internal::Rtc {
            body: Bytes::from_static(b"rtc"),
        }
    }

    /// An `rtc` reply: `rtc\0<epoch seconds>`.
    pub fn rtc_reply(epoch_seconds: u64) -> Internal {
        Internal::Rtc {
            body: Bytes::from(format!("rtc\0{epoch_seconds}")),
        }
    }

    /// Length of the encoded body.
    pub fn body_len(&self) -> usize {
        match self {
            Internal::Info(info) => info.encoded_len(),
            Internal::Ota { url } => OTA_PREFIX.len() + url.len(),
            Internal::Rtc { body } | Internal::Other(body) => body.len(),
        }
    }

    /// Appends the encoded body.
    pub(crate) fn write(&self, dst: &mut BytesMut) {
        match self {
            Internal::Info(info) => info.write(dst),
            Internal::Ota { url } => {
                dst.put_slice(OTA_PREFIX);
                dst.put_slice(url);
            }
            Internal::Rtc { body } | Internal::Other(body) => dst.put_slice(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(body: &'static [u8]) -> Internal {
        Internal::from_body(Bytes::from_static(body))
    }

    #[test]
    fn recognises_each_kind() {
        assert_eq!(
            classify(b"ota\0http://h/fw.bin"),
            Internal::ota("http://h/fw.bin")
        );
        assert_eq!(classify(b"ota\0"), Internal::ota(""));
        assert_eq!(classify(b"rtc"), Internal::rtc_request());
        assert_eq!(
            classify(b"rtc\x001700000000"),
            Internal::rtc_reply(1_700_000_000)
        );
        assert!(matches!(classify(b"mcu\x000.1.0"), Internal::Info(_)));
        assert!(matches!(
            classify(b"ver\x000.2.6\x00dev\x00python"),
            Internal::Info(_)
        ));
        for other in [&b"ota"[..], b"rtcx", b"acon", b"", b"v\x001", b"utc\x00"] {
            assert_eq!(
                Internal::from_body(Bytes::copy_from_slice(other)),
                Internal::Other(Bytes::copy_from_slice(other))
            );
        }
    }

    #[test]
    fn encodes_bodies() {
        for internal in [
            Internal::ota("http://x/y"),
            Internal::rtc_reply(5),
            Internal::Other(Bytes::from_static(b"acon")),
            Internal::Info(HardwareInfo::from_pairs([("mcu", "1.0")])),
        ] {
            let mut dst = BytesMut::new();
            internal.write(&mut dst);
            assert_eq!(dst.len(), internal.body_len());
            assert_eq!(Internal::from_body(dst.freeze()), internal);
        }
    }
}
