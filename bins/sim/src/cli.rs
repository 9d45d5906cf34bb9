//! Command-line options.

use crate::device::{FloodKind, InfoLayout};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// `blynk-sim`: simulates a fleet of Blynk devices against a server on this machine.
#[derive(Debug, Parser)]
#[command(name = "blynk-sim", version, about, args_override_self = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a device fleet (connect, log in, ping, traffic, OTA, storms) and print a summary.
    #[command(args_override_self = true)]
    Run(Box<RunArgs>),
    /// Write a synthetic ESP8266 image with a `blnkinf` tag.
    MakeImage(MakeImageArgs),
    /// Measure the loopback "bytes alone" download baseline with the same client.
    Baseline(BaselineArgs),
}

/// Login command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoginArg {
    /// HW_LOGIN (29), as the C++ library.
    HwLogin,
    /// LOGIN (2), as PyPI `blynklib`.
    Login,
}

/// Options of `blynk-sim run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Hardware address of the server (loopback only): the plain `http.port`, or the
    /// TLS `https.port` with `--tls`.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub server: SocketAddr,
    /// Connect devices over TLS.
    #[arg(long)]
    pub tls: bool,
    /// PEM certificate(s) to trust for TLS and the admin API (the server's
    /// `<data.folder>/tls/cert.pem`).
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// TLS server name to verify.
    #[arg(long, default_value = "localhost")]
    pub tls_name: String,
    /// Admin API address (the HTTPS port), for `--create` and campaigns.
    #[arg(long, default_value = "127.0.0.1:9443")]
    pub admin: SocketAddr,
    /// Admin e-mail.
    #[arg(long, default_value = "admin@blynk.cc")]
    pub admin_user: String,
    /// Admin password.
    #[arg(long, default_value = "admin")]
    pub admin_pass: String,
    /// Read device tokens from this file (one per line).
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// Create this many devices through the admin API first.
    #[arg(long, default_value_t = 0)]
    pub create: u64,
    /// Spread created devices over this many users.
    #[arg(long, default_value_t = 10)]
    pub users: u64,
    /// Write the tokens in use to this file.
    #[arg(long)]
    pub tokens_out: Option<PathBuf>,
    /// Simulate only the first N tokens.
    #[arg(long)]
    pub devices: Option<u64>,
    /// Login command.
    #[arg(long, value_enum, default_value_t = LoginArg::HwLogin)]
    pub login: LoginArg,
    /// Info message layout.
    #[arg(long, value_enum, default_value_t = InfoLayout::New)]
    pub info: InfoLayout,
    /// Firmware version reported before an update.
    #[arg(long, default_value = "0.1.0")]
    pub fw_version: String,
    /// Build reported before an update.
    #[arg(long, default_value = "Dec  4 2026 14:51:12")]
    pub build: String,
    /// `fw-type` / `tmpl` reported.
    #[arg(long, default_value = "TMPL0001")]
    pub fw_type: String,
    /// Heartbeat in seconds (reported as `h-beat`; a PING after this long idle).
    #[arg(long, default_value_t = 10)]
    pub heartbeat: u32,
    /// Reported `buff-in`.
    #[arg(long, default_value_t = 1024)]
    pub buff_in: u32,
    /// HARDWARE `vw` messages per second per device (0 = none).
    #[arg(long, default_value_t = 0.0)]
    pub hardware_rate: f64,
    /// Flood mode: pipeline frames as fast as the server answers (throughput runs).
    #[arg(long, value_enum)]
    pub flood: Option<FloodKind>,
    /// Frames per flood batch (1-4096).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub flood_batch: u16,
    /// Length of the flood measuring window, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub flood_seconds: f64,
    /// New connections per second during the ramp-up (0 = all at once).
    #[arg(long, default_value_t = 0.0)]
    pub ramp: f64,
    /// Spread devices over this many loopback source addresses (127.0.0.1, .2, ...).
    #[arg(long, default_value_t = 1)]
    pub spread: u32,
    /// Give up waiting for every device to be connected after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    pub connect_timeout: f64,
    /// Seconds to wait after the connect phase before sampling the server's memory.
    #[arg(long, default_value_t = 0.0)]
    pub settle: f64,
    /// Seconds to stay connected after the other phases (idle runs).
    #[arg(long, default_value_t = 0.0)]
    pub hold: f64,
    /// Server process id: sample its resident memory before and after the connect phase.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Start an OTA campaign with this image once the fleet is connected.
    #[arg(long)]
    pub campaign_image: Option<PathBuf>,
    /// Watch this already started campaign (e.g. started with `blynk-admin`) instead of
    /// starting one: `--until-settled` and the final status use it.
    #[arg(long, conflicts_with = "campaign_image")]
    pub campaign: Option<u64>,
    /// Query string of `POST /admin/ota/start` (empty: every device, deferred).
    #[arg(long, default_value = "")]
    pub campaign_query: String,
    /// After the connect phase (and campaign start), make every device reconnect at once.
    #[arg(long)]
    pub storm: bool,
    /// With a campaign: stop once the server reports every device in a final state.
    #[arg(long)]
    pub until_settled: bool,
    /// Stop once every device has reported the new build or failed its latest attempt
    /// (or is lost) and none is mid-download: the device-side view, for campaigns whose
    /// retries come later than the run should last.
    #[arg(long)]
    pub until_devices_done: bool,
    /// Attempt budget: devices receiving more OTA commands are counted as over budget.
    #[arg(long, default_value_t = 3)]
    pub max_attempts: u32,
    /// "Reboot" time after a download, milliseconds.
    #[arg(long, default_value_t = 500)]
    pub reboot_delay_ms: u64,
    /// Wait before reconnecting after a lost connection, milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub reconnect_delay_ms: u64,
    /// Percentage of downloads dropped midway.
    #[arg(long, default_value_t = 0.0)]
    pub drop_download: f64,
    /// Percentage of downloads failing their MD5 check.
    #[arg(long, default_value_t = 0.0)]
    pub bad_md5: f64,
    /// Percentage of devices that never reconnect after downloading.
    #[arg(long, default_value_t = 0.0)]
    pub never_reconnect: f64,
    /// Percentage of downloads after which the device reports its old build.
    #[arg(long, default_value_t = 0.0)]
    pub old_build: f64,
    /// Seed of the fault decisions.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Hard bound on the whole run, seconds.
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,
    /// Split the fleet over this many simulator processes (each has its own fd limit).
    #[arg(long, default_value_t = 1)]
    pub processes: u32,
    /// Run only shard `i/n` of the tokens (set by `--processes`).
    #[arg(long)]
    pub shard: Option<String>,
    /// Write the summary as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Internal: child process mode (summary with samples on stdout, `READY` on stderr).
    #[arg(long, hide = true)]
    pub child: bool,
}

/// Options of `blynk-sim make-image`.
#[derive(Debug, Clone, Args)]
pub struct MakeImageArgs {
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// Image size in bytes (up to 256 MiB).
    #[arg(long, default_value_t = 1 << 20, value_parser = clap::value_parser!(u32).range(1..=(256 << 20)))]
    pub size: u32,
    /// `mcu` version in the tag.
    #[arg(long, default_value = "0.2.0")]
    pub mcu: String,
    /// `fw-type` in the tag.
    #[arg(long, default_value = "TMPL0001")]
    pub fw_type: String,
    /// `build` in the tag.
    #[arg(long, default_value = "Dec  5 2026 10:00:00")]
    pub build: String,
}

/// Options of `blynk-sim baseline`.
#[derive(Debug, Clone, Args)]
pub struct BaselineArgs {
    /// The image to serve.
    #[arg(long)]
    pub image: PathBuf,
    /// Number of downloads.
    #[arg(long, default_value_t = 1000)]
    pub downloads: u64,
    /// Downloads in flight at once.
    #[arg(long, default_value_t = 1000)]
    pub concurrency: u64,
    /// Loopback source addresses to spread over.
    #[arg(long, default_value_t = 1)]
    pub spread: u32,
    /// Listen backlog of the reference server: deep by default, since thousands of
    /// clients connect at once and a full accept queue costs retransmissions (try 128,
    /// the standard library's value, to see the difference).
    #[arg(long, default_value_t = 8192)]
    pub backlog: u32,
    /// Write the result as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}
