//! Every byte fixture in `fixtures/proto/` decodes to exactly the documented messages.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use blynk_proto::{
    Command, Decoder, HardwareInfo, Internal, LoginKind, Message, ProtoError, Status,
};
use bytes::{Bytes, BytesMut};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/proto/",
            $name
        ))
    };
}

const TOKEN: &[u8] = b"abcdefghijklmnopqrstuvwxyz012345";

/// Decodes the whole fixture, asserting nothing is left over.
fn decode_all(bytes: &[u8]) -> Vec<Message> {
    decode_all_with(Decoder::new(), bytes)
}

fn decode_all_with(decoder: Decoder, bytes: &[u8]) -> Vec<Message> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(m) = decoder.decode(&mut buf).unwrap() {
        out.push(m);
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    out
}

/// Re-encodes the messages and compares with the fixture (for fixtures without a
/// trailing NUL or quirk, the encoder reproduces the wire bytes exactly).
fn assert_reencodes(messages: &[Message], bytes: &[u8]) {
    let mut out = BytesMut::new();
    for m in messages {
        m.encode(&mut out).unwrap();
    }
    assert_eq!(&out[..], bytes);
}

fn info_of(m: &Message, id: u16) -> &HardwareInfo {
    match m {
        Message::Internal {
            id: got,
            internal: Internal::Info(info),
        } if *got == id => info,
        other => panic!("expected info with id {id}, got {other:?}"),
    }
}

fn pairs(info: &HardwareInfo) -> Vec<(&str, &str)> {
    info.pairs()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn assert_login(m: &Message, kind: LoginKind) {
    assert_eq!(
        m,
        &Message::Login {
            id: 1,
            kind,
            token: Bytes::from_static(TOKEN)
        }
    );
    assert_eq!(
        m.command().code(),
        if kind == LoginKind::Login { 2 } else { 29 }
    );
}

#[test]
fn cpp_linux_login_and_info() {
    let bytes = fixture!("cpp-linux-login-info.bin");
    assert_eq!(bytes.len(), 37 + 135);
    let msgs = decode_all(bytes);
    assert_eq!(msgs.len(), 2);
    assert_login(&msgs[0], LoginKind::HwLogin);
    assert_eq!(msgs[1].command(), Command::Internal);
    let info = info_of(&msgs[1], 2);
    assert_eq!(
        pairs(info),
        [
            ("ver", "1.4.0"),
            ("h-beat", "40"),
            ("buff-in", "4096"),
            ("dev", "Linux"),
            ("fw-type", "TMPL12345678"),
            ("fw", "0.1.0"),
            ("build", "Dec  4 2026 14:51:12"),
            ("conn", "Socket"),
            ("tmpl", "TMPL12345678"),
        ]
    );
    assert_eq!(info.firmware_version(), Some("0.1.0"));
    assert_eq!(info.library_version(), Some("1.4.0"));
    assert_eq!(info.build(), Some("Dec  4 2026 14:51:12"));
    assert_eq!(info.board(), Some("Linux"));
    assert_eq!(info.fw_type(), Some("TMPL12345678"));
    assert_eq!(info.template(), Some("TMPL12345678"));
    assert_eq!(info.heartbeat(), Some(40));
    assert_eq!(info.buff_in(), 4096);
    // The wire body ends with a NUL; the encoder writes none, so it is one byte shorter.
    assert_eq!(msgs[1].body_len(), 130 - 1);
}

#[test]
fn esp8266_1_4_info() {
    let bytes = fixture!("esp8266-1.4-info.bin");
    assert_eq!(bytes.len(), 127);
    let msgs = decode_all(bytes);
    assert_eq!(msgs.len(), 1);
    let info = info_of(&msgs[0], 2);
    assert_eq!(
        pairs(info),
        [
            ("mcu", "0.1.0"),
            ("fw-type", "TMPL12345678"),
            ("build", "Dec  4 2026 15:03:23"),
            ("blynk", "1.4.0"),
            ("h-beat", "40"),
            ("buff-in", "1024"),
            ("dev", "ESP8266"),
            ("tmpl", "TMPL12345678"),
        ]
    );
    assert_eq!(info.firmware_version(), Some("0.1.0"));
    assert_eq!(info.library_version(), Some("1.4.0"));
    assert_eq!(info.build(), Some("Dec  4 2026 15:03:23"));
    assert_eq!(info.board(), Some("ESP8266"));
    assert_eq!(info.fw_type(), Some("TMPL12345678"));
    assert_eq!(info.template(), Some("TMPL12345678"));
    assert_eq!(info.heartbeat(), Some(40));
    assert_eq!(info.buff_in(), 1024);
    assert_reencodes(&msgs, bytes);
}

#[test]
fn blynklib_login_and_info() {
    let bytes = fixture!("blynklib-login-info.bin");
    let msgs = decode_all(bytes);
    assert_eq!(msgs.len(), 2);
    assert_login(&msgs[0], LoginKind::Login);
    let info = info_of(&msgs[1], 2);
    assert_eq!(
        pairs(info),
        [
            ("ver", "0.2.6"),
            ("buff-in", "1024"),
            ("h-beat", "10"),
            ("dev", "python")
        ]
    );
    assert_eq!(info.firmware_version(), None);
    assert_eq!(info.library_version(), Some("0.2.6"));
    assert_eq!(info.build(), None);
    assert_eq!(info.board(), Some("python"));
    assert_eq!(info.fw_type(), None);
    assert_eq!(info.template(), None);
    assert_eq!(info.heartbeat(), Some(10));
    assert_eq!(info.buff_in(), 1024);
    assert_eq!(msgs[1].body_len(), 43);
    assert_reencodes(&msgs, bytes);
}

#[test]
fn ota_command() {
    let bytes = fixture!("ota-command.bin");
    assert_eq!(&bytes[..5], [0x11, 0x1e, 0x61, 0x00, 0x36]);
    let msgs = decode_all(bytes);
    assert_eq!(
        msgs,
        [Message::Internal {
            id: 7777,
            internal: Internal::Ota {
                url: Bytes::from_static(b"http://127.0.0.1:18080/static/ota/firmware_ota.bin")
            },
        }]
    );
    assert_eq!(msgs[0].body_len(), 54);
    assert_reencodes(
        &[Message::ota(
            7777,
            "http://127.0.0.1:18080/static/ota/firmware_ota.bin",
        )],
        bytes,
    );
}

#[test]
fn responses() {
    let bytes = fixture!("responses.bin");
    let msgs = decode_all(bytes);
    assert_eq!(
        msgs,
        [
            Message::Response {
                id: 1,
                status: Status::Ok
            },
            Message::Response {
                id: 101,
                status: Status::Ok
            },
            Message::Response {
                id: 1,
                status: Status::InvalidToken
            },
        ]
    );
    assert!(
        msgs.iter()
            .all(|m| m.command() == Command::Response && m.body_len() == 0)
    );
    assert_reencodes(&msgs, bytes);
}

/// The documented behaviour (crate docs, `response` module): by default the blynklib
/// reply is one 8-byte RESPONSE with status 200; with `text_status(false)` it is a
/// RESPONSE with status 3 followed by the 3 stray bytes `200`, which then wait as an
/// incomplete header.
#[test]
fn blynklib_malformed_ping_reply() {
    let bytes = fixture!("blynklib-ping-reply.bin");
    assert_eq!(bytes, &[0x00, 0x00, 0x65, 0x00, 0x03, 0x32, 0x30, 0x30]);
    assert_eq!(
        decode_all(bytes),
        [Message::Response {
            id: 101,
            status: Status::Ok
        }]
    );

    let strict = Decoder::new().text_status(false);
    let mut buf = BytesMut::from(&bytes[..]);
    assert_eq!(
        strict.decode(&mut buf).unwrap(),
        Some(Message::Response {
            id: 101,
            status: Status::NotRegistered
        })
    );
    assert_eq!(&buf[..], b"200");
    assert_eq!(strict.decode(&mut buf).unwrap(), None);
    assert_eq!(strict.needed(&buf), 2);
}

#[test]
fn hardware_virtual_write() {
    let bytes = fixture!("hardware-vw.bin");
    let msgs = decode_all(bytes);
    assert_eq!(
        msgs,
        [Message::Hardware {
            id: 3,
            body: Bytes::from_static(b"vw\x000\x0010")
        }]
    );
    assert_eq!(
        msgs[0].fields().collect::<Vec<_>>(),
        [&b"vw"[..], b"0", b"10"]
    );
    assert_reencodes(&msgs, bytes);
}

#[test]
fn linux_session_client_to_server() {
    let bytes = fixture!("linux-session-c2s.bin");
    let msgs = decode_all(bytes);
    assert_eq!(msgs.len(), 4);
    assert_login(&msgs[0], LoginKind::HwLogin);
    assert_eq!(info_of(&msgs[1], 2).firmware_version(), Some("0.1.0"));
    assert_eq!(msgs[2], Message::ok(101));
    assert_eq!(msgs[3], Message::hardware(3, &b"vw\x000\x0010"[..]));
}

#[test]
fn linux_session_server_to_client() {
    let bytes = fixture!("linux-session-s2c.bin");
    let msgs = decode_all(bytes);
    assert_eq!(
        msgs,
        [
            Message::ok(1),
            Message::ota(100, "http://127.0.0.1:18081/ota/fw.bin?token=abc"),
            Message::ping(101),
            Message::hardware(102, &b"vw\x001\x00hello"[..]),
        ]
    );
    assert_reencodes(&msgs, bytes);
}

/// Every fixture, cut at every position, decodes to the same messages once complete,
/// and a limit below a frame's body is reported without consuming anything.
#[test]
fn every_fixture_survives_partial_reads_and_tight_limits() {
    let all: [&[u8]; 9] = [
        fixture!("cpp-linux-login-info.bin"),
        fixture!("esp8266-1.4-info.bin"),
        fixture!("blynklib-login-info.bin"),
        fixture!("ota-command.bin"),
        fixture!("responses.bin"),
        fixture!("blynklib-ping-reply.bin"),
        fixture!("hardware-vw.bin"),
        fixture!("linux-session-c2s.bin"),
        fixture!("linux-session-s2c.bin"),
    ];
    let decoder = Decoder::new();
    for bytes in all {
        let expected = decode_all(bytes);
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            let mut got = Vec::new();
            while let Some(m) = decoder.decode(&mut buf).unwrap() {
                got.push(m);
            }
            assert!(decoder.needed(&buf) > 0);
            buf.extend_from_slice(&bytes[cut..]);
            while let Some(m) = decoder.decode(&mut buf).unwrap() {
                got.push(m);
            }
            assert_eq!(got, expected, "cut at {cut}");
        }
    }
    let mut buf = BytesMut::from(&fixture!("esp8266-1.4-info.bin")[..]);
    let err = Decoder::with_max_body(121).decode(&mut buf).unwrap_err();
    assert!(matches!(
        err,
        ProtoError::BodyTooLarge { len: 122, max: 121 }
    ));
    assert_eq!(buf.len(), 127);
}
