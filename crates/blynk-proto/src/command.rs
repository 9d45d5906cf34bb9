//! Command codes (the first header byte).

/// Declares [`Command`] and its two conversions from one table, so the code ↔ name
/// mapping exists exactly once.
macro_rules! commands {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, )*) => {
        /// A frame's command code.
        ///
        /// Every code named by the legacy Java server or by the C++ device library has a
        /// variant; any other code is kept as [`Command::Other`]. Convert with
        /// [`From<u8>`] (always yields the named variant when there is one) and
        /// `u8::from`. Equality and hashing compare the numeric code, so a hand-built
        /// `Other(6)` equals [`Command::Ping`].
        #[derive(Debug, Clone, Copy)]
        pub enum Command {
            $( $(#[$doc])* $name, )*
            /// A code without a name in this table.
            Other(u8),
        }

        impl From<u8> for Command {
            fn from(code: u8) -> Self {
                match code {
                    $( $code => Command::$name, )*
                    other => Command::Other(other),
                }
            }
        }

        impl From<Command> for u8 {
            fn from(command: Command) -> u8 {
                match command {
                    $( Command::$name => $code, )*
                    Command::Other(code) => code,
                }
            }
        }
    };
}

commands! {
    /// 0: reply to a request; the header's length field holds the status, no body.
    Response = 0,
    /// 1: app account registration.
    Register = 1,
    /// 2: login with an auth token (legacy device login, used by `blynklib`).
    Login = 2,
    /// 3: app: redeem a code.
    Redeem = 3,
    /// 4: server → app: a device came online.
    HardwareConnected = 4,
    /// 6: keep-alive; answered with RESPONSE OK and the same id.
    Ping = 6,
    /// 7: app: activate a dashboard.
    ActivateDashboard = 7,
    /// 8: app: deactivate a dashboard.
    DeactivateDashboard = 8,
    /// 9: app: refresh a device token.
    RefreshToken = 9,
    /// 12: device: post a tweet (old libraries).
    Tweet = 12,
    /// 13: device: send an e-mail.
    Email = 13,
    /// 14: device: push notification.
    PushNotification = 14,
    /// 15: device-to-device write through the server.
    Bridge = 15,
    /// 16: device asks for stored pin values.
    HardwareSync = 16,
    /// 17: `BLYNK_INTERNAL`: device info, `rtc`, the `ota` command, ...
    Internal = 17,
    /// 18: device: send an SMS.
    Sms = 18,
    /// 19: `SET_WIDGET_PROPERTY`.
    Property = 19,
    /// 20: pin reads and writes (`vw`, `vr`, `dw`, `pm`, ...).
    Hardware = 20,
    /// 21: app: create dashboard (`GROUP` in the C++ library).
    CreateDash = 21,
    /// 22: app: update dashboard.
    UpdateDash = 22,
    /// 23: app: delete dashboard.
    DeleteDash = 23,
    /// 24: app: load profile.
    LoadProfile = 24,
    /// 25: app: sync.
    AppSync = 25,
    /// 26: app: sharing.
    Sharing = 26,
    /// 27: app: add push token.
    AddPushToken = 27,
    /// 28: app: export graph data.
    ExportGraphData = 28,
    /// 29: device login (`HARDWARE_LOGIN`), what the C++ library sends.
    HwLogin = 29,
    /// 30: app: get share token.
    GetShareToken = 30,
    /// 31: app: refresh share token.
    RefreshShareToken = 31,
    /// 32: app: share login.
    ShareLogin = 32,
    /// 33: app: create widget.
    CreateWidget = 33,
    /// 34: app: update widget.
    UpdateWidget = 34,
    /// 35: app: delete widget.
    DeleteWidget = 35,
    /// 36: app: get energy.
    GetEnergy = 36,
    /// 37: app: add energy.
    AddEnergy = 37,
    /// 38: app: update project settings.
    UpdateProjectSettings = 38,
    /// 39: app: assign token.
    AssignToken = 39,
    /// 40: app: get server.
    GetServer = 40,
    /// 41: `CONNECT_REDIRECT`: body `host\0port`, the device reconnects there.
    Redirect = 41,
    /// 42: app: create device.
    CreateDevice = 42,
    /// 43: app: update device.
    UpdateDevice = 43,
    /// 44: app: delete device.
    DeleteDevice = 44,
    /// 45: app: get devices.
    GetDevices = 45,
    /// 46: app: create tag.
    CreateTag = 46,
    /// 47: app: update tag.
    UpdateTag = 47,
    /// 48: app: delete tag.
    DeleteTag = 48,
    /// 49: app: get tags.
    GetTags = 49,
    /// 50: app: get one device.
    MobileGetDevice = 50,
    /// 51: app: update face.
    UpdateFace = 51,
    /// 52: web sockets.
    WebSockets = 52,
    /// 53: eventor.
    Eventor = 53,
    /// 54: web hooks.
    WebHooks = 54,
    /// 55: server → device debug text (C++ library); an app command in the Java server.
    DebugPrint = 55,
    /// 64: device event log (`HARDWARE_LOG_EVENT`, `EVENT_LOG`).
    EventLog = 64,
    /// 65: `EVENT_CLEAR` towards hardware (C++ library); an app command in the Java server.
    EventClear = 65,
    /// 71: server → app: device went offline.
    DeviceOffline = 71,
    /// 91: HTTP API statistics code: start OTA.
    HttpStartOta = 91,
    /// 92: HTTP API statistics code: stop OTA.
    HttpStopOta = 92,
}

impl Command {
    /// Codes from this value up are not Blynk commands: the legacy server's decoder
    /// rejects them and closes the connection, and so does [`crate::Decoder`].
    pub const FIRST_INVALID: u8 = 100;

    /// The numeric code.
    pub fn code(self) -> u8 {
        self.into()
    }
}

impl PartialEq for Command {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
    }
}

impl Eq for Command {}

impl std::hash::Hash for Command {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.code().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for code in 0..=u8::MAX {
            assert_eq!(u8::from(Command::from(code)), code);
        }
    }

    #[test]
    fn named_codes() {
        assert_eq!(Command::from(0), Command::Response);
        assert_eq!(Command::from(2), Command::Login);
        assert_eq!(Command::from(29), Command::HwLogin);
        assert_eq!(Command::from(17), Command::Internal);
        assert_eq!(Command::from(41), Command::Redirect);
        assert!(matches!(Command::from(5), Command::Other(5)));
        assert!(matches!(Command::from(150), Command::Other(150)));
        assert_eq!(Command::Other(6), Command::Ping);
        assert_eq!(Command::Ping.code(), 6);
    }
}
