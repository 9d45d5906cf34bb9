//! Helpers of the simulator's integration tests: an in-process server on port 0 and
//! `RunArgs` from a command line.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use blynk_server::admin_auth::AdminCredentials;
use blynk_server::{Config, Server};
use blynk_sim::cli::{Cli, Command, RunArgs};
use clap::Parser as _;
use std::time::Duration;

pub struct TestServer {
    pub server: Server,
    pub dir: tempfile::TempDir,
}

pub async fn start() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        http_port: 0,
        https_port: 0,
        listen_address: "127.0.0.1".parse().unwrap(),
        data_folder: dir.path().to_path_buf(),
        admin: AdminCredentials::new("admin@blynk.cc", "admin"),
        shutdown_grace: Duration::from_secs(2),
        message_quota_per_second: 1_000_000,
        ..Config::default()
    };
    let server = Server::start(config).await.unwrap();
    TestServer { server, dir }
}

impl TestServer {
    /// `blynk-sim run` arguments pointing at this server (plain hardware port, admin on
    /// the TLS port, its generated certificate), followed by `extra`.
    pub fn args(&self, extra: &[&str]) -> RunArgs {
        let ca = self.dir.path().join("tls").join("cert.pem");
        let mut argv: Vec<String> = vec![
            "blynk-sim".into(),
            "run".into(),
            "--server".into(),
            self.server.http_addr().to_string(),
            "--admin".into(),
            self.server.https_addr().to_string(),
            "--ca".into(),
            ca.display().to_string(),
        ];
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        match Cli::parse_from(argv).command {
            Command::Run(a) => *a,
            other => panic!("not a run: {other:?}"),
        }
    }

    /// An admin API client for this server.
    pub async fn admin_client(&self) -> blynk_sim::admin::AdminClient {
        let target = blynk_sim::admin::AdminTarget {
            addr: self.server.https_addr(),
            tls: blynk_sim::net::Tls::from_pem_file(
                &self.dir.path().join("tls").join("cert.pem"),
                "localhost",
            )
            .unwrap(),
            user: "admin@blynk.cc".into(),
            pass: "admin".into(),
        };
        blynk_sim::admin::AdminClient::connect(&target)
            .await
            .unwrap()
    }

    /// Same, with the TLS port as the hardware address.
    pub fn tls_args(&self, extra: &[&str]) -> RunArgs {
        let tls = self.server.https_addr().to_string();
        let mut all = vec!["--tls", "--server", tls.as_str()];
        all.extend_from_slice(extra);
        self.args(&all)
    }
}
