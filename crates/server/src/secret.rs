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

    /// Seals a small secret (a staff member's TOTP key) for storage: encrypted with a keystream
    /// of HMAC blocks over a random nonce, then authenticated (encrypt-then-MAC), so a copy of
    /// the database alone neither reads it nor swaps in another. `nonce || ciphertext || tag`.
    pub fn seal(&self, purpose: &str, plain: &[u8]) -> Vec<u8> {
        let nonce: [u8; 16] = rand::random();
        let mut out = nonce.to_vec();
        out.extend(self.keystream(purpose, &nonce, plain));
        let tag = self.mac(&[b"seal-tag", purpose.as_bytes(), &out]);
        out.extend_from_slice(&tag[..16]);
        out
    }

    /// What [`Secret::seal`] sealed for `purpose`; `None` when it was altered, or sealed for
    /// another purpose or with another secret.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 32 {
            return None;
        }
        let (body, tag) = sealed.split_at(sealed.len() - 16);
        let expected = self.mac(&[b"seal-tag", purpose.as_bytes(), body]);
        if !constant_time_eq(&expected[..16], tag) {
            return None;
        }
        let (nonce, cipher) = body.split_at(16);
        Some(self.keystream(purpose, nonce, cipher))
    }

    fn keystream(&self, purpose: &str, nonce: &[u8], data: &[u8]) -> Vec<u8> {
        data.chunks(32)
            .enumerate()
            .flat_map(|(i, chunk)| {
                let block = self.mac(&[b"seal", purpose.as_bytes(), nonce, &(i as u32).to_be_bytes()]);
                chunk.iter().zip(block).map(|(a, b)| a ^ b).collect::<Vec<u8>>()
            })
            .collect()
    }

    /// The CSRF token of a console session: derived from its cookie token, so nothing more is
    /// stored, and useless without the cookie (which scripts cannot read).
    pub fn csrf_token(&self, session_token: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(&[b"staff-csrf", session_token.as_bytes()]))
    }

    /// A short tag authenticating an opaque value (cursors).
    pub fn tag(&self, context: &str, value: &[u8]) -> [u8; 12] {
        let full = self.mac(&[b"tag", context.as_bytes(), value]);
        let mut out = [0u8; 12];
        out.copy_from_slice(&full[..12]);
        out
    }
}

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unreachable_key() -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot happen.
    <Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 32]).expect("hmac key")
}
