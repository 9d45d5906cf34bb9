//! Reading a server's answer after it stopped reading the request.
//!
//! A server may answer before it has read the whole upload (413 when the image is over
//! its limit) and then close the connection. The client's next write fails (`EPIPE`,
//! `ECONNRESET`), and an HTTP client that stops at the first write error never reads the
//! answer, which is already in the socket's receive queue (Linux keeps received data
//! readable after a reset). [`KeepReading`] discards writes once the peer is gone,
//! so the HTTP client goes on to read that answer; it records that this happened, for
//! the error message when no answer comes.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream whose writes are discarded after the peer closed or reset the connection.
#[derive(Debug)]
pub struct KeepReading<S> {
    inner: S,
    peer_gone: Arc<AtomicBool>,
}

impl<S> KeepReading<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        KeepReading {
            inner,
            peer_gone: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Becomes `true` once a write failed because the peer was gone.
    pub fn peer_gone(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.peer_gone)
    }

    /// `Ready(Ok(n))` for a write error that means "the peer is gone", recording it.
    fn forgive<T>(&self, result: Poll<io::Result<T>>, pretend: T) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(Err(e)) if is_peer_gone(&e) => {
                self.peer_gone.store(true, Ordering::Relaxed);
                Poll::Ready(Ok(pretend))
            }
            other => other,
        }
    }

    fn gone(&self) -> bool {
        self.peer_gone.load(Ordering::Relaxed)
    }
}

fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for KeepReading<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for KeepReading<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.gone() {
            return Poll::Ready(Ok(buf.len()));
        }
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.forgive(result, buf.len())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.gone() {
            return Poll::Ready(Ok(()));
        }
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.forgive(result, ())
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.gone() {
            return Poll::Ready(Ok(()));
        }
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.forgive(result, ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// The server answers and closes with unread data (so the kernel resets the
    /// connection); the client's writes stop failing and the answer is still read.
    #[tokio::test]
    async fn answer_is_read_after_the_peer_reset() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut some = [0u8; 1024];
            s.read_exact(&mut some).await.unwrap();
            s.write_all(b"HTTP/1.1 413 Payload Too Large\r\n\r\n")
                .await
                .unwrap();
            // Dropping with unread data in the receive queue sends a reset.
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut stream = KeepReading::new(tcp);
        let gone = stream.peer_gone();
        stream.write_all(&[0u8; 1024]).await.unwrap();
        server.await.unwrap();
        let chunk = vec![0u8; 64 * 1024];
        // Plenty more than socket buffers: without the wrapper this fails with EPIPE.
        for _ in 0..256 {
            stream.write_all(&chunk).await.unwrap();
        }
        stream.flush().await.unwrap();
        assert!(gone.load(Ordering::Relaxed));
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        assert!(
            answer.starts_with(b"HTTP/1.1 413"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
    }
}
