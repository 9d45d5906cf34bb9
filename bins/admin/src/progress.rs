//! The upload progress bar on stderr: `[#####.....]  45%  1.2/2.6 MiB  850 KiB/s`.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Redraw period.
const TICK: Duration = Duration::from_millis(200);
/// Width of the bar in characters.
const BAR: usize = 30;

/// A running progress bar; [`ProgressBar::finish`] draws the last state and ends the line.
///
/// The rate is measured until the last byte is handed to the connection; the time the
/// server then takes to store the image does not lower it.
#[derive(Debug)]
pub struct ProgressBar {
    task: tokio::task::JoinHandle<()>,
    sent: Arc<AtomicU64>,
    total: u64,
    started: Instant,
    /// Microseconds from the start until every byte was sent (0 = not yet).
    done_after: Arc<AtomicU64>,
}

impl ProgressBar {
    /// Starts redrawing `sent` of `total` bytes on stderr.
    pub fn start(sent: Arc<AtomicU64>, total: u64) -> ProgressBar {
        let started = Instant::now();
        let done_after = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let sent = Arc::clone(&sent);
            let done_after = Arc::clone(&done_after);
            async move {
                let mut tick = tokio::time::interval(TICK);
                loop {
                    tick.tick().await;
                    let now_sent = sent.load(Ordering::Relaxed);
                    let elapsed = started.elapsed();
                    if now_sent >= total {
                        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
                        done_after.store(micros.max(1), Ordering::Relaxed);
                        draw(&format!(
                            "{}waiting for the server",
                            render(now_sent, total, elapsed)
                        ));
                        return;
                    }
                    draw(&render(now_sent, total, elapsed));
                }
            }
        });
        ProgressBar {
            task,
            sent,
            total,
            started,
            done_after,
        }
    }

    /// Stops redrawing, draws the final state and ends the line.
    pub fn finish(self) {
        self.task.abort();
        let elapsed = match self.done_after.load(Ordering::Relaxed) {
            0 => self.started.elapsed(),
            micros => Duration::from_micros(micros),
        };
        let line = render(self.sent.load(Ordering::Relaxed), self.total, elapsed);
        // Pad over the "waiting" suffix of the previous frame.
        draw(&format!("{line:<90}\n"));
    }
}

fn draw(line: &str) {
    let mut err = std::io::stderr().lock();
    // A progress bar that cannot be drawn is not worth failing the upload.
    let _ = write!(err, "\r{line}");
    let _ = err.flush();
}

/// One frame of the bar.
pub fn render(sent: u64, total: u64, elapsed: Duration) -> String {
    let fraction = if total == 0 {
        1.0
    } else {
        (sent as f64 / total as f64).clamp(0.0, 1.0)
    };
    let filled = ((fraction * BAR as f64).round() as usize).min(BAR);
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { sent as f64 / secs } else { 0.0 };
    format!(
        "[{}{}] {:>3}%  {}/{}  {}/s ",
        "#".repeat(filled),
        ".".repeat(BAR - filled),
        (fraction * 100.0).floor() as u32,
        human_bytes(sent),
        human_bytes(total),
        human_bytes(rate as u64),
    )
}

/// `512 B`, `4.0 KiB`, `1.5 MiB`, `2.0 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let half = render(512 * 1024, 1024 * 1024, Duration::from_secs(2));
        assert_eq!(
            half,
            "[###############...............]  50%  512.0 KiB/1.0 MiB  256.0 KiB/s "
        );
        let done = render(10, 10, Duration::ZERO);
        assert!(
            done.starts_with(&format!("[{}] 100%", "#".repeat(BAR))),
            "{done}"
        );
        // An empty file is complete; more than announced is clamped.
        assert!(render(0, 0, Duration::ZERO).contains("100%"));
        assert!(render(20, 10, Duration::from_secs(1)).contains("100%"));
    }

    #[test]
    fn units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(4100), "4.0 KiB");
        assert_eq!(human_bytes(16 * 1024 * 1024), "16.0 MiB");
    }
}
