//! Build every test once, run the binaries directly.
//!
//! Cargo resolves features per invocation, from the packages and the targets it builds: a
//! dev-dependency's features count only when a target that needs it is built. So `cargo test -p a`
//! after `cargo test --workspace` can rebuild half the dependency graph, and so can
//! `cargo build -p server`, `--exclude` or a run of only the end-to-end tests. `cargo xtask test`
//! therefore builds once (`cargo test --workspace --all-targets --no-run`), then runs the test
//! executables itself, as cargo would (in the package's directory), and takes the server and the
//! app from the same build.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Result, cargo, root, sh};

/// The end-to-end and benchmark harnesses (carebill-e2e): built with everything, run apart (they
/// need the app, a display and a WebDriver).
pub const BY_NAME: &[&str] = &["e2e", "interaction", "screenshots", "startup"];

/// One test executable of the build.
#[derive(Debug, Clone)]
pub struct TestBinary {
    pub package: String,
    /// The target's name (`it`, `e2e`, the crate's own name for unit tests).
    pub name: String,
    pub kind: String,
    pub package_dir: PathBuf,
    pub exe: PathBuf,
}

impl TestBinary {
    pub fn label(&self) -> String {
        format!("{} ({} {})", self.package, self.kind, self.name)
    }
}

/// The one build: `cargo test --workspace --all-targets`, without running anything. Answers the
/// test executables.
pub fn build() -> Result<Vec<TestBinary>> {
    let mut cmd = cargo();
    cmd.args([
        "test",
        "--workspace",
        "--all-targets",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ])
    .current_dir(root())
    .stdout(Stdio::piped());
    let shown = format!("{cmd:?}");
    let output = cmd
        .spawn()
        .and_then(|child| child.wait_with_output())
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{shown} failed ({})", output.status));
    }
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" || message["profile"]["test"] != true {
            continue;
        }
        let Some(exe) = message["executable"].as_str() else {
            continue;
        };
        let manifest = message["manifest_path"].as_str().unwrap_or_default();
        let package_id = message["package_id"].as_str().unwrap_or_default();
        out.push(TestBinary {
            package: package_name(package_id, manifest),
            name: message["target"]["name"].as_str().unwrap_or_default().to_string(),
            kind: message["target"]["kind"][0].as_str().unwrap_or_default().to_string(),
            package_dir: Path::new(manifest).parent().map(Path::to_path_buf).unwrap_or_else(root),
            exe: PathBuf::from(exe),
        });
    }
    Ok(out)
}

/// `carebill-server` from a package id (`path+file:///…/crates/server#carebill-server@0.1.0`, or
/// `…/crates/server#0.1.0` when the name is the directory's).
fn package_name(id: &str, manifest: &str) -> String {
    let fragment = id.rsplit('#').next().unwrap_or_default();
    match fragment.split_once('@') {
        Some((name, _)) => name.to_string(),
        None => Path::new(manifest)
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// Runs each binary (as `cargo test` would: in its package's directory) through `wrap`, which
/// may put it in a D-Bus session; every binary runs even after a failure, and all failures are
/// reported together.
pub fn run_all(binaries: &[&TestBinary], args: &[&str], wrap: impl Fn(&Path, &[&str]) -> Result<Command>) -> Result {
    let mut failed = Vec::new();
    for binary in binaries {
        eprintln!("     Running {}", binary.label());
        let mut cmd = wrap(&binary.exe, args)?;
        cmd.current_dir(&binary.package_dir);
        if sh(&mut cmd).is_err() {
            failed.push(binary.label());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join(", ")))
    }
}

/// The binary a test build made for `name` (the server, the app), next to the test executables.
pub fn built_binary(name: &str) -> Result<PathBuf> {
    let path = root().join("target/debug").join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} was not built", path.display()))
    }
}
