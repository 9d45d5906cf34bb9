//! A small client of the server's admin API (HTTPS, Basic auth, keep-alive): creating
//! devices, starting and watching OTA campaigns.

use crate::SimError;
use crate::net::{Tls, connect_from};
use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// How long one admin request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the admin API is and who we are.
#[derive(Debug, Clone)]
pub struct AdminTarget {
    /// The server's HTTPS address.
    pub addr: SocketAddr,
    /// TLS trust for the server's certificate.
    pub tls: Tls,
    /// Admin e-mail.
    pub user: String,
    /// Admin password.
    pub pass: String,
}

/// One keep-alive HTTPS connection to the admin API.
pub struct AdminClient {
    target: AdminTarget,
    auth: String,
    sender: SendRequest<Full<Bytes>>,
}

/// A response: status and body.
#[derive(Debug, Clone)]
pub struct AdminResponse {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Bytes,
}

impl AdminResponse {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl AdminClient {
    /// Connects (TCP + TLS + HTTP/1.1 handshake).
    pub async fn connect(target: &AdminTarget) -> Result<AdminClient, SimError> {
        use base64::Engine as _;
        let sender = handshake(target).await?;
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", target.user, target.pass))
        );
        Ok(AdminClient {
            target: target.clone(),
            auth,
            sender,
        })
    }

    /// Sends one request; reconnects once if the connection was closed meanwhile.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<AdminResponse, SimError> {
        let what = format!("{method} {path}");
        if self.sender.is_closed() {
            self.sender = handshake(&self.target).await?;
        }
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "localhost")
            .header(header::AUTHORIZATION, &self.auth);
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        let req = builder.body(Full::new(body)).map_err(|e| SimError::Http {
            what: what.clone(),
            reason: e.to_string(),
        })?;
        let http_err = |reason: String| SimError::Http {
            what: what.clone(),
            reason,
        };
        let exchange = async {
            self.sender
                .ready()
                .await
                .map_err(|e| http_err(e.to_string()))?;
            let response = self
                .sender
                .send_request(req)
                .await
                .map_err(|e| http_err(e.to_string()))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| http_err(e.to_string()))?
                .to_bytes();
            Ok::<_, SimError>(AdminResponse { status, body })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| http_err("timed out".to_owned()))?
    }

    /// `POST /admin/devices`; returns the new device's token.
    pub async fn create_device(
        &mut self,
        user: &str,
        project: &str,
        name: &str,
    ) -> Result<String, SimError> {
        let body = serde_json::json!({"user": user, "project": project, "name": name}).to_string();
        let r = self
            .request(
                Method::POST,
                "/admin/devices",
                Some("application/json"),
                Bytes::from(body),
            )
            .await?;
        let json = expect_json("POST /admin/devices", 201, &r)?;
        json["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SimError::Admin {
                what: "POST /admin/devices".into(),
                status: r.status,
                body: "no token in the answer".into(),
            })
    }

    /// `POST /admin/ota/start?<query>` with `image` as the multipart file part; returns
    /// the server's JSON answer.
    pub async fn ota_start(
        &mut self,
        query: &str,
        file_name: &str,
        image: &[u8],
    ) -> Result<Value, SimError> {
        let boundary = "blynk-sim-boundary-7d1a9c";
        let mut body = Vec::with_capacity(image.len() + 256);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(image);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let path = if query.is_empty() {
            "/admin/ota/start".to_owned()
        } else {
            format!("/admin/ota/start?{query}")
        };
        let r = self
            .request(
                Method::POST,
                &path,
                Some(&format!("multipart/form-data; boundary={boundary}")),
                Bytes::from(body),
            )
            .await?;
        expect_json(&format!("POST {path}"), 200, &r)
    }

    /// `GET /admin/ota/status?campaign=<id>`.
    pub async fn ota_status(&mut self, campaign: u64) -> Result<Value, SimError> {
        let path = format!("/admin/ota/status?campaign={campaign}");
        let r = self.request(Method::GET, &path, None, Bytes::new()).await?;
        expect_json(&format!("GET {path}"), 200, &r)
    }
}

async fn handshake(target: &AdminTarget) -> Result<SendRequest<Full<Bytes>>, SimError> {
    let tcp = connect_from(target.addr, Ipv4Addr::UNSPECIFIED)
        .await
        .map_err(|e| SimError::io(format!("admin connect {}", target.addr), e))?;
    let tls = target
        .tls
        .connect(tcp)
        .await
        .map_err(|e| SimError::io(format!("admin TLS {}", target.addr), e))?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| SimError::Http {
            what: "handshake".into(),
            reason: e.to_string(),
        })?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn expect_json(what: &str, status: u16, r: &AdminResponse) -> Result<Value, SimError> {
    if r.status != status {
        return Err(SimError::Admin {
            what: what.to_owned(),
            status: r.status,
            body: r.text(),
        });
    }
    serde_json::from_slice(&r.body).map_err(|e| SimError::Admin {
        what: what.to_owned(),
        status: r.status,
        body: format!("not JSON ({e}): {}", r.text()),
    })
}

/// Creates `count` devices with `connections` parallel admin connections; device `i`
/// belongs to user `sim{i % users}@sim.io`, project `fleet`, name `dev{i}`. Tokens come
/// back in index order.
pub async fn create_devices(
    target: &AdminTarget,
    count: u64,
    users: u64,
    connections: u64,
) -> Result<Vec<String>, SimError> {
    let connections = connections.clamp(1, count.max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let target = target.clone();
        tasks.spawn(async move {
            let mut client = AdminClient::connect(&target).await?;
            let mut out = Vec::new();
            let mut i = c;
            while i < count {
                let user = format!("sim{}@sim.io", i % users.max(1));
                let token = client
                    .create_device(&user, "fleet", &format!("dev{i}"))
                    .await?;
                out.push((i, token));
                i += connections;
            }
            Ok::<_, SimError>(out)
        });
    }
    let mut all = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    while let Some(joined) = tasks.join_next().await {
        let part = joined.map_err(|e| SimError::Http {
            what: "create devices".into(),
            reason: e.to_string(),
        })??;
        all.extend(part);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}
