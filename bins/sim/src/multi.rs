//! Several simulator processes, when one process's open-file limit is the bound: the
//! parent re-runs this binary once per shard, samples the server's memory once every
//! child reported its connect phase, and merges the children's summaries.

use crate::SimError;
use crate::cli::RunArgs;
use crate::fleet::{rss_kib, write_tokens};
use crate::summary::Summary;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::Command;
use tokio::time::Instant;

/// Runs `args.processes` children over `tokens` and merges their summaries.
pub async fn run(args: &RunArgs, tokens: &[String], t0: Instant) -> Result<Summary, SimError> {
    if args.campaign_image.is_some() || args.campaign.is_some() || args.storm {
        return Err(SimError::option(
            "--processes",
            "campaigns and storms run in one process (up to ~19k devices fit in one)",
        ));
    }
    let exe = std::env::current_exe().map_err(|e| SimError::io("locating blynk-sim", e))?;
    let token_file = std::env::temp_dir().join(format!("blynk-sim-{}.tokens", std::process::id()));
    write_tokens(&token_file, tokens)?;
    let original: Vec<String> = std::env::args().skip(1).collect();
    let p = args.processes;
    let rss_before = args.server_pid.and_then(rss_kib);
    let mut children = Vec::new();
    for i in 0..p {
        let mut cmd = Command::new(&exe);
        cmd.args(&original)
            .args(["--processes", "1", "--create", "0", "--child"])
            .arg("--shard")
            .arg(format!("{i}/{p}"))
            .arg("--tokens")
            .arg(&token_file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        // Repeated options: the later value wins (`args_override_self`), except these,
        // which must not be repeated by the parent's own values.
        cmd.arg("--json")
            .arg(token_file.with_extension(format!("{i}.json")));
        let child = cmd.spawn().map_err(|e| SimError::Child {
            index: i as usize,
            reason: e.to_string(),
        })?;
        children.push(child);
    }
    // Watch stderr for READY lines (forward everything else).
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut stdouts = Vec::new();
    for (i, child) in children.iter_mut().enumerate() {
        if let Some(stderr) = child.stderr.take() {
            let tx = ready_tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.starts_with("READY ") {
                        let _ = tx.send(i);
                    } else {
                        eprintln!("[{i}] {line}");
                    }
                }
            });
        }
        stdouts.push(child.stdout.take());
    }
    drop(ready_tx);
    let mut ready = 0;
    while ready < children.len() {
        if ready_rx.recv().await.is_none() {
            break;
        }
        ready += 1;
    }
    if args.settle > 0.0 {
        tokio::time::sleep(std::time::Duration::from_secs_f64(args.settle)).await;
    }
    let rss_after = args.server_pid.and_then(rss_kib);

    let mut merged: Option<Summary> = None;
    for (i, (mut child, stdout)) in children.into_iter().zip(stdouts).enumerate() {
        let mut out = String::new();
        if let Some(mut s) = stdout {
            let _ = s.read_to_string(&mut out).await;
        }
        let status = child.wait().await.map_err(|e| SimError::Child {
            index: i,
            reason: e.to_string(),
        })?;
        if !status.success() {
            return Err(SimError::Child {
                index: i,
                reason: format!("exited with {status}"),
            });
        }
        let summary: Summary = serde_json::from_str(&out).map_err(|e| SimError::Child {
            index: i,
            reason: format!("bad summary ({e})"),
        })?;
        match &mut merged {
            None => merged = Some(summary),
            Some(m) => m.merge(summary),
        }
        let _ = std::fs::remove_file(token_file.with_extension(format!("{i}.json")));
    }
    let _ = std::fs::remove_file(&token_file);
    let mut summary = merged.unwrap_or_default();
    summary.server_rss_before_kib = rss_before;
    summary.server_rss_kib = rss_after;
    summary.elapsed_seconds = t0.elapsed().as_secs_f64();
    summary.samples = None;
    Ok(summary)
}
