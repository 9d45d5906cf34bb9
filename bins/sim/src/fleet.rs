//! A whole run: tokens, ramp-up, connect phase, memory sample, campaign, reconnect
//! storm, flood window, stop conditions, and the summary. Optionally split over several
//! processes.

use crate::SimError;
use crate::admin::{AdminClient, AdminTarget, create_devices};
use crate::cli::{LoginArg, RunArgs};
use crate::device::{self, Ctx, DeviceConfig, Live};
use crate::fault::Faults;
use crate::net::{Tls, check_loopback};
use crate::summary::{Phase, ServerCampaign, Summary};
use blynk_proto::LoginKind;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often the run checks its progress.
const POLL: Duration = Duration::from_millis(20);
/// How often the server's campaign status is polled.
const STATUS_POLL: Duration = Duration::from_millis(500);
/// Campaign device states after which nothing more happens to the device.
const FINAL_STATES: &[&str] = &[
    "updated",
    "failed",
    "up_to_date",
    "skipped",
    "superseded",
    "stopped",
];

/// Runs the fleet described by `args` and returns its summary.
pub async fn run(args: &RunArgs) -> Result<Summary, SimError> {
    let t0 = Instant::now();
    check_loopback(args.server, "--server")?;
    check_loopback(args.admin, "--admin")?;
    check_numbers(args)?;
    let needs_admin = args.create > 0 || args.campaign_image.is_some() || args.campaign.is_some();
    let tls = match (&args.ca, args.tls || needs_admin) {
        (Some(ca), _) => Some(Tls::from_pem_file(ca, &args.tls_name)?),
        (None, true) => {
            return Err(SimError::option(
                "--ca",
                "TLS devices, --create and campaigns need the server certificate (<data.folder>/tls/cert.pem)",
            ));
        }
        (None, false) => None,
    };
    let admin = tls.clone().map(|tls| AdminTarget {
        addr: args.admin,
        tls,
        user: args.admin_user.clone(),
        pass: args.admin_pass.clone(),
    });
    let mut tokens = load_tokens(args, admin.as_ref()).await?;
    if let Some(n) = args.devices {
        tokens.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if tokens.is_empty() {
        return Err(SimError::option(
            "--tokens",
            "no device tokens (use --tokens FILE or --create N)",
        ));
    }
    if args.processes > 1 {
        return crate::multi::run(args, &tokens, t0).await;
    }
    let (first, tokens) = shard(args, tokens)?;
    run_one(args, tls, admin, first, tokens, t0).await
}

/// Longest time any option may name (the runs are bounded anyway), seconds.
const MAX_SECONDS: f64 = 1e6;

/// Rejects times and rates that are negative, not finite or absurdly large, so every
/// later conversion to a `Duration` is safe.
fn check_numbers(args: &RunArgs) -> Result<(), SimError> {
    let seconds = [
        ("--duration", args.duration),
        ("--connect-timeout", args.connect_timeout),
        ("--settle", args.settle),
        ("--hold", args.hold),
        ("--flood-seconds", args.flood_seconds),
    ];
    for (option, v) in seconds {
        if !(v.is_finite() && (0.0..=MAX_SECONDS).contains(&v)) {
            return Err(SimError::option(
                option,
                format!("expected 0 to {MAX_SECONDS} seconds"),
            ));
        }
    }
    if args.duration <= 0.0 {
        return Err(SimError::option(
            "--duration",
            "must be a positive number of seconds",
        ));
    }
    let rates = [
        ("--hardware-rate", args.hardware_rate),
        ("--ramp", args.ramp),
    ];
    for (option, v) in rates {
        if !(v.is_finite() && (v == 0.0 || (1.0 / MAX_SECONDS..=1e9).contains(&v))) {
            return Err(SimError::option(
                option,
                "expected 0 (off) or a rate from 0.000001 to 1e9 per second",
            ));
        }
    }
    Ok(())
}

async fn load_tokens(args: &RunArgs, admin: Option<&AdminTarget>) -> Result<Vec<String>, SimError> {
    let mut tokens = Vec::new();
    if let Some(path) = &args.tokens {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::file(path, e))?;
        tokens.extend(
            text.lines()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        );
    }
    if args.create > 0 {
        let Some(admin) = admin else {
            return Err(SimError::option("--create", "needs --ca"));
        };
        let started = Instant::now();
        let created = create_devices(admin, args.create, args.users, 4).await?;
        eprintln!(
            "blynk-sim: created {} devices through the admin API in {:.1} s",
            created.len(),
            started.elapsed().as_secs_f64()
        );
        tokens.extend(created);
    }
    if let Some(out) = &args.tokens_out {
        write_tokens(out, &tokens)?;
    }
    Ok(tokens)
}

/// Writes tokens one per line.
pub fn write_tokens(path: &Path, tokens: &[String]) -> Result<(), SimError> {
    let mut text = tokens.join("\n");
    text.push('\n');
    std::fs::write(path, text).map_err(|e| SimError::file(path, e))
}

/// Applies `--shard i/n`: the slice of tokens and the global index of its first one.
fn shard(args: &RunArgs, tokens: Vec<String>) -> Result<(u64, Vec<String>), SimError> {
    let Some(spec) = &args.shard else {
        return Ok((0, tokens));
    };
    let parsed = spec
        .split_once('/')
        .and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)))
        .filter(|&(i, n)| n > 0 && i < n);
    let Some((i, n)) = parsed else {
        return Err(SimError::option(
            "--shard",
            format!("expected i/n with i < n, got {spec}"),
        ));
    };
    let len = tokens.len();
    let (from, to) = (i * len / n, (i + 1) * len / n);
    Ok((from as u64, tokens[from..to].to_vec()))
}

/// Resident memory of a process, KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn device_config(args: &RunArgs, tls: Option<Tls>) -> Result<DeviceConfig, SimError> {
    let pct = |v: f64, option: &'static str| {
        if (0.0..=100.0).contains(&v) {
            Ok(v)
        } else {
            Err(SimError::option(option, "expected a percentage 0-100"))
        }
    };
    let hardware_every = if args.hardware_rate > 0.0 && args.hardware_rate.is_finite() {
        Some(Duration::from_secs_f64(1.0 / args.hardware_rate))
    } else {
        None
    };
    Ok(DeviceConfig {
        server: args.server,
        tls: if args.tls { tls } else { None },
        spread: args.spread.max(1),
        login: match args.login {
            LoginArg::HwLogin => LoginKind::HwLogin,
            LoginArg::Login => LoginKind::Login,
        },
        layout: args.info,
        fw_version: args.fw_version.clone(),
        build: args.build.clone(),
        fw_type: args.fw_type.clone(),
        heartbeat: args.heartbeat.max(1),
        buff_in: args.buff_in,
        hardware_every,
        flood: args.flood.map(|k| (k, args.flood_batch)),
        reboot_delay: Duration::from_millis(args.reboot_delay_ms),
        reconnect_delay: Duration::from_millis(args.reconnect_delay_ms),
        faults: Faults {
            drop_download: pct(args.drop_download, "--drop-download")?,
            bad_md5: pct(args.bad_md5, "--bad-md5")?,
            never_reconnect: pct(args.never_reconnect, "--never-reconnect")?,
            old_build: pct(args.old_build, "--old-build")?,
            seed: args.seed,
        },
    })
}

/// Sleeps until `check` holds, `deadline` passes or `stop` fires; returns whether
/// `check` held.
async fn wait_until(
    deadline: Instant,
    stop: &CancellationToken,
    mut check: impl FnMut() -> bool,
) -> bool {
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline || stop.is_cancelled() {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn sleep_bounded(secs: f64, deadline: Instant) {
    if secs > 0.0 && secs.is_finite() {
        let until = (Instant::now() + Duration::from_secs_f64(secs)).min(deadline);
        tokio::time::sleep_until(until).await;
    }
}

async fn run_one(
    args: &RunArgs,
    tls: Option<Tls>,
    admin: Option<AdminTarget>,
    first: u64,
    tokens: Vec<String>,
    t0: Instant,
) -> Result<Summary, SimError> {
    let deadline = t0 + Duration::from_secs_f64(args.duration);
    let n = tokens.len() as u64;
    let (storm_tx, storm_rx) = watch::channel(0u64);
    let ctx = Arc::new(Ctx {
        cfg: device_config(args, tls)?,
        stop: CancellationToken::new(),
        storm: storm_rx,
        live: Live::default(),
        campaign_started: OnceLock::new(),
        t0,
    });
    // Hard bound: whatever happens, every device stops at the deadline.
    let stopper = {
        let stop = ctx.stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            stop.cancel();
        })
    };
    let rss_before = args.server_pid.and_then(rss_kib);

    // Ramp-up.
    let ramp_start = Instant::now();
    let spawner = {
        let ctx = Arc::clone(&ctx);
        let ramp = args.ramp;
        tokio::spawn(async move {
            let mut set = tokio::task::JoinSet::new();
            for (k, token) in tokens.into_iter().enumerate() {
                if ramp > 0.0 {
                    let at = ramp_start + Duration::from_secs_f64(k as f64 / ramp);
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = ctx.stop.cancelled() => {}
                    }
                }
                set.spawn(device::run(first + k as u64, token, Arc::clone(&ctx)));
            }
            set
        })
    };
    let live = &ctx.live;
    let connect_deadline =
        (ramp_start + Duration::from_secs_f64(args.connect_timeout.max(0.0))).min(deadline);
    let all_ready = wait_until(connect_deadline, &ctx.stop, || {
        live.ready.load(Relaxed) >= n
    })
    .await;
    let ready_now = live.ready.load(Relaxed);
    let connect_phase = Phase::new(ready_now, ramp_start.elapsed().as_secs_f64());
    if args.child {
        eprintln!("READY {ready_now}");
    }
    if !all_ready {
        eprintln!(
            "blynk-sim: only {ready_now} of {n} devices connected within the connect timeout"
        );
    }
    sleep_bounded(args.settle, deadline).await;
    let rss_after = args.server_pid.and_then(rss_kib);

    // Flood window.
    let mut flood = None;
    if args.flood.is_some() {
        let before = live.flood_frames.load(Relaxed);
        let started = Instant::now();
        sleep_bounded(args.flood_seconds, deadline).await;
        let frames = live.flood_frames.load(Relaxed) - before;
        flood = Some(Phase::new(frames, started.elapsed().as_secs_f64()));
    }

    // Campaign.
    let mut campaign: Option<(u64, AdminClient)> = None;
    if let Some(path) = &args.campaign_image {
        let Some(admin) = &admin else {
            return Err(SimError::option("--campaign-image", "needs --ca"));
        };
        let image = std::fs::read(path).map_err(|e| SimError::file(path, e))?;
        let mut client = AdminClient::connect(admin).await?;
        let file_name = path.file_name().map_or_else(
            || "firmware.bin".to_owned(),
            |f| f.to_string_lossy().into_owned(),
        );
        let _ = ctx.campaign_started.set(Instant::now());
        let answer = client
            .ota_start(&args.campaign_query, &file_name, &image)
            .await?;
        let id = answer["campaign"].as_u64().ok_or_else(|| SimError::Admin {
            what: "POST /admin/ota/start".into(),
            status: 200,
            body: format!("no campaign id in {answer}"),
        })?;
        eprintln!(
            "blynk-sim: campaign {id} started (build {}, notified now {})",
            answer["firmware"]["build"], answer["notified"]
        );
        campaign = Some((id, client));
    } else if let Some(id) = args.campaign {
        let Some(admin) = &admin else {
            return Err(SimError::option("--campaign", "needs --ca"));
        };
        campaign = Some((id, AdminClient::connect(admin).await?));
    }

    // Reconnect storm.
    let mut storm = None;
    if args.storm {
        let expected = live.ready.load(Relaxed);
        live.storm_ready.store(0, Relaxed);
        let generation = live.storm_generation.fetch_add(1, Relaxed) + 1;
        let started = Instant::now();
        let _ = storm_tx.send(generation);
        wait_until(deadline, &ctx.stop, || {
            live.storm_ready.load(Relaxed) >= expected
        })
        .await;
        let last_us = live.storm_last_us.load(Relaxed);
        let seconds = (Duration::from_micros(last_us)
            .saturating_sub(started.saturating_duration_since(t0)))
        .as_secs_f64();
        storm = Some(Phase::new(live.storm_ready.load(Relaxed), seconds));
    }

    // Until settled, or the hold time.
    let mut final_status: Option<Value> = None;
    let devices_done = || {
        live.busy.load(Relaxed) == 0
            && live.updated.load(Relaxed) + live.failed_latest.load(Relaxed) >= n
    };
    if let (true, Some((id, client))) = (args.until_settled, campaign.as_mut()) {
        // Ask the server only once the devices themselves are done (a status of every
        // device is a large answer; polling it during the fan-out would skew the run).
        wait_until(deadline, &ctx.stop, devices_done).await;
        loop {
            if ctx.stop.is_cancelled() {
                break;
            }
            let status = client.ota_status(*id).await?;
            let settled = campaign_devices(&status).is_some_and(|d| {
                !d.is_empty()
                    && d.iter()
                        .all(|dev| FINAL_STATES.contains(&dev["state"].as_str().unwrap_or("")))
            });
            final_status = Some(status);
            if settled && live.busy.load(Relaxed) == 0 {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(STATUS_POLL) => {}
                () = ctx.stop.cancelled() => {}
            }
        }
    }
    if args.until_devices_done {
        wait_until(deadline, &ctx.stop, devices_done).await;
    }
    sleep_bounded(args.hold, deadline).await;

    // Stop and collect.
    let online_at_end = live.ready.load(Relaxed);
    ctx.stop.cancel();
    stopper.abort();
    let mut set = spawner.await.map_err(|e| SimError::Child {
        index: 0,
        reason: format!("spawner: {e}"),
    })?;
    let mut reports = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    while let Some(joined) = set.join_next().await {
        if let Ok(report) = joined {
            reports.push(report);
        }
    }
    reports.sort_by_key(|r| r.index);
    let mut summary = Summary::from_reports(&reports, args.max_attempts);
    summary.online_at_end = online_at_end;
    summary.connect_phase = Some(connect_phase);
    summary.storm = storm;
    summary.flood = flood;
    summary.server_rss_before_kib = rss_before;
    summary.server_rss_kib = rss_after;
    if let Some((id, mut client)) = campaign {
        // From the campaign start, or from the run start for a campaign started elsewhere.
        let started = ctx.campaign_started.get().copied().unwrap_or(t0);
        let last = Duration::from_micros(live.updated_last_us.load(Relaxed));
        if live.updated.load(Relaxed) > 0 {
            summary.seconds_to_all_updated = Some(
                last.saturating_sub(started.saturating_duration_since(t0))
                    .as_secs_f64(),
            );
        }
        let status = match client.ota_status(id).await {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("blynk-sim: final campaign status: {e}");
                final_status
            }
        };
        summary.server_campaign = status.as_ref().and_then(|s| server_campaign(s, id));
    }
    summary.elapsed_seconds = t0.elapsed().as_secs_f64();
    if !args.child {
        summary.samples = None;
    }
    Ok(summary)
}

fn campaign_devices(status: &Value) -> Option<&Vec<Value>> {
    status["campaigns"].as_array()?.first()?["devices"].as_array()
}

/// Reads `GET /admin/ota/status?campaign=id` into counts.
pub fn server_campaign(status: &Value, id: u64) -> Option<ServerCampaign> {
    let campaign = status["campaigns"]
        .as_array()?
        .iter()
        .find(|c| c["id"].as_u64() == Some(id))?;
    let budget = campaign["options"]["max_attempts"].as_u64();
    let mut states = BTreeMap::new();
    let mut max_attempts = 0;
    let mut over_budget = 0;
    for d in campaign["devices"].as_array()? {
        *states
            .entry(d["state"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
        let attempts = d["attempts"].as_u64().unwrap_or(0);
        max_attempts = max_attempts.max(attempts);
        if budget.is_some_and(|b| attempts > b) {
            over_budget += 1;
        }
    }
    Some(ServerCampaign {
        id,
        state: campaign["state"].as_str().unwrap_or("?").to_owned(),
        states,
        max_attempts,
        over_budget,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn args(extra: &[&str]) -> RunArgs {
        let mut argv = vec!["blynk-sim", "run"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::parse_from(argv).command {
            crate::cli::Command::Run(a) => *a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn shards_cover_every_token_once() {
        let tokens: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let mut all = Vec::new();
        for i in 0..3 {
            let (first, part) =
                shard(&args(&["--shard", &format!("{i}/3")]), tokens.clone()).unwrap();
            assert_eq!(
                part.first().map(String::as_str),
                Some(tokens[first as usize].as_str())
            );
            all.extend(part);
        }
        assert_eq!(all, tokens);
        assert!(shard(&args(&["--shard", "3/3"]), tokens.clone()).is_err());
        assert!(shard(&args(&["--shard", "x"]), tokens).is_err());
    }

    #[test]
    fn later_options_override_earlier_ones() {
        let a = args(&[
            "--processes",
            "4",
            "--processes",
            "1",
            "--drop-download",
            "10",
        ]);
        assert_eq!(a.processes, 1);
        assert!(device_config(&a, None).is_ok());
        assert!(device_config(&args(&["--bad-md5", "101"]), None).is_err());
        assert!(check_numbers(&a).is_ok());
        for bad in [
            &["--duration", "0"][..],
            &["--hold=-1"],
            &["--settle", "NaN"],
            &["--connect-timeout", "1e300"],
            &["--hardware-rate", "1e-300"],
            &["--ramp", "inf"],
        ] {
            assert!(check_numbers(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reads_server_campaign_status() {
        let status = serde_json::json!({"campaigns": [{"id": 3, "state": "active",
            "options": {"max_attempts": 2},
            "devices": [{"state": "updated", "attempts": 1}, {"state": "failed", "attempts": 3}]}]});
        let c = server_campaign(&status, 3).unwrap();
        assert_eq!(
            (c.max_attempts, c.over_budget, c.states["updated"]),
            (3, 1, 1)
        );
        assert!(server_campaign(&status, 4).is_none());
    }

    #[test]
    fn rss_of_this_process() {
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }
}
