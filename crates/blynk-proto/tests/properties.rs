//! Property tests: encode → decode round trips for every message type, arbitrary bytes
//! never panic, and any chunking of a valid stream decodes to the same messages.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use blynk_proto::{
    Command, Decoder, HardwareInfo, Internal, LoginKind, Message, ProtoError, Status,
};
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

/// Codes that decode to a typed variant; everything else below 100 is `Raw`.
const TYPED: &[u8] = &[0, 2, 6, 15, 16, 17, 19, 20, 29, 41, 55];
const INFO_KEYS: &[&str] = &[
    "ver", "mcu", "ncp", "fw", "fw-type", "build", "blynk", "h-beat", "buff-in", "dev", "cpu",
    "con", "conn", "tmpl", "hw",
];

fn id() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn body() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from)
}

fn text() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,24}"
}

fn info() -> impl Strategy<Value = HardwareInfo> {
    (
        prop::sample::select(INFO_KEYS),
        text(),
        prop::collection::vec(("[a-z][a-z0-9-]{0,8}", text()), 0..12),
    )
        .prop_map(|(first, value, rest)| {
            HardwareInfo::from_pairs(std::iter::once((first.to_string(), value)).chain(rest))
        })
}

fn internal() -> impl Strategy<Value = Internal> {
    prop_oneof![
        info().prop_map(Internal::Info),
        body().prop_map(|url| Internal::Ota { url }),
        Just(Internal::rtc_request()),
        any::<u64>().prop_map(Internal::rtc_reply),
        body()
            .prop_map(Internal::Other)
            .prop_filter("classified as another kind", |i| {
                let mut b = BytesMut::new();
                Message::Internal {
                    id: 1,
                    internal: i.clone(),
                }
                .encode(&mut b)
                .is_ok()
                    && Internal::from_body(b.freeze().slice(5..)) == *i
            }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (id(), any::<u16>()).prop_map(|(id, s)| Message::Response {
            id,
            status: Status::from(s)
        }),
        (id(), prop::bool::ANY, body()).prop_map(|(id, hw, token)| Message::Login {
            id,
            kind: if hw {
                LoginKind::HwLogin
            } else {
                LoginKind::Login
            },
            token,
        }),
        id().prop_map(|id| Message::Ping { id }),
        (id(), internal()).prop_map(|(id, internal)| Message::Internal { id, internal }),
        (id(), body()).prop_map(|(id, body)| Message::Hardware { id, body }),
        (id(), body()).prop_map(|(id, body)| Message::HardwareSync { id, body }),
        (id(), body()).prop_map(|(id, body)| Message::Bridge { id, body }),
        (id(), body()).prop_map(|(id, body)| Message::Property { id, body }),
        (id(), body()).prop_map(|(id, body)| Message::DebugPrint { id, body }),
        (id(), "[^\u{0}]{1,40}", prop::option::of(any::<u16>())).prop_map(|(id, host, port)| {
            Message::Redirect {
                id,
                host: Bytes::from(host),
                port,
            }
        }),
        (
            id(),
            (1u8..100).prop_filter("typed code", |c| !TYPED.contains(c)),
            body()
        )
            .prop_map(|(id, code, body)| Message::Raw {
                command: Command::from(code),
                id,
                body
            }),
    ]
}

fn encode_all(messages: &[Message]) -> BytesMut {
    let mut out = BytesMut::new();
    for m in messages {
        m.encode(&mut out).unwrap();
    }
    out
}

fn drain(decoder: &Decoder, buf: &mut BytesMut, out: &mut Vec<Message>) {
    while let Some(m) = decoder.decode(buf).unwrap() {
        out.push(m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// encode → decode gives the same message, consuming exactly the encoded bytes. A
    /// PING follows each message so a status-3 RESPONSE is not held waiting for the
    /// blynklib text form (see the `response` module docs).
    #[test]
    fn round_trip(m in message()) {
        let sentinel = Message::ping(0xbeef);
        let mut buf = encode_all(&[m.clone(), sentinel.clone()]);
        prop_assert_eq!(buf.len(), m.frame_len() + 5);
        let decoder = Decoder::new();
        prop_assert_eq!(decoder.decode(&mut buf).unwrap(), Some(m.clone()));
        prop_assert_eq!(buf.len(), 5);
        prop_assert_eq!(decoder.decode(&mut buf).unwrap(), Some(sentinel));
        prop_assert!(buf.is_empty());
        // Strict decoding gives the same result for every message.
        let mut strict_buf = encode_all(std::slice::from_ref(&m));
        prop_assert_eq!(Decoder::new().text_status(false).decode(&mut strict_buf).unwrap(), Some(m));
    }

    /// Arbitrary bytes never panic (see [`check_arbitrary`]).
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        garbage in prop::collection::vec(any::<u8>(), 0..64),
        max in prop_oneof![0usize..300, Just(usize::MAX)],
        text in any::<bool>(),
    ) {
        check_arbitrary(&bytes, &garbage, Decoder::with_max_body(max).text_status(text))?;
    }

    /// Frame-shaped noise (any command, short bodies, lengths off by a little) reaches
    /// the body parsers far more often than uniform bytes do.
    #[test]
    fn frame_shaped_noise_never_panics(
        frames in prop::collection::vec(
            (0u8..110, any::<u16>(), prop::collection::vec(
                prop_oneof![Just(0u8), b'0'..=b'9', any::<u8>()], 0..40), -2i32..=2),
            0..12),
        garbage in prop::collection::vec(any::<u8>(), 0..16),
        text in any::<bool>(),
    ) {
        let mut bytes = Vec::new();
        for (command, id, body, skew) in frames {
            let len = (body.len() as i32 + skew).clamp(0, 0xffff) as u16;
            bytes.push(command);
            bytes.extend_from_slice(&id.to_be_bytes());
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(&body);
        }
        check_arbitrary(&bytes, &garbage, Decoder::with_max_body(64).text_status(text))?;
    }

    /// Any split of a valid stream into chunks decodes to the same messages.
    #[test]
    fn any_chunking_decodes_the_same(
        messages in prop::collection::vec(message(), 1..16),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..24),
    ) {
        // Terminate with a PING so a trailing status-3 RESPONSE is not held.
        let mut expected = messages;
        expected.push(Message::ping(1));
        let stream = encode_all(&expected);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.push(stream.len());
        cuts.sort_unstable();

        let decoder = Decoder::new();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut from = 0;
        for to in cuts {
            buf.extend_from_slice(&stream[from..to]);
            from = to;
            drain(&decoder, &mut buf, &mut got);
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, expected);
    }
}

/// Decodes `bytes` until it asks for more or errors. Each call either decodes
/// (consuming a prefix of at least a header), asks for more (buffer untouched, `needed` >
/// 0) or errors (buffer untouched, `needed` = 0, the limit named). Appending `garbage`
/// never changes what the front frame decodes to.
fn check_arbitrary(bytes: &[u8], garbage: &[u8], decoder: Decoder) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::from(bytes);
    loop {
        let before = buf.clone();
        let mut with_garbage = before.clone();
        with_garbage.extend_from_slice(garbage);
        match decoder.decode(&mut buf) {
            Ok(Some(m)) => {
                let consumed = before.len() - buf.len();
                prop_assert!(consumed >= 5);
                prop_assert_eq!(&before[consumed..], &buf[..]);
                let again = decoder.decode(&mut with_garbage).unwrap();
                prop_assert_eq!(again, Some(m));
                prop_assert_eq!(with_garbage.len(), buf.len() + garbage.len());
            }
            Ok(None) => {
                prop_assert_eq!(&before[..], &buf[..]);
                prop_assert!(decoder.needed(&buf) > 0);
                return Ok(());
            }
            Err(e) => {
                prop_assert_eq!(&before[..], &buf[..]);
                prop_assert_eq!(decoder.needed(&buf), 0);
                prop_assert!(!e.to_string().is_empty());
                if let ProtoError::BodyTooLarge { max, .. } = e {
                    prop_assert_eq!(max, decoder.max_body());
                }
                return Ok(());
            }
        }
    }
}

#[test]
fn byte_by_byte_feeding_of_a_mixed_stream() {
    let messages = vec![
        Message::login(1, LoginKind::HwLogin, "abcdefghijklmnopqrstuvwxyz012345"),
        Message::Internal {
            id: 2,
            internal: Internal::Info(HardwareInfo::from_pairs([("mcu", "1.0"), ("dev", "ESP32")])),
        },
        Message::response(9, 3u16),
        Message::ping(3),
        Message::hardware(4, &b"vw\x001\x00hello"[..]),
    ];
    let stream = encode_all(&messages);
    let decoder = Decoder::new();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for byte in stream.iter() {
        buf.extend_from_slice(&[*byte]);
        drain(&decoder, &mut buf, &mut got);
    }
    assert_eq!(got, messages);
}
