//! `blynk-admin` binary: parses the command line, runs it, maps errors to exit codes.

use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = blynk_admin::Cli::parse();
    let json = cli.global.json;
    let result = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(blynk_admin::run(cli)),
        Err(e) => Err(blynk_admin::Error::Output(e)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            blynk_admin::report(&error, json);
            ExitCode::from(error.exit_code())
        }
    }
}
