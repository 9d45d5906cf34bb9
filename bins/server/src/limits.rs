//! The process's open-file limit and the connection cap derived from it.

/// File descriptors kept free for the database, listeners, certificates and logs.
pub const FD_RESERVE: u64 = 64;

/// Connection cap used when the limit cannot be read.
pub const FALLBACK_CAP: usize = 1024;

/// The soft `Max open files` limit from `/proc/self/limits`, if readable.
pub fn open_files_limit() -> Option<u64> {
    parse_open_files(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

/// Parses the `Max open files` soft limit out of `/proc/<pid>/limits` text.
pub fn parse_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        Some(u64::MAX)
    } else {
        soft.parse().ok()
    }
}

/// The connection cap: `configured` if set, never above the fd limit minus the reserve,
/// at least 1.
pub fn connection_cap(fd_limit: Option<u64>, configured: Option<usize>) -> usize {
    let from_fds = fd_limit.map_or(FALLBACK_CAP, |l| {
        usize::try_from(l.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX)
    });
    configured.map_or(from_fds, |c| c.min(from_fds)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Limit                     Soft Limit           Hard Limit           Units     \n\
Max cpu time              unlimited            unlimited            seconds   \n\
Max open files            1024                 1048576              files     \n";

    #[test]
    fn parses_soft_limit() {
        assert_eq!(parse_open_files(SAMPLE), Some(1024));
        assert_eq!(
            parse_open_files("Max open files unlimited unlimited files"),
            Some(u64::MAX)
        );
        assert_eq!(parse_open_files("nothing here"), None);
    }

    #[test]
    fn cap() {
        assert_eq!(connection_cap(Some(1024), None), 960);
        assert_eq!(connection_cap(Some(1024), Some(10)), 10);
        assert_eq!(connection_cap(Some(1024), Some(5000)), 960);
        assert_eq!(connection_cap(Some(10), None), 1);
        assert_eq!(connection_cap(None, None), FALLBACK_CAP);
    }

    #[test]
    fn this_process_has_a_limit() {
        assert!(open_files_limit().is_some());
    }
}
