//! LOGIN (2) and HW_LOGIN (29): the body is the auth token.

use crate::Command;

/// Which login command a device used. The server treats both the same; the C++ library
/// and most clients send [`LoginKind::HwLogin`], PyPI `blynklib` sends
/// [`LoginKind::Login`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginKind {
    /// LOGIN, command 2.
    Login,
    /// HW_LOGIN (`HARDWARE_LOGIN`), command 29.
    HwLogin,
}

impl LoginKind {
    /// The command this login kind is sent with.
    pub fn command(self) -> Command {
        match self {
            LoginKind::Login => Command::Login,
            LoginKind::HwLogin => Command::HwLogin,
        }
    }
}

/// Trims ASCII whitespace around a token, as the legacy server does before the lookup.
pub fn trim_token(token: &[u8]) -> &[u8] {
    token.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_commands() {
        assert_eq!(LoginKind::Login.command().code(), 2);
        assert_eq!(LoginKind::HwLogin.command().code(), 29);
        assert_eq!(trim_token(b" abc\r\n"), b"abc");
    }
}
