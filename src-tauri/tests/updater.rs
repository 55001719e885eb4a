//! Signed updates: a local server offers an update manifest and a bundle. A correctly signed
//! bundle is accepted and installed; a tampered bundle or a signature from another key is
//! refused with a clear error, and the installed app is left exactly as it was.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use carebill_app::config::UpdateConfig;
use carebill_app::updates::{self, UpdateError, UpdateSource};
use carebill_testkit::files::FileServer;
use minisign::KeyPair;
use tauri::Url;

/// A release key made the way `tauri signer generate` makes one, in the formats tauri.conf.json
/// and the update manifest use (base64 of the minisign text files).
struct Key(KeyPair);

impl Key {
    fn new() -> Key {
        Key(KeyPair::generate_unencrypted_keypair().unwrap())
    }

    fn public(&self) -> String {
        STANDARD.encode(self.0.pk.to_box().unwrap().into_string())
    }

    /// Signed as `tauri build` signs: the trusted comment records the version.
    fn sign(&self, bytes: &[u8]) -> String {
        self.sign_with(
            bytes,
            "timestamp:1795850825\tfile:Carebill_9.9.9_amd64.AppImage\tversion:9.9.9",
        )
    }

    fn sign_with(&self, bytes: &[u8], trusted_comment: &str) -> String {
        let sig = minisign::sign(
            Some(&self.0.pk),
            &self.0.sk,
            bytes,
            Some(trusted_comment),
            Some("signature from tauri secret key"),
        )
        .unwrap();
        STANDARD.encode(sig.into_string())
    }
}

/// The updater's name for this platform in a static manifest (`{os}-{arch}`).
fn platform() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    format!("{os}-{}", std::env::consts::ARCH)
}

/// The new version's bundle: on Linux an AppImage is an ELF executable.
fn bundle() -> Vec<u8> {
    let mut bytes = b"\x7fELF".to_vec();
    bytes.extend_from_slice(b" Carebill 9.9.9 (test bundle) ");
    bytes.extend((0..4096u32).map(|i| (i % 251) as u8));
    bytes
}

/// Serves a manifest announcing 9.9.9 whose `signature` is `signature`, and `served` as the bundle.
fn offer(signature: &str, served: Vec<u8>) -> FileServer {
    FileServer::serve(|base| {
        let manifest = serde_json::json!({
            "version": "9.9.9",
            "notes": "Faster bills list.",
            "pub_date": "2026-11-28T08:00:00Z",
            "platforms": {
                platform(): {
                    "signature": signature,
                    "url": format!("{base}/Carebill_9.9.9.AppImage"),
                }
            }
        });
        HashMap::from([
            ("/latest.json", manifest.to_string().into_bytes()),
            ("/Carebill_9.9.9.AppImage", served),
        ])
    })
}

/// The "installed app": a file standing for the running AppImage, which an install replaces.
fn installed(dir: &std::path::Path) -> (PathBuf, Vec<u8>) {
    let path = dir.join("Carebill.AppImage");
    let old = b"\x7fELF Carebill 0.1.0 (installed)".to_vec();
    std::fs::write(&path, &old).unwrap();
    (path, old)
}

fn source(server: &FileServer, key: &Key, executable: PathBuf) -> UpdateSource {
    UpdateSource {
        endpoints: vec![Url::parse(&server.url("/latest.json")).unwrap()],
        pubkey: Some(key.public()),
        executable: Some(executable),
    }
}

fn check_and_install(source: &UpdateSource) -> Result<String, UpdateError> {
    let dir = tempfile::tempdir().unwrap();
    let (app, _window) = support::app(dir.path());
    let handle = app.handle().clone();
    tauri::async_runtime::block_on(async move {
        let update = updates::check(&handle, source)
            .await?
            .expect("9.9.9 is newer than this build");
        assert_eq!(updates::info(&update).version, "9.9.9");
        assert_eq!(updates::info(&update).notes.as_deref(), Some("Faster bills list."));
        updates::download_and_install(&update).await?;
        Ok(update.version)
    })
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
#[cfg(target_os = "linux")]
fn a_correctly_signed_update_is_accepted_and_installed() {
    let key = Key::new();
    let new = bundle();
    let server = offer(&key.sign(&new), new.clone());
    let dir = tempfile::tempdir().unwrap();
    let (app_path, _) = installed(dir.path());
    let version = check_and_install(&source(&server, &key, app_path.clone())).expect("a signed update installs");
    assert_eq!(version, "9.9.9");
    assert_eq!(
        std::fs::read(&app_path).unwrap(),
        new,
        "the app was replaced by the new version"
    );
    assert_eq!(
        files_in(dir.path()),
        ["Carebill.AppImage"],
        "no leftovers next to the app"
    );
}

#[test]
fn a_tampered_bundle_is_refused_and_nothing_changes() {
    let key = Key::new();
    let signed = bundle();
    let mut tampered = signed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let server = offer(&key.sign(&signed), tampered);
    let dir = tempfile::tempdir().unwrap();
    let (app_path, old) = installed(dir.path());
    let err = check_and_install(&source(&server, &key, app_path.clone())).unwrap_err();
    assert_refused(&err);
    assert_eq!(
        server.hits("/Carebill_9.9.9.AppImage"),
        1,
        "refused after the download, by its signature"
    );
    assert_eq!(std::fs::read(&app_path).unwrap(), old, "the installed app is untouched");
    assert_eq!(files_in(dir.path()), ["Carebill.AppImage"]);
}

#[test]
fn a_signature_from_another_key_is_refused_and_nothing_changes() {
    let (ours, theirs) = (Key::new(), Key::new());
    let new = bundle();
    let server = offer(&theirs.sign(&new), new);
    let dir = tempfile::tempdir().unwrap();
    let (app_path, old) = installed(dir.path());
    let err = check_and_install(&source(&server, &ours, app_path.clone())).unwrap_err();
    assert_refused(&err);
    assert_eq!(std::fs::read(&app_path).unwrap(), old, "the installed app is untouched");

    // Garbage where the signature should be: refused the same way.
    let server = offer("bm90IGEgc2lnbmF0dXJl", bundle());
    let err = check_and_install(&source(&server, &ours, app_path.clone())).unwrap_err();
    assert_refused(&err);
    assert_eq!(std::fs::read(&app_path).unwrap(), old);
}

/// Review finding 19: a manifest cannot pair a newer version number with an older release's
/// validly signed bundle: the signature must record the version it was made for, and it must be
/// the announced one (`requireSignedVersion`).
#[test]
fn a_signature_for_another_version_or_none_is_refused_and_nothing_changes() {
    let key = Key::new();
    let new = bundle();
    let dir = tempfile::tempdir().unwrap();
    let (app_path, old) = installed(dir.path());
    for comment in [
        "timestamp:1795850825\tfile:Carebill_0.0.9_amd64.AppImage\tversion:0.0.9",
        "timestamp:1795850825\tfile:Carebill_0.0.9_amd64.AppImage",
    ] {
        let server = offer(&key.sign_with(&new, comment), new.clone());
        let err = check_and_install(&source(&server, &key, app_path.clone())).unwrap_err();
        assert_refused(&err);
        assert_eq!(std::fs::read(&app_path).unwrap(), old, "the installed app is untouched");
    }
}

fn assert_refused(err: &UpdateError) {
    assert_eq!(err.code().as_str(), "update_signature_invalid", "{err}");
    let message = err.to_string();
    assert!(
        message.contains("signature does not match") && message.contains("Nothing was installed or changed"),
        "a clear message: {message}"
    );
    let ui = carebill_client::ClientError::from(UpdateError::BadSignature("x".into()));
    assert_eq!(ui.code, "update_signature_invalid");
}

#[test]
fn an_unreachable_or_empty_update_server_is_a_clear_error() {
    let key = Key::new();
    let dir = tempfile::tempdir().unwrap();
    let (app_path, old) = installed(dir.path());
    let nothing = FileServer::serve(|_| HashMap::new());
    let err = check_and_install(&source(&nothing, &key, app_path.clone())).unwrap_err();
    assert_eq!(err.code().as_str(), "update_unavailable", "{err}");
    assert!(err.to_string().contains("try again later"));
    assert_eq!(std::fs::read(&app_path).unwrap(), old);
}

#[test]
fn the_policy_decides_whether_to_look_at_all() {
    let off = UpdateConfig {
        allowed: false,
        endpoint: Some("https://updates.clinic.example/latest.json".into()),
    };
    assert_eq!(
        updates::configured_source(&off).unwrap_err().code().as_str(),
        "updates_disabled"
    );
    let bad = UpdateConfig {
        allowed: true,
        endpoint: Some("not a url".into()),
    };
    assert_eq!(
        updates::configured_source(&bad).unwrap_err().code().as_str(),
        "update_endpoint_invalid"
    );
    let mirror = UpdateConfig {
        allowed: true,
        endpoint: Some("https://updates.clinic.example/{{target}}/latest.json".into()),
    };
    let source = updates::configured_source(&mirror)
        .unwrap()
        .expect("a configured endpoint is used");
    assert_eq!(source.endpoints.len(), 1);
    assert!(source.pubkey.is_none(), "the built-in release key is used");
    // A development build without an endpoint does not look (it is not an installed package).
    let dev = UpdateConfig {
        allowed: true,
        endpoint: None,
    };
    if cfg!(debug_assertions) {
        assert!(updates::configured_source(&dev).unwrap().is_none());
    }
}

/// Review finding 20: the update client follows redirects only to HTTPS (or within the same
/// host of a plain-HTTP test endpoint), never to plain HTTP elsewhere.
#[test]
fn update_redirects_to_plain_http_elsewhere_are_not_followed() {
    let key = Key::new();
    let new = bundle();
    let elsewhere = offer(&key.sign(&new), new.clone());
    // "localhost" is another host name than the first server's "127.0.0.1", over plain HTTP.
    let target = elsewhere.url("/latest.json").replace("127.0.0.1", "localhost");
    let redirecting = FileServer::serve(|_| {
        let mut to = carebill_testkit::files::REDIRECT.to_vec();
        to.extend_from_slice(target.as_bytes());
        HashMap::from([("/latest.json", to)])
    });
    let dir = tempfile::tempdir().unwrap();
    let (app_path, old) = installed(dir.path());
    let err = check_and_install(&source(&redirecting, &key, app_path.clone())).unwrap_err();
    assert_eq!(err.code().as_str(), "update_unavailable", "{err}");
    assert_eq!(elsewhere.hits("/latest.json"), 0, "the redirect was not followed");
    assert_eq!(std::fs::read(&app_path).unwrap(), old);
    // Within the same host the redirect is followed (a mirror's own layout).
    let same_host = FileServer::serve(|base| {
        let mut to = carebill_testkit::files::REDIRECT.to_vec();
        to.extend_from_slice(format!("{base}/real.json").as_bytes());
        HashMap::from([("/latest.json", to)])
    });
    let _ = check_and_install(&source(&same_host, &key, app_path.clone()));
    assert_eq!(same_host.hits("/real.json"), 1, "followed within the host");
}
