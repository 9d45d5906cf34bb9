//! What a run measured: per-device reports folded into one [`Summary`] (text and JSON).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How one simulated device ended the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    /// Logged in again reporting the build of the downloaded image.
    Updated,
    /// Its last OTA attempt failed; the reason says how.
    Failed(String),
    /// Downloaded the image and, by injected fault, never came back.
    Lost,
    /// Never received an OTA command (the normal state without a campaign).
    NoCommand,
    /// Could not log in (connection refused, invalid token, ...).
    NotConnected(String),
}

impl Outcome {
    /// Short name for counting.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Updated => "updated",
            Outcome::Failed(_) => "failed",
            Outcome::Lost => "lost",
            Outcome::NoCommand => "no_command",
            Outcome::NotConnected(_) => "not_connected",
        }
    }
}

/// What one device did during the run.
#[derive(Debug, Clone, Default)]
pub struct DeviceReport {
    /// Device index in the fleet.
    pub index: u64,
    /// Successful logins.
    pub logins: u32,
    /// Connection or login attempts that failed.
    pub login_failures: u32,
    /// Connect-to-login-OK latency of each successful login, µs.
    pub login_us: Vec<u32>,
    /// OTA command delivery latency of each command, µs (see [`Summary::ota_delivery_ms`]).
    pub ota_us: Vec<u32>,
    /// OTA commands received.
    pub commands: u32,
    /// Completed, verified downloads.
    pub downloads_ok: u32,
    /// Failed downloads.
    pub downloads_failed: u32,
    /// Why each failed download failed.
    pub download_failures: Vec<String>,
    /// Body bytes received by downloads (complete or not).
    pub bytes: u64,
    /// Frames sent to the server (login, info, ping, hardware).
    pub frames_sent: u64,
    /// How it ended.
    pub outcome: Option<Outcome>,
}

/// Percentiles of a latency sample, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Latency {
    /// Percentiles (nearest rank) of samples given in µs.
    pub fn from_us(samples: &[u32]) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        let mut s = samples.to_vec();
        s.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
            f64::from(s[rank - 1]) / 1000.0
        };
        Latency {
            count: s.len(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// The raw latency samples, kept so summaries of several processes can be merged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Samples {
    /// Login latencies, µs.
    pub login_us: Vec<u32>,
    /// OTA delivery latencies, µs.
    pub ota_us: Vec<u32>,
}

/// A timed phase (the reconnect storm, a flood window).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// Devices (or messages) involved.
    pub count: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// `count / seconds`.
    pub per_second: f64,
}

impl Phase {
    /// A phase of `count` things in `seconds`.
    pub fn new(count: u64, seconds: f64) -> Phase {
        Phase {
            count,
            seconds,
            per_second: if seconds > 0.0 {
                count as f64 / seconds
            } else {
                0.0
            },
        }
    }
}

/// The end-of-run summary (also written as JSON with `--json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Devices simulated.
    pub devices: u64,
    /// Devices that logged in at least once.
    pub connected: u64,
    /// Devices logged in when the run stopped.
    pub online_at_end: u64,
    /// Devices per outcome (`updated`, `failed`, `lost`, `no_command`, `not_connected`).
    pub outcomes: BTreeMap<String, u64>,
    /// Failed devices per reason.
    pub failure_reasons: BTreeMap<String, u64>,
    /// Devices per number of OTA commands received (`"0"`, `"1"`, ...).
    pub commands_per_device: BTreeMap<String, u64>,
    /// Most OTA commands any one device received.
    pub max_commands_per_device: u32,
    /// The attempt budget the run checked against (`--max-attempts`).
    pub attempt_budget: u32,
    /// Devices that received more commands than the budget (must be 0).
    pub over_budget: u64,
    /// Successful logins, all devices.
    pub logins: u64,
    /// Failed connection or login attempts.
    pub login_failures: u64,
    /// Connect → login OK latency.
    pub login_ms: Latency,
    /// OTA command delivery latency: from the later of the campaign start (when this
    /// simulator started it) and the info message of the connection that got the command,
    /// to the command's arrival.
    pub ota_delivery_ms: Latency,
    /// Verified downloads.
    pub downloads_ok: u64,
    /// Failed downloads.
    pub downloads_failed: u64,
    /// Failed downloads per reason (every attempt, also those a later attempt made good).
    pub download_failure_reasons: BTreeMap<String, u64>,
    /// Body bytes downloaded.
    pub bytes_downloaded: u64,
    /// Frames sent to the server.
    pub frames_sent: u64,
    /// Time until every device was logged in and its info acknowledged (initial ramp).
    pub connect_phase: Option<Phase>,
    /// Reconnect storm: devices that logged in again, and how long it took.
    pub storm: Option<Phase>,
    /// Flood mode: messages through the server in the measuring window.
    pub flood: Option<Phase>,
    /// Seconds from the campaign start (the run start, for a campaign started elsewhere)
    /// until the last device reported the new build.
    pub seconds_to_all_updated: Option<f64>,
    /// Server resident memory sampled once all devices were connected (`--server-pid`),
    /// KiB.
    pub server_rss_kib: Option<u64>,
    /// Server resident memory before the devices connected, KiB.
    pub server_rss_before_kib: Option<u64>,
    /// The campaign as the server reports it at the end (`GET /admin/ota/status`), when
    /// this run started one: devices per state and the largest attempt count.
    pub server_campaign: Option<ServerCampaign>,
    /// Wall time of the whole run, seconds.
    pub elapsed_seconds: f64,
    /// Raw samples (only in the JSON of child processes, for merging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<Samples>,
}

/// The server's view of a campaign at the end of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCampaign {
    /// Campaign id.
    pub id: u64,
    /// Campaign state (`active`, `finished`, ...).
    pub state: String,
    /// Devices per state.
    pub states: BTreeMap<String, u64>,
    /// Largest `attempts` of any device.
    pub max_attempts: u64,
    /// Devices whose `attempts` exceed the campaign's `max_attempts` option.
    pub over_budget: u64,
}

impl Summary {
    /// Folds device reports into a summary (phases and server facts are set by the caller).
    pub fn from_reports(reports: &[DeviceReport], attempt_budget: u32) -> Summary {
        let mut s = Summary {
            devices: reports.len() as u64,
            attempt_budget,
            ..Summary::default()
        };
        let mut samples = Samples::default();
        for r in reports {
            if r.logins > 0 {
                s.connected += 1;
            }
            let outcome = r.outcome.clone().unwrap_or(Outcome::NoCommand);
            *s.outcomes.entry(outcome.name().to_owned()).or_default() += 1;
            if let Outcome::Failed(reason) | Outcome::NotConnected(reason) = &outcome {
                *s.failure_reasons.entry(reason.clone()).or_default() += 1;
            }
            *s.commands_per_device
                .entry(r.commands.to_string())
                .or_default() += 1;
            s.max_commands_per_device = s.max_commands_per_device.max(r.commands);
            if r.commands > attempt_budget {
                s.over_budget += 1;
            }
            s.logins += u64::from(r.logins);
            s.login_failures += u64::from(r.login_failures);
            s.downloads_ok += u64::from(r.downloads_ok);
            s.downloads_failed += u64::from(r.downloads_failed);
            for reason in &r.download_failures {
                *s.download_failure_reasons
                    .entry(reason.clone())
                    .or_default() += 1;
            }
            s.bytes_downloaded += r.bytes;
            s.frames_sent += r.frames_sent;
            samples.login_us.extend_from_slice(&r.login_us);
            samples.ota_us.extend_from_slice(&r.ota_us);
        }
        s.set_samples(samples);
        s
    }

    fn set_samples(&mut self, samples: Samples) {
        self.login_ms = Latency::from_us(&samples.login_us);
        self.ota_delivery_ms = Latency::from_us(&samples.ota_us);
        self.samples = Some(samples);
    }

    /// Adds the counters and samples of another process's summary (phases: the larger
    /// time wins, counts add up).
    pub fn merge(&mut self, other: Summary) {
        fn add(a: &mut BTreeMap<String, u64>, b: BTreeMap<String, u64>) {
            for (k, v) in b {
                *a.entry(k).or_default() += v;
            }
        }
        fn phase(a: &mut Option<Phase>, b: Option<Phase>) {
            *a = match (a.take(), b) {
                (Some(x), Some(y)) => {
                    let seconds = x.seconds.max(y.seconds);
                    Some(Phase::new(x.count + y.count, seconds))
                }
                (x, y) => x.or(y),
            };
        }
        self.devices += other.devices;
        self.connected += other.connected;
        self.online_at_end += other.online_at_end;
        add(&mut self.outcomes, other.outcomes);
        add(&mut self.failure_reasons, other.failure_reasons);
        add(
            &mut self.download_failure_reasons,
            other.download_failure_reasons,
        );
        add(&mut self.commands_per_device, other.commands_per_device);
        self.max_commands_per_device = self
            .max_commands_per_device
            .max(other.max_commands_per_device);
        self.over_budget += other.over_budget;
        self.logins += other.logins;
        self.login_failures += other.login_failures;
        self.downloads_ok += other.downloads_ok;
        self.downloads_failed += other.downloads_failed;
        self.bytes_downloaded += other.bytes_downloaded;
        self.frames_sent += other.frames_sent;
        phase(&mut self.connect_phase, other.connect_phase);
        phase(&mut self.storm, other.storm);
        // Flood windows overlap in time: rates add up.
        self.flood = match (self.flood.take(), other.flood) {
            (Some(x), Some(y)) => Some(Phase {
                count: x.count + y.count,
                seconds: x.seconds.max(y.seconds),
                per_second: x.per_second + y.per_second,
            }),
            (x, y) => x.or(y),
        };
        self.elapsed_seconds = self.elapsed_seconds.max(other.elapsed_seconds);
        let mut samples = self.samples.take().unwrap_or_default();
        if let Some(o) = other.samples {
            samples.login_us.extend(o.login_us);
            samples.ota_us.extend(o.ota_us);
        }
        self.set_samples(samples);
    }

    /// Devices with the given outcome name.
    pub fn outcome(&self, name: &str) -> u64 {
        self.outcomes.get(name).copied().unwrap_or(0)
    }

    /// A human-readable multi-line summary.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let line = |t: &mut String, s: String| {
            t.push_str(&s);
            t.push('\n');
        };
        line(
            &mut t,
            format!(
                "devices {}  connected {}  online at end {}  updated {}  failed {}  lost {}  no command {}  not connected {}",
                self.devices,
                self.connected,
                self.online_at_end,
                self.outcome("updated"),
                self.outcome("failed"),
                self.outcome("lost"),
                self.outcome("no_command"),
                self.outcome("not_connected"),
            ),
        );
        for (reason, n) in &self.failure_reasons {
            line(&mut t, format!("  {n} × {reason}"));
        }
        line(
            &mut t,
            format!(
                "commands per device {:?}  max {}  budget {}  over budget {}",
                self.commands_per_device,
                self.max_commands_per_device,
                self.attempt_budget,
                self.over_budget
            ),
        );
        let lat = |l: &Latency| {
            format!(
                "n={} p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                l.count, l.p50, l.p90, l.p99, l.max
            )
        };
        line(
            &mut t,
            format!(
                "logins {} (failed attempts {})  login latency {}",
                self.logins,
                self.login_failures,
                lat(&self.login_ms)
            ),
        );
        line(
            &mut t,
            format!("OTA command delivery {}", lat(&self.ota_delivery_ms)),
        );
        line(
            &mut t,
            format!(
                "downloads ok {}  failed {}  bytes {} ({:.1} MiB)",
                self.downloads_ok,
                self.downloads_failed,
                self.bytes_downloaded,
                self.bytes_downloaded as f64 / 1_048_576.0
            ),
        );
        for (reason, n) in &self.download_failure_reasons {
            line(&mut t, format!("  download failed {n} × {reason}"));
        }
        let ph = |name: &str, p: &Option<Phase>, t: &mut String| {
            if let Some(p) = p {
                line(
                    t,
                    format!(
                        "{name}: {} in {:.3} s = {:.0}/s",
                        p.count, p.seconds, p.per_second
                    ),
                );
            }
        };
        ph("connect phase (logins + info)", &self.connect_phase, &mut t);
        ph("reconnect storm (logins + info)", &self.storm, &mut t);
        ph("flood (messages through the server)", &self.flood, &mut t);
        if let Some(s) = self.seconds_to_all_updated {
            line(
                &mut t,
                format!("campaign start → last device updated: {s:.3} s"),
            );
        }
        if let Some(rss) = self.server_rss_kib {
            line(
                &mut t,
                format!(
                    "server RSS {} KiB (before devices: {:?} KiB)",
                    rss, self.server_rss_before_kib
                ),
            );
        }
        if let Some(c) = &self.server_campaign {
            line(
                &mut t,
                format!(
                    "server campaign {} {}: {:?}  max attempts {}  over budget {}",
                    c.id, c.state, c.states, c.max_attempts, c.over_budget
                ),
            );
        }
        line(
            &mut t,
            format!(
                "elapsed {:.3} s  frames sent {}",
                self.elapsed_seconds, self.frames_sent
            ),
        );
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let l = Latency::from_us(&(1..=100).map(|i| i * 1000).collect::<Vec<_>>());
        assert_eq!(
            (l.count, l.p50, l.p90, l.p99, l.max),
            (100, 50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(Latency::from_us(&[]), Latency::default());
        assert_eq!(Latency::from_us(&[7000]).p99, 7.0);
    }

    #[test]
    fn folds_and_merges() {
        let reports = vec![
            DeviceReport {
                index: 0,
                logins: 2,
                login_us: vec![1000, 3000],
                commands: 1,
                downloads_ok: 1,
                bytes: 10,
                outcome: Some(Outcome::Updated),
                ..DeviceReport::default()
            },
            DeviceReport {
                index: 1,
                logins: 1,
                login_us: vec![2000],
                commands: 4,
                downloads_failed: 4,
                outcome: Some(Outcome::Failed("MD5 mismatch".into())),
                ..DeviceReport::default()
            },
        ];
        let mut a = Summary::from_reports(&reports, 3);
        assert_eq!(
            (a.connected, a.over_budget, a.max_commands_per_device),
            (2, 1, 4)
        );
        assert_eq!(a.failure_reasons["MD5 mismatch"], 1);
        assert_eq!(a.login_ms.p50, 2.0);
        let b = Summary::from_reports(&reports[..1], 3);
        a.merge(b);
        assert_eq!(a.devices, 3);
        assert_eq!(a.outcome("updated"), 2);
        assert_eq!(a.login_ms.count, 5);
        let json = serde_json::to_string(&a).unwrap();
        let back: Summary = serde_json::from_str(&json).unwrap();
        assert_eq!(back.outcome("updated"), 2);
    }
}
