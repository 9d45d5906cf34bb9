//! Plain data the engine is fed with: time, identifiers, what a device reports and what
//! a firmware image is.

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since an epoch the server chooses (normally the Unix
/// epoch). The engine never reads a clock: every event carries `now`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// This time plus `millis` milliseconds (saturating: never wraps).
    #[must_use]
    pub fn plus_millis(self, millis: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(millis))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    #[must_use]
    pub fn millis_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A device, as the server identifies it (an opaque number it assigns, e.g. a row id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(pub u64);

/// One live hardware connection, as the server identifies it. Connections are runtime
/// facts: they are not part of the persisted engine state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnId(pub u64);

/// A campaign, numbered by the engine (1, 2, 3, ...; never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CampaignId(pub u64);

impl std::fmt::Display for CampaignId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a device said about itself in its info message (filled by the server from
/// blynk-proto's `HardwareInfo`). `None` = the key was absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceReport {
    /// `build` (the `__DATE__ " " __TIME__` stamp), the value OTA compares.
    pub build: Option<String>,
    /// Application firmware version (`mcu`, or `fw` in older libraries).
    pub firmware_version: Option<String>,
    /// `fw-type` (defaults to the template id in the libraries).
    pub fw_type: Option<String>,
    /// `tmpl`, the template id.
    pub template: Option<String>,
    /// `dev`, the board type (e.g. `ESP8266`, `NodeMCU`, `ESP32-S3`).
    pub board: Option<String>,
}

/// The kind of image, as the firmware store recognised it from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImageKind {
    /// Plain ESP8266 application image (magic 0xE9, ESP8266 layout).
    Esp8266,
    /// ESP32-family application image (magic 0xE9 with the ESP32 extended header).
    Esp32,
    /// Gzip-compressed ESP8266 image (the ESP8266 updater inflates it).
    Esp8266Gzip,
    /// Anything else (unknown chip: the chip guard does not apply).
    Unknown,
}

impl ImageKind {
    /// The chip family this image is for, if known.
    #[must_use]
    pub fn chip(self) -> ChipFamily {
        match self {
            ImageKind::Esp8266 | ImageKind::Esp8266Gzip => ChipFamily::Esp8266,
            ImageKind::Esp32 => ChipFamily::Esp32,
            ImageKind::Unknown => ChipFamily::Unknown,
        }
    }
}

/// Chip family, for the bricking guard (an ESP8266 image must not go to an ESP32 and
/// vice versa).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChipFamily {
    /// ESP8266 (also boards built on it: NodeMCU, Wemos D1, ESP-01, ...).
    Esp8266,
    /// ESP32 and its variants (ESP32-S2/S3/C3/...).
    Esp32,
    /// Not recognised: the chip guard does not apply.
    Unknown,
}

impl ChipFamily {
    /// Classifies a board name as reported in `dev` (case-insensitive). Boards that
    /// are not clearly one family are `Unknown`.
    #[must_use]
    pub fn from_board(board: &str) -> ChipFamily {
        const ESP8266_BOARDS: [&str; 6] =
            ["esp8266", "nodemcu", "wemos", "esp-01", "esp01", "d1 mini"];
        if contains_ignore_ascii_case(board, "esp32") {
            ChipFamily::Esp32
        } else if ESP8266_BOARDS
            .iter()
            .any(|b| contains_ignore_ascii_case(board, b))
        {
            ChipFamily::Esp8266
        } else {
            ChipFamily::Unknown
        }
    }
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// The firmware a campaign delivers: what the engine needs from the store's
/// `FirmwareInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareRef {
    /// The store's id of the blob (e.g. its sha256 hex); opaque to the engine.
    pub id: String,
    /// Build stamp from the `blnkinf` tag or the legacy `\0build\0` marker; deferred
    /// targets need it.
    pub build: Option<String>,
    /// Firmware version from the `blnkinf` tag (`mcu`), if any.
    pub version: Option<String>,
    /// `fw-type` from the `blnkinf` tag, if any.
    pub fw_type: Option<String>,
    /// What the image header says it is.
    pub kind: ImageKind,
    /// Size of the image in bytes.
    pub size: u64,
    /// MD5 of the image, hex (as the firmware store gives it; the engine does not read
    /// it, the server puts it in the command / download headers).
    pub md5: String,
    /// SHA-256 of the image, hex (likewise carried for the server).
    pub sha256: String,
}

/// Who a campaign is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// One device, now (legacy `?token=`): sent at once to its live connections.
    Token(DeviceId),
    /// Every device of one owner (legacy `?user=`), deferred to each device's next info
    /// message. The e-mail is matched exactly: the server passes it canonicalised.
    User(String),
    /// Every device of one owner's project (legacy `?user=&project=`), deferred. The
    /// project name matches case-insensitively, as in the legacy server.
    UserProject {
        /// Owner e-mail (exact match).
        email: String,
        /// Project (dashboard) name (case-insensitive match).
        project: String,
    },
    /// Every device (legacy: no parameter), deferred.
    All,
}

impl Target {
    /// Precedence rank: higher wins (token 3 > user+project 2 > user 1 > all 0).
    #[must_use]
    pub fn specificity(&self) -> u8 {
        match self {
            Target::Token(_) => 3,
            Target::UserProject { .. } => 2,
            Target::User(_) => 1,
            Target::All => 0,
        }
    }

    /// True for the deferred targets (everything but `Token`).
    #[must_use]
    pub fn is_deferred(&self) -> bool {
        !matches!(self, Target::Token(_))
    }

    /// True if both targets address exactly the same devices (project names compared
    /// case-insensitively): starting such a campaign supersedes the older one.
    #[must_use]
    pub fn same_as(&self, other: &Target) -> bool {
        match (self, other) {
            (
                Target::UserProject {
                    email: a,
                    project: p,
                },
                Target::UserProject {
                    email: b,
                    project: q,
                },
            ) => a == b && eq_ignore_case(p, q),
            _ => self == other,
        }
    }
}

/// Case-insensitive comparison (Unicode lower-casing, like Java's `equalsIgnoreCase`
/// for the common cases), without allocating.
#[must_use]
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chip_family_from_board_names() {
        let cases = [
            ("ESP8266", ChipFamily::Esp8266),
            ("NodeMCU", ChipFamily::Esp8266),
            ("Wemos D1 mini", ChipFamily::Esp8266),
            ("ESP32", ChipFamily::Esp32),
            ("esp32-s3", ChipFamily::Esp32),
            ("Arduino", ChipFamily::Unknown),
            ("", ChipFamily::Unknown),
        ];
        for (board, want) in cases {
            assert_eq!(ChipFamily::from_board(board), want, "{board}");
        }
    }

    #[test]
    fn project_names_compare_case_insensitively() {
        assert!(eq_ignore_case("My Dashboard", "my dashboard"));
        assert!(eq_ignore_case("Über", "über"));
        assert!(!eq_ignore_case("My Dashboard", "My Dashboard2"));
    }

    #[test]
    fn same_target_ignores_project_case_only() {
        let a = Target::UserProject {
            email: "a@x".into(),
            project: "P".into(),
        };
        let b = Target::UserProject {
            email: "a@x".into(),
            project: "p".into(),
        };
        let c = Target::UserProject {
            email: "b@x".into(),
            project: "p".into(),
        };
        assert!(a.same_as(&b));
        assert!(!a.same_as(&c));
        assert!(Target::All.same_as(&Target::All));
        assert!(!Target::All.same_as(&Target::User("a@x".into())));
    }

    #[test]
    fn timestamps_saturate() {
        assert_eq!(Timestamp(u64::MAX).plus_millis(5), Timestamp(u64::MAX));
        assert_eq!(Timestamp(3).millis_since(Timestamp(5)), 0);
    }
}
