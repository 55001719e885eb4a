//! Identifiers and tokens: random ids with a type prefix, confirmation numbers people read out,
//! opaque tokens and their hashes (only hashes are stored). A leaf: it imports nothing of the
//! crate.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use sha2::{Digest, Sha256};

const ID_ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A random identifier with a type prefix, like `bil_8m2k4x9q7w3v`.
pub fn random_id(rng: &mut impl Rng, prefix: &str) -> String {
    random_id_of(rng, prefix, 12)
}

/// A random identifier with `chars` characters after the prefix (5 bits each): 24 for what must
/// also be unguessable, like the sandbox processor's tokens.
pub fn random_id_of(rng: &mut impl Rng, prefix: &str, chars: usize) -> String {
    let body: String = (0..chars)
        .map(|_| ID_ALPHABET[rng.gen_range(0..ID_ALPHABET.len())] as char)
        .collect();
    format!("{prefix}_{body}")
}

/// A confirmation number people can read out on the phone: `CB-` and 8 characters.
pub fn confirmation_number(rng: &mut impl Rng) -> String {
    const A: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let body: String = (0..8).map(|_| A[rng.gen_range(0..A.len())] as char).collect();
    format!("CB-{}-{}", &body[..4], &body[4..])
}

pub fn random_token(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Lower-case hexadecimal, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
