//! Carebill's developer tasks. The two README commands:
//!
//! - `cargo xtask run`: install what is missing, then start the demo billing server.
//! - `cargo xtask test`: install what is missing, then fmt check, clippy, every test, and the
//!   API conformance run (schemathesis against the demo server).
//!
//! Other tasks: `cargo xtask conformance` (just the schemathesis run), `cargo xtask openapi`
//! (rewrite crates/api/openapi.json). Release builds and benchmarks never run from `test`.

#![forbid(unsafe_code)]

mod bench;
mod deps;
mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let result = match task {
        "run" => run(),
        "test" => test(),
        "conformance" => deps::python_tools().and_then(|_| conformance()),
        "openapi" => openapi(),
        "bench" => match args.get(1).map(String::as_str) {
            Some("api") => bench::api(),
            Some("payments") => bench::payments(),
            Some("client") => sh(cargo().args(["bench", "--package", "carebill-client", "--bench", "engine"])),
            _ => Err("usage: cargo xtask bench <api | payments | client>".into()),
        },
        _ => {
            eprintln!("usage: cargo xtask <run | test | conformance | openapi | bench <api | payments | client>>");
            return ExitCode::from(if task == "help" { 0 } else { 2 });
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask {task}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub fn step(title: &str) {
    eprintln!("\n==> {title}");
}

/// Runs a command in the workspace root, failing with its name when it fails.
pub fn sh(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    let status = cmd
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run() -> Result {
    deps::system_packages()?;
    step("Building the billing server");
    sh(cargo().args(["build", "--package", "carebill-server"]))?;
    let data = root().join("target/demo-data");
    let _ = std::fs::remove_dir_all(&data);
    step("Starting the demo billing server (Ctrl-C to stop)");
    let server = server::DemoServer::start(&data, "127.0.0.1:8787", true)?;
    eprintln!("{}", server.banner);
    server.wait();
    Ok(())
}

fn test() -> Result {
    deps::system_packages()?;
    deps::python_tools()?;
    step("Formatting (cargo fmt --check)");
    sh(cargo().args(["fmt", "--all", "--", "--check"]))?;
    step("Lints (cargo clippy -D warnings)");
    sh(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    step("Tests (cargo test --workspace, inside a D-Bus session with an unlocked test keyring)");
    sh(&mut with_test_keyring(&["test", "--workspace", "--all-targets"])?)?;
    sh(cargo().args(["test", "--workspace", "--doc"]))?;
    conformance()?;
    eprintln!("\nAll checks passed.");
    Ok(())
}

/// Schemathesis against a fresh demo server, with the committed config and auth hook.
fn conformance() -> Result {
    step("API conformance (schemathesis against the demo server)");
    sh(cargo().args(["build", "--package", "carebill-server"]))?;
    let data = root().join(format!("target/xtask/conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let server = server::DemoServer::start(&data, "127.0.0.1:0", false)?;
    let api = root().join("tests/api");
    let outcome = sh(Command::new(deps::venv_bin("schemathesis"))
        .arg("--config-file")
        .arg(api.join("schemathesis.toml"))
        .arg("run")
        .arg(root().join("crates/api/openapi.json"))
        .arg("--url")
        .arg(&server.url)
        .env("CAREBILL_API_URL", &server.url)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", &api)
        .env("NO_COLOR", "1"));
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
    outcome
}

/// `cargo ARGS` inside `dbus-run-session` with gnome-keyring unlocked, so the OS keyring backend is
/// really exercised (its keyrings live under target/, never in the developer's home). Where that
/// is not available, plain `cargo ARGS` (the keyring tests then check the "unavailable" path).
fn with_test_keyring(args: &[&str]) -> Result<Command> {
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !(cfg!(target_os = "linux") && have("dbus-run-session") && have("gnome-keyring-daemon")) {
        let mut cmd = cargo();
        cmd.args(args);
        return Ok(cmd);
    }
    let home = root().join("target/xtask/keyring-home");
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new("dbus-run-session");
    cmd.args([
        "--",
        "sh",
        "-c",
        "printf carebill-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$@\"",
        "sh",
        &cargo_bin,
    ])
    .args(args)
    .env("XDG_DATA_HOME", &home);
    Ok(cmd)
}

fn openapi() -> Result {
    step("Regenerating crates/api/openapi.json");
    sh(cargo()
        .args(["test", "--package", "carebill-api", "--lib", "openapi"])
        .env("UPDATE_OPENAPI", "1"))
}
