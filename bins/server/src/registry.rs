//! Registry rules: e-mail and name validation, token generation.

use crate::error::{Error, Result};
use crate::storage::NewDevice;

/// Length of an auth token.
pub const TOKEN_LEN: usize = 32;

/// URL-safe alphabet of generated tokens (64 symbols, so a random byte masked to 6 bits
/// picks one uniformly).
const TOKEN_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Longest accepted user, project or device name.
pub const MAX_NAME_LEN: usize = 255;

/// A new random 32-character token from the OS CSPRNG.
pub fn generate_token() -> Result<String> {
    let mut bytes = [0u8; TOKEN_LEN];
    getrandom::fill(&mut bytes).map_err(|e| Error::InvalidField {
        field: "token",
        reason: format!("cannot generate a token: {e}"),
    })?;
    Ok(bytes
        .iter()
        .map(|b| char::from(TOKEN_ALPHABET[usize::from(b & 63)]))
        .collect())
}

/// Whether `token` has the form of a token this server accepts in the registry.
pub fn is_valid_token(token: &str) -> bool {
    token.len() == TOKEN_LEN && token.bytes().all(|b| TOKEN_ALPHABET.contains(&b))
}

/// A light e-mail check: one `@`, non-empty local part, a dotless or dotted domain
/// without spaces or control characters, at most 254 bytes.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.chars().all(|c| !c.is_whitespace() && !c.is_control())
}

fn check_name(field: &'static str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::InvalidField {
            field,
            reason: "must not be empty".into(),
        });
    }
    if value.len() > MAX_NAME_LEN || value.chars().any(char::is_control) {
        return Err(Error::InvalidField {
            field,
            reason: format!("at most {MAX_NAME_LEN} bytes, no control characters"),
        });
    }
    Ok(())
}

/// Validates a device request; a missing token is generated.
pub fn new_device(user: &str, project: &str, name: &str, token: Option<&str>) -> Result<NewDevice> {
    let user = user.trim();
    if !is_valid_email(user) {
        return Err(Error::InvalidField {
            field: "user",
            reason: "expected an e-mail address".into(),
        });
    }
    check_name("project", project)?;
    check_name("name", name)?;
    let token = match token {
        Some(t) if is_valid_token(t) => t.to_owned(),
        Some(_) => {
            return Err(Error::InvalidField {
                field: "token",
                reason: format!("expected {TOKEN_LEN} characters from A-Z a-z 0-9 - _"),
            });
        }
        None => generate_token()?,
    };
    Ok(NewDevice {
        user: user.to_owned(),
        project: project.trim().to_owned(),
        name: name.trim().to_owned(),
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert!(is_valid_token(&a) && is_valid_token(&b));
        assert_ne!(a, b);
        assert!(!is_valid_token("short"));
        assert!(!is_valid_token(&"a".repeat(31)));
        assert!(!is_valid_token(&format!("{}!", "a".repeat(31))));
    }

    #[test]
    fn emails() {
        for ok in ["a@b", "admin@blynk.cc", "x.y+z@sub.example.org"] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "@b", "a@", "a@@b", "a b@c", "a@b.", "a@.b", "a@b\n",
        ] {
            assert!(!is_valid_email(bad), "{bad:?}");
        }
    }

    #[test]
    fn new_device_names_the_field() {
        let field = |r: Result<NewDevice>| match r {
            Err(Error::InvalidField { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(new_device("bad", "p", "n", None)), "user");
        assert_eq!(field(new_device("a@b.c", " ", "n", None)), "project");
        assert_eq!(field(new_device("a@b.c", "p", "", None)), "name");
        assert_eq!(field(new_device("a@b.c", "p", "n", Some("x"))), "token");
        let d = new_device(" a@b.c ", " p ", "n", None).unwrap();
        assert_eq!((d.user.as_str(), d.project.as_str()), ("a@b.c", "p"));
        assert!(is_valid_token(&d.token));
    }

    proptest! {
        #[test]
        fn email_check_never_panics(s in "\\PC{0,60}") {
            let _ = is_valid_email(&s);
        }
    }
}
