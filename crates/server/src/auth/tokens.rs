//! Opaque tokens and one-time codes. Only their hashes are stored.
//!
//! Refresh rotation is deterministic: the pair that replaces refresh token `T` is derived as
//! HMAC(server secret, kind || T). Presenting `T` again within the grace period therefore
//! returns the very same pair without the server ever storing a token in the clear, and without
//! the secret nobody can compute a successor.

use rand::Rng;

pub const ACCESS_PREFIX: &str = "cba_";
pub const REFRESH_PREFIX: &str = "cbr_";

/// Characters of reset codes: no 0/O, 1/I/L, to be read off an email and typed.
const RESET_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const RESET_CODE_LEN: usize = 8;

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
    use crate::ids::random_token;
    use crate::secret::Secret;

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
