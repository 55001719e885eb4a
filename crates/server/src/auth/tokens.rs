//! Opaque tokens and one-time codes. Only their hashes are stored.
//!
//! Refresh rotation is deterministic: the pair that replaces refresh token `T` is derived as
//! HMAC(server secret, kind || T). Presenting `T` again within the grace period therefore
//! returns the very same pair without the server ever storing a token in the clear, and without
//! the secret nobody can compute a successor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};

pub const ACCESS_PREFIX: &str = "cba_";
pub const REFRESH_PREFIX: &str = "cbr_";

/// Characters of reset codes: no 0/O, 1/I/L, to be read off an email and typed.
const RESET_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const RESET_CODE_LEN: usize = 8;

/// The server's secret for token derivation, cursor tags and code hashes (stored in the
/// encrypted database).
#[derive(Clone)]
pub struct Secret(pub [u8; 32]);

impl Secret {
    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable_key());
        for p in parts {
            mac.update(&(p.len() as u32).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// The access or refresh token that succeeds refresh token `from`.
    pub fn successor(&self, prefix: &str, from: &str) -> String {
        format!(
            "{prefix}{}",
            URL_SAFE_NO_PAD.encode(self.mac(&[prefix.as_bytes(), from.as_bytes()]))
        )
    }

    /// Keyed hash of a short code, so a database dump does not reveal codes by brute force.
    pub fn code_hash(&self, purpose: &str, code: &str) -> Vec<u8> {
        self.mac(&[b"code", purpose.as_bytes(), code.as_bytes()]).to_vec()
    }

    /// A short tag authenticating an opaque value (cursors).
    pub fn tag(&self, context: &str, value: &[u8]) -> [u8; 12] {
        let full = self.mac(&[b"tag", context.as_bytes(), value]);
        let mut out = [0u8; 12];
        out.copy_from_slice(&full[..12]);
        out
    }
}

fn unreachable_key() -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot happen.
    <Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 32]).expect("hmac key")
}

pub fn random_token(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub fn six_digit_code() -> String {
    format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32))
}

pub fn reset_code() -> String {
    let mut rng = rand::thread_rng();
    (0..RESET_CODE_LEN)
        .map(|_| RESET_ALPHABET[rng.gen_range(0..RESET_ALPHABET.len())] as char)
        .collect()
}

/// Reset codes as typed: case, spaces and dashes do not matter.
pub fn normalize_reset_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == RESET_CODE_LEN && code.bytes().all(|b| RESET_ALPHABET.contains(&b))).then_some(code)
}

/// `ABCD-EFGH`, for the email.
pub fn format_reset_code(code: &str) -> String {
    format!("{}-{}", &code[..4], &code[4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successors_are_deterministic_and_keyed() {
        let a = Secret([1; 32]);
        let b = Secret([2; 32]);
        let t = random_token(REFRESH_PREFIX);
        assert_eq!(a.successor(REFRESH_PREFIX, &t), a.successor(REFRESH_PREFIX, &t));
        assert_ne!(a.successor(REFRESH_PREFIX, &t), b.successor(REFRESH_PREFIX, &t));
        assert_ne!(a.successor(REFRESH_PREFIX, &t), a.successor(ACCESS_PREFIX, &t));
        assert!(a.successor(ACCESS_PREFIX, &t).starts_with(ACCESS_PREFIX));
    }

    #[test]
    fn codes_have_the_documented_shapes() {
        for _ in 0..100 {
            let c = six_digit_code();
            assert!(c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()));
            let r = reset_code();
            assert_eq!(normalize_reset_code(&format_reset_code(&r).to_lowercase()), Some(r));
        }
        assert_eq!(normalize_reset_code("abcd efgh"), Some("ABCDEFGH".into()));
        assert_eq!(normalize_reset_code("ABCD-EFG0"), None, "0 is not in the alphabet");
        assert_eq!(normalize_reset_code("ABC"), None);
    }
}
