//! Status codes carried by RESPONSE frames.

/// Declares [`Status`] and its conversions from one table.
macro_rules! statuses {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, )*) => {
        /// The status of a RESPONSE frame (sent in the header's length field).
        ///
        /// Named after the Java server and the C++ library; any other value is kept as
        /// [`Status::Other`]. Equality and hashing compare the numeric value.
        #[derive(Debug, Clone, Copy)]
        pub enum Status {
            $( $(#[$doc])* $name, )*
            /// A value without a name in this table.
            Other(u16),
        }

        impl From<u16> for Status {
            fn from(code: u16) -> Self {
                match code {
                    $( $code => Status::$name, )*
                    other => Status::Other(other),
                }
            }
        }

        impl From<Status> for u16 {
            fn from(status: Status) -> u16 {
                match status {
                    $( Status::$name => $code, )*
                    Status::Other(code) => code,
                }
            }
        }
    };
}

statuses! {
    /// 200: success (`OK`, `SUCCESS`).
    Ok = 200,
    /// 1: message quota exceeded.
    QuotaLimit = 1,
    /// 2: illegal command (e.g. an empty INTERNAL body).
    IllegalCommand = 2,
    /// 3: user not registered.
    NotRegistered = 3,
    /// 4: already registered / already logged in; the C++ library treats it as success.
    AlreadyRegistered = 4,
    /// 5: not authenticated.
    NotAuthenticated = 5,
    /// 6: not allowed.
    NotAllowed = 6,
    /// 7: target device not in the network (offline).
    DeviceNotInNetwork = 7,
    /// 8: no active dashboard.
    NoActiveDashboard = 8,
    /// 9: invalid auth token; the C++ library stops for good.
    InvalidToken = 9,
    /// 11: illegal command body.
    IllegalCommandBody = 11,
    /// 12: graph data (library only).
    GetGraphData = 12,
    /// 13: notification body invalid.
    NotificationInvalidBody = 13,
    /// 14: notification not authorized.
    NotificationNotAuthorized = 14,
    /// 15: notification error.
    NotificationError = 15,
    /// 16: timeout (library only).
    Timeout = 16,
    /// 17: no data.
    NoData = 17,
    /// 18: device went offline (library only).
    DeviceWentOffline = 18,
    /// 19: server error.
    ServerError = 19,
    /// 20: version not supported (library only).
    NotSupportedVersion = 20,
    /// 21: energy limit.
    EnergyLimit = 21,
    /// 22: Facebook user logged in with a password.
    FacebookUserLoginWithPass = 22,
    /// 23: operation accepted (library only).
    OperationAccept = 23,
    /// 24: operation declined (library only).
    OperationDecline = 24,
}

impl Status {
    /// The numeric value.
    pub fn code(self) -> u16 {
        self.into()
    }
}

impl PartialEq for Status {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
    }
}

impl Eq for Status {}

impl std::hash::Hash for Status {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.code().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips() {
        for code in 0..=u16::MAX {
            assert_eq!(u16::from(Status::from(code)), code);
        }
    }

    #[test]
    fn named_values() {
        assert_eq!(Status::from(200), Status::Ok);
        assert_eq!(Status::from(9), Status::InvalidToken);
        assert_eq!(Status::from(4), Status::AlreadyRegistered);
        assert_eq!(Status::from(19), Status::ServerError);
        assert!(matches!(Status::from(10), Status::Other(10)));
        assert_eq!(Status::Other(200), Status::Ok);
    }
}
