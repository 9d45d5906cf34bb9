//! A small HTTP/1.1 client for the admin API: one connection per request (TCP, then TLS
//! for `https://`), Basic auth on every request, and the server's error bodies turned
//! into [`Error`]s.

use crate::early_close::KeepReading;
use crate::error::{Error, Result};
use crate::multipart::ContinueSignal;
use crate::tls::{self, Trust};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Time allowed for the TCP connect and for the TLS handshake, each.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body read.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// Where the server is and how to talk to it.
#[derive(Debug, Clone)]
pub struct Client {
    host: String,
    port: u16,
    /// Path prefix from the `--server` URL (usually empty).
    prefix: String,
    /// `None` for `http://`.
    tls: Option<Arc<rustls::ClientConfig>>,
    authorization: HeaderValue,
}

/// A complete response.
#[derive(Debug)]
pub struct Reply {
    /// The body (of a success status: error statuses become [`Error`]s).
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::BadResponse(format!(
                "invalid JSON ({e}): {}",
                one_line(&String::from_utf8_lossy(&self.body), 200)
            ))
        })
    }
}

impl Client {
    /// A client for `server` (`https://host[:port][/prefix]`) with `EMAIL:PASS`.
    pub fn new(server: &str, user_pass: &str, trust: &Trust<'_>) -> Result<Client> {
        let uri: Uri = server
            .parse()
            .map_err(|e| Error::Usage(format!("invalid --server URL `{server}`: {e}")))?;
        let tls = match uri.scheme_str() {
            Some("https") => Some(tls::client_config(trust)?),
            Some("http") => None,
            _ => {
                return Err(Error::Usage(format!(
                    "invalid --server URL `{server}`: it must start with https:// (or http://)"
                )));
            }
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::Usage(format!("invalid --server URL `{server}`: no host")))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if tls.is_some() { 443 } else { 80 });
        let prefix = uri.path().trim_end_matches('/').to_owned();
        if uri.query().is_some() {
            return Err(Error::Usage(format!(
                "invalid --server URL `{server}`: no query allowed"
            )));
        }
        Ok(Client {
            host,
            port,
            prefix,
            tls,
            authorization: basic_auth(user_pass)?,
        })
    }

    /// `host:port` for messages.
    pub fn server_name(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Sends a request without a body.
    pub async fn get(&self, path_and_query: &str) -> Result<Reply> {
        self.send(
            Method::GET,
            path_and_query,
            None,
            Full::new(Bytes::new()),
            None,
        )
        .await
    }

    /// Sends a `DELETE`.
    pub async fn delete(&self, path: &str) -> Result<Reply> {
        self.send(Method::DELETE, path, None, Full::new(Bytes::new()), None)
            .await
    }

    /// Sends a JSON body.
    pub async fn post_json(&self, path: &str, value: &serde_json::Value) -> Result<Reply> {
        let body = Full::new(Bytes::from(value.to_string()));
        self.send(Method::POST, path, Some("application/json"), body, None)
            .await
    }

    /// Sends `body` with `content_type`, a `Content-Length` from the body's exact size
    /// hint, and returns the reply, or the server's error as an [`Error`].
    ///
    /// With `expect_continue`, the request carries `Expect: 100-continue` and the signal
    /// fires when the server answers `100 Continue` (see [`crate::multipart`]).
    pub async fn send<B>(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: B,
        expect_continue: Option<ContinueSignal>,
    ) -> Result<Reply>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let uri = format!("{}{}", self.prefix, path_and_query);
        let mut builder = Request::builder()
            .method(method)
            .uri(&uri)
            .header(header::HOST, self.host_header())
            .header(header::AUTHORIZATION, self.authorization.clone())
            .header(
                header::USER_AGENT,
                concat!("blynk-admin/", env!("CARGO_PKG_VERSION")),
            )
            .header(header::ACCEPT, "application/json, text/plain");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        if let Some(len) = http_body::Body::size_hint(&body).exact() {
            if len > 0 || content_type.is_some() {
                builder = builder.header(header::CONTENT_LENGTH, len);
            }
        }
        if expect_continue.is_some() {
            builder = builder.header(header::EXPECT, "100-continue");
        }
        let mut request = builder
            .body(body)
            .map_err(|e| Error::Usage(format!("cannot build a request for `{uri}`: {e}")))?;
        if let Some(signal) = expect_continue {
            hyper::ext::on_informational(&mut request, move |response| {
                if response.status() == StatusCode::CONTINUE {
                    signal.fire();
                }
            });
        }

        let tcp = self.connect_tcp().await?;
        let peer_gone = tcp.peer_gone();
        let result = match &self.tls {
            None => self.exchange(tcp, request).await,
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| Error::Usage(format!("invalid host `{}`: {e}", self.host)))?;
                let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
                    .await
                    .map_err(|_| self.connect_error("TLS handshake timed out".into()))?
                    .map_err(|e| tls::handshake_error(&self.server_name(), &e))?;
                self.exchange(stream, request).await
            }
        };
        match result {
            Err(Error::Connect { server, reason }) if peer_gone.load(Ordering::Relaxed) => {
                Err(Error::Connect {
                    server,
                    reason: format!(
                        "the server closed the connection while the request was being sent, \
                         without an answer ({reason})"
                    ),
                })
            }
            other => other,
        }
    }

    fn host_header(&self) -> String {
        let default = if self.tls.is_some() { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    fn connect_error(&self, reason: String) -> Error {
        Error::Connect {
            server: self.server_name(),
            reason,
        }
    }

    async fn connect_tcp(&self) -> Result<KeepReading<TcpStream>> {
        let connect = TcpStream::connect((self.host.as_str(), self.port));
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| self.connect_error("connect timed out".into()))?
            .map_err(|e| {
                let hint = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    " (is the server running, and is this its HTTPS port?)"
                } else {
                    ""
                };
                self.connect_error(format!("{e}{hint}"))
            })?;
        // Requests are small or streamed; don't hold back the last segment.
        let _ = tcp.set_nodelay(true);
        Ok(KeepReading::new(tcp))
    }

    /// One request/response on a fresh connection.
    async fn exchange<S, B>(&self, stream: S, request: Request<B>) -> Result<Reply>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.connect_error(e.to_string()))?;
        let driver = tokio::spawn(connection);
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| self.connect_error(describe_hyper(&e)))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = Limited::new(response.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| self.connect_error(format!("reading the response failed: {e}")))?
            .to_bytes();
        drop(sender);
        driver.abort();
        if status.is_success() {
            return Ok(Reply { body });
        }
        let message = error_message(status, &content_type, &body);
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Auth {
                status: status.as_u16(),
                message,
            },
            _ => Error::Rejected {
                status: status.as_u16(),
                message,
            },
        })
    }
}

/// The `Authorization` value for `EMAIL:PASS` (the password is everything after the
/// first colon).
fn basic_auth(user_pass: &str) -> Result<HeaderValue> {
    let Some((user, _pass)) = user_pass.split_once(':') else {
        return Err(Error::Usage(
            "--user-pass (or BLYNK_ADMIN) must be EMAIL:PASS".into(),
        ));
    };
    if user.is_empty() {
        return Err(Error::Usage(
            "--user-pass (or BLYNK_ADMIN) has an empty e-mail".into(),
        ));
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(user_pass);
    HeaderValue::from_str(&format!("Basic {encoded}"))
        .map_err(|e| Error::Usage(format!("unusable credentials: {e}")))
}

/// The server's message from an error body: `{"error": ...}` for the registry API,
/// the plain text for the OTA API, the status's reason when the body is empty.
pub fn error_message(status: StatusCode, content_type: &str, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if content_type.starts_with("application/json") {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
            if let Some(message) = value.get("error").and_then(|v| v.as_str()) {
                return one_line(message, 500);
            }
        }
    }
    let text = one_line(&text, 500);
    if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error without a message")
            .to_owned()
    } else {
        text
    }
}

/// Collapses whitespace runs to one space and cuts to `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() > max {
        let cut: String = joined.chars().take(max).collect();
        format!("{cut}...")
    } else {
        joined
    }
}

fn describe_hyper(e: &hyper::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Percent-encodes a query value or path segment (everything but unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path?k=v&...` with encoded values; pairs with `None` values are left out.
pub fn with_query(path: &str, pairs: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        let c = Client::new("https://localhost:9443", "a@b:c", &Trust::Insecure).unwrap();
        assert_eq!(c.server_name(), "localhost:9443");
        assert_eq!(c.host_header(), "localhost:9443");
        assert!(c.prefix.is_empty());
        let c = Client::new("http://[::1]/root/", "a@b:c", &Trust::Insecure).unwrap();
        assert_eq!(c.server_name(), "[::1]:80");
        assert_eq!(c.host_header(), "[::1]");
        assert_eq!(c.prefix, "/root");
        for bad in [
            "localhost:9443",
            "ftp://x",
            "https://",
            "::",
            "https://h/?q=1",
        ] {
            let e = Client::new(bad, "a@b:c", &Trust::Insecure).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}: {e}");
        }
    }

    #[test]
    fn credentials() {
        let v = basic_auth("admin@blynk.cc:admin").unwrap();
        assert_eq!(v, "Basic YWRtaW5AYmx5bmsuY2M6YWRtaW4=");
        // Colons after the first belong to the password.
        assert!(basic_auth("a@b:x:y").is_ok());
        assert_eq!(basic_auth("nocolon").unwrap_err().exit_code(), 2);
        assert_eq!(basic_auth(":pass").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn error_messages() {
        let json = br#"{"error":"token already in use","field":"token"}"#;
        assert_eq!(
            error_message(StatusCode::CONFLICT, "application/json", json),
            "token already in use"
        );
        assert_eq!(
            error_message(
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                b"Invalid token."
            ),
            "Invalid token."
        );
        assert_eq!(error_message(StatusCode::NOT_FOUND, "", b""), "Not Found");
        assert_eq!(one_line("a\r\n  b\tc", 10), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc...");
    }

    /// What goes over the wire for an upload: exact `Content-Length` (not chunked),
    /// `Expect: 100-continue`, no body byte before the `100 Continue`, then the whole body.
    #[tokio::test]
    async fn upload_wire_format() {
        use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fw.bin");
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 256) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut stream = tokio::io::BufReader::new(stream);
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                stream.read_line(&mut line).await.unwrap();
                if line == "\r\n" {
                    break;
                }
                head.push(line.trim_end().to_ascii_lowercase());
            }
            // Nothing of the body arrives before the 100.
            let mut probe = [0u8; 1];
            let early = tokio::time::timeout(
                std::time::Duration::from_millis(100),
                stream.read(&mut probe),
            )
            .await;
            assert!(early.is_err(), "body sent before 100 Continue");
            stream
                .get_mut()
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .unwrap();
            let len: usize = head
                .iter()
                .find_map(|h| h.strip_prefix("content-length: "))
                .unwrap()
                .parse()
                .unwrap();
            let mut body = vec![0u8; len];
            stream.read_exact(&mut body).await.unwrap();
            let reply = b"{\"ok\":true}";
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                reply.len()
            );
            let inner = stream.get_mut();
            inner.write_all(response.as_bytes()).await.unwrap();
            inner.write_all(reply).await.unwrap();
            (head, body)
        });
        let client = Client::new(
            &format!("http://127.0.0.1:{port}"),
            "admin@blynk.cc:admin",
            &Trust::Insecure,
        )
        .unwrap();
        let mut upload = crate::multipart::FileUpload::open(&path, "BOUNDARY")
            .await
            .unwrap();
        let signal = upload.wait_for_continue(std::time::Duration::from_secs(30));
        let reply = client
            .send(
                Method::POST,
                "/admin/ota/start?token=t",
                Some("multipart/form-data; boundary=BOUNDARY"),
                upload,
                Some(signal),
            )
            .await
            .unwrap();
        assert_eq!(reply.json().unwrap()["ok"], true);
        let (head, body) = server.await.unwrap();
        assert_eq!(head[0], "post /admin/ota/start?token=t http/1.1");
        assert!(
            head.contains(&"expect: 100-continue".to_owned()),
            "{head:?}"
        );
        assert!(head.contains(&"authorization: basic ywrtaw5aymx5bmsuy2m6ywrtaw4=".to_owned()));
        assert!(
            !head.iter().any(|h| h.starts_with("transfer-encoding")),
            "{head:?}"
        );
        let (part_head, tail) = crate::multipart::part_frame("BOUNDARY", "fw.bin");
        assert_eq!(body.len(), part_head.len() + content.len() + tail.len());
        assert_eq!(
            &body[part_head.len()..part_head.len() + content.len()],
            &content[..]
        );
    }

    proptest::proptest! {
        /// Encoded values hold only unreserved characters and escapes, and decode back.
        #[test]
        fn encoding_round_trips(value in "\\PC{0,40}") {
            let encoded = encode(&value);
            proptest::prop_assert!(encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
            let mut decoded = Vec::new();
            let mut bytes = encoded.bytes();
            while let Some(b) = bytes.next() {
                if b == b'%' {
                    let hex: String = bytes.by_ref().take(2).map(char::from).collect();
                    decoded.push(u8::from_str_radix(&hex, 16).unwrap());
                } else {
                    decoded.push(b);
                }
            }
            proptest::prop_assert_eq!(String::from_utf8(decoded).unwrap(), value);
        }

        /// Whatever the server sends, the message is one line and never panics.
        #[test]
        fn error_messages_are_one_line(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            json in proptest::prelude::any::<bool>(),
        ) {
            let content_type = if json { "application/json" } else { "text/plain" };
            let message = error_message(StatusCode::BAD_REQUEST, content_type, &body);
            proptest::prop_assert!(!message.contains('\n') && !message.contains('\r'));
            proptest::prop_assert!(!message.is_empty());
        }

        /// Any `--server` text gives a client or a usage error, never a panic.
        #[test]
        fn server_urls_never_panic(url in "(https?://)?\\PC{0,30}") {
            if let Err(e) = Client::new(&url, "a@b:c", &Trust::Insecure) {
                proptest::prop_assert_eq!(e.exit_code(), 2);
            }
        }
    }

    #[test]
    fn query_encoding() {
        assert_eq!(
            with_query(
                "/admin/ota/start",
                &[
                    ("user", Some("pupkin@gmail.com".into())),
                    ("project", Some("my home&x".into())),
                    ("token", None),
                ]
            ),
            "/admin/ota/start?user=pupkin%40gmail.com&project=my%20home%26x"
        );
        assert_eq!(with_query("/p", &[("a", None)]), "/p");
        assert_eq!(encode("ü/"), "%C3%BC%2F");
    }
}
