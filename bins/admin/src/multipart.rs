//! A `multipart/form-data` request body with one file part, streamed from the file.
//!
//! The body is the part header, the file's bytes read in chunks with tokio, and the
//! closing boundary. Its exact length is known from the file size up front, so the
//! request carries a `Content-Length` (not chunked encoding) and memory stays at one
//! chunk whatever the file size.
//!
//! With [`FileUpload::wait_for_continue`] the body holds back its first byte until the
//! server answers `100 Continue` (the request then carries `Expect: 100-continue`), or a
//! short wait passes for servers that ignore it. A server that refuses the request
//! before reading the body (wrong password, offline device) then answers at once, and
//! the client reads that answer instead of running into a reset connection while
//! writing megabytes nobody reads.

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::hash::{BuildHasher as _, Hasher as _};
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::AsyncReadExt as _;
use tokio::sync::oneshot;
use tokio_util::io::poll_read_buf;

/// Bytes read from the file per chunk.
const CHUNK: usize = 64 * 1024;

/// The form field name of the file part (the server does not check it; curl's `-F
/// file=@...` in the OTA guide uses `file`).
pub const FIELD: &str = "file";

/// The body of an upload of one file.
pub struct FileUpload {
    /// Resolves when the body may start (see [`FileUpload::wait_for_continue`]).
    gate: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    head: Option<Bytes>,
    /// The file, limited to the length announced (a file growing meanwhile is cut).
    file: Option<tokio::io::Take<tokio::fs::File>>,
    buf: BytesMut,
    tail: Option<Bytes>,
    /// File bytes still expected.
    file_left: u64,
    /// Body bytes not yet handed out.
    body_left: u64,
    /// File bytes handed out so far (read by the progress bar).
    sent: Arc<AtomicU64>,
}

impl FileUpload {
    /// Opens `path` and prepares the body. `boundary` must not occur in the file; use
    /// [`random_boundary`].
    pub async fn open(path: &Path, boundary: &str) -> io::Result<FileUpload> {
        let file = tokio::fs::File::open(path).await?;
        let metadata = file.metadata().await?;
        if !metadata.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        let file_len = metadata.len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "firmware.bin".to_owned());
        let (head, tail) = part_frame(boundary, &name);
        let body_len = head.len() as u64 + file_len + tail.len() as u64;
        Ok(FileUpload {
            head: Some(head),
            file: Some(file.take(file_len)),
            buf: BytesMut::new(),
            tail: Some(tail),
            file_left: file_len,
            body_left: body_len,
            sent: Arc::new(AtomicU64::new(0)),
            gate: None,
        })
    }

    /// Holds the body back until the returned signal fires or `at_most` passes.
    pub fn wait_for_continue(&mut self, at_most: Duration) -> ContinueSignal {
        let (tx, rx) = oneshot::channel::<()>();
        self.gate = Some(Box::pin(async move {
            // A dropped sender (no 100 ever) just means: wait the full time.
            let _ = tokio::time::timeout(at_most, async {
                if rx.await.is_err() {
                    std::future::pending::<()>().await;
                }
            })
            .await;
        }));
        ContinueSignal(Arc::new(Mutex::new(Some(tx))))
    }

    /// The file's size in bytes.
    pub fn file_len(&self) -> u64 {
        self.file_left + self.sent.load(Ordering::Relaxed)
    }

    /// A counter of file bytes handed to the connection so far.
    pub fn progress(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.sent)
    }

    fn data(&mut self, bytes: Bytes) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        self.body_left = self.body_left.saturating_sub(bytes.len() as u64);
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }
}

impl Body for FileUpload {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let this = &mut *self;
        if let Some(gate) = this.gate.as_mut() {
            ready!(gate.as_mut().poll(cx));
            this.gate = None;
        }
        if let Some(head) = this.head.take() {
            return this.data(head);
        }
        if let Some(file) = this.file.as_mut() {
            if this.buf.capacity() < CHUNK {
                this.buf = BytesMut::with_capacity(CHUNK);
            }
            match ready!(poll_read_buf(Pin::new(file), cx, &mut this.buf)) {
                Ok(n) if n > 0 => {
                    let chunk = this.buf.split().freeze();
                    this.file_left = this.file_left.saturating_sub(chunk.len() as u64);
                    this.sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    return this.data(chunk);
                }
                Err(e) => {
                    this.file = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Ok(_) => {
                    this.file = None;
                    if this.file_left > 0 {
                        return Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the file became shorter while it was being uploaded",
                        ))));
                    }
                }
            }
        }
        match this.tail.take() {
            Some(tail) => this.data(tail),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body_left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.body_left)
    }
}

impl std::fmt::Debug for FileUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileUpload")
            .field("waiting_for_continue", &self.gate.is_some())
            .field("file_left", &self.file_left)
            .field("body_left", &self.body_left)
            .finish_non_exhaustive()
    }
}

/// Lets a held-back [`FileUpload`] start (on `100 Continue`). Cloneable, fires once.
#[derive(Debug, Clone)]
pub struct ContinueSignal(Arc<Mutex<Option<oneshot::Sender<()>>>>);

impl ContinueSignal {
    /// Lets the body start now.
    pub fn fire(&self) {
        let sender = match self.0.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(sender) = sender {
            let _ = sender.send(());
        }
    }
}

/// The bytes before and after the file: boundary, part headers, closing boundary.
pub fn part_frame(boundary: &str, file_name: &str) -> (Bytes, Bytes) {
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{FIELD}\"; filename=\"{}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n",
        quoted_file_name(file_name)
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    (Bytes::from(head), Bytes::from(tail))
}

/// The file name as it may stand between double quotes in a header: quotes and line
/// breaks percent-encoded (as browsers do), other control characters dropped.
fn quoted_file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '"' => out.push_str("%22"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A boundary of 128 random bits (from the standard library's randomly keyed hasher),
/// so it does not occur in any image by chance.
pub fn random_boundary() -> String {
    let mut parts = [0u64; 2];
    for (i, part) in parts.iter_mut().enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_usize(i);
        *part = hasher.finish();
    }
    format!("blynk-admin-{:016x}{:016x}", parts[0], parts[1])
}

/// The `Content-Type` header value for `boundary`.
pub fn content_type(boundary: &str) -> String {
    format!("multipart/form-data; boundary={boundary}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn collect(path: &Path, boundary: &str) -> (u64, Bytes, u64) {
        let upload = FileUpload::open(path, boundary).await.unwrap();
        let hint = upload.size_hint().exact().unwrap();
        let progress = upload.progress();
        let bytes = upload.collect().await.unwrap().to_bytes();
        (hint, bytes, progress.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn body_is_exactly_as_announced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fw \"1\".bin");
        // Several chunks plus a partial one.
        let content: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let (hint, bytes, sent) = collect(&path, "B0UND").await;
        assert_eq!(hint, bytes.len() as u64);
        assert_eq!(sent, content.len() as u64);
        let (head, tail) = part_frame("B0UND", "fw \"1\".bin");
        assert!(head.ends_with(b"\r\n\r\n"));
        assert!(
            std::str::from_utf8(&head)
                .unwrap()
                .contains("filename=\"fw %221%22.bin\"")
        );
        assert_eq!(&bytes[..head.len()], &head[..]);
        assert_eq!(&bytes[head.len()..head.len() + content.len()], &content[..]);
        assert_eq!(&bytes[head.len() + content.len()..], &tail[..]);
    }

    #[tokio::test]
    async fn multer_reads_the_file_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Template_ESP8266.ino.nodemcu.bin");
        let content: Vec<u8> = (0..100_000u32).map(|i| (i % 256) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let boundary = random_boundary();
        let (_, bytes, _) = collect(&path, &boundary).await;
        let stream = futures_util::stream::once(async move { Ok::<_, io::Error>(bytes) });
        let mut form = multer::Multipart::new(stream, boundary);
        let field = form.next_field().await.unwrap().unwrap();
        assert_eq!(field.name(), Some(FIELD));
        assert_eq!(field.file_name(), Some("Template_ESP8266.ino.nodemcu.bin"));
        assert_eq!(field.bytes().await.unwrap(), content);
        assert!(form.next_field().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn empty_file_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.bin");
        std::fs::write(&path, b"").unwrap();
        let (hint, bytes, sent) = collect(&path, "b").await;
        assert_eq!((hint, sent), (bytes.len() as u64, 0));
        assert!(
            FileUpload::open(&dir.path().join("nope"), "b")
                .await
                .is_err()
        );
        assert!(FileUpload::open(dir.path(), "b").await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn held_back_until_continue_or_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fw.bin");
        std::fs::write(&path, b"firmware").unwrap();
        let mut upload = FileUpload::open(&path, "b").await.unwrap();
        let signal = upload.wait_for_continue(Duration::from_secs(5));
        let mut upload = std::pin::pin!(upload);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(upload.as_mut().poll_frame(&mut cx).is_pending());
        signal.fire();
        signal.fire(); // a second 100 is harmless
        let first = upload.as_mut().frame().await.unwrap().unwrap();
        assert!(first.data_ref().unwrap().starts_with(b"--b\r\n"));

        // Without a signal, the body starts after the wait.
        let mut upload = FileUpload::open(&path, "b").await.unwrap();
        let _unfired = upload.wait_for_continue(Duration::from_secs(1));
        let started = tokio::time::Instant::now();
        let bytes = upload.collect().await.unwrap().to_bytes();
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert!(bytes.windows(8).any(|w| w == b"firmware"));
    }

    #[test]
    fn boundaries_differ() {
        let a = random_boundary();
        assert_ne!(a, random_boundary());
        assert!(a.len() <= 70, "RFC 2046 limit");
        assert_eq!(content_type("x"), "multipart/form-data; boundary=x");
    }
}
