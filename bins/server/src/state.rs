//! State shared by every connection.

use crate::allowlist::IpAllowlist;
use crate::config::Config;
use crate::sessions::{ConnectionInfo, DeviceSessions};
use crate::storage::Store;
use blynk_proto::HardwareInfo;
use std::sync::Arc;

/// Callbacks from hardware sessions, for features layered on top (OTA itself is wired in
/// directly, see [`crate::ota`]).
///
/// Called synchronously on the session's task: implementations must not block; they may
/// send frames through `shared.sessions` ([`DeviceSessions`]) or spawn work.
pub trait SessionHooks: Send + Sync + 'static {
    /// A connection logged in (it is already in the registry).
    fn logged_in(&self, _shared: &Shared, _conn: &ConnectionInfo) {}
    /// A connection reported its info message. It has been stored and its RESPONSE OK
    /// queued, so anything sent now reaches the device after the OK, in its own write.
    fn info_reported(&self, _shared: &Shared, _conn: &ConnectionInfo, _info: &Arc<HardwareInfo>) {}
    /// A logged-in connection ended (already removed from the registry); `still_online`
    /// tells whether the device has other live connections.
    fn disconnected(&self, _shared: &Shared, _conn: &ConnectionInfo, _still_online: bool) {}
}

/// Hooks that do nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl SessionHooks for NoHooks {}

/// Everything a connection task needs.
pub struct Shared {
    /// The configuration in force.
    pub config: Config,
    /// Storage.
    pub store: Store,
    /// Live hardware connections.
    pub sessions: Arc<DeviceSessions>,
    /// Session callbacks.
    pub hooks: Arc<dyn SessionHooks>,
    /// The OTA task (campaigns, downloads, firmware store).
    pub ota: crate::ota::Ota,
    /// Who may reach `/admin`: the configured allowlist, or loopback only while the admin
    /// password is the default.
    pub admin_allowlist: IpAllowlist,
}

/// The admin allowlist in force: loopback only while the admin password is the default,
/// else the configured `allowed.administrator.ips`.
pub fn effective_admin_allowlist(config: &Config) -> IpAllowlist {
    if config.admin.is_default_password() {
        IpAllowlist::loopback()
    } else {
        config.allowed_admin_ips.clone()
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("sessions", &self.sessions)
            .field("admin_allowlist", &self.admin_allowlist)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin_auth::AdminCredentials;

    #[test]
    fn default_password_means_loopback_only() {
        let remote: std::net::IpAddr = "192.0.2.10".parse().unwrap();
        let mut config = Config {
            allowed_admin_ips: IpAllowlist::everyone(),
            ..Config::default()
        };
        let list = effective_admin_allowlist(&config);
        assert!(!list.allows(remote));
        assert!(list.allows("127.0.0.1".parse().unwrap()));
        assert!(list.allows("::1".parse().unwrap()));
        config.admin = AdminCredentials::new("admin@blynk.cc", "changed");
        assert!(effective_admin_allowlist(&config).allows(remote));
    }
}
