//! `blynk-sim`: parse arguments, run, print the summary. Everything else is in the
//! `blynk_sim` library.

use blynk_sim::cli::{Cli, Command};
use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("blynk-sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blynk-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), blynk_sim::SimError> {
    use blynk_sim::SimError;
    let write_json = |path: &std::path::Path, json: String| {
        std::fs::write(path, json).map_err(|e| SimError::file(path, e))
    };
    match cli.command {
        Command::Run(args) => {
            let summary = blynk_sim::fleet::run(&args).await?;
            let json = serde_json::to_string_pretty(&summary).unwrap_or_default();
            if args.child {
                println!("{json}");
            } else {
                print!("{}", summary.text());
            }
            if let Some(path) = &args.json {
                write_json(path, json)?;
            }
        }
        Command::MakeImage(a) => {
            let image =
                blynk_sim::image::esp8266_image(a.size as usize, &a.mcu, &a.fw_type, &a.build);
            std::fs::write(&a.out, &image).map_err(|e| SimError::file(&a.out, e))?;
            println!(
                "{}: {} bytes, build {:?}, mcu {}",
                a.out.display(),
                image.len(),
                a.build,
                a.mcu
            );
        }
        Command::Baseline(a) => {
            let image = std::fs::read(&a.image).map_err(|e| SimError::file(&a.image, e))?;
            let result =
                blynk_sim::baseline::run(image, a.downloads, a.concurrency, a.spread, a.backlog)
                    .await?;
            println!(
                "baseline: {} downloads ({} failed), {} bytes in {:.3} s = {:.2} GB/s",
                result.downloads,
                result.failed,
                result.bytes,
                result.seconds,
                result.bytes_per_second / 1e9
            );
            if let Some(path) = &a.json {
                write_json(
                    path,
                    serde_json::to_string_pretty(&result).unwrap_or_default(),
                )?;
            }
        }
    }
    Ok(())
}
