//! First-bytes protocol detection and an IO wrapper that replays the sniffed bytes.

use bytes::{Buf, Bytes};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes needed before deciding (a Blynk header is 5 bytes; HTTP methods need 4).
pub const SNIFF_LEN: usize = 5;

/// HTTP method prefixes recognised on the first 4 bytes (as the legacy server does).
const HTTP_PREFIXES: [&[u8; 4]; 9] = [
    b"GET ", b"POST", b"PUT ", b"HEAD", b"OPTI", b"PATC", b"DELE", b"TRAC", b"CONN",
];

/// What a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.x.
    Http,
    /// The Blynk hardware protocol (everything that is not HTTP).
    Hardware,
}

/// Classifies a connection from its first bytes (at least 4 needed to say HTTP).
pub fn detect(first: &[u8]) -> Protocol {
    match first.get(..4) {
        Some(prefix) if HTTP_PREFIXES.iter().any(|p| &p[..] == prefix) => Protocol::Http,
        _ => Protocol::Hardware,
    }
}

/// An IO object that yields `prefix` before reading from `inner`; writes go to `inner`.
#[derive(Debug)]
pub struct Rewind<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> Rewind<S> {
    /// Wraps `inner`, replaying `prefix` first.
    pub fn new(prefix: Bytes, inner: S) -> Self {
        Self { prefix, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    #[test]
    fn detection() {
        for http in [
            &b"GET / HTTP/1.1"[..],
            b"POST /x",
            b"DELETE /a",
            b"OPTIONS *",
            b"HEAD /",
        ] {
            assert_eq!(detect(http), Protocol::Http, "{http:?}");
        }
        for hw in [
            &b"\x02\x00\x01\x00\x20"[..],
            b"\x1d\x00\x01\x00\x20",
            b"get /",
            b"GE",
        ] {
            assert_eq!(detect(hw), Protocol::Hardware, "{hw:?}");
        }
    }

    #[tokio::test]
    async fn rewind_replays_prefix() {
        let inner: &[u8] = b" world";
        let mut io = Rewind::new(Bytes::from_static(b"hello"), inner);
        let mut out = String::new();
        io.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
    }
}
