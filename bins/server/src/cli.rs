//! Command line of `blynk-server`.

use crate::config::{Config, ConfigWarning};
use crate::error::Result;
use std::path::{Path, PathBuf};

/// The properties file read when `--config` is not given (if it exists).
pub const DEFAULT_CONFIG_FILE: &str = "server.properties";

/// Blynk-compatible device server with over-the-air firmware updates.
///
/// Listens on `http.port` (default 8080: HTTP and the Blynk hardware protocol on one
/// plain TCP port) and `https.port` (default 9443: HTTPS admin API and hardware over
/// TLS). Configuration uses the legacy `server.properties` key names; see
/// docs/operations.md for every key. Log verbosity: `RUST_LOG` (default `info`).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "blynk-server", version)]
pub struct Cli {
    /// Properties file to read. Without it, `./server.properties` is read when present,
    /// otherwise the embedded defaults apply.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data folder (database, generated TLS certificate); overrides `data.folder`
    /// (default `./data`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl Cli {
    /// Loads the configuration this command line asks for; returns it, its warnings and
    /// the file it came from (if any).
    pub fn load(&self) -> Result<(Config, Vec<ConfigWarning>, Option<PathBuf>)> {
        let file = match &self.config {
            Some(path) => Some(path.clone()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| Path::exists(p)),
        };
        let (mut config, warnings) = match &file {
            Some(path) => Config::from_file(path)?,
            None => (Config::default(), Vec::new()),
        };
        if let Some(dir) = &self.data_dir {
            config.data_folder = dir.clone();
        }
        Ok((config, warnings, file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory as _, Parser as _};

    #[test]
    fn parses_and_loads() {
        Cli::command().debug_assert();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.properties");
        std::fs::write(&file, "http.port=1234\nfoo=bar\n").unwrap();
        let cli = Cli::try_parse_from([
            "blynk-server",
            "--config",
            file.to_str().unwrap(),
            "--data-dir",
            "/tmp/x",
        ])
        .unwrap();
        let (config, warnings, from) = cli.load().unwrap();
        assert_eq!(config.http_port, 1234);
        assert_eq!(config.data_folder, PathBuf::from("/tmp/x"));
        assert_eq!(warnings.len(), 1);
        assert_eq!(from, Some(file));
        let missing = Cli::try_parse_from(["blynk-server", "--config", "/nonexistent/x"]).unwrap();
        assert!(
            missing
                .load()
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/x")
        );
    }

    #[test]
    fn help_mentions_everything() {
        let help = Cli::command().render_long_help().to_string();
        for needle in [
            "--config",
            "--data-dir",
            "server.properties",
            "RUST_LOG",
            "8080",
            "9443",
        ] {
            assert!(help.contains(needle), "{needle} missing from --help");
        }
    }
}
