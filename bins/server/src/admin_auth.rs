//! The super-admin's credentials, kept only as a salted hash.
//!
//! The plain password is hashed at start-up (SHA-256 over a random 16-byte salt, the
//! lower-cased e-mail, a NUL and the password) and dropped; requests are checked by
//! hashing what they present the same way and comparing the digests in constant time.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::fmt;

/// The legacy default admin password; while it is in force the admin API is loopback-only.
pub const DEFAULT_ADMIN_PASS: &str = "admin";

/// The legacy default admin e-mail.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@blynk.cc";

/// The super-admin's e-mail and salted password hash. `Debug` shows neither hash nor salt.
#[derive(Clone)]
pub struct AdminCredentials {
    email: String,
    salt: [u8; 16],
    digest: [u8; 32],
    default_password: bool,
}

/// Outcome of checking an `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// No header, or not a decodable `Basic user:password` value.
    Missing,
    /// Well-formed credentials that do not match.
    Wrong,
    /// The super-admin.
    Granted,
}

impl AdminCredentials {
    /// Hashes `password` for `email` with a fresh random salt.
    pub fn new(email: &str, password: &str) -> Self {
        let mut salt = [0u8; 16];
        // A failing OS random source leaves a zero salt: the hash is still a correct
        // check, only less protected against precomputation.
        if getrandom::fill(&mut salt).is_err() {
            tracing::warn!("OS random source unavailable; admin password salt is fixed");
        }
        let email = email.trim().to_lowercase();
        let digest = hash(&salt, &email, password.as_bytes());
        Self {
            email,
            salt,
            digest,
            default_password: password == DEFAULT_ADMIN_PASS,
        }
    }

    /// The admin e-mail (lower-cased).
    pub fn email(&self) -> &str {
        &self.email
    }

    /// Whether the password is the legacy default `admin` (admin API loopback-only then).
    pub fn is_default_password(&self) -> bool {
        self.default_password
    }

    /// Checks the value of an `Authorization` header (`None` when absent).
    ///
    /// The user part is compared case-insensitively (legacy); a password may contain `:`.
    pub fn check(&self, header: Option<&[u8]>) -> AuthOutcome {
        let Some((user, password)) = header.and_then(decode_basic) else {
            return AuthOutcome::Missing;
        };
        let presented = hash(&self.salt, &user.trim().to_lowercase(), &password);
        if constant_time_eq(&presented, &self.digest) {
            AuthOutcome::Granted
        } else {
            AuthOutcome::Wrong
        }
    }
}

impl fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminCredentials")
            .field("email", &self.email)
            .field("default_password", &self.default_password)
            .finish_non_exhaustive()
    }
}

fn hash(salt: &[u8; 16], email: &str, password: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(email.as_bytes());
    h.update([0u8]);
    h.update(password);
    h.finalize().into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Decodes `Basic base64(user:password)` into its parts (password split at the first `:`).
fn decode_basic(value: &[u8]) -> Option<(String, Vec<u8>)> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_pass: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
        .into_bytes()
    }

    #[test]
    fn outcomes() {
        let creds = AdminCredentials::new("Admin@Blynk.cc", "s3:cret");
        assert_eq!(creds.check(None), AuthOutcome::Missing);
        assert_eq!(creds.check(Some(b"Bearer x")), AuthOutcome::Missing);
        assert_eq!(creds.check(Some(b"Basic !!!")), AuthOutcome::Missing);
        assert_eq!(creds.check(Some(&basic("no-colon"))), AuthOutcome::Missing);
        assert_eq!(
            creds.check(Some(&basic("admin@blynk.cc:wrong"))),
            AuthOutcome::Wrong
        );
        assert_eq!(
            creds.check(Some(&basic("other@blynk.cc:s3:cret"))),
            AuthOutcome::Wrong
        );
        assert_eq!(
            creds.check(Some(&basic("ADMIN@blynk.cc:s3:cret"))),
            AuthOutcome::Granted
        );
        assert!(!creds.is_default_password());
        assert!(AdminCredentials::new("a@b.c", DEFAULT_ADMIN_PASS).is_default_password());
    }

    #[test]
    fn debug_hides_secrets() {
        let creds = AdminCredentials::new("a@b.c", "hunter2");
        let shown = format!("{creds:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("digest"));
        assert!(!shown.contains("salt"));
    }

    #[test]
    fn salts_differ() {
        let a = AdminCredentials::new("a@b.c", "p");
        let b = AdminCredentials::new("a@b.c", "p");
        assert_ne!(a.digest, b.digest);
    }
}
