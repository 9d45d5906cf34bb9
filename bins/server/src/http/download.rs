//! Firmware downloads (both ports, no authentication): `/ota/<key>` (one device's link
//! in one campaign) and `/static/ota/<name>` (the shared link of a published image).
//!
//! What the ESP updaters need (`../shared/docs/esp-http-update.md` section 7): 200 with
//! an exact `Content-Length` (never chunked: the body has an exact size hint),
//! `application/octet-stream`, `x-MD5` in lower-case hex, plus `x-SHA256`, a strong
//! `ETag` and `Last-Modified`; 304 when `x-ESP8266-sketch-md5` / `x-ESP32-sketch-md5`
//! equals the image's MD5 or `If-None-Match` matches; one byte range → 206, a
//! non-matching `If-Range` → 200, an unsatisfiable range → 416; 404 with
//! `Content-Length: 0` for unknown links and links of campaigns no longer active.
//! The body is read from the blob file in 64 KiB pieces; bytes served on a device link
//! are reported to the OTA task as that device's download progress.

use super::{Body, BoxError, empty};
use crate::ota::{DownloadPath, Ota, ProgressKey};
use crate::state::Shared;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::AsyncRead;

/// Largest piece read from the blob per body frame.
const CHUNK: usize = 64 * 1024;
/// Progress is reported every this many bytes at least (and at the end) ...
const PROGRESS_STEP: u64 = 64 * 1024;
/// ... or every this fraction of the image when that is more (each report is a stored
/// record).
const PROGRESS_PARTS: u64 = 64;

/// Which download a request path names, if any. Only plain names are accepted (no
/// `/`, no `..`), so a path can never leave the store.
pub fn download_path(path: &str) -> Option<DownloadPath> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if let Some(key) = path.strip_prefix("/ota/") {
        plain(key).then(|| DownloadPath::Device(key.to_owned()))
    } else if let Some(name) = path.strip_prefix("/static/ota/") {
        plain(name).then(|| DownloadPath::Shared(name.to_owned()))
    } else {
        None
    }
}

/// 404 with `Content-Length: 0`.
pub fn not_found() -> Response<Body> {
    let mut response = empty(StatusCode::NOT_FOUND);
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// Serves a download (GET or HEAD).
pub async fn serve<B>(shared: &Shared, path: DownloadPath, req: &Request<B>) -> Response<Body> {
    let ota = &shared.ota;
    let Some(download) = ota.resolve(path).await else {
        return not_found();
    };
    let store = ota.firmware();
    let (info, blob) = match (
        store.info(&download.id).await,
        store.open_blob(&download.id).await,
    ) {
        (Ok(info), Ok(blob)) => (info, blob),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, id = %download.id, "published firmware cannot be read");
            return not_found();
        }
    };
    let size = blob.size();
    let etag = blob.etag();
    let last_modified = http_date(download.published_at);
    let head = req.method() == Method::HEAD;
    let headers = req.headers();

    let mut base = HeaderMap::new();
    let put = |map: &mut HeaderMap, name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            map.insert(name, v);
        }
    };
    put(&mut base, header::ETAG, &etag);
    put(&mut base, header::LAST_MODIFIED, &last_modified);
    put(
        &mut base,
        header::HeaderName::from_static("x-md5"),
        &info.md5,
    );
    put(
        &mut base,
        header::HeaderName::from_static("x-sha256"),
        &info.sha256.to_string(),
    );
    base.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    let runs_it = ["x-esp8266-sketch-md5", "x-esp32-sketch-md5"]
        .iter()
        .filter_map(|name| headers.get(*name))
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.trim().eq_ignore_ascii_case(&info.md5));
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_list_matches(v, &etag));
    if runs_it || cached {
        let mut response = empty(StatusCode::NOT_MODIFIED);
        response.headers_mut().extend(base);
        return response;
    }

    let if_range_ok = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            let v = v.trim();
            v == etag || v == last_modified
        });
    let range = if if_range_ok {
        headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_range(v, size))
    } else {
        None
    };
    let (status, start, end) = match range {
        Some(ByteRange::Unsatisfiable) => {
            let mut response = empty(StatusCode::RANGE_NOT_SATISFIABLE);
            response.headers_mut().extend(base);
            put(
                response.headers_mut(),
                header::CONTENT_RANGE,
                &format!("bytes */{size}"),
            );
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            return response;
        }
        Some(ByteRange::Satisfiable { start, end }) => (StatusCode::PARTIAL_CONTENT, start, end),
        None => (StatusCode::OK, 0, size),
    };
    let len = end - start;
    let body = if head {
        empty(StatusCode::OK).into_body()
    } else {
        match blob.range(start..end).await {
            Ok(range) => BlobBody {
                reader: range.reader,
                remaining: len,
                progress: download.progress.map(|key| Progress {
                    ota: ota.clone(),
                    key,
                    position: start,
                    reported: start,
                    total: size,
                }),
            }
            .boxed(),
            Err(e) => {
                tracing::warn!(error = %e, "firmware range cannot be opened");
                return not_found();
            }
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.extend(base);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    put(h, header::CONTENT_LENGTH, &len.to_string());
    if status == StatusCode::PARTIAL_CONTENT {
        put(
            h,
            header::CONTENT_RANGE,
            &format!("bytes {start}-{}/{size}", end.saturating_sub(1)),
        );
    }
    response
}

/// A parsed `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `start..end` (end exclusive) lies in the image.
    Satisfiable {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// The range starts beyond the image (or is an empty suffix).
    Unsatisfiable,
}

/// Parses a single `bytes=` range against `size`. `None` (serve the whole image) for
/// anything else: other units, several ranges, bad syntax.
pub fn parse_range(value: &str, size: u64) -> Option<ByteRange> {
    let (unit, spec) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return None;
    }
    let (first, last) = spec.trim().split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if first.trim().is_empty() {
        let suffix = number(last)?;
        if suffix == 0 || size == 0 {
            return Some(ByteRange::Unsatisfiable);
        }
        return Some(ByteRange::Satisfiable {
            start: size - suffix.min(size),
            end: size,
        });
    }
    let start = number(first)?;
    let end = if last.trim().is_empty() {
        size
    } else {
        let last = number(last)?;
        if last < start {
            return None;
        }
        last.saturating_add(1).min(size)
    };
    if start >= size {
        return Some(ByteRange::Unsatisfiable);
    }
    Some(ByteRange::Satisfiable { start, end })
}

/// Whether an `If-None-Match` value matches `etag` (`*` or one of a comma list; weak
/// comparison as RFC 9110 asks for this header).
fn etag_list_matches(value: &str, etag: &str) -> bool {
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for milliseconds since the epoch
/// (times before the epoch are shown as the epoch).
pub fn http_date(millis: i64) -> String {
    let since_epoch = std::time::Duration::from_millis(u64::try_from(millis).unwrap_or(0));
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + since_epoch)
}

struct Progress {
    ota: Ota,
    key: ProgressKey,
    position: u64,
    reported: u64,
    total: u64,
}

/// A response body read from a blob range, with an exact size (so never chunked).
struct BlobBody {
    reader: tokio::io::Take<tokio::fs::File>,
    remaining: u64,
    progress: Option<Progress>,
}

impl http_body::Body for BlobBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(self.remaining).unwrap_or(CHUNK).min(CHUNK);
        let mut buf = BytesMut::zeroed(want);
        let mut read_buf = tokio::io::ReadBuf::new(&mut buf);
        match Pin::new(&mut self.reader).poll_read(cx, &mut read_buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(Ok(())) => {
                let n = read_buf.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err("firmware file ended early".into())));
                }
                buf.truncate(n);
                let n = n as u64;
                self.remaining -= n.min(self.remaining);
                let done = self.remaining == 0;
                if let Some(p) = self.progress.as_mut() {
                    p.position += n;
                    let step = PROGRESS_STEP.max(p.total / PROGRESS_PARTS);
                    if done || p.position - p.reported >= step {
                        p.reported = p.position;
                        p.ota.progress(p.key, p.position, p.total);
                    }
                }
                Poll::Ready(Some(Ok(Frame::data(buf.freeze()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges() {
        let r = |v| parse_range(v, 100);
        let sat = |start, end| Some(ByteRange::Satisfiable { start, end });
        assert_eq!(r("bytes=0-9"), sat(0, 10));
        assert_eq!(r("bytes=90-"), sat(90, 100));
        assert_eq!(r("bytes=90-500"), sat(90, 100));
        assert_eq!(r("bytes=-10"), sat(90, 100));
        assert_eq!(r("bytes=-500"), sat(0, 100));
        assert_eq!(r("BYTES = 5-5"), sat(5, 6));
        assert_eq!(r("bytes=100-"), Some(ByteRange::Unsatisfiable));
        assert_eq!(r("bytes=-0"), Some(ByteRange::Unsatisfiable));
        assert_eq!(r("bytes=5-1"), None);
        assert_eq!(r("bytes=0-1,5-6"), None);
        assert_eq!(r("items=0-1"), None);
        assert_eq!(r("bytes=a-b"), None);
        assert_eq!(r("bytes=+1-2"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(784_111_777_000), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            http_date(1_709_210_096_000),
            "Thu, 29 Feb 2024 12:34:56 GMT"
        );
    }

    #[test]
    fn paths() {
        assert!(
            matches!(download_path("/ota/abc-_1"), Some(DownloadPath::Device(k)) if k == "abc-_1")
        );
        assert!(
            matches!(download_path("/static/ota/x.bin"), Some(DownloadPath::Shared(n)) if n == "x.bin")
        );
        for bad in [
            "/ota/",
            "/ota/..",
            "/static/ota/../x",
            "/static/ota/a/b",
            "/x",
            "/static/ota/%2e",
        ] {
            assert!(download_path(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn if_none_match() {
        assert!(etag_list_matches("\"a\", \"b\"", "\"b\""));
        assert!(etag_list_matches("W/\"b\"", "\"b\""));
        assert!(etag_list_matches("*", "\"b\""));
        assert!(!etag_list_matches("\"c\"", "\"b\""));
    }

    proptest! {
        #[test]
        fn ranges_stay_inside(v in "\\PC{0,24}", size in 0u64..1000) {
            if let Some(ByteRange::Satisfiable { start, end }) = parse_range(&v, size) {
                prop_assert!(start < end && end <= size);
            }
        }
    }
}
