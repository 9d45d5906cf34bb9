//! Starting and stopping the server.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::limits;
use crate::listener::{Lifecycle, accept_loop};
use crate::ota::{Ota, UrlBase};
use crate::sessions::DeviceSessions;
use crate::state::{NoHooks, SessionHooks, Shared};
use crate::storage::{SqliteStorage, Store};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Accept-queue length requested for both listeners (the kernel caps it at
/// `net.core.somaxconn`).
pub const LISTEN_BACKLOG: u32 = 4096;

/// A running server: bound addresses, shared state and the way to stop it.
#[derive(Debug)]
pub struct Server {
    http_addr: SocketAddr,
    https_addr: SocketAddr,
    fingerprint: String,
    connection_cap: usize,
    shared: Arc<Shared>,
    lifecycle: Lifecycle,
    listeners: TaskTracker,
    ota_stop: CancellationToken,
    ota_task: tokio::task::JoinHandle<()>,
}

/// Triggers shutdown of a [`Server`] from elsewhere (signal handler, test).
#[derive(Debug, Clone)]
pub struct ShutdownHandle(CancellationToken);

impl ShutdownHandle {
    /// Asks the server to shut down; [`Server::wait`] then runs the graceful sequence.
    pub fn shutdown(&self) {
        self.0.cancel();
    }
}

impl Server {
    /// Starts with the SQLite store in the data folder and no session hooks.
    pub async fn start(config: Config) -> Result<Server> {
        Self::start_with(config, None, Arc::new(NoHooks)).await
    }

    /// Starts with an optional storage backend (default: SQLite in the data folder) and
    /// session hooks (the OTA layer plugs in here).
    pub async fn start_with(
        config: Config,
        store: Option<Store>,
        hooks: Arc<dyn SessionHooks>,
    ) -> Result<Server> {
        std::fs::create_dir_all(&config.data_folder).map_err(|source| Error::File {
            path: config.data_folder.clone(),
            source,
        })?;
        let tls = crate::tls::setup(&config)?;
        if tls.generated_now {
            tracing::info!(path = %tls.cert_path.display(), "generated a self-signed TLS certificate");
        }
        tracing::info!(fingerprint = %tls.fingerprint, path = %tls.cert_path.display(), "TLS certificate SHA-256");
        let store = match store {
            Some(store) => store,
            None => Store::new(Arc::new(SqliteStorage::open_in(&config.data_folder)?)),
        };

        let bind = |port: u16, key: &'static str| {
            let addr = SocketAddr::new(config.listen_address, port);
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            };
            socket
                .and_then(|s| {
                    // Only lets a restart reuse a port held by TIME_WAIT sockets; a port
                    // with a live listener still fails with "address in use".
                    s.set_reuseaddr(true)?;
                    s.bind(addr)?;
                    // A deep accept queue: thousands of devices reconnect at once after
                    // an outage or an OTA reboot wave; with the default 128 the kernel
                    // drops their SYNs and they retry seconds later.
                    s.listen(LISTEN_BACKLOG)
                })
                .map_err(|source| Error::Bind { key, addr, source })
        };
        let http_listener = bind(config.http_port, "http.port")?;
        let https_listener = bind(config.https_port, "https.port")?;
        let local = |l: &TcpListener, key: &'static str, port: u16| {
            l.local_addr().map_err(|source| Error::Bind {
                key,
                addr: SocketAddr::new(config.listen_address, port),
                source,
            })
        };
        let http_addr = local(&http_listener, "http.port", config.http_port)?;
        let https_addr = local(&https_listener, "https.port", config.https_port)?;

        let fd_limit = limits::open_files_limit();
        let connection_cap = limits::connection_cap(fd_limit, config.max_connections);
        tracing::info!(open_files_limit = ?fd_limit, connection_cap, "connection limit");

        if config.admin.is_default_password() {
            tracing::warn!(
                "admin.pass is the default `admin`: the admin API accepts loopback clients only; set admin.pass to open it to allowed.administrator.ips"
            );
        }
        let admin_allowlist = crate::state::effective_admin_allowlist(&config);
        let sessions = DeviceSessions::new();
        let ota_stop = CancellationToken::new();
        let (ota, ota_task) = Ota::start(
            &config.data_folder,
            config.max_firmware_size,
            store.clone(),
            Arc::clone(&sessions),
            UrlBase {
                host: config.server_host.clone(),
                http_port: http_addr.port(),
            },
            ota_stop.clone(),
        )
        .await?;
        let shared = Arc::new(Shared {
            config,
            store,
            sessions,
            hooks,
            admin_allowlist,
            ota,
        });
        let lifecycle = Lifecycle {
            stop: CancellationToken::new(),
            close_sessions: CancellationToken::new(),
            tasks: TaskTracker::new(),
            http: TaskTracker::new(),
        };
        let limit = Arc::new(Semaphore::new(connection_cap));
        let listeners = TaskTracker::new();
        let acceptor = TlsAcceptor::from(tls.server_config);
        listeners.spawn(accept_loop(
            Arc::clone(&shared),
            http_listener,
            None,
            Arc::clone(&limit),
            lifecycle.clone(),
        ));
        listeners.spawn(accept_loop(
            Arc::clone(&shared),
            https_listener,
            Some(acceptor),
            limit,
            lifecycle.clone(),
        ));
        listeners.close();
        tracing::info!(%http_addr, %https_addr, version = crate::VERSION, "blynk-server listening (http.port: HTTP + hardware; https.port: HTTPS + hardware over TLS)");
        Ok(Server {
            http_addr,
            https_addr,
            fingerprint: tls.fingerprint,
            connection_cap,
            shared,
            lifecycle,
            listeners,
            ota_stop,
            ota_task,
        })
    }

    /// Bound address of the plain port.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Bound address of the TLS port.
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    /// SHA-256 fingerprint of the TLS certificate in use.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The connection cap in force.
    pub fn connection_cap(&self) -> usize {
        self.connection_cap
    }

    /// Shared state (registry of live sessions, store, configuration).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A handle that starts shutdown.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.lifecycle.stop.clone())
    }

    /// Waits for a shutdown request, then shuts down gracefully.
    pub async fn wait(self) {
        self.lifecycle.stop.cancelled().await;
        self.shutdown().await;
    }

    /// Graceful shutdown: stop accepting, let HTTP requests in flight finish (within
    /// `shutdown_grace`), then close hardware sessions and wait for them (same deadline).
    pub async fn shutdown(self) {
        let grace = self.shared.config.shutdown_grace;
        self.lifecycle.stop.cancel();
        self.listeners.wait().await;
        self.lifecycle.http.close();
        if tokio::time::timeout(grace, self.lifecycle.http.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "HTTP requests still running at the shutdown deadline"
            );
        }
        self.lifecycle.close_sessions.cancel();
        self.lifecycle.tasks.close();
        if tokio::time::timeout(grace, self.lifecycle.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(?grace, "connections still open at the shutdown deadline");
        }
        self.ota_stop.cancel();
        let _ = self.ota_task.await;
        tracing::info!("blynk-server stopped");
    }
}
