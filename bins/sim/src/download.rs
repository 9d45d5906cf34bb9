//! The ESP8266 `ESPhttpUpdate` download, as the real updater does it
//! (`../shared/docs/esp-http-update.md` section 1): HTTP/1.0 GET with its exact headers,
//! 200 + `Content-Length` required, optional `x-MD5` (32 hex), first byte 0xE9 (or 0x1f,
//! gzip), body read to exactly `Content-Length`.

use crate::net::connect_from;
use firmware_store::ImageScanner;
use md5::{Digest as _, Md5};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Longest response header block accepted.
const MAX_HEAD: usize = 16 * 1024;
/// The updater's per-read timeout.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Host as written (name or address).
    pub host: String,
    /// Port (80 when absent).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    /// Parses an `http://` URL; other schemes are refused as the ESP8266 updater does.
    pub fn parse(url: &str) -> Result<HttpUrl, String> {
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(format!(
                "the ESP8266 updater only handles http:// URLs: {url}"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>().map_err(|_| format!("bad port in {url}"))?,
            ),
            None => (authority, 80),
        };
        if host.is_empty() {
            return Err(format!("no host in {url}"));
        }
        Ok(HttpUrl {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    /// The `Host` header value: with `:port` unless it is 80 or 443.
    pub fn host_header(&self) -> String {
        if self.port == 80 || self.port == 443 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The request bytes the ESP8266 updater (core 3.x) sends.
pub fn esp8266_request(url: &HttpUrl, device_index: u64, version: &str) -> String {
    let chip = 0x00ee_0000 + (device_index & 0xffff);
    let mac = format!(
        "DE:BA:7A:{:02X}:{:02X}:{:02X}",
        (device_index >> 16) & 0xff,
        (device_index >> 8) & 0xff,
        device_index & 0xff
    );
    let mut req = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: ESP8266-http-Update\r\nConnection: close\r\n\
x-ESP8266-Chip-ID: {chip}\r\nx-ESP8266-STA-MAC: {mac}\r\nx-ESP8266-AP-MAC: {mac}\r\n\
x-ESP8266-free-space: 4194304\r\nx-ESP8266-sketch-size: 400000\r\n\
x-ESP8266-sketch-md5: 0123456789abcdef0123456789abcdef\r\nx-ESP8266-chip-size: 4194304\r\n\
x-ESP8266-sdk-version: 2.5.0\r\nx-ESP8266-mode: sketch\r\n",
        url.path,
        url.host_header()
    );
    if !version.is_empty() {
        req.push_str(&format!("x-ESP8266-version: {version}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    req
}

/// What a verified download yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Body bytes.
    pub bytes: u64,
    /// The image's build string (`blnkinf` tag, else the legacy marker).
    pub build: String,
    /// The image's `mcu` version from the tag, if any.
    pub version: Option<String>,
}

/// A failed download: the reason (as the updater would report it) and the body bytes
/// received before it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadError {
    /// What went wrong.
    pub reason: String,
    /// Body bytes received.
    pub bytes: u64,
}

fn fail(reason: impl Into<String>, bytes: u64) -> DownloadError {
    DownloadError {
        reason: reason.into(),
        bytes,
    }
}

/// Injected faults for one download.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownloadFaults {
    /// Close the connection after half of the body.
    pub drop_midway: bool,
    /// Treat the MD5 as mismatching.
    pub bad_md5: bool,
}

/// Downloads `url` like the ESP8266 updater, from source address `source`.
pub async fn download(
    url: &str,
    source: Ipv4Addr,
    device_index: u64,
    version: &str,
    faults: DownloadFaults,
) -> Result<Downloaded, DownloadError> {
    let url = HttpUrl::parse(url).map_err(|e| fail(e, 0))?;
    let ip: std::net::IpAddr = match url.host.as_str() {
        "localhost" => std::net::IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h
            .parse()
            .map_err(|_| fail(format!("host {h} is not a loopback address"), 0))?,
    };
    if !ip.is_loopback() {
        return Err(fail(format!("refusing non-loopback download host {ip}"), 0));
    }
    let mut stream = connect_from(SocketAddr::new(ip, url.port), source)
        .await
        .map_err(|e| fail(format!("connect failed: {e}"), 0))?;
    let request = esp8266_request(&url, device_index, version);
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| fail(format!("request write failed: {e}"), 0))?;

    // Header block.
    // Twice the header limit, so a full header block always leaves room to read into.
    let mut buf = vec![0u8; 2 * MAX_HEAD];
    let mut filled = 0;
    let head_end = loop {
        if let Some(i) = find_head_end(&buf[..filled]) {
            break i;
        }
        if filled >= MAX_HEAD {
            return Err(fail("response header block too large", 0));
        }
        let n = read(&mut stream, &mut buf[filled..])
            .await
            .map_err(|e| fail(e, 0))?;
        if n == 0 {
            return Err(fail("connection closed before the response headers", 0));
        }
        filled += n;
    };
    let head = parse_head(&buf[..head_end]).map_err(|e| fail(e, 0))?;
    if head.status != 200 {
        return Err(fail(format!("HTTP status {}", head.status), 0));
    }
    let Some(total) = head.content_length.filter(|&n| n > 0) else {
        return Err(fail("Server Did Not Report Size (no Content-Length)", 0));
    };
    if let Some(md5) = &head.md5 {
        if md5.len() != 32 {
            return Err(fail(format!("x-MD5 is not 32 characters: {md5:?}"), 0));
        }
    }

    // Body.
    let mut hasher = Md5::new();
    let mut scanner = ImageScanner::new();
    let mut got: u64 = 0;
    let mut first_checked = false;
    let mut pending = head_end..filled;
    let drop_at = faults.drop_midway.then_some(total / 2);
    loop {
        let chunk_len = pending.len() as u64;
        let take = chunk_len.min(total - got) as usize;
        let chunk = &buf[pending.start..pending.start + take];
        if !chunk.is_empty() && !first_checked {
            first_checked = true;
            if chunk[0] != 0xe9 && chunk[0] != 0x1f {
                return Err(fail("Verify Bin Header Failed (first byte not 0xE9)", got));
            }
        }
        hasher.update(chunk);
        scanner.feed(chunk);
        got += take as u64;
        if got >= total {
            break;
        }
        if drop_at.is_some_and(|at| got >= at) {
            return Err(fail("download dropped midway (injected)", got));
        }
        let n = read(&mut stream, &mut buf)
            .await
            .map_err(|e| fail(e, got))?;
        if n == 0 {
            return Err(fail(
                format!("connection closed after {got} of {total} bytes"),
                got,
            ));
        }
        pending = 0..n;
    }
    drop(stream);
    let md5: [u8; 16] = hasher.finalize().into();
    let md5_hex: String = md5.iter().map(|b| format!("{b:02x}")).collect();
    if faults.bad_md5 {
        return Err(fail("MD5 verification failed (injected)", got));
    }
    if let Some(expected) = &head.md5 {
        if !expected.eq_ignore_ascii_case(&md5_hex) {
            return Err(fail(
                format!("MD5 verification failed: expected {expected}, calculated {md5_hex}"),
                got,
            ));
        }
    }
    let facts = scanner.finish();
    let Some(build) = facts.build.clone() else {
        return Err(fail("the image carries no build stamp", got));
    };
    Ok(Downloaded {
        bytes: got,
        build,
        version: facts.tag_value("mcu").map(str::to_owned),
    })
}

async fn read(stream: &mut tokio::net::TcpStream, buf: &mut [u8]) -> Result<usize, String> {
    match tokio::time::timeout(READ_TIMEOUT, stream.read(buf)).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(format!("read failed: {e}")),
        Err(_) => Err("read timed out (10 s)".to_owned()),
    }
}

/// Index just past the `\r\n\r\n` ending the header block.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Status and the headers the updater looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// `Content-Length`.
    pub content_length: Option<u64>,
    /// `x-MD5` (any case).
    pub md5: Option<String>,
    /// Whether `Transfer-Encoding` was present (the updater cannot handle it).
    pub chunked: bool,
}

/// Parses a response header block.
pub fn parse_head(head: &[u8]) -> Result<Head, String> {
    let text =
        std::str::from_utf8(head).map_err(|_| "response headers are not UTF-8".to_owned())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut out = Head {
        status,
        content_length: None,
        md5: None,
        chunked: false,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            out.content_length = Some(
                value
                    .parse()
                    .map_err(|_| format!("bad Content-Length {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("x-md5") {
            out.md5 = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            out.chunked = true;
        }
    }
    if out.chunked {
        return Err("Server Did Not Report Size (Transfer-Encoding)".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = HttpUrl::parse("http://127.0.0.1:18091/fw/firmware.bin?token=abc").unwrap();
        assert_eq!(u.host_header(), "127.0.0.1:18091");
        assert_eq!(u.path, "/fw/firmware.bin?token=abc");
        assert_eq!(HttpUrl::parse("http://h").unwrap().path, "/");
        assert_eq!(HttpUrl::parse("http://h/x").unwrap().host_header(), "h");
        assert!(HttpUrl::parse("https://h/x").is_err());
        assert!(HttpUrl::parse("http://h:99999/x").is_err());
        assert!(HttpUrl::parse("http:///x").is_err());
    }

    #[test]
    fn request_matches_the_updater() {
        let u = HttpUrl::parse("http://127.0.0.1:18091/fw/firmware.bin?token=abc").unwrap();
        let r = esp8266_request(&u, 0x42, "0.1.0");
        assert!(r.starts_with(
            "GET /fw/firmware.bin?token=abc HTTP/1.0\r\nHost: 127.0.0.1:18091\r\nUser-Agent: ESP8266-http-Update\r\nConnection: close\r\n"
        ));
        for h in [
            "x-ESP8266-STA-MAC: DE:BA:7A:00:00:42\r\n",
            "x-ESP8266-mode: sketch\r\n",
            "x-ESP8266-version: 0.1.0\r\n",
        ] {
            assert!(r.contains(h), "{h}");
        }
        assert!(r.ends_with("Content-Length: 0\r\n\r\n"));
        assert!(!esp8266_request(&u, 1, "").contains("x-ESP8266-version"));
    }

    #[test]
    fn heads() {
        let h =
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 4100\r\nX-Md5: ABC\r\n\r\n").unwrap();
        assert_eq!(
            (h.status, h.content_length, h.md5.as_deref()),
            (200, Some(4100), Some("ABC"))
        );
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
        assert_eq!(find_head_end(b"a\r\n\r\nbody"), Some(5));
    }
}
