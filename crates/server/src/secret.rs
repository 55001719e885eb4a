//! The server's secret: one 256-bit key (created once, kept in the encrypted database) from which
//! refresh-token successors, code hashes and cursor tags are derived with HMAC-SHA256. A leaf:
//! it imports nothing of the crate.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

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

    /// The link of a staff audit entry: a MAC of the previous entry's link and this entry's
    /// fields, so an entry cannot be edited, removed or inserted without the secret.
    pub fn audit_link(&self, prev: &[u8], fields: &[&[u8]]) -> [u8; 32] {
        let mut parts: Vec<&[u8]> = vec![b"staff-audit", prev];
        parts.extend_from_slice(fields);
        self.mac(&parts)
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
