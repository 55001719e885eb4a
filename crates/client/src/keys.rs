//! The cache's data key and how it is kept.
//!
//! Each member's cache is encrypted with a random 256-bit data key. The data key is stored only
//! wrapped (XChaCha20-Poly1305), twice, in `keys.json` beside the cache:
//! - by a random key-encryption key kept in the OS keyring (entry `cache-key/<member>`), so a
//!   remembered session opens the cache without the password;
//! - by a key derived from the member's password with argon2id (m = 19 MiB, t = 2, p = 1, random
//!   salt), so the cache opens offline with the password alone.
//!
//! The file holds ciphertext and salts only; no key or token sits in a plain file. After a
//! password change the next online sign-in re-wraps with the new password (using the keyring copy,
//! or the old password-wrapped copy when the password is the one just changed on this device);
//! when neither can open it, the cache is wiped and synced again.

use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::secrets::SecretStore;

pub const KEY_FILE: &str = "keys.json";

/// A 256-bit data key. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey(pub [u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    pub fn random() -> DataKey {
        DataKey(rand::random())
    }

    /// SQLCipher's raw-key form.
    pub fn sqlcipher_pragma(&self) -> String {
        format!("PRAGMA key = \"x'{}'\";", hex(&self.0))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("no offline copy on this device")]
    Missing,
    #[error("the password does not open the offline copy")]
    WrongPassword,
    #[error("the keyring copy of the cache key is missing")]
    NoKeyringCopy,
    #[error("the key file is damaged: {0}")]
    Corrupt(String),
    #[error("cannot write the key file: {0}")]
    Io(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyFile {
    version: u32,
    /// Argon2id salt for the password-derived key.
    salt: String,
    /// The data key wrapped by the password-derived key (nonce || ciphertext).
    by_password: String,
    /// The data key wrapped by the keyring's key, when a keyring was usable.
    by_keyring: Option<String>,
    /// Unsalted hashes of logins, as releases before 0.2 wrote them; moved to `salted_logins` at
    /// the next sign-in.
    #[serde(default)]
    logins: Vec<String>,
    /// Random salt of this file's login hashes (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login_salt: Option<String>,
    /// Salted hashes of the logins (email, member ID) that lead to this copy, for finding it and
    /// for offline unlock: not comparable across installations, not precomputable.
    #[serde(default)]
    salted_logins: Vec<String>,
}

/// Where releases before 0.2 kept a member's copy: named by an unsalted hash of the member ID,
/// which anyone can invert (there are only so many member IDs). Copies are now in randomly named
/// directories (see [`locate`]); an old one is renamed at the member's next sign-in.
pub fn legacy_member_dir(data_dir: &Path, member_id: &str) -> PathBuf {
    data_dir.join("members").join(member_hash(member_id))
}

/// The directory of a member's copy: the existing one that their member ID leads to (moved out
/// of a pre-0.2 name, with its keyring copy), or a new, randomly named one. The name says
/// nothing about whose copy it is; the salted login hashes in its key file find it.
pub fn locate(data_dir: &Path, member_id: &str, keyring: Option<&dyn SecretStore>) -> PathBuf {
    let legacy = legacy_member_dir(data_dir, member_id);
    let found = dirs_for_login(data_dir, member_id)
        .into_iter()
        .next()
        .or_else(|| exists(&legacy).then(|| legacy.clone()));
    match found {
        Some(dir) if dir == legacy => {
            let renamed = data_dir.join("members").join(random_name());
            if std::fs::rename(&dir, &renamed).is_err() {
                return dir;
            }
            if let Some(store) = keyring
                && let Ok(Some(kek)) = store.get(&keyring_entry(&dir))
                && store.set(&keyring_entry(&renamed), &kek).is_ok()
            {
                let _ = store.delete(&keyring_entry(&dir));
            }
            renamed
        }
        Some(dir) => dir,
        None => data_dir.join("members").join(random_name()),
    }
}

fn random_name() -> String {
    let bytes: [u8; 16] = rand::random();
    hex(&bytes)
}

fn salted_login_hash(login: &str, salt: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"carebill login v2\0");
    h.update(salt.as_bytes());
    h.update(b"\0");
    h.update(login.trim().to_lowercase().as_bytes());
    hex(&h.finalize()[..16])
}

impl KeyFile {
    /// Whether `login` leads to this copy (salted hashes, or a pre-0.2 unsalted one).
    fn has_login(&self, login: &str) -> bool {
        self.login_salt
            .as_deref()
            .is_some_and(|salt| self.salted_logins.contains(&salted_login_hash(login, salt)))
            || self.logins.contains(&login_hash(login))
    }

    /// Records `logins` with this file's salt (making one when there is none) and drops the
    /// unsalted hashes they replace.
    fn add_logins(&mut self, logins: &[&str]) {
        let salt = self.login_salt.get_or_insert_with(random_name).clone();
        for l in logins {
            let h = salted_login_hash(l, &salt);
            if !self.salted_logins.contains(&h) {
                self.salted_logins.push(h);
            }
            let legacy = login_hash(l);
            self.logins.retain(|x| x != &legacy);
        }
    }
}

pub fn member_hash(member_id: &str) -> String {
    hex(&Sha256::digest(format!("carebill member {}", member_id.to_uppercase()).as_bytes())[..12])
}

/// A login as typed (email or member ID), normalized and hashed.
pub fn login_hash(login: &str) -> String {
    hex(&Sha256::digest(format!("carebill login {}", login.trim().to_lowercase()).as_bytes())[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn keyring_entry(dir: &Path) -> String {
    format!(
        "cache-key/{}",
        dir.file_name().and_then(|n| n.to_str()).unwrap_or("unknown")
    )
}

fn password_kek(password: &str, salt: &[u8]) -> Result<[u8; 32], KeyError> {
    let params = Params::new(19 * 1024, 2, 1, Some(32)).map_err(|e| KeyError::Corrupt(e.to_string()))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), salt, &mut out)
        .map_err(|e| KeyError::Corrupt(e.to_string()))?;
    Ok(out)
}

fn wrap(kek: &[u8; 32], key: &DataKey, aad: &str) -> String {
    let cipher = XChaCha20Poly1305::new(kek.into());
    let nonce_bytes: [u8; 24] = rand::random();
    let nonce = XNonce::from_slice(&nonce_bytes);
    let ct = cipher
        .encrypt(
            nonce,
            Payload {
                msg: &key.0,
                aad: aad.as_bytes(),
            },
        )
        .unwrap_or_default();
    let mut out = nonce_bytes.to_vec();
    out.extend(ct);
    B64.encode(out)
}

fn unwrap(kek: &[u8; 32], wrapped: &str, aad: &str) -> Option<DataKey> {
    let bytes = B64.decode(wrapped).ok()?;
    if bytes.len() < 24 {
        return None;
    }
    let (nonce, ct) = bytes.split_at(24);
    let plain = XChaCha20Poly1305::new(kek.into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: aad.as_bytes(),
            },
        )
        .ok()?;
    plain.try_into().ok().map(DataKey)
}

fn read(dir: &Path) -> Result<KeyFile, KeyError> {
    let text = std::fs::read_to_string(dir.join(KEY_FILE)).map_err(|_| KeyError::Missing)?;
    serde_json::from_str(&text).map_err(|e| KeyError::Corrupt(e.to_string()))
}

fn write(dir: &Path, file: &KeyFile) -> Result<(), KeyError> {
    private_dir(dir).map_err(|e| KeyError::Io(e.to_string()))?;
    let tmp = dir.join(format!("{KEY_FILE}.tmp"));
    let text = serde_json::to_string_pretty(file).map_err(|e| KeyError::Io(e.to_string()))?;
    private_file(&tmp, text.as_bytes()).map_err(|e| KeyError::Io(e.to_string()))?;
    std::fs::rename(&tmp, dir.join(KEY_FILE)).map_err(|e| KeyError::Io(e.to_string()))
}

/// Creates `dir` (and missing parents) readable by this OS user only (0700 on Unix; on Windows
/// and macOS the profile's ACLs already keep other users out).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    restrict(dir, 0o700)
}

/// Writes a file readable by this OS user only (0600 on Unix).
pub fn private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    restrict(path, 0o600)
}

/// Narrows an existing file or directory to this OS user (copies made before this release).
pub fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

const AAD_PASSWORD: &str = "carebill cache key v1 password";
const AAD_KEYRING: &str = "carebill cache key v1 keyring";

pub fn exists(dir: &Path) -> bool {
    dir.join(KEY_FILE).exists()
}

/// Makes a new data key and stores it wrapped by the password and, when a keyring is usable, by a
/// keyring key. Returns the data key.
pub fn create(
    dir: &Path,
    password: &str,
    keyring: Option<&dyn SecretStore>,
    logins: &[&str],
) -> Result<DataKey, KeyError> {
    let key = DataKey::random();
    let salt: [u8; 16] = rand::random();
    let by_password = wrap(&password_kek(password, &salt)?, &key, AAD_PASSWORD);
    let by_keyring = keyring.and_then(|store| {
        let kek: [u8; 32] = rand::random();
        store
            .set(&keyring_entry(dir), &hex(&kek))
            .ok()
            .map(|_| wrap(&kek, &key, AAD_KEYRING))
    });
    let mut file = KeyFile {
        version: 1,
        salt: B64.encode(salt),
        by_password,
        by_keyring,
        logins: Vec::new(),
        login_salt: None,
        salted_logins: Vec::new(),
    };
    file.add_logins(logins);
    write(dir, &file)?;
    Ok(key)
}

/// Opens the data key with the password (offline unlock, or online with a keyring-less device).
pub fn open_with_password(dir: &Path, password: &str) -> Result<DataKey, KeyError> {
    let file = read(dir)?;
    let salt = B64.decode(&file.salt).map_err(|e| KeyError::Corrupt(e.to_string()))?;
    unwrap(&password_kek(password, &salt)?, &file.by_password, AAD_PASSWORD).ok_or(KeyError::WrongPassword)
}

/// Opens the data key with the keyring's copy.
pub fn open_with_keyring(dir: &Path, store: &dyn SecretStore) -> Result<DataKey, KeyError> {
    let file = read(dir)?;
    let wrapped = file.by_keyring.ok_or(KeyError::NoKeyringCopy)?;
    let hex_kek = store
        .get(&keyring_entry(dir))
        .ok()
        .flatten()
        .ok_or(KeyError::NoKeyringCopy)?;
    let kek: Vec<u8> = (0..hex_kek.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex_kek.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect();
    let kek: [u8; 32] = kek.try_into().map_err(|_| KeyError::NoKeyringCopy)?;
    unwrap(&kek, &wrapped, AAD_KEYRING).ok_or(KeyError::NoKeyringCopy)
}

/// Re-wraps the data key with a (new) password, keeping a keyring copy that still opens; makes a
/// fresh keyring copy when a keyring is usable and there is none that opens (sign-out deletes the
/// keyring's key, so the old copy can never be opened again).
pub fn rewrap(
    dir: &Path,
    key: &DataKey,
    password: &str,
    keyring: Option<&dyn SecretStore>,
    logins: &[&str],
) -> Result<(), KeyError> {
    let mut file = read(dir)?;
    let salt: [u8; 16] = rand::random();
    file.salt = B64.encode(salt);
    file.by_password = wrap(&password_kek(password, &salt)?, key, AAD_PASSWORD);
    let keyring_opens = keyring.is_some_and(|store| open_with_keyring(dir, store).is_ok());
    if let (false, Some(store)) = (keyring_opens, keyring) {
        let kek: [u8; 32] = rand::random();
        file.by_keyring = store
            .set(&keyring_entry(dir), &hex(&kek))
            .is_ok()
            .then(|| wrap(&kek, key, AAD_KEYRING));
    }
    file.add_logins(logins);
    write(dir, &file)
}

/// The member directories that a typed login leads to (offline unlock).
pub fn dirs_for_login(data_dir: &Path, login: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("members")) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|dir| read(dir).is_ok_and(|f| f.has_login(login)))
        .collect();
    dirs.sort();
    dirs
}

/// Deletes the key file and the keyring copy: the cache can no longer be opened.
pub fn destroy(dir: &Path, keyring: Option<&dyn SecretStore>) {
    if let Some(store) = keyring {
        let _ = store.delete(&keyring_entry(dir));
    }
    let _ = std::fs::remove_file(dir.join(KEY_FILE));
}

/// The data key after an online sign-in (`password` is `None` when a remembered session resumes),
/// creating, re-wrapping or replacing the key file as needed:
///
/// - no key file yet: a new key, wrapped by the password (and the keyring when there is one);
/// - the keyring copy opens it: that key; with a password the file is re-wrapped if the password
///   no longer opens it (changed on another device);
/// - no keyring copy, the password opens it: that key, re-wrapped (so the keyring gets a copy);
/// - neither opens it (the password changed elsewhere, no keyring copy): the old copy is
///   unreadable, so it is destroyed and a fresh one made, to be filled again from the service;
/// - no password and no keyring copy: [`KeyError::NoKeyringCopy`] (the member must type it).
///
/// Blocking (Argon2id): call it off the async runtime.
pub fn open_for_sign_in(
    dir: &Path,
    password: Option<&str>,
    ring: Option<&dyn SecretStore>,
    logins: &[&str],
) -> Result<DataKey, KeyError> {
    if !exists(dir) {
        let pw = password.ok_or(KeyError::Missing)?;
        return create(dir, pw, ring, logins);
    }
    let by_ring = ring.map(|r| open_with_keyring(dir, r));
    match (by_ring, password) {
        (Some(Ok(key)), Some(pw)) => {
            if open_with_password(dir, pw).is_err() {
                rewrap(dir, &key, pw, ring, logins)?;
            }
            Ok(key)
        }
        (Some(Ok(key)), None) => Ok(key),
        (_, Some(pw)) => match open_with_password(dir, pw) {
            Ok(key) => {
                rewrap(dir, &key, pw, ring, logins)?;
                Ok(key)
            }
            Err(_) => {
                destroy(dir, ring);
                let _ = std::fs::remove_dir_all(dir);
                create(dir, pw, ring, logins)
            }
        },
        (_, None) => Err(KeyError::NoKeyringCopy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemoryStore;

    #[test]
    fn the_data_key_opens_with_the_password_or_the_keyring_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let ring = MemoryStore::new();
        let key = create(
            dir.path(),
            "correct horse battery staple",
            Some(&ring),
            &["demo@carebill.example", "M200000001"],
        )
        .unwrap();
        assert_eq!(
            open_with_password(dir.path(), "correct horse battery staple").unwrap(),
            key
        );
        assert_eq!(open_with_keyring(dir.path(), &ring).unwrap(), key);
        assert_eq!(
            open_with_password(dir.path(), "wrong horse battery staple"),
            Err(KeyError::WrongPassword)
        );
        assert_eq!(
            open_with_keyring(dir.path(), &MemoryStore::new()),
            Err(KeyError::NoKeyringCopy)
        );
        let text = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        let key_hex: String = key.0.iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            !text.contains(&key_hex) && !text.contains(&B64.encode(key.0)),
            "no key in the clear"
        );
        assert!(!text.contains("demo@carebill.example"));
    }

    #[test]
    fn a_new_password_rewraps_and_logins_find_the_directory() {
        let data = tempfile::tempdir().unwrap();
        let dir = legacy_member_dir(data.path(), "M200000001");
        let key = create(&dir, "first password that is long", None, &["Demo@Carebill.example"]).unwrap();
        rewrap(&dir, &key, "second password that is long", None, &["M200000001"]).unwrap();
        assert_eq!(
            open_with_password(&dir, "first password that is long"),
            Err(KeyError::WrongPassword)
        );
        assert_eq!(open_with_password(&dir, "second password that is long").unwrap(), key);
        assert_eq!(dirs_for_login(data.path(), " demo@carebill.EXAMPLE"), vec![dir.clone()]);
        assert_eq!(dirs_for_login(data.path(), "m200000001"), vec![dir.clone()]);
        assert!(dirs_for_login(data.path(), "someone@else.example").is_empty());
        destroy(&dir, None);
        assert_eq!(
            open_with_password(&dir, "second password that is long"),
            Err(KeyError::Missing)
        );
    }

    #[test]
    fn signing_in_chooses_the_key_the_way_the_policy_says() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("m");
        let ring = MemoryStore::new();
        let logins = ["pat@example.com", "M100200300"];
        // A resume with nothing on this device: the member must type the password.
        assert!(matches!(
            open_for_sign_in(&dir, None, Some(&ring), &logins),
            Err(KeyError::Missing)
        ));
        // First sign-in: a new key, with a keyring copy.
        let first = open_for_sign_in(&dir, Some("first password"), Some(&ring), &logins).unwrap();
        assert_eq!(open_with_keyring(&dir, &ring).unwrap(), first);
        // A resume opens it from the keyring alone.
        assert_eq!(open_for_sign_in(&dir, None, Some(&ring), &logins).unwrap(), first);
        // The password changed on another device: the keyring copy still opens it, and the file
        // is re-wrapped so the new password opens it too (offline as well).
        let again = open_for_sign_in(&dir, Some("second password"), Some(&ring), &logins).unwrap();
        assert_eq!(again, first);
        assert_eq!(open_with_password(&dir, "second password").unwrap(), first);
        // No keyring: the password that opens it keeps the same key.
        let same = open_for_sign_in(&dir, Some("second password"), None, &logins).unwrap();
        assert_eq!(same, first);
        // No keyring and a resume: the member must type the password.
        assert!(matches!(
            open_for_sign_in(&dir, None, None, &logins),
            Err(KeyError::NoKeyringCopy)
        ));
        // Changed elsewhere again, and no keyring copy to open the old file: a fresh copy.
        let fresh = open_for_sign_in(&dir, Some("third password"), None, &logins).unwrap();
        assert_ne!(fresh, first);
        assert_eq!(open_with_password(&dir, "third password").unwrap(), fresh);
    }
}
