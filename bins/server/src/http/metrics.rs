//! `GET /admin/metrics`: connection capacity and use, in the Prometheus text format.
//!
//! Says how many connections the process's open-file limit allows (the same cap the
//! accept loops enforce, computed by [`crate::limits`]) next to how many are in use, so
//! the headroom is visible without reading the start-up log. Behind the admin gate like
//! every `/admin` route.

use super::{Body, respond};
use crate::limits;
use crate::state::Shared;
use http::{Response, StatusCode};
use std::fmt::Write as _;

/// Content type of the Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The reported numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metrics {
    /// Soft open-files limit of the process (`None` when unreadable).
    pub open_files_limit: Option<u64>,
    /// File descriptors open now (`None` when unreadable).
    pub open_fds: Option<usize>,
    /// Most connections the accept loops admit (fd limit minus a reserve, or the
    /// configured cap if lower).
    pub connection_cap: usize,
    /// Logged-in hardware connections.
    pub hardware_connections: usize,
    /// Devices with at least one logged-in connection.
    pub devices_online: usize,
}

impl Metrics {
    /// Reads the numbers now.
    pub fn collect(shared: &Shared) -> Metrics {
        let open_files_limit = limits::open_files_limit();
        Metrics {
            open_files_limit,
            open_fds: std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count),
            connection_cap: limits::connection_cap(open_files_limit, shared.config.max_connections),
            hardware_connections: shared.sessions.connection_count(),
            devices_online: shared.sessions.online_devices().len(),
        }
    }

    /// The Prometheus text (unknown values are left out).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, value: Option<u64>| {
            if let Some(value) = value {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
                );
            }
        };
        let n = |v: usize| u64::try_from(v).ok();
        gauge(
            "blynk_open_files_limit",
            "Soft limit of open file descriptors of the server process.",
            self.open_files_limit,
        );
        gauge(
            "blynk_open_fds",
            "File descriptors the server process has open.",
            self.open_fds.and_then(n),
        );
        gauge(
            "blynk_connection_cap",
            "Connections the server accepts at most (open-files limit minus a reserve); further ones are refused.",
            n(self.connection_cap),
        );
        gauge(
            "blynk_hardware_connections",
            "Logged-in hardware connections.",
            n(self.hardware_connections),
        );
        gauge(
            "blynk_devices_online",
            "Devices with at least one logged-in connection.",
            n(self.devices_online),
        );
        out
    }
}

/// The response of `GET /admin/metrics`.
pub fn handle(shared: &Shared) -> Response<Body> {
    respond(
        StatusCode::OK,
        CONTENT_TYPE,
        Metrics::collect(shared).render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_gauges_and_skips_unknown_values() {
        let m = Metrics {
            open_files_limit: Some(20_000),
            open_fds: None,
            connection_cap: 19_936,
            hardware_connections: 3,
            devices_online: 2,
        };
        let text = m.render();
        assert!(text.contains("# TYPE blynk_connection_cap gauge\nblynk_connection_cap 19936\n"));
        assert!(text.contains("blynk_open_files_limit 20000\n"));
        assert!(text.contains("blynk_hardware_connections 3\n"));
        assert!(text.contains("blynk_devices_online 2\n"));
        assert!(!text.contains("blynk_open_fds"));
    }
}
