//! Shared helpers of the integration tests: an in-process server on port 0 with a
//! temporary data folder, a raw HTTP/1.1 client over TLS, and raw Blynk frames.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use blynk_server::admin_auth::AdminCredentials;
use blynk_server::{Config, Server};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub const ADMIN: &str = "admin@blynk.cc";
pub const PASS: &str = "admin";
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub server: Server,
    pub dir: tempfile::TempDir,
}

/// A config for tests: ports 0, loopback, temp folder, default admin credentials.
pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        http_port: 0,
        https_port: 0,
        listen_address: "127.0.0.1".parse().unwrap(),
        data_folder: dir.to_path_buf(),
        admin: AdminCredentials::new(ADMIN, PASS),
        shutdown_grace: Duration::from_secs(2),
        ..Config::default()
    }
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    tweak(&mut config);
    let server = Server::start(config).await.unwrap();
    TestServer { server, dir }
}

impl TestServer {
    pub async fn tls(&self) -> TlsStream<TcpStream> {
        tls_connect(self.server.https_addr(), self.dir.path()).await
    }

    pub async fn plain(&self) -> TcpStream {
        TcpStream::connect(self.server.http_addr()).await.unwrap()
    }

    /// An admin request with the default credentials.
    pub async fn admin(&self, method: &str, path: &str, body: Option<&str>) -> HttpResponse {
        let auth = basic(ADMIN, PASS);
        self.request(method, path, body, Some(&auth)).await
    }

    /// A request over TLS with an optional `Authorization` value.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        auth: Option<&str>,
    ) -> HttpResponse {
        let mut stream = self.tls().await;
        http_request(&mut stream, method, path, body, auth).await
    }

    /// Creates a device and returns its token.
    pub async fn create_device(&self, user: &str, project: &str, name: &str) -> String {
        let body = format!(r#"{{"user":"{user}","project":"{project}","name":"{name}"}}"#);
        let response = self.admin("POST", "/admin/devices", Some(&body)).await;
        assert_eq!(response.status, 201, "{}", response.body);
        response.json()["token"].as_str().unwrap().to_owned()
    }

    /// The admin API's view of the device with this token.
    pub async fn device(&self, token: &str) -> serde_json::Value {
        let list = self.admin("GET", "/admin/devices", None).await.json();
        list.as_array()
            .unwrap()
            .iter()
            .find(|d| d["token"] == token)
            .cloned()
            .unwrap_or_else(|| panic!("device {token} not listed"))
    }
}

pub fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// A TLS client that trusts the server's generated certificate.
pub async fn tls_connect(
    addr: std::net::SocketAddr,
    data: &std::path::Path,
) -> TlsStream<TcpStream> {
    let pem = std::fs::read(data.join("tls").join("cert.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap()
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends one HTTP/1.1 request with `Connection: close` and reads the whole response.
pub async fn http_request<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    method: &str,
    path: &str,
    body: Option<&str>,
    auth: Option<&str>,
) -> HttpResponse {
    let raw = read_raw_response(stream, method, path, body, auth).await;
    parse_response(&raw).unwrap_or_else(|| panic!("bad response: {raw:?}"))
}

/// Sends a request and returns every byte the server wrote before closing.
pub async fn read_raw_response<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    method: &str,
    path: &str,
    body: Option<&str>,
    auth: Option<&str>,
) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(auth) = auth {
        req.push_str(&format!("Authorization: {auth}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // A TLS peer closing without close_notify is an error here; the bytes read count.
    let _ = tokio::time::timeout(IO_TIMEOUT, stream.read_to_end(&mut raw))
        .await
        .expect("response within the timeout");
    raw
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    })
}

// ---- raw Blynk frames ----

pub fn frame(command: u8, id: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![command];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out
}

pub fn login(id: u16, token: &str) -> Vec<u8> {
    frame(2, id, token.as_bytes())
}

pub fn hw_login(id: u16, token: &str) -> Vec<u8> {
    frame(29, id, token.as_bytes())
}

pub fn ping(id: u16) -> Vec<u8> {
    frame(6, id, b"")
}

/// `blynklib` 0.2.6's info message body.
pub const BLYNKLIB_INFO: &[u8] =
    b"ver\x000.2.6\x00buff-in\x001024\x00h-beat\x0010\x00dev\x00python";

/// RESPONSE frame bytes.
pub fn response(id: u16, status: u16) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&status.to_be_bytes());
    out
}

/// A received frame: (command, id, length-or-status, body).
pub type Frame = (u8, u16, u16, Vec<u8>);

/// Reads one frame; `None` on EOF or reset.
pub async fn read_frame<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Frame> {
    tokio::time::timeout(IO_TIMEOUT, read_frame_inner(stream))
        .await
        .expect("a frame or EOF within the timeout")
}

async fn read_frame_inner<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Frame> {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).await.ok()?;
    let command = header[0];
    let id = u16::from_be_bytes([header[1], header[2]]);
    let len = u16::from_be_bytes([header[3], header[4]]);
    let mut body = Vec::new();
    if command != 0 {
        body.resize(usize::from(len), 0);
        stream.read_exact(&mut body).await.ok()?;
    }
    Some((command, id, len, body))
}

/// Asserts the server closes the stream (EOF or reset) without sending anything more.
pub async fn assert_closed<S: AsyncRead + Unpin>(stream: &mut S) {
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut buf))
        .await
        .expect("the server should close the connection");
    match read {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("expected close, got {:?}", &buf[..n]),
    }
}

/// Asserts nothing arrives within `wait`.
pub async fn assert_silent<S: AsyncRead + Unpin>(stream: &mut S, wait: Duration) {
    let mut buf = [0u8; 64];
    if let Ok(read) = tokio::time::timeout(wait, stream.read(&mut buf)).await {
        let n = *read.as_ref().unwrap_or(&0);
        panic!("expected silence, got {read:?} {:?}", &buf[..n]);
    }
}

/// Logs in over plain TCP and returns the stream.
pub async fn logged_in_plain(server: &TestServer, token: &str) -> TcpStream {
    let mut s = server.plain().await;
    s.write_all(&login(1, token)).await.unwrap();
    assert_eq!(read_frame(&mut s).await, Some((0, 1, 200, vec![])));
    s
}

/// Polls `check` every 20 ms until it returns true; panics after 5 s with `what`.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + IO_TIMEOUT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl TestServer {
    /// Length of the JSON array an admin GET returns.
    pub async fn list_len(&self, path: &str) -> usize {
        self.admin("GET", path, None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len()
    }

    /// Creates `a@x.io/home/lamp`, logs it in over plain TCP; returns token and stream.
    pub async fn lamp_online(&self) -> (String, TcpStream) {
        let token = self.create_device("a@x.io", "home", "lamp").await;
        let stream = logged_in_plain(self, &token).await;
        (token, stream)
    }

    /// Waits until the admin API reports the device's `online` flag as `online`.
    pub async fn wait_online(&self, token: &str, online: bool) {
        eventually(&format!("device online == {online}"), || async {
            self.device(token).await["online"] == online
        })
        .await;
    }
}

// ---- OTA helpers ----

/// A firmware fixture from `<workspace>/fixtures/firmware/`.
pub fn firmware_fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/firmware")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Image with the legacy `\0build\0` marker `Aug 14 2017 20:31:49`.
pub const LEGACY_BUILD: &str = "Aug 14 2017 20:31:49";

/// A multipart/form-data body from `(field, file name, bytes)` parts.
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----blynkotatestboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (field, file, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(file) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{field}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{field}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A raw response with a binary body.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

/// Parses a whole response (head + body as sent; the connection was closed).
pub fn parse_raw(raw: &[u8]) -> RawResponse {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

/// Writes `head` (without the final blank line) and `body`, reads until close.
pub async fn raw_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    head: &str,
    body: &[u8],
) -> RawResponse {
    let mut bytes = head.as_bytes().to_vec();
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(IO_TIMEOUT, stream.read_to_end(&mut raw))
        .await
        .expect("response within the timeout");
    parse_raw(&raw)
}

impl TestServer {
    /// `POST /admin/ota/start?<query>` with one file part `upfile` / `test.bin`.
    pub async fn upload(&self, query: &str, image: &[u8]) -> RawResponse {
        let (ct, body) = multipart(&[("upfile", Some("test.bin"), image)]);
        self.post_multipart(query, &ct, &body, Some(&basic(ADMIN, PASS)))
            .await
    }

    /// `POST /admin/ota/start?<query>` with any body and content type.
    pub async fn post_multipart(
        &self,
        query: &str,
        content_type: &str,
        body: &[u8],
        auth: Option<&str>,
    ) -> RawResponse {
        let mut head = format!(
            "POST /admin/ota/start{query} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(auth) = auth {
            head.push_str(&format!("Authorization: {auth}\r\n"));
        }
        let mut stream = self.tls().await;
        raw_exchange(&mut stream, &head, body).await
    }

    /// An authenticated admin GET returning the raw response.
    pub async fn admin_get(&self, path: &str) -> RawResponse {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: {}\r\n",
            basic(ADMIN, PASS)
        );
        let mut stream = self.tls().await;
        raw_exchange(&mut stream, &head, b"").await
    }

    /// A plain-HTTP request on the http port with extra header lines.
    pub async fn http_get(&self, method: &str, path: &str, extra: &[&str]) -> RawResponse {
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for line in extra {
            head.push_str(line);
            head.push_str("\r\n");
        }
        let mut stream = self.plain().await;
        raw_exchange(&mut stream, &head, b"").await
    }

    /// `/admin/ota/status` JSON.
    pub async fn ota_status(&self) -> serde_json::Value {
        let r = self.admin_get("/admin/ota/status").await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Number of firmware blobs stored.
    pub fn blob_count(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("firmware/blobs"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
                    .count()
            })
            .unwrap_or(0)
    }
}

/// Logs in over plain TCP, sends `info` (NUL-separated pairs) with id 2 and reads its OK.
pub async fn device_with_info(server: &TestServer, token: &str, info: &str) -> TcpStream {
    let mut s = logged_in_plain(server, token).await;
    send_info(&mut s, info).await;
    s
}

/// Sends an info message (id 2; `info` uses spaces between keys and values) and reads
/// its OK.
pub async fn send_info(s: &mut TcpStream, info: &str) {
    let body = info.replace(' ', "\0").replace('~', " ");
    s.write_all(&frame(17, 2, body.as_bytes())).await.unwrap();
    assert_eq!(read_frame(s).await, Some((0, 2, 200, vec![])));
}

/// Reads the OTA command and returns its URL.
pub async fn read_ota(s: &mut TcpStream) -> String {
    let (command, id, len, body) = read_frame(s).await.expect("an OTA frame");
    assert_eq!((command, id), (17, 7777), "{body:?}");
    assert_eq!(usize::from(len), body.len());
    let url = body.strip_prefix(b"ota\0").expect("ota\\0 prefix");
    String::from_utf8(url.to_vec()).unwrap()
}

/// The path part of an `http://host:port/path` URL.
pub fn url_path(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    format!("/{}", rest.split_once('/').unwrap().1)
}

/// Legacy-style info with a build (`~` stands for a space inside a value).
pub fn info_with_build(build: &str) -> String {
    format!(
        "ver 0.3.1 fm 0.3.3 h-beat 10 buff-in 256 dev Arduino cpu ATmega328P con W5100 build {}",
        build.replace(' ', "~")
    )
}
