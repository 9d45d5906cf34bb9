//! Synthetic ESP8266 firmware images for OTA runs (`../shared/docs/esp-http-update.md`
//! section 2, `../shared/docs/blynk-protocol.md` section 10.1).

/// Builds an image of exactly `size` bytes (at least 64 + the tag): ESP8266 header
/// `E9 01 00 00`, filler bytes `i mod 256`, and a `blnkinf` tag with `mcu`, `fw-type`,
/// `build` and `blynk` in the middle.
pub fn esp8266_image(size: usize, mcu: &str, fw_type: &str, build: &str) -> Vec<u8> {
    let tag =
        format!("blnkinf\0mcu\0{mcu}\0fw-type\0{fw_type}\0build\0{build}\0blynk\x001.4.0\0\0\0");
    let size = size.max(64 + tag.len());
    let mut image: Vec<u8> = (0..size).map(|i| (i % 256) as u8).collect();
    image[..4].copy_from_slice(&[0xe9, 0x01, 0x00, 0x00]);
    let at = (size / 2).min(size - tag.len());
    image[at..at + tag.len()].copy_from_slice(tag.as_bytes());
    image
}

#[cfg(test)]
mod tests {
    use super::*;
    use firmware_store::{ImageKind, ImageScanner};

    #[test]
    fn scanner_reads_it_back() {
        let image = esp8266_image(1 << 20, "2.0.0", "TMPL0001", "Dec  5 2026 10:00:00");
        assert_eq!(image.len(), 1 << 20);
        let mut s = ImageScanner::new();
        for chunk in image.chunks(1000) {
            s.feed(chunk);
        }
        let facts = s.finish();
        assert_eq!(facts.kind, ImageKind::Esp8266 { flash_size_code: 0 });
        assert_eq!(facts.build.as_deref(), Some("Dec  5 2026 10:00:00"));
        assert_eq!(facts.tag_value("mcu"), Some("2.0.0"));
        assert!(esp8266_image(1, "1", "T", "b").len() > 64);
    }
}
