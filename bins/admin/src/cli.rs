//! The command line: global options, commands and their `--help` texts.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Default server address (the legacy HTTPS port on this machine).
pub const DEFAULT_SERVER: &str = "https://localhost:9443";
/// Default admin credentials, as in the legacy server and the OTA guide.
pub const DEFAULT_USER_PASS: &str = "admin@blynk.cc:admin";

const TOP_HELP: &str = "\
Examples (the OTA guide's curl commands, side by side):
  blynk-admin --insecure ota start Template_ESP8266.ino.nodemcu.bin --token 123
  blynk-admin --insecure ota start Template_ESP8266.ino.nodemcu.bin
  blynk-admin --insecure ota start fw.bin --user pupkin@gmail.com --project 123
  blynk-admin --insecure ota stop
  blynk-admin --insecure ota status --watch
  blynk-admin firmware info Template_ESP8266.ino.nodemcu.bin

Credentials: --user-pass EMAIL:PASS, else the BLYNK_ADMIN environment variable, else
admin@blynk.cc:admin. The password is everything after the first colon.

TLS: the server's certificate is checked against the system's trusted roots. For a
self-signed certificate (the server generates one on first start) pass --insecure, or
--ca <data folder>/tls/cert.pem to trust exactly that certificate (--ca replaces the
system roots, like curl's --cacert).

Exit codes:
  0  success
  1  unexpected response from the server, or stdout could not be written
  2  usage: bad arguments, bad --server URL, bad --user-pass
  3  connection or TLS: server unreachable, refused, certificate not trusted
  4  authentication: the server refused the admin credentials (401/403)
  5  server rejection: any other error status (e.g. 400 `Invalid token.`)
  6  local file: FILE or --ca could not be read";

/// `blynk-admin`: the operators' client for the blynk-ota admin API.
#[derive(Debug, Parser)]
#[command(name = "blynk-admin", version, about, after_help = TOP_HELP)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalOpts,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after any command.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalOpts {
    /// Server base URL (scheme, host, HTTPS port).
    #[arg(long, global = true, value_name = "URL", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// Admin credentials, `EMAIL:PASS`.
    #[arg(
        long,
        global = true,
        value_name = "EMAIL:PASS",
        env = "BLYNK_ADMIN",
        hide_env_values = true,
        default_value = DEFAULT_USER_PASS
    )]
    pub user_pass: String,
    /// Accept any server certificate (self-signed servers), like curl's --insecure.
    #[arg(long, short = 'k', global = true)]
    pub insecure: bool,
    /// Trust the certificates in this PEM file instead of the system's roots.
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,
    /// Machine-readable output: one JSON document per result on stdout, errors as JSON
    /// on stderr, no progress bar.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start, stop and follow firmware update campaigns.
    #[command(subcommand)]
    Ota(OtaCommand),
    /// Register, list and remove devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// List the users (owners of devices).
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect a firmware image offline.
    #[command(subcommand)]
    Firmware(FirmwareCommand),
}

/// `ota ...`.
#[derive(Debug, Subcommand)]
pub enum OtaCommand {
    /// Upload a firmware image and start a campaign.
    #[command(after_help = OTA_START_HELP)]
    Start(OtaStart),
    /// Re-send an image uploaded before to one online device (no upload).
    #[command(after_help = OTA_RESEND_HELP)]
    Resend(OtaResend),
    /// Stop the active campaigns (or one of them).
    #[command(after_help = OTA_STOP_HELP)]
    Stop(OtaStop),
    /// Show campaigns and their devices' progress.
    #[command(after_help = OTA_STATUS_HELP)]
    Status(OtaStatus),
}

const OTA_START_HELP: &str = "\
Target: --token updates one device now (it must be online); --user updates all devices
of that user (optionally one --project); neither updates all devices. User and all-device
campaigns are deferred: devices are updated when they next connect (or now, with
--notify-online), and the image needs build information (see `firmware info`).

Examples (OTA guide):
  # one device, now        curl -F file=@fw.bin --insecure -u admin@blynk.cc:admin \\
  #                          'https://localhost:9443/admin/ota/start?token=123'
  blynk-admin --insecure ota start Template_ESP8266.ino.nodemcu.bin --token 123

  # all devices            curl -F file=@fw.bin ... https://localhost:9443/admin/ota/start
  blynk-admin --insecure ota start Template_ESP8266.ino.nodemcu.bin

  # one user               ...?user=pupkin@gmail.com
  blynk-admin --insecure ota start Template_ESP8266.ino.nodemcu.bin --user pupkin@gmail.com

  # one user's project     ...?user=pupkin@gmail.com&project=123
  blynk-admin --insecure ota start Template_ESP8266.ino.nodemcu.bin \\
      --user pupkin@gmail.com --project 123

Prints the campaign id, the facts the server read from the image and how many devices
were told now. The file is streamed, never loaded whole into memory.";

const OTA_RESEND_HELP: &str = "\
Examples (curl: GET https://localhost:9443/admin/ota/start?token=123&fileName=NAME):
  blynk-admin --insecure ota resend --token 123
  blynk-admin --insecure ota resend --token 123 --file-name 3f2a9c01b7de.bin

NAME is the last segment of `stored as` (`firmware.path` in --json) printed by
`ota start`; without it the most recently uploaded image is sent.";

const OTA_STOP_HELP: &str = "\
Examples (OTA guide: curl --insecure -u admin@blynk.cc:admin \\
  https://localhost:9443/admin/ota/stop):
  blynk-admin --insecure ota stop
  blynk-admin --insecure ota stop --campaign 3

Devices already told to update are not recalled.";

const OTA_STATUS_HELP: &str = "\
Examples:
  blynk-admin --insecure ota status
  blynk-admin --insecure ota status --campaign 3 --watch
  blynk-admin --insecure --json ota status --campaign 3

--watch redraws until every shown campaign has left the `active` state (a deferred
campaign for a user or all devices stays active until `ota stop`); with --json it prints
one JSON document per change. While watching, a server that cannot be reached (e.g.
restarting) is retried at the same interval, with one line on stderr.";

/// `ota start FILE ...`.
#[derive(Debug, Args)]
pub struct OtaStart {
    /// The firmware image (Arduino IDE: Sketch -> Export compiled Binary).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Update only the device with this token, now (it must be online).
    #[arg(
        long,
        value_name = "T",
        conflicts_with = "user",
        allow_hyphen_values = true
    )]
    pub token: Option<String>,
    /// Update all devices of this user (e-mail).
    #[arg(long, value_name = "U")]
    pub user: Option<String>,
    /// With --user: only devices of this project.
    #[arg(long, value_name = "P", requires = "user")]
    pub project: Option<String>,
    /// Deferred campaigns: also tell the targeted devices that are online now.
    #[arg(long)]
    pub notify_online: bool,
    /// Skip the server's fw-type / chip-family guard.
    #[arg(long)]
    pub force: bool,
    /// Commands sent per device at most (1-255; server default 3).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..))]
    pub max_attempts: Option<u8>,
}

/// `ota resend --token T [--file-name NAME]`.
#[derive(Debug, Args)]
pub struct OtaResend {
    /// The device (it must be online).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub token: String,
    /// Stored name of the image (default: the newest upload).
    #[arg(long, value_name = "NAME")]
    pub file_name: Option<String>,
    /// Skip the server's fw-type / chip-family guard.
    #[arg(long)]
    pub force: bool,
    /// Commands sent per device at most (1-255; server default 3).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..))]
    pub max_attempts: Option<u8>,
}

/// `ota stop [--campaign ID]`.
#[derive(Debug, Args)]
pub struct OtaStop {
    /// Stop only this campaign (default: every active one).
    #[arg(long, value_name = "ID")]
    pub campaign: Option<u64>,
}

/// `ota status [--campaign ID] [--watch]`.
#[derive(Debug, Args)]
pub struct OtaStatus {
    /// Show only this campaign (default: all, newest first).
    #[arg(long, value_name = "ID")]
    pub campaign: Option<u64>,
    /// Refresh until the campaign(s) are no longer active.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, value_name = "SECS", default_value_t = 1.0, requires = "watch")]
    pub interval: f64,
}

/// `device ...`.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Register a device; prints its token.
    #[command(after_help = "\
Examples:
  blynk-admin --insecure device add --user pupkin@gmail.com --project 123 --name lamp
  blynk-admin --insecure device add --user pupkin@gmail.com --project 123 --name pump \\
      --token 0123456789abcdef0123456789abcdef")]
    Add(DeviceAdd),
    /// List devices with their online state and reported firmware.
    #[command(after_help = "\
Examples:
  blynk-admin --insecure device list
  blynk-admin --insecure device list --user pupkin@gmail.com
  blynk-admin --insecure --json device list")]
    List(DeviceList),
    /// Remove a device (it is disconnected).
    #[command(after_help = "\
Example:
  blynk-admin --insecure device rm 0123456789abcdef0123456789abcdef")]
    Rm(DeviceRm),
}

/// `device add`.
#[derive(Debug, Args)]
pub struct DeviceAdd {
    /// Owner's e-mail.
    #[arg(long, value_name = "U")]
    pub user: String,
    /// Project (dashboard) name.
    #[arg(long, value_name = "P")]
    pub project: String,
    /// Device name.
    #[arg(long, value_name = "N")]
    pub name: String,
    /// Token to use (default: the server generates one).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub token: Option<String>,
}

/// `device list`.
#[derive(Debug, Args)]
pub struct DeviceList {
    /// Only devices of this user.
    #[arg(long, value_name = "U")]
    pub user: Option<String>,
    /// Only devices in projects of this name.
    #[arg(long, value_name = "P")]
    pub project: Option<String>,
}

/// `device rm TOKEN`.
#[derive(Debug, Args)]
pub struct DeviceRm {
    /// The device's token (generated tokens may start with `-`; that is fine here).
    #[arg(value_name = "TOKEN", allow_hyphen_values = true)]
    pub token: String,
}

/// `user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List users with their projects and device counts.
    #[command(after_help = "\
Examples:
  blynk-admin --insecure user list
  blynk-admin --insecure --json user list")]
    List,
}

/// `firmware ...`.
#[derive(Debug, Subcommand)]
pub enum FirmwareCommand {
    /// Show what the server will read from an image (offline; no server needed).
    #[command(after_help = "\
Example:
  blynk-admin firmware info Template_ESP8266.ino.nodemcu.bin

Shows size, MD5, SHA-256, image kind (ESP8266, ESP32, gzip), the `blnkinf` tag (version,
fw-type, build) or the legacy build marker, and whether the image can start a deferred
(--user or all-device) campaign, which needs a build string.")]
    Info(FirmwareInfoArgs),
}

/// `firmware info FILE`.
#[derive(Debug, Args)]
pub struct FirmwareInfoArgs {
    /// The firmware image.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn token_and_user_exclude_each_other() {
        let r = Cli::try_parse_from(["b", "ota", "start", "f.bin", "--token", "t", "--user", "u"]);
        assert!(r.is_err());
        let r = Cli::try_parse_from(["b", "ota", "start", "f.bin", "--project", "p"]);
        assert!(r.is_err());
        let cli = Cli::try_parse_from([
            "b",
            "ota",
            "start",
            "f.bin",
            "--user",
            "u",
            "--project",
            "p",
            "--json",
        ])
        .unwrap();
        assert!(cli.global.json);
    }

    #[test]
    fn tokens_may_start_with_a_hyphen() {
        let cli = Cli::try_parse_from(["b", "ota", "start", "f.bin", "--token", "-Wx_1"]).unwrap();
        let Command::Ota(OtaCommand::Start(start)) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(start.token.as_deref(), Some("-Wx_1"));
        let cli = Cli::try_parse_from(["b", "device", "rm", "-Wx_1"]).unwrap();
        let Command::Device(DeviceCommand::Rm(rm)) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(rm.token, "-Wx_1");
        let cli = Cli::try_parse_from([
            "b",
            "device",
            "add",
            "--user",
            "u",
            "--project",
            "p",
            "--name",
            "n",
            "--token",
            "-a",
        ])
        .unwrap();
        assert!(
            matches!(cli.command, Command::Device(DeviceCommand::Add(DeviceAdd { token: Some(ref t), .. })) if t == "-a")
        );
    }
}
