//! The tokio-util adapter (feature `codec`) over an in-memory byte stream.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use blynk_proto::codec::BlynkCodec;
use blynk_proto::{Decoder, Internal, LoginKind, Message, ProtoError, Status};
use futures_util::{SinkExt, StreamExt};
use tokio_util::codec::{FramedRead, FramedWrite};

fn session() -> Vec<Message> {
    vec![
        Message::login(1, LoginKind::HwLogin, "abcdefghijklmnopqrstuvwxyz012345"),
        Message::ok(1),
        Message::ota(7777, "http://127.0.0.1:18081/ota/fw.bin?token=abc"),
        Message::ping(101),
        Message::response(101, Status::Ok),
        Message::hardware(3, &b"vw\x000\x0010"[..]),
        Message::Internal {
            id: 5,
            internal: Internal::rtc_request(),
        },
    ]
}

#[tokio::test]
async fn framed_write_then_framed_read() {
    let mut wire = Vec::new();
    {
        let mut sink = FramedWrite::new(&mut wire, BlynkCodec::new());
        for m in session() {
            sink.send(m).await.unwrap();
        }
        sink.send(&Message::ok(2)).await.unwrap();
    }
    let mut expected = session();
    expected.push(Message::ok(2));

    // A reader that hands out 3 bytes at a time exercises partial frames.
    let reader = tokio_test_reader(wire);
    let got: Vec<Message> = FramedRead::new(reader, BlynkCodec::new())
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(got, expected);
}

#[tokio::test]
async fn errors_surface_through_the_stream() {
    let wire: &[u8] = b"\x06\x00\x01\x00\x00\x14\x00\x02\x01\x00";
    let mut frames = FramedRead::new(wire, BlynkCodec::with_decoder(Decoder::with_max_body(255)));
    assert_eq!(frames.next().await.unwrap().unwrap(), Message::ping(1));
    let err = frames.next().await.unwrap().unwrap_err();
    assert!(
        matches!(err, ProtoError::BodyTooLarge { len: 256, max: 255 }),
        "{err}"
    );
}

#[tokio::test]
async fn encoder_refuses_id_zero() {
    let mut wire = Vec::new();
    let mut sink = FramedWrite::new(&mut wire, BlynkCodec::new());
    assert!(matches!(
        sink.send(Message::ok(0)).await,
        Err(ProtoError::ZeroMessageId)
    ));
}

#[tokio::test]
async fn truncated_stream_is_an_io_error() {
    let wire: &[u8] = b"\x14\x00\x03\x00\x07vw";
    let mut frames = FramedRead::new(wire, BlynkCodec::new());
    let err = frames.next().await.unwrap().unwrap_err();
    assert!(matches!(err, ProtoError::Io(_)), "{err}");
}

/// An `AsyncRead` over `bytes` that returns at most 3 bytes per read.
fn tokio_test_reader(bytes: Vec<u8>) -> impl tokio::io::AsyncRead + Unpin {
    struct Trickle(std::io::Cursor<Vec<u8>>);
    impl tokio::io::AsyncRead for Trickle {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let mut chunk = [0u8; 3];
            let want = buf.remaining().min(chunk.len());
            let n = std::io::Read::read(&mut self.0, &mut chunk[..want])?;
            buf.put_slice(&chunk[..n]);
            std::task::Poll::Ready(Ok(()))
        }
    }
    Trickle(std::io::Cursor::new(bytes))
}
