//! `cargo xtask bench api`: the billing server's performance figures (docs/PERFORMANCE.md).
//! Release build, loopback, demo data plus 10,000 bills for the demo member. Never part of `test`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::server::DemoServer;
use crate::{Result, cargo, root, sh, step};

const DURATION: &str = "15s";

fn oha(args: &[&str]) -> Result<Value> {
    let out = Command::new("oha")
        .args(["--no-tui", "--output-format", "json", "-z", DURATION])
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run oha (cargo install oha): {e}"))?;
    serde_json::from_slice(&out.stdout).map_err(|e| format!("oha output: {e}"))
}

fn rps(v: &Value) -> f64 {
    v["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0)
}

fn p99_ms(v: &Value) -> f64 {
    v["latencyPercentiles"]["p99"].as_f64().unwrap_or(0.0) * 1000.0
}

fn ok_share(v: &Value, status: &str) -> String {
    let codes = &v["statusCodeDistribution"];
    let total: u64 = codes
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
    let ok = codes[status].as_u64().unwrap_or(0);
    format!("{ok}/{total} answered {status}")
}

fn sign_in(url: &str, login: &str) -> Result<String> {
    let out = Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            &format!("{url}/v1/sessions"),
            "-H",
            "content-type: application/json",
            "-d",
        ])
        .arg(format!(
            r#"{{"login":"{login}","password":"correct horse battery staple"}}"#
        ))
        .output()
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    v["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("sign-in failed: {v}"))
}

pub fn api() -> Result {
    step("Building the server in release mode");
    sh(cargo().args([
        "build",
        "--release",
        "--package",
        "carebill-server",
        "--bin",
        "carebill-server",
        "--example",
        "sync_timing",
    ]))?;
    let data = root().join("target/bench/api");
    let _ = std::fs::remove_dir_all(&data);
    let bin = root().join("target/release/carebill-server");
    step("Seeding 10,000 bills for the demo member");
    sh(Command::new(&bin)
        .args(["--demo", "--data-dir"])
        .arg(&data)
        .args(["seed", "--bills", "10000"]))?;
    let server = DemoServer::start_binary(&bin, &data, "127.0.0.1:0", false)?;
    let url = server.url.clone();
    let token = sign_in(&url, "demo@carebill.example")?;
    let auth = format!("Authorization: Bearer {token}");
    let bills = format!("{url}/v1/bills");

    step("GET /v1/bills at saturation (64 connections)");
    let _ = oha(&["-c", "64", "-H", &auth, &bills])?; // warm-up
    let sat = oha(&["-c", "64", "-H", &auth, &bills])?;
    let saturation = rps(&sat);
    step("GET /v1/bills at half of saturation");
    let half_rate = format!("{:.0}", saturation / 2.0);
    let half = oha(&["-c", "64", "-q", &half_rate, "-H", &auth, &bills])?;

    step("Full sync of the demo member (10,000+ bills) and no-change sync");
    let sync = Command::new(root().join("target/release/examples/sync_timing"))
        .args([&url, "demo@carebill.example", "correct horse battery staple", "5"])
        .output()
        .map_err(|e| e.to_string())?;
    let sync = String::from_utf8_lossy(&sync.stdout).to_string();

    step("Sign-in flood (POST /v1/sessions, 32 connections) with GET /v1/bills at 500 req/s alongside");
    let body = r#"{"login":"taylor.nguyen@carebill.example","password":"correct horse battery staple"}"#;
    let sessions = format!("{url}/v1/sessions");
    let flood_args: Vec<String> = [
        "-c",
        "32",
        "-m",
        "POST",
        "-T",
        "application/json",
        "-d",
        body,
        &sessions,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let flood = std::thread::spawn(move || oha(&flood_args.iter().map(String::as_str).collect::<Vec<_>>()));
    let during = oha(&["-c", "16", "-q", "500", "-H", &auth, &bills])?;
    let flood = flood.join().map_err(|_| "flood thread panicked")??;
    drop(server);

    println!("\n| Figure | Result |\n|---|---|");
    println!(
        "| GET /v1/bills saturation | {saturation:.0} req/s (p99 {:.2} ms; {}) |",
        p99_ms(&sat),
        ok_share(&sat, "200")
    );
    println!(
        "| GET /v1/bills at {half_rate} req/s | achieved {:.0} req/s, p99 {:.2} ms |",
        rps(&half),
        p99_ms(&half)
    );
    for line in sync.lines() {
        println!(
            "| {} | {} |",
            line.split('=').next().unwrap_or(""),
            line.split('=').nth(1).unwrap_or("")
        );
    }
    println!(
        "| Sign-ins per second (argon2id m=19 MiB t=2 p=1) | {:.1} ({}) |",
        rps(&flood),
        ok_share(&flood, "201")
    );
    println!(
        "| GET /v1/bills p99 during the sign-in flood | {:.2} ms at {:.0} req/s |",
        p99_ms(&during),
        rps(&during)
    );
    Ok(())
}

/// `cargo xtask bench payments`: payment throughput and latency, and one autopay run over 10,000
/// due bills.
pub fn payments() -> Result {
    step("Building the server and the load generators in release mode");
    sh(cargo().args([
        "build",
        "--release",
        "--package",
        "carebill-server",
        "--bins",
        "--examples",
    ]))?;
    let data = root().join("target/bench/payments");
    let _ = std::fs::remove_dir_all(&data);
    let bin = root().join("target/release/carebill-server");
    sh(Command::new(&bin)
        .args(["--demo", "--data-dir"])
        .arg(&data)
        .args(["seed", "--bills", "2000"]))?;
    let server = DemoServer::start_binary(&bin, &data, "127.0.0.1:0", false)?;
    let load = |seconds: &str, concurrency: &str, rate: Option<&str>| -> Result<String> {
        let mut cmd = Command::new(root().join("target/release/examples/payment_load"));
        cmd.args([
            server.url.as_str(),
            "demo@carebill.example",
            "correct horse battery staple",
            seconds,
            concurrency,
        ]);
        if let Some(rate) = rate {
            cmd.arg(rate);
        }
        let out = cmd.output().map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    };
    step("POST /v1/payments, fresh keys: warm-up, then 8 and 64 connections, then 500/s offered");
    load("5", "16", None)?;
    let runs = [
        ("8 connections", load("15", "8", None)?),
        ("64 connections", load("15", "64", None)?),
        ("500/s offered", load("15", "64", Some("500"))?),
    ];
    drop(server);
    step("One autopay run over 10,000 due bills");
    let autopay = Command::new(root().join("target/release/examples/autopay_timing"))
        .arg("10000")
        .output()
        .map_err(|e| e.to_string())?;
    println!("\n| Run | Result |\n|---|---|");
    for (name, out) in runs {
        println!("| {name} | {} |", out.lines().collect::<Vec<_>>().join(", "));
    }
    println!(
        "| autopay | {} |",
        String::from_utf8_lossy(&autopay.stdout)
            .lines()
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// The release app, and a release demo server whose demo member has 1,000 more open bills.
/// With `--no-build`, the release binaries already in target/release are used as they are.
fn release_app_and_server(name: &str, args: &[String]) -> Result<(PathBuf, DemoServer)> {
    crate::deps::system_packages()?;
    if args.iter().any(|a| a == "--no-build") {
        step("Using the release binaries in target/release as they are (--no-build)");
    } else {
        crate::deps::build_ui()?;
        step("Building the app and the server in release mode");
        sh(cargo().args([
            "build",
            "--release",
            "--package",
            "carebill",
            "--package",
            "carebill-server",
        ]))?;
    }
    let data = root().join("target/bench").join(name);
    let _ = std::fs::remove_dir_all(&data);
    let bin = root().join("target/release/carebill-server");
    step("Seeding 1,000 bills for the demo member");
    sh(Command::new(&bin)
        .args(["--demo", "--data-dir"])
        .arg(&data)
        .args(["seed", "--bills", "1000"]))?;
    let server = DemoServer::start_binary(&bin, &data, "127.0.0.1:0", false)?;
    Ok((root().join("target/release/carebill"), server))
}

/// Runs one ignored harness test of the e2e crate against the release app and the bench server.
fn harness(test: &str, app: &Path, server: &DemoServer) -> Result {
    crate::e2e::app_tests(
        &["--test", test, "--", "--ignored", "--nocapture", "--test-threads=1"],
        &[
            ("CAREBILL_APP", app.as_os_str()),
            ("CAREBILL_BENCH_API", OsStr::new(&server.url)),
        ],
    )
}

/// `cargo xtask bench startup`: the release app's cold start to the bills list from a cache of
/// 1,000+ bills, its idle memory after 60 s, and its binary size.
pub fn startup(args: &[String]) -> Result {
    let (app, server) = release_app_and_server("startup", args)?;
    let size = std::fs::metadata(&app).map_err(|e| e.to_string())?.len();
    step("Timing starts (tests/tests/startup.rs)");
    let outcome = harness("startup", &app, &server);
    drop(server);
    eprintln!(
        "release binary target/release/carebill: {:.2} MB ({size} bytes)",
        size as f64 / 1_048_576.0
    );
    outcome
}

/// `cargo xtask bench ui`: click-to-painted times in the release app (switching screens, opening
/// a bill, filtering, submitting a card payment), measured in the page.
pub fn ui(args: &[String]) -> Result {
    let (app, server) = release_app_and_server("ui", args)?;
    step("Timing interactions (tests/tests/interaction.rs)");
    harness("interaction", &app, &server)
}
