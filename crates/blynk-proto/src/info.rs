//! The device info message (an INTERNAL body made of `key\0value` pairs).
//!
//! Two layouts exist on the wire (see `docs/protocol.md`): the legacy / Linux order
//! (`ver`, `h-beat`, `buff-in`, `dev`, ..., `fw`, `build`, `conn`, `tmpl`, often with a
//! trailing NUL) and the Arduino 1.3+ order (`mcu`, `fw-type`, `build`, `blynk`, `h-beat`,
//! `buff-in`, `dev`, ..., `tmpl`, no trailing NUL). [`HardwareInfo`] keys on names, so
//! both read the same.

use bytes::{BufMut, BytesMut};

use crate::fields::pairs;

/// `buff-in` assumed when the device reports none or an unusable value (255 − 5 header
/// bytes, as the legacy server does).
pub const DEFAULT_BUFF_IN: u32 = 250;

/// Keys that only appear in device info bodies; a body whose first key is one of these
/// is recognised as an info message.
const INFO_KEYS: &[&[u8]] = &[
    b"ver", b"mcu", b"ncp", b"fw", b"fw-type", b"build", b"blynk", b"h-beat", b"buff-in", b"dev",
    b"cpu", b"con", b"conn", b"tmpl", b"hw",
];

/// A parsed device info message: every `key\0value` pair, in wire order.
///
/// Keys and values are decoded as lossy UTF-8 (invalid bytes become U+FFFD). When a key
/// repeats, the accessors return its first value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HardwareInfo {
    pairs: Vec<(String, String)>,
}

impl HardwareInfo {
    /// Parses an info body. Never fails: reading stops at the first empty key (a
    /// trailing NUL), an odd trailing key is ignored, unknown keys are kept in order.
    pub fn parse(body: &[u8]) -> HardwareInfo {
        let pairs = pairs(body)
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        HardwareInfo { pairs }
    }

    /// Builds an info message from pairs (for encoders, tests and device simulators).
    pub fn from_pairs<K, V, I>(pairs: I) -> HardwareInfo
    where
        K: Into<String>,
        V: Into<String>,
        I: IntoIterator<Item = (K, V)>,
    {
        HardwareInfo {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Whether an INTERNAL body is a device info message: its first field is a known
    /// info key (`ver`, `mcu`, `fw`, `dev`, `h-beat`, ... — either layout) followed by a
    /// NUL. This looks at the key itself, not only its first letter as the legacy server
    /// did, so 1.3+ bodies starting with `mcu` are recognised.
    pub fn is_info_body(body: &[u8]) -> bool {
        match memchr::memchr(0, body) {
            Some(end) => INFO_KEYS.contains(&&body[..end]),
            None => false,
        }
    }

    /// Every pair, in wire order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Application firmware version: `mcu` (library 1.3+), else `fw` (older, Linux).
    pub fn firmware_version(&self) -> Option<&str> {
        self.get("mcu").or_else(|| self.get("fw"))
    }

    /// Blynk library version: `blynk` (1.3+), else `ver`.
    pub fn library_version(&self) -> Option<&str> {
        self.get("blynk").or_else(|| self.get("ver"))
    }

    /// Build time stamp (`__DATE__ " " __TIME__`, e.g. `Dec  4 2026 14:51:12`).
    pub fn build(&self) -> Option<&str> {
        self.get("build")
    }

    /// Board type (`dev`), e.g. `ESP8266`, `Linux`.
    pub fn board(&self) -> Option<&str> {
        self.get("dev")
    }

    /// Firmware type (`fw-type`), often the template id.
    pub fn fw_type(&self) -> Option<&str> {
        self.get("fw-type")
    }

    /// Template id (`tmpl`).
    pub fn template(&self) -> Option<&str> {
        self.get("tmpl")
    }

    /// Heartbeat interval in seconds (`h-beat`); `None` when missing, not a number, or 0.
    pub fn heartbeat(&self) -> Option<u32> {
        self.get("h-beat")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|&h| h > 0)
    }

    /// Largest body the device accepts (`buff-in`); missing, not a number or ≤ 0 gives
    /// [`DEFAULT_BUFF_IN`] (250), as the legacy server does.
    pub fn buff_in(&self) -> u32 {
        self.get("buff-in")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_BUFF_IN)
    }

    /// Length of the encoded body: `key\0value` pairs joined by NUL, no trailing NUL.
    pub fn encoded_len(&self) -> usize {
        let sum: usize = self.pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        sum.saturating_sub(1)
    }

    /// Whether every key is non-empty and no key or value contains a NUL, i.e. the
    /// encoding reads back as the same pairs.
    pub(crate) fn is_encodable(&self) -> bool {
        self.pairs
            .iter()
            .all(|(k, v)| !k.is_empty() && !k.as_bytes().contains(&0) && !v.as_bytes().contains(&0))
    }

    /// Appends the encoded body (see [`HardwareInfo::encoded_len`]).
    pub(crate) fn write(&self, dst: &mut BytesMut) {
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                dst.put_u8(0);
            }
            dst.put_slice(k.as_bytes());
            dst.put_u8(0);
            dst.put_slice(v.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_layout_with_trailing_nul() {
        let info = HardwareInfo::parse(
            b"ver\x001.4.0\x00h-beat\x0040\x00buff-in\x004096\x00dev\x00Linux\x00fw\x000.1.0\x00build\x00Dec  4 2026 14:51:12\x00tmpl\x00T1\x00",
        );
        assert_eq!(info.pairs().len(), 7);
        assert_eq!(info.library_version(), Some("1.4.0"));
        assert_eq!(info.firmware_version(), Some("0.1.0"));
        assert_eq!(info.heartbeat(), Some(40));
        assert_eq!(info.buff_in(), 4096);
        assert_eq!(info.board(), Some("Linux"));
        assert_eq!(info.build(), Some("Dec  4 2026 14:51:12"));
        assert_eq!(info.template(), Some("T1"));
        assert_eq!(info.fw_type(), None);
    }

    #[test]
    fn new_layout_prefers_mcu_and_blynk() {
        let info = HardwareInfo::parse(
            b"mcu\x002.0\x00fw\x001.0\x00blynk\x001.4.0\x00ver\x000.6\x00fw-type\x00X",
        );
        assert_eq!(info.firmware_version(), Some("2.0"));
        assert_eq!(info.library_version(), Some("1.4.0"));
        assert_eq!(info.fw_type(), Some("X"));
    }

    #[test]
    fn buff_in_and_heartbeat_defaults() {
        let cases: &[(&[u8], u32, Option<u32>)] = &[
            (b"dev\x00x", 250, None),
            (b"buff-in\x000\x00h-beat\x000", 250, None),
            (b"buff-in\x00-5\x00h-beat\x00-1", 250, None),
            (b"buff-in\x00abc\x00h-beat\x00x", 250, None),
            (b"buff-in\x0099999999999\x00h-beat\x0010", 250, Some(10)),
            (b"buff-in\x00 12 \x00h-beat\x00 10", 12, Some(10)),
        ];
        for (body, buff_in, hb) in cases {
            let info = HardwareInfo::parse(body);
            assert_eq!(info.buff_in(), *buff_in, "{body:?}");
            assert_eq!(info.heartbeat(), *hb, "{body:?}");
        }
    }

    #[test]
    fn unknown_keys_kept_in_order_and_lossy_utf8() {
        let info = HardwareInfo::parse(b"ver\x000.3.1\x00fm\x000.3.3\x00\xff\x00v\x00odd");
        let keys: Vec<&str> = info.pairs().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["ver", "fm", "\u{fffd}"]);
        assert_eq!(info.get("fm"), Some("0.3.3"));
    }

    #[test]
    fn recognises_info_bodies_by_key() {
        assert!(HardwareInfo::is_info_body(b"mcu\x000.1.0"));
        assert!(HardwareInfo::is_info_body(
            b"ver\x000.2.6\x00buff-in\x001024"
        ));
        assert!(HardwareInfo::is_info_body(b"dev\x00"));
        assert!(!HardwareInfo::is_info_body(b"ver"));
        assert!(!HardwareInfo::is_info_body(b"vw\x001\x002"));
        assert!(!HardwareInfo::is_info_body(b"ota\x00http://x"));
        assert!(!HardwareInfo::is_info_body(b""));
    }

    #[test]
    fn encodes_pairs_without_trailing_nul() {
        let info = HardwareInfo::from_pairs([("ver", "1"), ("dev", "x")]);
        let mut dst = BytesMut::new();
        info.write(&mut dst);
        assert_eq!(&dst[..], b"ver\x001\x00dev\x00x");
        assert_eq!(info.encoded_len(), dst.len());
        assert_eq!(HardwareInfo::default().encoded_len(), 0);
        assert!(info.is_encodable());
        assert!(!HardwareInfo::from_pairs([("", "x")]).is_encodable());
        assert!(!HardwareInfo::from_pairs([("a", "x\0")]).is_encodable());
    }
}
