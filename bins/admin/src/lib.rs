//! `blynk-admin`: the operators' command-line client for the blynk-ota admin API.
//!
//! What it does: starts, stops and follows OTA campaigns (`/admin/ota/...`), manages
//! devices and lists users (`/admin/devices`, `/admin/users`) over HTTPS with Basic
//! auth, and inspects firmware images offline with `firmware-store`'s scanner. Uploads
//! are `multipart/form-data` bodies streamed from the file with an exact
//! `Content-Length`, so memory does not grow with the image. Every command prints text
//! for people or, with `--json`, one JSON document; errors are one line and the exit
//! code tells their class (see [`Error::exit_code`]).
//!
//! What it does not do: keep connections or state between runs, retry, follow
//! redirects, speak HTTP/2, or talk to devices directly. It is a thin client: the
//! server decides everything about campaigns.
//!
//! The binary is a thin `main` around [`run`].

mod cli;
mod client;
mod commands;
mod early_close;
mod error;
mod multipart;
mod output;
mod progress;
mod tls;

pub use cli::{Cli, GlobalOpts};
pub use error::{Error, Result};

use cli::{Command, DeviceCommand, FirmwareCommand, OtaCommand, UserCommand};
use client::Client;
use commands::{firmware, ota, registry};
use std::io::IsTerminal as _;
use tls::Trust;

/// Runs one parsed command line to completion.
pub async fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    let json = global.json;
    match &cli.command {
        // Offline: no client, so no credential or TLS checks.
        Command::Firmware(FirmwareCommand::Info(args)) => firmware::info(&args.file, json).await,
        Command::Ota(OtaCommand::Start(args)) => {
            let bar = !json && std::io::stdout().is_terminal();
            ota::start(&client(global)?, args, json, bar).await
        }
        Command::Ota(OtaCommand::Resend(args)) => ota::resend(&client(global)?, args, json).await,
        Command::Ota(OtaCommand::Stop(args)) => {
            ota::stop(&client(global)?, args.campaign, json).await
        }
        Command::Ota(OtaCommand::Status(args)) => ota::status(&client(global)?, args, json).await,
        Command::Device(DeviceCommand::Add(args)) => {
            registry::device_add(&client(global)?, args, json).await
        }
        Command::Device(DeviceCommand::List(args)) => {
            registry::device_list(&client(global)?, args, json).await
        }
        Command::Device(DeviceCommand::Rm(args)) => {
            registry::device_rm(&client(global)?, &args.token, json).await
        }
        Command::User(UserCommand::List) => registry::user_list(&client(global)?, json).await,
    }
}

fn client(global: &GlobalOpts) -> Result<Client> {
    let trust = match (&global.ca, global.insecure) {
        (_, true) => Trust::Insecure,
        (Some(path), false) => Trust::CaFile(path),
        (None, false) => Trust::System,
    };
    Client::new(&global.server, &global.user_pass, &trust)
}

/// Prints `error` on stderr: one line of text, or a JSON object with `--json`.
pub fn report(error: &Error, json: bool) {
    if json {
        eprintln!("{}", error.to_json());
    } else {
        eprintln!("blynk-admin: {error}");
    }
}
