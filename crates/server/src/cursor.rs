//! Opaque, tamper-evident cursors: a payload and a keyed tag, base64url. A cursor made for one
//! member or one purpose is not valid for another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secret::Secret;

pub fn encode(secret: &Secret, context: &str, payload: &[u8]) -> String {
    let mut bytes = payload.to_vec();
    bytes.extend_from_slice(&secret.tag(context, payload));
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode(secret: &Secret, context: &str, cursor: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    if bytes.len() < 12 || cursor.len() > 512 {
        return None;
    }
    let (payload, tag) = bytes.split_at(bytes.len() - 12);
    (secret.tag(context, payload) == tag).then(|| payload.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_tampering_or_other_contexts() {
        let s = Secret([7; 32]);
        let c = encode(&s, "sync:M1", &42u64.to_be_bytes());
        assert_eq!(decode(&s, "sync:M1", &c), Some(42u64.to_be_bytes().to_vec()));
        assert_eq!(decode(&s, "sync:M2", &c), None);
        let mut tampered = c.into_bytes();
        tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
        assert_eq!(decode(&s, "sync:M1", &String::from_utf8(tampered).unwrap()), None);
        assert_eq!(decode(&s, "sync:M1", "!!!"), None);
    }
}
