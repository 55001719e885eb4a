//! The installer settings in tauri.conf.json: what a release produces and declares. A mistake here
//! shows only on a release machine (or a clinic's), so it is checked on every test run.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

fn conf() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tauri.conf.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn the_app_identity_matches_the_workspace() {
    let c = conf();
    assert_eq!(c["productName"], "Carebill");
    assert_eq!(c["identifier"], "app.carebill.desktop");
    assert_eq!(
        c["version"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "the installers' version is the workspace version"
    );
}

#[test]
fn every_installer_of_the_three_systems_is_built() {
    let c = conf();
    let b = &c["bundle"];
    assert_eq!(b["active"], true);
    let mut targets = strings(&b["targets"]);
    targets.sort_unstable();
    assert_eq!(targets, ["app", "appimage", "deb", "dmg", "msi", "nsis", "rpm"]);
    for key in [
        "publisher",
        "copyright",
        "license",
        "shortDescription",
        "longDescription",
        "category",
    ] {
        assert!(b[key].as_str().is_some_and(|s| !s.is_empty()), "bundle.{key} is set");
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
    let icons = strings(&b["icon"]);
    for ext in [".png", ".icns", ".ico"] {
        assert!(icons.iter().any(|i| i.ends_with(ext)), "an {ext} icon for its system");
    }
    for icon in icons {
        assert!(
            std::fs::metadata(format!("{root}{icon}")).is_ok_and(|m| m.len() > 0),
            "{icon} exists"
        );
    }
}

#[test]
fn linux_packages_declare_what_the_app_needs_at_run_time() {
    let c = conf();
    let deb = strings(&c["bundle"]["linux"]["deb"]["depends"]);
    // Tauri's bundler adds libwebkit2gtk-4.1-0 and libgtk-3-0 itself (`cargo xtask bundle` checks
    // the built package's Depends); the app also links libcrypto (SQLCipher) and libdbus (the
    // Secret Service keyring).
    for dep in ["libssl3", "libdbus-1-3"] {
        assert!(deb.contains(&dep), ".deb depends on {dep}");
    }
    // Purging the package removes every account's Carebill data (docs/deploy.md).
    for format in ["deb", "rpm"] {
        let script = c["bundle"]["linux"][format]["postRemoveScript"]
            .as_str()
            .expect("a removal script");
        let text = std::fs::read_to_string(format!("{}/{script}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(
            text.contains("purge | 0)") && text.contains(".local/share/Carebill"),
            "{script}"
        );
    }
    let rpm = strings(&c["bundle"]["linux"]["rpm"]["depends"]);
    for dep in ["webkit2gtk4.1", "gtk3", "openssl-libs", "dbus-libs"] {
        assert!(rpm.contains(&dep), ".rpm depends on {dep}");
    }
}

#[test]
fn windows_installs_per_machine_and_brings_webview2_when_missing() {
    let c = conf();
    let w = &c["bundle"]["windows"];
    assert_eq!(
        w["webviewInstallMode"]["type"], "downloadBootstrapper",
        "see docs/deploy.md: small installer; WebView2 is already on Windows 11"
    );
    assert_eq!(
        w["webviewInstallMode"]["silent"], true,
        "no WebView2 dialog in a silent install"
    );
    assert_eq!(
        w["nsis"]["installMode"], "perMachine",
        "clinics install once for every user"
    );
    assert_eq!(w["allowDowngrades"], false);
    assert_eq!(
        c["bundle"]["macOS"]["hardenedRuntime"], true,
        "notarization needs the hardened runtime"
    );
}

#[test]
fn updates_are_signed_and_fetched_over_https() {
    let c = conf();
    assert_eq!(
        c["bundle"]["createUpdaterArtifacts"], true,
        "releases carry signed update bundles"
    );
    let u = &c["plugins"]["updater"];
    let key = STANDARD
        .decode(u["pubkey"].as_str().expect("a public key"))
        .expect("base64, as `tauri signer generate` writes it");
    let key = String::from_utf8(key).unwrap();
    assert!(
        key.starts_with("untrusted comment: minisign public key") && key.lines().count() == 2,
        "a minisign public key: {key}"
    );
    assert_eq!(
        u["requireSignedVersion"], true,
        "a signature must name the version it was made for (no downgrade by a forged manifest)"
    );
    let endpoints = strings(&u["endpoints"]);
    assert!(!endpoints.is_empty());
    assert!(endpoints.iter().all(|e| e.starts_with("https://")), "{endpoints:?}");
    for risky in [
        "dangerousInsecureTransportProtocol",
        "dangerousAcceptInvalidCerts",
        "dangerousAcceptInvalidHostnames",
        "allowDowngrades",
    ] {
        assert!(u.get(risky).is_none_or(|v| v == false), "{risky} stays off");
    }
    assert_eq!(u["windows"]["installMode"], "passive");
}

/// Review finding 24: the removal script runs as root in users' homes; a user who makes
/// `~/.local` or `~/.config` a symbolic link cannot point the removal at another directory.
#[cfg(target_os = "linux")]
#[test]
fn purging_removes_each_accounts_data_and_never_follows_a_link() {
    let root = tempfile::tempdir().unwrap();
    let honest = root.path().join("honest");
    let sly = root.path().join("sly");
    let elsewhere = root.path().join("elsewhere");
    for dir in [
        honest.join(".local/share/Carebill"),
        honest.join(".config/Carebill"),
        sly.join(".config"),
        elsewhere.join("share/Carebill"),
        elsewhere.join("Carebill"),
    ] {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("keep-or-not"), b"x").unwrap();
    }
    std::os::unix::fs::symlink(&elsewhere, sly.join(".local")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, sly.join(".config/Carebill")).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/linux/postrm.sh");
    let status = std::process::Command::new("sh")
        .arg(script)
        .arg("purge")
        .env(
            "CAREBILL_POSTRM_HOMES",
            format!("{} {}", honest.display(), sly.display()),
        )
        .status()
        .unwrap();
    assert!(status.success());
    assert!(!honest.join(".local/share/Carebill").exists());
    assert!(!honest.join(".config/Carebill").exists());
    assert!(
        elsewhere.join("share/Carebill/keep-or-not").exists(),
        "followed ~/.local"
    );
    assert!(
        elsewhere.join("Carebill/keep-or-not").exists(),
        "followed ~/.config/Carebill"
    );
    // `apt remove` (not purge) removes nothing.
    std::fs::create_dir_all(honest.join(".config/Carebill")).unwrap();
    let status = std::process::Command::new("sh")
        .arg(script)
        .arg("remove")
        .env("CAREBILL_POSTRM_HOMES", honest.display().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(honest.join(".config/Carebill").exists());
}

/// Installers carry the third-party license notices (the app shows the same file in Help).
#[test]
fn installers_carry_the_third_party_notices() {
    let c = conf();
    let resources = &c["bundle"]["resources"];
    assert_eq!(
        resources["../ui/public/third-party-notices.txt"], "third-party-notices.txt",
        "{resources}"
    );
    let notices = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ui/public/third-party-notices.txt"
    ))
    .unwrap();
    for shipped in ["tauri ", "rusqlite ", "@tauri-apps/api ", "svelte "] {
        assert!(notices.contains(shipped), "{shipped} is in the notices");
    }
}
