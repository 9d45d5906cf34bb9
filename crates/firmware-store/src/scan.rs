//! Streaming extraction of what an image tells about itself (sans-IO: fed chunks).
//!
//! [`ImageScanner`] is fed the image chunk by chunk, in whatever pieces the upload
//! arrives, and keeps a fixed amount of state: the first 24 bytes (the ESP header), the
//! last `needle length - 1` bytes per searched pattern so a match split across two
//! chunks is found, at most [`TAG_MAX`] bytes of a tag and [`LEGACY_VALUE_MAX`] bytes of
//! a build value being read. Searching uses `memchr::memmem` (SIMD), so the cost per
//! byte is a fraction of a cycle (see docs/benchmarks.md).

use blynk_proto::fields::pairs;
use memchr::memmem;
use serde::{Deserialize, Serialize};

use crate::BuildTime;

/// Start of the `blnkinf` tag (`../shared/docs/blynk-protocol.md` section 10.1).
const TAG_NEEDLE: &[u8] = b"blnkinf\0";
/// The legacy build marker, NUL `build` NUL (section 10.2 of the same document).
const LEGACY_NEEDLE: &[u8] = b"\0build\0";
/// Longest `blnkinf` tag body read (pairs and terminator). A real tag is about 100
/// bytes; a candidate that runs longer without its terminator is not a tag.
pub const TAG_MAX: usize = 1024;
/// Longest legacy build value read; longer runs are not a build string.
pub const LEGACY_VALUE_MAX: usize = 256;
/// How many `blnkinf\0` occurrences are tried before giving up. Bounds the re-reading
/// work a crafted image can cause to `TAG_CANDIDATES * TAG_MAX` bytes.
pub const TAG_CANDIDATES: u32 = 16;
/// Bytes of the image header that are kept (the ESP32 header with its extension).
const HEADER_LEN: usize = 24;

/// What the first bytes of an image say it is (`../shared/docs/esp-http-update.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageKind {
    /// ESP8266 application image: byte 0 is `0xE9`; the high nibble of byte 3 is the
    /// flash size code the ESP8266 updater checks against the chip.
    Esp8266 {
        /// High nibble of header byte 3 (0 = 512 KiB, 2 = 1 MiB, 4 = 4 MiB, ...).
        flash_size_code: u8,
    },
    /// ESP32-family image: byte 0 is `0xE9` and bytes 8..24 hold the ESP32 extended
    /// header (write-protect pin `0xEE`, zero reserved bytes, hash flag 0 or 1).
    Esp32 {
        /// Chip id from the extended header (0 = ESP32, 2 = S2, 5 = C3, 9 = S3, ...).
        chip_id: u16,
    },
    /// gzip-compressed image (`1F 8B`), which the ESP8266 updater accepts.
    Esp8266Gzip,
    /// Anything else; ESP updaters reject it before downloading.
    Unknown,
}

impl ImageKind {
    /// Classifies an image from its first bytes (24 are enough; fewer are fine).
    pub fn from_header(head: &[u8]) -> ImageKind {
        match head {
            [0x1f, 0x8b, ..] => ImageKind::Esp8266Gzip,
            [0xe9, _, _, size_freq, ..] => {
                let esp32 = head.len() >= HEADER_LEN
                    && head[8] == 0xee
                    && head[19..23].iter().all(|b| *b == 0)
                    && head[23] <= 1;
                if esp32 {
                    ImageKind::Esp32 {
                        chip_id: u16::from_le_bytes([head[12], head[13]]),
                    }
                } else {
                    ImageKind::Esp8266 {
                        flash_size_code: size_freq >> 4,
                    }
                }
            }
            _ => ImageKind::Unknown,
        }
    }

    /// Flash size in bytes an ESP8266 image declares, if the code is a known one.
    pub fn flash_size_bytes(&self) -> Option<u32> {
        const KIB: u32 = 1024;
        match self {
            ImageKind::Esp8266 { flash_size_code } => match flash_size_code {
                0 => Some(512 * KIB),
                1 => Some(256 * KIB),
                2 => Some(1024 * KIB),
                3 | 5 => Some(2048 * KIB),
                4 | 6 => Some(4096 * KIB),
                8 => Some(8192 * KIB),
                9 => Some(16384 * KIB),
                _ => None,
            },
            _ => None,
        }
    }

    /// Chip name of an ESP32-family image, if the chip id is a known one.
    pub fn chip_name(&self) -> Option<&'static str> {
        match self {
            ImageKind::Esp32 { chip_id } => match chip_id {
                0x00 => Some("ESP32"),
                0x02 => Some("ESP32-S2"),
                0x05 => Some("ESP32-C3"),
                0x09 => Some("ESP32-S3"),
                0x0c => Some("ESP32-C2"),
                0x0d => Some("ESP32-C6"),
                0x10 => Some("ESP32-H2"),
                0x12 => Some("ESP32-P4"),
                _ => None,
            },
            _ => None,
        }
    }
}

/// One `key value` pair of the `blnkinf` tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TagPair {
    /// The key, e.g. `mcu`, `fw-type`, `build`, `blynk`, `hw`.
    pub key: String,
    /// The value exactly as in the image.
    pub value: String,
}

/// Everything an image tells about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFacts {
    /// What the header says the image is.
    pub kind: ImageKind,
    /// The `blnkinf` pairs in image order, up to the first empty key; empty if the
    /// image has no well-formed tag.
    #[serde(default)]
    pub tag: Vec<TagPair>,
    /// Byte offset of the `blnkinf` tag in the image.
    #[serde(default)]
    pub tag_offset: Option<u64>,
    /// The value after the first NUL `build` NUL marker, as the legacy Java server reads
    /// it; `None` when there is no marker or its value is empty, unterminated, longer
    /// than [`LEGACY_VALUE_MAX`] or not printable ASCII.
    #[serde(default)]
    pub legacy_build: Option<String>,
    /// Byte offset of the legacy marker (its first NUL) in the image.
    #[serde(default)]
    pub legacy_build_offset: Option<u64>,
    /// The build string as reported: the tag's `build` value, else the legacy one.
    /// Exact bytes, double spaces kept, so it compares equal to what the device
    /// reports after login.
    #[serde(default)]
    pub build: Option<String>,
    /// [`ImageFacts::build`] parsed as `__DATE__ " " __TIME__`, where it parses.
    #[serde(default)]
    pub build_time: Option<BuildTime>,
}

impl ImageFacts {
    /// The first tag value for `key` (`mcu`, `fw-type`, ...).
    pub fn tag_value(&self, key: &str) -> Option<&str> {
        self.tag
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str())
    }
}

/// Reads [`ImageFacts`] from an image fed in chunks of any size.
///
/// ```
/// use firmware_store::{ImageKind, ImageScanner};
///
/// let mut scanner = ImageScanner::new();
/// scanner.feed(b"\xE9\x01\x00\x00 ... blnkin");
/// scanner.feed(b"f\0mcu\x001.2.3\0build\0Dec  4 2026 14:51:12\0\0\0");
/// let facts = scanner.finish();
/// assert_eq!(facts.kind, ImageKind::Esp8266 { flash_size_code: 0 });
/// assert_eq!(facts.tag_value("mcu"), Some("1.2.3"));
/// assert_eq!(facts.build.as_deref(), Some("Dec  4 2026 14:51:12"));
/// ```
#[derive(Debug, Clone)]
pub struct ImageScanner {
    fed: u64,
    header: [u8; HEADER_LEN],
    header_len: usize,
    tag: TagSearch,
    legacy: LegacySearch,
}

impl Default for ImageScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl ImageScanner {
    /// A scanner at the start of an image.
    pub fn new() -> Self {
        ImageScanner {
            fed: 0,
            header: [0; HEADER_LEN],
            header_len: 0,
            tag: TagSearch::new(),
            legacy: LegacySearch::new(),
        }
    }

    /// Feeds the next bytes of the image.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.header_len < HEADER_LEN {
            let take = chunk.len().min(HEADER_LEN - self.header_len);
            self.header[self.header_len..self.header_len + take].copy_from_slice(&chunk[..take]);
            self.header_len += take;
        }
        self.tag.feed(chunk, self.fed);
        self.legacy.feed(chunk, self.fed);
        self.fed += chunk.len() as u64;
    }

    /// Bytes fed so far.
    pub fn bytes_fed(&self) -> u64 {
        self.fed
    }

    /// Ends the image and returns what was found.
    pub fn finish(mut self) -> ImageFacts {
        let (tag_offset, tag) = self.tag.finish();
        let (legacy_build_offset, legacy_build) = match self.legacy.state {
            LegacyState::Found { offset, value } => (Some(offset), Some(value)),
            _ => (None, None),
        };
        let build = tag
            .iter()
            .find(|p| p.key == "build")
            .map(|p| p.value.clone())
            .or_else(|| legacy_build.clone());
        let build_time = build.as_deref().and_then(BuildTime::parse);
        ImageFacts {
            kind: ImageKind::from_header(&self.header[..self.header_len]),
            tag,
            tag_offset,
            legacy_build,
            legacy_build_offset,
            build,
            build_time,
        }
    }
}

/// Bytes allowed inside tag pairs and build values: printable ASCII.
fn printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// Finds a short needle in a stream of chunks, including matches split across chunks.
#[derive(Debug, Clone)]
struct StreamFinder {
    finder: memmem::Finder<'static>,
    /// The last `needle.len() - 1` bytes seen, for a match that straddles chunks.
    carry: [u8; 8],
    carry_len: usize,
}

impl StreamFinder {
    fn new(needle: &'static [u8]) -> Self {
        debug_assert!(needle.len() <= 9);
        StreamFinder {
            finder: memmem::Finder::new(needle),
            carry: [0; 8],
            carry_len: 0,
        }
    }

    fn reset(&mut self) {
        self.carry_len = 0;
    }

    /// Continues the search with `data`; returns the index in `data` just past the
    /// first match, or `None` (remembering the tail for the next call).
    fn find(&mut self, data: &[u8]) -> Option<usize> {
        let n = self.finder.needle().len();
        let keep = n - 1;
        if self.carry_len > 0 {
            // Matches starting in the carry end within the first n-1 bytes of `data`.
            let take = data.len().min(keep);
            let mut window = [0u8; 16];
            window[..self.carry_len].copy_from_slice(&self.carry[..self.carry_len]);
            window[self.carry_len..self.carry_len + take].copy_from_slice(&data[..take]);
            if let Some(at) = self.finder.find(&window[..self.carry_len + take]) {
                if at < self.carry_len {
                    let end = at + n - self.carry_len;
                    self.carry_len = 0;
                    return Some(end);
                }
            }
        }
        if let Some(at) = self.finder.find(data) {
            self.carry_len = 0;
            return Some(at + n);
        }
        if data.len() >= keep {
            self.carry[..keep].copy_from_slice(&data[data.len() - keep..]);
            self.carry_len = keep;
        } else {
            // Short chunk: append to the carry and keep its last `keep` bytes.
            let mut joined = [0u8; 16];
            joined[..self.carry_len].copy_from_slice(&self.carry[..self.carry_len]);
            joined[self.carry_len..self.carry_len + data.len()].copy_from_slice(data);
            let total = self.carry_len + data.len();
            let start = total.saturating_sub(keep);
            self.carry[..total - start].copy_from_slice(&joined[start..total]);
            self.carry_len = total - start;
        }
        None
    }
}

#[derive(Debug, Clone)]
enum TagState {
    Searching,
    /// Reading the body of a candidate tag (the bytes after `blnkinf\0`).
    Reading {
        /// Offset in the image of `buf[0]`.
        start: u64,
        buf: Vec<u8>,
        /// Where the current key or value starts in `buf`.
        field_start: usize,
        /// Whether the current field is a key (a NUL at a key's start ends the tag).
        in_key: bool,
    },
    Found {
        offset: u64,
        pairs: Vec<TagPair>,
    },
    GaveUp,
}

#[derive(Debug, Clone)]
struct TagSearch {
    finder: StreamFinder,
    state: TagState,
    candidates_left: u32,
}

impl TagSearch {
    fn new() -> Self {
        TagSearch {
            finder: StreamFinder::new(TAG_NEEDLE),
            state: TagState::Searching,
            candidates_left: TAG_CANDIDATES,
        }
    }

    /// Feeds `data`, whose first byte is at image offset `base`.
    fn feed(&mut self, mut data: &[u8], mut base: u64) {
        loop {
            match &mut self.state {
                TagState::Found { .. } | TagState::GaveUp => return,
                TagState::Searching => {
                    if self.candidates_left == 0 {
                        self.state = TagState::GaveUp;
                        return;
                    }
                    let Some(end) = self.finder.find(data) else {
                        return;
                    };
                    self.candidates_left -= 1;
                    data = &data[end..];
                    base += end as u64;
                    self.state = TagState::Reading {
                        start: base,
                        buf: Vec::new(),
                        field_start: 0,
                        in_key: true,
                    };
                }
                TagState::Reading {
                    start,
                    buf,
                    field_start,
                    in_key,
                } => {
                    let take = data.len().min(TAG_MAX - buf.len());
                    let bad = data[..take].iter().position(|&b| b != 0 && !printable(b));
                    let usable = bad.unwrap_or(take);
                    let scan_from = buf.len();
                    buf.extend_from_slice(&data[..usable]);
                    data = &data[usable..];
                    base += usable as u64;
                    let mut terminator = None;
                    for nul in memchr::memchr_iter(0, &buf[scan_from..]) {
                        let at = scan_from + nul;
                        if *in_key && at == *field_start {
                            terminator = Some(at);
                            break;
                        }
                        *in_key = !*in_key;
                        *field_start = at + 1;
                    }
                    if let Some(at) = terminator {
                        let found: Vec<TagPair> = pairs(&buf[..=at])
                            .map(|(k, v)| TagPair {
                                key: ascii(k),
                                value: ascii(v),
                            })
                            .collect();
                        if !found.is_empty() {
                            let offset = *start - TAG_NEEDLE.len() as u64;
                            self.state = TagState::Found {
                                offset,
                                pairs: found,
                            };
                            return;
                        }
                    } else if bad.is_none() && buf.len() < TAG_MAX {
                        return; // all of `data` consumed; the tag goes on
                    }
                    self.reject();
                }
            }
        }
    }

    /// Drops the candidate being read and searches its bytes again for a later
    /// `blnkinf\0` (the needle cannot overlap itself, so the search starts fresh).
    fn reject(&mut self) {
        let previous = std::mem::replace(&mut self.state, TagState::Searching);
        self.finder.reset();
        if let TagState::Reading { start, buf, .. } = previous {
            self.feed(&buf, start);
        }
    }

    fn finish(&mut self) -> (Option<u64>, Vec<TagPair>) {
        // An unterminated candidate at the end is no tag; later candidates inside it
        // are still tried (each try uses up one of the bounded candidates).
        while matches!(self.state, TagState::Reading { .. }) {
            self.reject();
        }
        match std::mem::replace(&mut self.state, TagState::GaveUp) {
            TagState::Found { offset, pairs } => (Some(offset), pairs),
            _ => (None, Vec::new()),
        }
    }
}

/// Tag and build bytes are checked to be printable ASCII before they get here.
fn ascii(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[derive(Debug, Clone)]
enum LegacyState {
    Searching,
    Reading { offset: u64, buf: Vec<u8> },
    Found { offset: u64, value: String },
    Absent,
}

#[derive(Debug, Clone)]
struct LegacySearch {
    finder: StreamFinder,
    state: LegacyState,
}

impl LegacySearch {
    fn new() -> Self {
        LegacySearch {
            finder: StreamFinder::new(LEGACY_NEEDLE),
            state: LegacyState::Searching,
        }
    }

    fn feed(&mut self, mut data: &[u8], base: u64) {
        if let LegacyState::Searching = self.state {
            let Some(end) = self.finder.find(data) else {
                return;
            };
            let offset = base + end as u64 - LEGACY_NEEDLE.len() as u64;
            self.state = LegacyState::Reading {
                offset,
                buf: Vec::new(),
            };
            data = &data[end..];
        }
        if let LegacyState::Reading { offset, buf } = &mut self.state {
            let take = data.len().min(LEGACY_VALUE_MAX + 1 - buf.len());
            let stop = data[..take].iter().position(|&b| !printable(b));
            buf.extend_from_slice(&data[..stop.unwrap_or(take)]);
            match stop {
                // Only the first marker counts (as in the Java server); an empty or
                // non-text value means "no build", never garbage.
                Some(at) if data[at] == 0 && !buf.is_empty() && buf.len() <= LEGACY_VALUE_MAX => {
                    self.state = LegacyState::Found {
                        offset: *offset,
                        value: ascii(buf),
                    };
                }
                Some(_) => self.state = LegacyState::Absent,
                None if buf.len() > LEGACY_VALUE_MAX => self.state = LegacyState::Absent,
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_chunks(chunks: &[&[u8]]) -> ImageFacts {
        let mut s = ImageScanner::new();
        for c in chunks {
            s.feed(c);
        }
        s.finish()
    }

    fn scan_every_split(image: &[u8]) -> ImageFacts {
        let whole = scan_chunks(&[image]);
        for at in 0..=image.len() {
            assert_eq!(
                scan_chunks(&[&image[..at], &image[at..]]),
                whole,
                "split at {at}"
            );
        }
        let bytes: Vec<&[u8]> = image.chunks(1).collect();
        assert_eq!(scan_chunks(&bytes), whole, "one byte at a time");
        whole
    }

    #[test]
    fn stream_finder_finds_split_needles() {
        let hay = b"xxblnkinf\0yy";
        for at in 0..=hay.len() {
            let mut f = StreamFinder::new(TAG_NEEDLE);
            let (a, b) = hay.split_at(at);
            let found = match f.find(a) {
                Some(end) => end,
                None => a.len() + f.find(b).unwrap(),
            };
            assert_eq!(found, 10, "split at {at}");
        }
        let mut f = StreamFinder::new(TAG_NEEDLE);
        for piece in [&b"bl"[..], b"n", b"", b"ki", b"n", b"f"] {
            assert_eq!(f.find(piece), None);
        }
        assert_eq!(f.find(b"\0"), Some(1));
    }

    #[test]
    fn tag_and_legacy_found_at_every_split() {
        let image = b"\xe9\x01\x00\x00junk\0blnkinf\0mcu\x001.2.3\0fw-type\0TMPL0001\0build\0Dec  4 2026 14:51:12\0\0\0tail";
        let facts = scan_every_split(image);
        let keys: Vec<_> = facts
            .tag
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("mcu", "1.2.3"),
                ("fw-type", "TMPL0001"),
                ("build", "Dec  4 2026 14:51:12")
            ]
        );
        assert_eq!(facts.tag_offset, Some(9));
        assert_eq!(facts.legacy_build.as_deref(), Some("Dec  4 2026 14:51:12"));
        assert_eq!(facts.legacy_build_offset, Some(43));
        assert_eq!(facts.build.as_deref(), Some("Dec  4 2026 14:51:12"));
        assert_eq!(facts.build_time.unwrap().unix_timestamp(), 1_796_395_872);
    }

    #[test]
    fn empty_values_are_pairs_not_terminators() {
        let facts = scan_every_split(b"blnkinf\0hw\0\0mcu\x001\0\0");
        assert_eq!(facts.tag.len(), 2);
        assert_eq!(facts.tag_value("hw"), Some(""));
        assert_eq!(facts.tag_value("mcu"), Some("1"));
    }

    #[test]
    fn unterminated_or_truncated_tags_are_absent() {
        for image in [
            &b"blnkinf\0mcu\x001.2.3\0build\0Dec  4 2026"[..], // truncated by EOF
            b"blnkinf\0mcu\x001.2.3\0",                        // no empty key
            b"blnkinf\0mcu\x001.2.3\0\xff\0\0",                // binary inside
            b"blnkinf\0\0\0",                                  // no pairs
        ] {
            let facts = scan_every_split(image);
            assert!(facts.tag.is_empty(), "{image:?}");
            assert_eq!(facts.tag_offset, None);
        }
        let mut long = b"blnkinf\0k\0".to_vec();
        long.resize(TAG_MAX + 100, b'v');
        long.extend_from_slice(b"\0\0\0");
        assert!(scan_chunks(&[&long]).tag.is_empty());
    }

    #[test]
    fn later_candidate_after_a_bogus_one() {
        // The first candidate's pairs never end on a key; the second's do.
        let facts = scan_every_split(b"blnkinf\0xx\0yy\0blnkinf\0mcu\x001\0\0\xff");
        assert_eq!(facts.tag_offset, Some(14));
        assert_eq!(facts.tag_value("mcu"), Some("1"));
        let facts = scan_every_split(b"blnkinf\0\x01 blnkinf\0mcu\x002\0\0");
        assert_eq!(facts.tag_offset, Some(10));
        assert_eq!(facts.tag_value("mcu"), Some("2"));
    }

    #[test]
    fn candidate_count_is_bounded() {
        let mut image = b"blnkinf\0\x01".repeat(TAG_CANDIDATES as usize);
        image.extend_from_slice(b"blnkinf\0mcu\x001\0\0");
        assert!(scan_chunks(&[&image]).tag.is_empty());
        let mut image = b"blnkinf\0\x01".repeat(TAG_CANDIDATES as usize - 1);
        image.extend_from_slice(b"blnkinf\0mcu\x001\0\0");
        assert_eq!(scan_chunks(&[&image]).tag_value("mcu"), Some("1"));
    }

    #[test]
    fn legacy_marker_rules() {
        let facts = scan_every_split(b"\0build\0May  8 2018 19:30:18\0\0build\0other\0");
        assert_eq!(facts.legacy_build.as_deref(), Some("May  8 2018 19:30:18"));
        assert_eq!(facts.build.as_deref(), Some("May  8 2018 19:30:18"));
        assert_eq!(facts.legacy_build_offset, Some(0));
        assert_eq!(facts.build_time.unwrap().day, 8);
        // Empty, unterminated, non-text or over-long values: absent, and only the
        // first marker counts.
        let long = [&b"\0build\0"[..], &[b'x'; LEGACY_VALUE_MAX + 1], b"\0"].concat();
        let exact = [&b"\0build\0"[..], &[b'x'; LEGACY_VALUE_MAX], b"\0"].concat();
        for image in [
            &b"\0build\0\0build\0later\0"[..],
            b"\0build\0Aug 14 2017",
            b"\0build\0Aug\xff14\0",
            b"\0build\0",
            &long,
        ] {
            let facts = scan_every_split(image);
            assert_eq!(facts.legacy_build, None, "{image:?}");
            assert_eq!(facts.build, None);
        }
        assert_eq!(
            scan_chunks(&[&exact]).legacy_build.map(|v| v.len()),
            Some(LEGACY_VALUE_MAX)
        );
    }

    #[test]
    fn header_kinds() {
        assert_eq!(ImageKind::from_header(b""), ImageKind::Unknown);
        assert_eq!(ImageKind::from_header(b"\xe9\x01\x00"), ImageKind::Unknown);
        let k = ImageKind::from_header(b"\xe9\x01\x00\x40");
        assert_eq!(k, ImageKind::Esp8266 { flash_size_code: 4 });
        assert_eq!(k.flash_size_bytes(), Some(4 << 20));
        assert_eq!(
            ImageKind::from_header(b"\x1f\x8b\x08"),
            ImageKind::Esp8266Gzip
        );
        assert_eq!(ImageKind::from_header(b"\x7fELF"), ImageKind::Unknown);
        let mut esp32 = [0u8; 24];
        esp32[..4].copy_from_slice(&[0xe9, 0x06, 0x02, 0x20]);
        esp32[8] = 0xee;
        esp32[12] = 0x09;
        esp32[23] = 1;
        let k = ImageKind::from_header(&esp32);
        assert_eq!(k, ImageKind::Esp32 { chip_id: 9 });
        assert_eq!(k.chip_name(), Some("ESP32-S3"));
        assert_eq!(k.flash_size_bytes(), None);
        esp32[20] = 1; // reserved byte set: not an ESP32 extended header
        assert_eq!(
            ImageKind::from_header(&esp32),
            ImageKind::Esp8266 { flash_size_code: 2 }
        );
        let facts = scan_every_split(&[0xe9, 0x06, 0x02, 0x20, 0, 0, 0, 0, 0xee, 0, 0, 0, 0x05]);
        assert_eq!(
            facts.kind,
            ImageKind::Esp8266 { flash_size_code: 2 },
            "short ESP32 header"
        );
    }

    #[test]
    fn tag_build_wins_over_legacy() {
        let facts = scan_every_split(
            b"\0build\0Jan  1 2020 00:00:00\0blnkinf\0build\0Feb  2 2021 01:02:03\0\0",
        );
        assert_eq!(facts.legacy_build.as_deref(), Some("Jan  1 2020 00:00:00"));
        assert_eq!(facts.build.as_deref(), Some("Feb  2 2021 01:02:03"));
        assert_eq!(facts.build_time.unwrap().year, 2021);
    }
}
