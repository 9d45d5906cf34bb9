//! `ota start|resend|stop|status` over `/admin/ota/...` (`../shared/docs/legacy-ota-contract.md`
//! sections 4-6 and the OTA API contract of the server).

use crate::cli::{OtaResend, OtaStart, OtaStatus};
use crate::client::{Client, with_query};
use crate::error::{Error, Result};
use crate::multipart::{FileUpload, content_type, random_boundary};
use crate::output::{cell, facts, field, print, print_json, table, time_cell};
use crate::progress::{ProgressBar, human_bytes};
use http::Method;
use serde_json::Value;
use std::io::IsTerminal as _;
use std::time::Duration;

/// How long an upload waits for `100 Continue` before sending anyway (curl waits 1 s).
const CONTINUE_WAIT: Duration = Duration::from_secs(1);

/// Shortest `--interval` accepted.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// `ota start FILE`: streams the file as `multipart/form-data` to `POST /admin/ota/start`.
pub async fn start(client: &Client, args: &OtaStart, json_out: bool, bar: bool) -> Result<()> {
    let boundary = random_boundary();
    let mut upload = FileUpload::open(&args.file, &boundary)
        .await
        .map_err(|e| Error::file(&args.file, &e))?;
    let go_ahead = upload.wait_for_continue(CONTINUE_WAIT);
    let yes = |flag: bool| flag.then(|| "true".to_owned());
    let path = with_query(
        "/admin/ota/start",
        &[
            ("token", args.token.clone()),
            ("user", args.user.clone()),
            ("project", args.project.clone()),
            ("notify_online", yes(args.notify_online)),
            ("force", yes(args.force)),
            ("max_attempts", args.max_attempts.map(|n| n.to_string())),
        ],
    );
    let bar = bar.then(|| ProgressBar::start(upload.progress(), upload.file_len()));
    let sent = client
        .send(
            Method::POST,
            &path,
            Some(&content_type(&boundary)),
            upload,
            Some(go_ahead),
        )
        .await;
    if let Some(bar) = bar {
        bar.finish();
    }
    let reply = sent?.json()?;
    if json_out {
        print_json(&reply)
    } else {
        print(&start_text(&reply)?)
    }
}

/// `ota resend --token T [--file-name NAME]`: `GET /admin/ota/start` (no upload).
pub async fn resend(client: &Client, args: &OtaResend, json_out: bool) -> Result<()> {
    let path = with_query(
        "/admin/ota/start",
        &[
            ("token", Some(args.token.clone())),
            ("fileName", args.file_name.clone()),
            ("force", args.force.then(|| "true".to_owned())),
            ("max_attempts", args.max_attempts.map(|n| n.to_string())),
        ],
    );
    let reply = client.get(&path).await?.json()?;
    if json_out {
        print_json(&reply)
    } else {
        print(&start_text(&reply)?)
    }
}

/// The text shown after a successful start.
pub fn start_text(reply: &Value) -> Result<String> {
    let campaign = reply
        .get("campaign")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::BadResponse("no campaign id in the start reply".into()))?;
    let notified = reply.get("notified").and_then(Value::as_u64).unwrap_or(0);
    let target = target_text(reply.get("target").unwrap_or(&Value::Null));
    let firmware = reply.get("firmware").unwrap_or(&Value::Null);
    let plural = if notified == 1 { "" } else { "s" };
    let mut text = format!(
        "Campaign {campaign} started for {target}; {notified} device{plural} told to update now.\n"
    );
    text.push_str(&firmware_facts(firmware));
    Ok(text)
}

fn firmware_facts(firmware: &Value) -> String {
    let size = firmware.get("size").and_then(Value::as_u64).map_or_else(
        || "-".to_owned(),
        |n| format!("{n} bytes ({})", human_bytes(n)),
    );
    facts(&[
        ("file", field(firmware, "file_name")),
        ("stored as", field(firmware, "path")),
        ("size", size),
        ("md5", field(firmware, "md5")),
        ("sha256", field(firmware, "sha256")),
        ("image", field(firmware, "image_kind")),
        ("build", field(firmware, "build")),
        ("version", field(firmware, "version")),
        ("fw-type", field(firmware, "fw_type")),
    ])
}

/// `device <token>`, `the devices of <user>`, ..., `all devices`.
pub fn target_text(target: &Value) -> String {
    match target.get("type").and_then(Value::as_str) {
        Some("token") => format!("device {}", field(target, "token")),
        Some("user") => format!("the devices of {}", field(target, "user")),
        Some("user_project") => format!(
            "the devices of {} in project {}",
            field(target, "user"),
            field(target, "project")
        ),
        Some("all") => "all devices".to_owned(),
        _ => cell(Some(target)),
    }
}

/// `ota stop [--campaign ID]`: `GET /admin/ota/stop`.
pub async fn stop(client: &Client, campaign: Option<u64>, json_out: bool) -> Result<()> {
    let path = with_query(
        "/admin/ota/stop",
        &[("campaign", campaign.map(|c| c.to_string()))],
    );
    let reply = client.get(&path).await?.json()?;
    if json_out {
        return print_json(&reply);
    }
    let stopped: Vec<String> = reply
        .get("stopped")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::BadResponse("no `stopped` list in the stop reply".into()))?
        .iter()
        .map(|id| cell(Some(id)))
        .collect();
    print(&match stopped.as_slice() {
        [] => "No active campaign to stop.".to_owned(),
        [one] => format!("Stopped campaign {one}."),
        many => format!("Stopped campaigns {}.", many.join(", ")),
    })
}

/// `ota status [--campaign ID] [--watch]`: `GET /admin/ota/status`.
pub async fn status(client: &Client, args: &OtaStatus, json_out: bool) -> Result<()> {
    let path = with_query(
        "/admin/ota/status",
        &[("campaign", args.campaign.map(|c| c.to_string()))],
    );
    if !args.watch {
        let reply = client.get(&path).await?.json()?;
        return if json_out {
            print_json(&reply)
        } else {
            print(&status_text(campaigns(&reply)?, args.campaign.is_some()))
        };
    }
    let interval = Duration::try_from_secs_f64(args.interval)
        .ok()
        .filter(|d| *d >= MIN_INTERVAL)
        .ok_or_else(|| Error::Usage("--interval must be at least 0.1 seconds".into()))?;
    let redraw = !json_out && std::io::stdout().is_terminal();
    let mut last: Option<Value> = None;
    let mut outage = false;
    loop {
        let reply = match client.get(&path).await {
            Ok(reply) => {
                if outage {
                    eprintln!("blynk-admin: connection to the server is back");
                    outage = false;
                }
                reply.json()?
            }
            // Once watching, a server restart is waited out (campaigns survive it).
            Err(e @ Error::Connect { .. }) if last.is_some() => {
                if !outage {
                    eprintln!(
                        "blynk-admin: {e}; retrying every {:.1}s (Ctrl-C to stop)",
                        interval.as_secs_f64()
                    );
                    outage = true;
                }
                tokio::time::sleep(interval).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let list = campaigns(&reply)?;
        let active = list
            .iter()
            .any(|c| c.get("state") == Some(&"active".into()));
        if last.as_ref() != Some(&reply) {
            if json_out {
                print_json(&reply)?;
            } else if redraw {
                let footer = if active {
                    format!(
                        "\nRefreshing every {:.1}s; Ctrl-C to stop watching.",
                        interval.as_secs_f64()
                    )
                } else {
                    String::new()
                };
                // Clear the screen and home the cursor, then the new snapshot.
                print(&format!(
                    "\x1b[H\x1b[2J{}{footer}",
                    status_text(list, args.campaign.is_some())
                ))?;
            } else {
                // Piped: snapshots one after the other, a blank line between them.
                let gap = if last.is_some() { "\n" } else { "" };
                print(&format!(
                    "{gap}{}",
                    status_text(list, args.campaign.is_some())
                ))?;
            }
            last = Some(reply);
        }
        if !active {
            return Ok(());
        }
        tokio::time::sleep(interval).await;
    }
}

fn campaigns(reply: &Value) -> Result<&[Value]> {
    reply
        .get("campaigns")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| Error::BadResponse("no `campaigns` list in the status reply".into()))
}

/// The text view of the campaigns: a heading and a device table per campaign. Unless
/// `all_details`, campaigns that are over get their heading line only.
pub fn status_text(campaigns: &[Value], all_details: bool) -> String {
    if campaigns.is_empty() {
        return "No campaigns.\n".to_owned();
    }
    let (detailed, over): (Vec<&Value>, Vec<&Value>) = campaigns
        .iter()
        .partition(|c| all_details || c.get("state") == Some(&"active".into()));
    let mut out = String::new();
    for (i, campaign) in detailed.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&campaign_text(campaign));
    }
    if !over.is_empty() {
        if !detailed.is_empty() {
            out.push('\n');
        }
        out.push_str("Earlier campaigns (details: ota status --campaign ID):\n");
        for campaign in over {
            out.push_str(&format!(
                "  {}  {}\n",
                heading(campaign),
                state_counts(device_list(campaign))
            ));
        }
    }
    out
}

fn device_list(c: &Value) -> &[Value] {
    c.get("devices")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn heading(c: &Value) -> String {
    format!(
        "Campaign {}: {}, target {}, started {} by {}",
        field(c, "id"),
        field(c, "state"),
        target_text(c.get("target").unwrap_or(&Value::Null)),
        time_cell(c.get("created_at")),
        field(c, "initiator"),
    )
}

fn campaign_text(c: &Value) -> String {
    let firmware = c.get("firmware").unwrap_or(&Value::Null);
    let options = c.get("options").unwrap_or(&Value::Null);
    let devices = device_list(c);
    let mut out = format!("{}\n", heading(c));
    out.push_str(&format!(
        "  firmware {} (build {}, version {}, {}, md5 {})\n",
        field(firmware, "file_name"),
        field(firmware, "build"),
        field(firmware, "version"),
        field(firmware, "image_kind"),
        field(firmware, "md5"),
    ));
    out.push_str(&format!(
        "  options: force {}, notify online {}, max attempts {}\n",
        field(options, "force"),
        field(options, "notify_online"),
        field(options, "max_attempts"),
    ));
    if devices.is_empty() {
        out.push_str("  no devices yet\n");
        return out;
    }
    out.push_str(&format!("  devices: {}\n", state_counts(devices)));
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| {
            vec![
                field(d, "token"),
                field(d, "name"),
                field(d, "user"),
                field(d, "project"),
                field(d, "state"),
                field(d, "attempts"),
                progress_cell(d),
                time_cell(d.get("updated_at")),
                field(d, "reason"),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "TOKEN", "NAME", "USER", "PROJECT", "STATE", "ATTEMPTS", "PROGRESS", "UPDATED",
            "REASON",
        ],
        &rows,
    ));
    out
}

/// `1 updated, 2 pending` in order of first appearance.
fn state_counts(devices: &[Value]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for d in devices {
        let state = field(d, "state");
        match counts.iter_mut().find(|(s, _)| *s == state) {
            Some((_, n)) => *n += 1,
            None => counts.push((state, 1)),
        }
    }
    counts
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn progress_cell(device: &Value) -> String {
    let bytes = device.get("bytes").and_then(Value::as_u64).unwrap_or(0);
    match device.get("total").and_then(Value::as_u64) {
        Some(total) if total > 0 => format!(
            "{}% {}/{}",
            bytes.saturating_mul(100) / total,
            human_bytes(bytes),
            human_bytes(total)
        ),
        _ if bytes > 0 => human_bytes(bytes),
        _ => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn start_reply_text() {
        let reply = json!({
            "campaign": 3,
            "firmware": {"file_name": "fw.bin", "size": 4100, "md5": "m", "build": "Dec  4 2026 14:51:12",
                         "version": "1.2.3", "fw_type": null, "image_kind": "esp8266", "path": "/static/ota/x.bin"},
            "target": {"type": "user_project", "user": "pupkin@gmail.com", "project": "123"},
            "notified": 1
        });
        let text = start_text(&reply).unwrap();
        assert!(text.starts_with(
            "Campaign 3 started for the devices of pupkin@gmail.com in project 123; 1 device told"
        ), "{text}");
        assert!(text.contains("4100 bytes (4.0 KiB)"));
        assert!(text.contains("fw-type    -"));
        assert!(start_text(&json!({"nothing": 1})).is_err());
        assert_eq!(target_text(&json!({"type": "all"})), "all devices");
    }

    #[test]
    fn status_table() {
        let campaigns = vec![json!({
            "id": 3, "state": "active", "target": {"type": "token", "token": "T"},
            "firmware": {"file_name": "fw.bin"}, "initiator": "admin@blynk.cc",
            "created_at": 1_764_859_872_000_i64,
            "options": {"force": false, "notify_online": true, "max_attempts": 3},
            "devices": [
                {"token": "T", "name": "lamp", "user": "a@x.io", "project": "home",
                 "state": "downloading", "attempts": 1, "bytes": 2050, "total": 4100,
                 "updated_at": null, "reason": null},
                {"token": "U", "name": "fan", "user": "a@x.io", "project": "home",
                 "state": "failed", "attempts": 3, "bytes": 0, "total": null,
                 "updated_at": 0, "reason": "wrong flash size"}
            ]
        })];
        let text = status_text(&campaigns, false);
        assert!(text.contains("Campaign 3: active, target device T, started 2025-12-04 14:51:12 UTC by admin@blynk.cc"), "{text}");
        assert!(text.contains("devices: 1 downloading, 1 failed"));
        assert!(text.contains("50% 2.0 KiB/4.0 KiB"));
        assert!(text.contains("wrong flash size"));
        assert!(text.contains("notify online yes"));
        assert_eq!(status_text(&[], false), "No campaigns.\n");
        // Campaigns that are over: one line each, unless details are asked for.
        let mut over = campaigns[0].clone();
        over["state"] = "stopped".into();
        let short = status_text(std::slice::from_ref(&over), false);
        assert!(short.starts_with("Earlier campaigns"), "{short}");
        assert!(short.contains("Campaign 3: stopped") && short.contains("1 downloading, 1 failed"));
        assert!(!short.contains("wrong flash size"));
        assert!(status_text(&[over], true).contains("wrong flash size"));
    }
}
