//! The end-to-end run: the real app binary in a WebKit window on a private virtual display,
//! driven over WebDriver (tauri-driver + WebKitWebDriver), inside a D-Bus session with an
//! unlocked test keyring.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::{Result, cargo, deps, sh, step};

/// An Xvfb server on a display number it picks itself (`-displayfd`), so parallel runs and a
/// developer's own display never collide. Stopped on drop.
pub struct VirtualDisplay {
    child: Child,
    pub display: String,
}

impl VirtualDisplay {
    pub fn start() -> Result<VirtualDisplay> {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start Xvfb: {e}"))?;
        let stdout = child.stdout.take().ok_or("Xvfb has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
        let number = line.trim();
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err("Xvfb did not report its display number".into());
        }
        Ok(VirtualDisplay {
            display: format!(":{number}"),
            child,
        })
    }
}

impl Drop for VirtualDisplay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cargo test ARGS` for the carebill-e2e crate, one test at a time, with a private virtual display,
/// tauri-driver and an unlocked test keyring, plus `env`.
pub fn app_tests(args: &[&str], env: &[(&str, &OsStr)]) -> Result {
    let mut all = vec!["test", "--package", "carebill-e2e"];
    all.extend_from_slice(args);
    in_app_session(crate::with_test_keyring(&all)?, env)
}

/// `cmd` with a private virtual display, tauri-driver and `env`.
fn in_app_session(mut cmd: Command, env: &[(&str, &OsStr)]) -> Result {
    let driver = deps::tauri_driver()?;
    let display = VirtualDisplay::start()?;
    cmd.env("DISPLAY", &display.display)
        .env("NO_AT_BRIDGE", "1")
        .env("TAURI_DRIVER", &driver)
        .envs(env.iter().copied());
    let outcome = sh(&mut cmd);
    drop(display);
    outcome
}

/// Builds the app (the UI must already be built) and runs the end-to-end tests.
pub fn run(filter: Option<&str>) -> Result {
    step("Building the desktop app and the billing server (debug) for the end-to-end tests");
    sh(cargo().args(["build", "--package", "carebill", "--package", "carebill-server"]))?;
    step("End-to-end tests (the real app under Xvfb, WebDriver, D-Bus keyring)");
    let mut args = vec!["--test", "e2e", "--", "--test-threads=1"];
    args.extend(filter);
    app_tests(&args, &[])
}

/// The end-to-end tests from `cargo xtask test`'s one build: its e2e executable and its app.
pub fn run_built(built: &[crate::testbins::TestBinary]) -> Result {
    step("End-to-end tests (the real app under Xvfb, WebDriver, D-Bus keyring)");
    let app = crate::testbins::built_binary("carebill")?;
    // The billing server's command line (`staff reply`), from the same build.
    let server = crate::testbins::built_binary("carebill-server")?;
    let e2e = built
        .iter()
        .find(|b| b.package == "carebill-e2e" && b.name == "e2e")
        .ok_or("the build made no e2e test executable")?;
    let mut cmd = crate::in_test_keyring(e2e.exe.as_os_str(), &["--test-threads=1"])?;
    cmd.current_dir(&e2e.package_dir);
    in_app_session(
        cmd,
        &[
            ("CAREBILL_APP", app.as_os_str()),
            ("CAREBILL_SERVER", server.as_os_str()),
        ],
    )
}

/// The README's screenshots, taken from the real app by the e2e harness's `screenshots` test.
pub fn screenshots(out: &Path) -> Result {
    let _ = std::fs::create_dir_all(out);
    sh(cargo().args(["build", "--package", "carebill"]))?;
    app_tests(
        &["--test", "screenshots", "--", "--ignored", "--test-threads=1"],
        &[("CAREBILL_SCREENSHOTS", out.as_os_str())],
    )
}
