//! Helpers of the `blynk-admin` integration tests: an in-process server on port 0 with a
//! temporary data folder, the real binary run as a child process, and a raw Blynk device.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use blynk_server::admin_auth::AdminCredentials;
use blynk_server::{Config, Server};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const ADMIN: &str = "admin@blynk.cc";
pub const PASS: &str = "admin";
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Exit codes documented in `blynk-admin --help`.
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_CONNECTION: i32 = 3;
pub const EXIT_AUTH: i32 = 4;
pub const EXIT_REJECTED: i32 = 5;
pub const EXIT_FILE: i32 = 6;

pub struct TestServer {
    pub server: Server,
    pub dir: tempfile::TempDir,
}

/// A fixture image from `fixtures/firmware/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/firmware")
        .join(name)
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    start_in(tempfile::tempdir().unwrap(), tweak).await
}

/// A server on the data folder `dir` (e.g. of a server that was shut down).
pub async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let mut config = Config {
        http_port: 0,
        https_port: 0,
        listen_address: "127.0.0.1".parse().unwrap(),
        data_folder: dir.path().to_path_buf(),
        admin: AdminCredentials::new(ADMIN, PASS),
        shutdown_grace: Duration::from_secs(2),
        ..Config::default()
    };
    tweak(&mut config);
    let server = Server::start(config).await.unwrap();
    TestServer { server, dir }
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// stderr as one JSON document (`--json` errors).
    pub fn error_json(&self) -> serde_json::Value {
        serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {self:?}"))
    }

    /// Asserts success and returns self.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }

    /// Asserts exit code `code`, a single stderr line containing `text`, empty stdout.
    #[track_caller]
    pub fn fails(self, code: i32, text: &str) -> Self {
        assert_eq!(self.code, code, "{self:?}");
        assert!(self.stderr.contains(text), "{text:?} not in {self:?}");
        assert_eq!(self.stderr.trim_end().lines().count(), 1, "{self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
        self
    }
}

/// Runs `blynk-admin` with exactly `args` (and no `BLYNK_ADMIN` from the environment
/// unless `env` sets it).
pub async fn run_raw(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_blynk-admin"));
    cmd.args(args)
        .env_remove("BLYNK_ADMIN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("blynk-admin finished within 60 s")
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

impl TestServer {
    /// `https://localhost:<port>`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.server.https_addr().port())
    }

    /// The generated self-signed certificate.
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("tls").join("cert.pem")
    }

    /// Runs the binary against this server, trusting its certificate with `--ca`.
    pub async fn run(&self, args: &[&str]) -> Run {
        let url = self.url();
        let cert = self.cert();
        let mut all = vec!["--server", &url, "--ca", cert.to_str().unwrap()];
        all.extend_from_slice(args);
        run_raw(&all, &[]).await
    }

    /// `device add` in JSON mode; returns the token.
    pub async fn add_device(&self, user: &str, project: &str, name: &str) -> String {
        let r = self
            .run(&[
                "--json",
                "device",
                "add",
                "--user",
                user,
                "--project",
                project,
                "--name",
                name,
            ])
            .await
            .ok();
        r.json()["token"].as_str().unwrap().to_owned()
    }

    /// A device logged in over plain TCP that has reported `info`.
    pub async fn device_online(&self, token: &str, info: &[u8]) -> Device {
        let stream = TcpStream::connect(self.server.http_addr()).await.unwrap();
        let mut device = Device { stream };
        device.send(2, 1, token.as_bytes()).await;
        assert_eq!(device.read().await, Some((0, 1, 200, vec![])), "login");
        device.send(17, 2, info).await;
        assert_eq!(device.read().await, Some((0, 2, 200, vec![])), "info ack");
        device
    }
}

/// ESP8266-style info message with `build` and a large enough `buff-in`.
pub fn esp_info(build: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in [
        ("mcu", "1.0.0"),
        ("fw-type", "TMPL0001"),
        ("build", build),
        ("blynk", "1.3.2"),
        ("h-beat", "45"),
        ("buff-in", "1024"),
        ("dev", "ESP8266"),
    ] {
        if !body.is_empty() {
            body.push(0);
        }
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
    }
    body
}

/// A raw Blynk hardware connection.
pub struct Device {
    pub stream: TcpStream,
}

/// (command, id, length-or-status, body).
pub type Frame = (u8, u16, u16, Vec<u8>);

impl Device {
    pub async fn send(&mut self, command: u8, id: u16, body: &[u8]) {
        let mut out = vec![command];
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        out.extend_from_slice(body);
        self.stream.write_all(&out).await.unwrap();
    }

    /// The next frame, `None` on EOF.
    pub async fn read(&mut self) -> Option<Frame> {
        tokio::time::timeout(IO_TIMEOUT, async {
            let mut header = [0u8; 5];
            self.stream.read_exact(&mut header).await.ok()?;
            let command = header[0];
            let id = u16::from_be_bytes([header[1], header[2]]);
            let len = u16::from_be_bytes([header[3], header[4]]);
            let mut body = Vec::new();
            if command != 0 {
                body.resize(usize::from(len), 0);
                self.stream.read_exact(&mut body).await.ok()?;
            }
            Some((command, id, len, body))
        })
        .await
        .expect("a frame within the timeout")
    }

    /// Waits for the OTA command and returns its URL.
    pub async fn ota_url(&mut self) -> String {
        loop {
            let (command, id, _, body) = self.read().await.expect("OTA command before EOF");
            if command == 17 && id == 7777 {
                let url = body.strip_prefix(b"ota\0").expect("`ota\\0<url>`");
                return String::from_utf8(url.to_vec()).unwrap();
            }
        }
    }
}

/// Downloads `url` (`http://127.0.0.1:<port>/...`) like the ESP updater; returns the body.
pub async fn download(url: &str) -> Vec<u8> {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = TcpStream::connect(authority).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: ESP8266-http-Update\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(IO_TIMEOUT, s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    raw[split + 4..].to_vec()
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The next line of a child's output, `None` at EOF; fails after [`IO_TIMEOUT`].
pub async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut tokio::io::Lines<R>,
) -> Option<String> {
    tokio::time::timeout(IO_TIMEOUT, lines.next_line())
        .await
        .expect("a line within the timeout")
        .unwrap()
}

pub type Lines<R> = tokio::io::Lines<tokio::io::BufReader<R>>;

/// A deferred campaign for pupkin@gmail.com's devices and a `--json ota status --watch`
/// child following it: (campaign id, child, its stdout lines, its stderr lines).
pub async fn watched_campaign(
    t: &TestServer,
) -> (
    String,
    tokio::process::Child,
    Lines<tokio::process::ChildStdout>,
    Lines<tokio::process::ChildStderr>,
) {
    use tokio::io::AsyncBufReadExt as _;
    t.add_device("pupkin@gmail.com", "123", "lamp").await;
    let image = fixture("esp8266_blnkinf.bin");
    let started = t
        .run(&[
            "--json",
            "ota",
            "start",
            image.to_str().unwrap(),
            "--user",
            "pupkin@gmail.com",
        ])
        .await
        .ok()
        .json();
    let id = started["campaign"].to_string();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_blynk-admin"))
        .args([
            "--server",
            &t.url(),
            "--ca",
            t.cert().to_str().unwrap(),
            "--json",
        ])
        .args([
            "ota",
            "status",
            "--watch",
            "--interval",
            "0.1",
            "--campaign",
            &id,
        ])
        .env_remove("BLYNK_ADMIN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let err = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    (id, child, out, err)
}

/// The next stdout line as JSON, `None` at EOF.
pub async fn next_doc(out: &mut Lines<tokio::process::ChildStdout>) -> Option<serde_json::Value> {
    Some(serde_json::from_str(&next_line(out).await?).unwrap())
}
