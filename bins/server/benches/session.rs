//! Hardware session cost through the whole server stack (TCP loopback, sniffing, decoder,
//! session task, writer task), with client and server in one process on a 2-core machine.
//!
//! Run: `cargo bench -p blynk-server --bench session` (results: `docs/benchmarks.md`).
//!
//! * `session/ping_round_trip` — one logged-in connection: write PING, read the OK.
//! * `session/pipelined` — 2048 HARDWARE `vw` + 2048 PING frames in one write, then read
//!   the 2048 OKs (throughput of one connection; HARDWARE frames are ignored).
//! * `session/connect_login` — TCP connect, LOGIN, read the OK, close (token lookup in
//!   SQLite included).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use blynk_server::admin_auth::AdminCredentials;
use blynk_server::storage::{NewDevice, unix_now};
use blynk_server::{Config, Server};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "benchbenchbenchbenchbenchbench12";

fn frame(command: u8, id: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![command];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

async fn login(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(&frame(2, 1, TOKEN.as_bytes())).await.unwrap();
    let mut ok = [0u8; 5];
    s.read_exact(&mut ok).await.unwrap();
    assert_eq!(ok, [0, 0, 1, 0, 200]);
    s
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        http_port: 0,
        https_port: 0,
        listen_address: "127.0.0.1".parse().unwrap(),
        data_folder: dir.path().to_path_buf(),
        admin: AdminCredentials::new("admin@blynk.cc", "admin"),
        message_quota_per_second: u32::MAX,
        ..Config::default()
    };
    let server = rt.block_on(Server::start(config)).unwrap();
    server
        .shared()
        .store
        .backend()
        .create_device(
            &NewDevice {
                user: "bench@x.io".into(),
                project: "bench".into(),
                name: "bench".into(),
                token: TOKEN.into(),
            },
            unix_now(),
        )
        .unwrap();
    let addr = server.http_addr();

    let mut group = c.benchmark_group("session");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);

    let mut conn = rt.block_on(login(addr));
    let ping = frame(6, 7, b"");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ping_round_trip", |b| {
        b.iter(|| {
            rt.block_on(async {
                conn.write_all(&ping).await.unwrap();
                let mut ok = [0u8; 5];
                conn.read_exact(&mut ok).await.unwrap();
            })
        })
    });

    let mut burst = Vec::new();
    for i in 0..2048u16 {
        burst.extend(frame(20, i + 1, format!("vw\0{}\0{}", i % 8, i).as_bytes()));
        burst.extend(frame(6, i + 1, b""));
    }
    let mut oks = vec![0u8; 2048 * 5];
    group.throughput(Throughput::Elements(4096));
    group.bench_function("pipelined", |b| {
        b.iter(|| {
            rt.block_on(async {
                conn.write_all(&burst).await.unwrap();
                conn.read_exact(&mut oks).await.unwrap();
            })
        })
    });

    group.throughput(Throughput::Elements(1));
    group.bench_function("connect_login", |b| {
        b.iter(|| rt.block_on(async { drop(login(addr).await) }))
    });
    group.finish();
    drop(conn);
    rt.block_on(server.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
