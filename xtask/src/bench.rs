//! `cargo xtask bench api|payments [--postgres]`: the billing server's performance figures
//! (docs/PERFORMANCE.md), on SQLite and with `--postgres` side by side on a throwaway PostgreSQL
//! cluster in the same run. Release build, loopback. Never part of `test`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::server::DemoServer;
use crate::{Result, cargo, pg, root, sh, step};

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

/// A build of the server: the app's release profile (for size) or the server's own (for speed,
/// `[profile.server]`). `bench api` and `bench payments` measure both side by side.
#[derive(Debug, Clone, Copy)]
struct Build {
    name: &'static str,
    profile: &'static str,
}

/// The server's profile first: it is what a health plan runs.
const BUILDS: [Build; 2] = [
    Build {
        name: "server profile (speed)",
        profile: "server",
    },
    Build {
        name: "release profile (size, the app's)",
        profile: "release",
    },
];

/// The server's own build (speed): what the other benchmarks run.
const SERVER: Build = BUILDS[0];

impl Build {
    fn dir(&self) -> PathBuf {
        root().join("target").join(self.profile)
    }

    fn server(&self) -> PathBuf {
        self.dir().join("carebill-server")
    }

    fn example(&self, name: &str) -> PathBuf {
        self.dir().join("examples").join(name)
    }

    /// `cargo build --profile P --package carebill-server` with `what` (bins, examples).
    fn build(&self, what: &[&str]) -> Result {
        step(&format!("Building the server, {}", self.name));
        sh(cargo()
            .args(["build", "--profile", self.profile, "--package", "carebill-server"])
            .args(what))
    }
}

/// Where a benchmark's server keeps its data: SQLite in its data dir, or a database in the run's
/// throwaway PostgreSQL cluster (durable settings: `fsync=on`, `synchronous_commit=on`).
struct Engine<'c> {
    name: &'static str,
    cluster: Option<&'c pg::Cluster>,
    url: Option<String>,
}

impl Engine<'_> {
    /// The server binary with this engine's database.
    fn command(&self, bin: &Path) -> Command {
        let mut cmd = Command::new(bin);
        match &self.url {
            Some(url) => cmd.env("CAREBILL_DATABASE_URL", url),
            None => cmd.env_remove("CAREBILL_DATABASE_URL"),
        };
        cmd
    }

    fn start(&self, bin: &Path, data: &Path) -> Result<DemoServer> {
        DemoServer::start_binary(bin, data, "127.0.0.1:0", false, self.url.as_deref())
    }
}

/// SQLite, and with `--postgres` PostgreSQL too (a cluster started for the run, in `cluster`).
fn engines<'c>(args: &[String], cluster: &'c mut Option<pg::Cluster>, bench: &str) -> Result<Vec<Engine<'c>>> {
    if args.iter().any(|a| a == "--postgres") {
        crate::deps::system_packages()?;
        step("Starting a PostgreSQL 15 cluster (fsync=on, synchronous_commit=on)");
        *cluster = Some(pg::Cluster::start()?);
    }
    let mut out = vec![Engine {
        name: "SQLite",
        cluster: None,
        url: None,
    }];
    if let Some(c) = cluster.as_ref() {
        out.push(Engine {
            name: "PostgreSQL",
            url: Some(c.create_database(&format!("bench_{bench}"))?),
            cluster: Some(c),
        });
    }
    Ok(out)
}

/// CPU time used so far by the server and by every process of the cluster, in seconds.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    server: f64,
    postgres: f64,
}

impl Cpu {
    fn now(server: &DemoServer, engine: &Engine) -> Cpu {
        Cpu {
            server: process_cpu(server.pid(), false),
            postgres: engine.cluster.map_or(0.0, |c| c.cpu_seconds()),
        }
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            server: self.server - before.server,
            postgres: self.postgres - before.postgres,
        }
    }

    /// "server 41 µs, PostgreSQL 58 µs" of CPU per unit of work.
    fn per(self, units: u64, engine: &Engine) -> String {
        let us = |s: f64| s / units.max(1) as f64 * 1e6;
        match engine.cluster {
            None => format!("CPU/req: server {:.0} µs", us(self.server)),
            Some(_) => format!(
                "CPU/req: server {:.0} µs + PostgreSQL {:.0} µs",
                us(self.server),
                us(self.postgres)
            ),
        }
    }
}

/// utime + stime of a process (its threads included), and with `children` of its reaped
/// children too, in seconds (from /proc; 100 ticks a second on Linux).
pub fn process_cpu(pid: u32, children: bool) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name may hold spaces: fields count from after its closing parenthesis.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |n: usize| fields.get(n).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    let mut ticks = field(11) + field(12);
    if children {
        ticks += field(13) + field(14);
    }
    ticks / 100.0
}

fn total(v: &Value) -> u64 {
    v["statusCodeDistribution"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
}

fn p50_ms(v: &Value) -> f64 {
    v["latencyPercentiles"]["p50"].as_f64().unwrap_or(0.0) * 1000.0
}

/// Prints figures side by side, one column per engine.
fn print_table(names: &[String], rows: &[Vec<(String, String)>]) {
    print!("\n| Figure |");
    for name in names {
        print!(" {name} |");
    }
    print!("\n|---|");
    for _ in names {
        print!("---|");
    }
    println!();
    for (i, (figure, _)) in rows[0].iter().enumerate() {
        print!("| {figure} |");
        for column in rows {
            print!(" {} |", column.get(i).map_or("", |(_, v)| v.as_str()));
        }
        println!();
    }
}

/// `cargo xtask bench api [--postgres [--replicas N]]`.
pub fn api(args: &[String]) -> Result {
    for b in BUILDS {
        b.build(&["--bin", "carebill-server", "--example", "sync_timing"])?;
    }
    let replicas = replicas_arg(args)?;
    let mut cluster = None;
    let engines = engines(args, &mut cluster, "api")?;
    let (mut names, mut columns) = (Vec::new(), Vec::new());
    for engine in &engines {
        for b in BUILDS {
            names.push(format!("{}, {}", engine.name, b.name));
            columns.push(api_on(engine, b)?);
        }
    }
    let scaled = match (replicas, engines.iter().find_map(|e| e.cluster)) {
        (Some(n), Some(c)) => Some(api_replicas(c, n)?),
        _ => None,
    };
    print_table(&names, &columns);
    if let Some(scaled) = scaled {
        print_named(&scaled);
    }
    Ok(())
}

fn api_on(engine: &Engine, build: Build) -> Result<Vec<(String, String)>> {
    let data = root().join("target/bench/api");
    let _ = std::fs::remove_dir_all(&data);
    let bin = build.server();
    step(&format!("{}: seeding 10,000 bills for the demo member", engine.name));
    sh(engine
        .command(&bin)
        .args(["--demo", "--data-dir"])
        .arg(&data)
        .args(["seed", "--bills", "10000"]))?;
    let server = engine.start(&bin, &data)?;
    let url = server.url.clone();
    let token = sign_in(&url, "demo@carebill.example")?;
    let auth = format!("Authorization: Bearer {token}");
    let bills = format!("{url}/v1/bills");
    let mut rows = Vec::new();
    let mut measured = |figure: &str, args: &[&str]| -> Result<Value> {
        let before = Cpu::now(&server, engine);
        let v = oha(args)?;
        let cpu = Cpu::now(&server, engine).since(before);
        rows.push((
            figure.to_string(),
            format!(
                "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms ({}); {}",
                rps(&v),
                p50_ms(&v),
                p99_ms(&v),
                ok_share(&v, "200"),
                cpu.per(total(&v), engine)
            ),
        ));
        Ok(v)
    };

    step(&format!(
        "{}: GET /v1/bills at saturation (64 connections)",
        engine.name
    ));
    let _ = oha(&["-c", "64", "-H", &auth, &bills])?; // warm-up
    let sat = measured(
        "`GET /v1/bills` at saturation (64 connections)",
        &["-c", "64", "-H", &auth, &bills],
    )?;
    step(&format!("{}: GET /v1/bills at 5,000 req/s offered", engine.name));
    measured(
        "`GET /v1/bills`, 5,000 req/s offered",
        &["-c", "64", "-q", "5000", "-H", &auth, &bills],
    )?;
    let half_rate = format!("{:.0}", rps(&sat) / 2.0);
    step(&format!("{}: GET /v1/bills at half of saturation", engine.name));
    measured(
        "`GET /v1/bills` at half of saturation",
        &["-c", "64", "-q", &half_rate, "-H", &auth, &bills],
    )?;

    step(&format!(
        "{}: full sync (10,000+ bills) and no-change sync",
        engine.name
    ));
    let sync = Command::new(build.example("sync_timing"))
        .args([&url, "demo@carebill.example", "correct horse battery staple", "5"])
        .output()
        .map_err(|e| e.to_string())?;
    for line in String::from_utf8_lossy(&sync.stdout).lines() {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        rows.push((k.to_string(), v.to_string()));
    }

    step(&format!(
        "{}: sign-in flood (POST /v1/sessions, 32 connections) with GET /v1/bills at 500 req/s alongside",
        engine.name
    ));
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
    rows.push((
        "Sign-ins per second (argon2id m=19 MiB t=2 p=1; one account, so most answers are its 429)".into(),
        format!(
            "{:.1} signed in per second ({}; {:.0} answers/s in all)",
            rps(&flood) * flood["statusCodeDistribution"]["201"].as_u64().unwrap_or(0) as f64
                / total(&flood).max(1) as f64,
            ok_share(&flood, "201"),
            rps(&flood)
        ),
    ));
    rows.push((
        "`GET /v1/bills` p99 during the sign-in flood".into(),
        format!("{:.2} ms at {:.0} req/s", p99_ms(&during), rps(&during)),
    ));
    Ok(rows)
}

/// `cargo xtask bench payments [--postgres [--replicas N]]`: payment throughput and latency, one
/// autopay run over 10,000 due bills and one pass over 10,000 payment plans with an instalment due.
pub fn payments(args: &[String]) -> Result {
    for b in BUILDS {
        b.build(&["--bins", "--examples"])?;
    }
    let replicas = replicas_arg(args)?;
    let mut cluster = None;
    let engines = engines(args, &mut cluster, "payments")?;
    let (mut names, mut columns) = (Vec::new(), Vec::new());
    for engine in &engines {
        for b in BUILDS {
            names.push(format!("{}, {}", engine.name, b.name));
            columns.push(payments_on(engine, b)?);
        }
    }
    let scaled = match (replicas, engines.iter().find_map(|e| e.cluster)) {
        (Some(n), Some(c)) => Some(payments_replicas(c, n)?),
        _ => None,
    };
    print_table(&names, &columns);
    if let Some(scaled) = scaled {
        print_named(&scaled);
    }
    Ok(())
}

fn payments_on(engine: &Engine, build: Build) -> Result<Vec<(String, String)>> {
    let data = root().join("target/bench/payments");
    let _ = std::fs::remove_dir_all(&data);
    let bin = build.server();
    sh(engine
        .command(&bin)
        .args(["--demo", "--data-dir"])
        .arg(&data)
        .args(["seed", "--bills", "2000"]))?;
    let server = engine.start(&bin, &data)?;
    let load = |seconds: &str, concurrency: &str, rate: Option<&str>| -> Result<(String, Cpu)> {
        let mut cmd = Command::new(build.example("payment_load"));
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
        let before = Cpu::now(&server, engine);
        let out = cmd.output().map_err(|e| e.to_string())?;
        Ok((
            String::from_utf8_lossy(&out.stdout).to_string(),
            Cpu::now(&server, engine).since(before),
        ))
    };
    step(&format!(
        "{}: POST /v1/payments, fresh keys: warm-up, 8 and 64 connections, 400/s and 500/s offered",
        engine.name
    ));
    load("5", "16", None)?;
    let mut rows = Vec::new();
    for (name, concurrency, rate) in [
        ("`POST /v1/payments`, 400/s offered", "64", Some("400")),
        ("`POST /v1/payments`, 500/s offered", "64", Some("500")),
        ("`POST /v1/payments`, 8 connections", "8", None),
        ("`POST /v1/payments`, 64 connections", "64", None),
    ] {
        let (out, cpu) = load("15", concurrency, rate)?;
        rows.push((
            name.to_string(),
            payment_figures(&out, |ok| cpu.per(ok, engine).replace("/req", "/payment")),
        ));
    }
    drop(server);
    for (what, example, arg, database, row) in [
        (
            "one autopay run over 10,000 due bills",
            "autopay_timing",
            "10000",
            "bench_autopay",
            "One autopay run over 10,000 due bills",
        ),
        (
            "one scheduler pass over 10,000 payment plans with an instalment due",
            "plans_timing",
            "10000",
            "bench_plans",
            "One pass over 10,000 payment plans with an instalment due",
        ),
        (
            "import 100,000 EOBs (FHIR NDJSON, 5 lines of 8 adjudications each), then again",
            "fhir_import",
            "100000",
            "bench_fhir",
            "`import --fhir` of 100,000 EOBs",
        ),
    ] {
        step(&format!("{}: {what}", engine.name));
        let mut cmd = Command::new(build.example(example));
        cmd.arg(arg);
        if let Some(c) = engine.cluster {
            cmd.env("CAREBILL_DATABASE_URL", c.create_database(database)?);
        }
        let out = cmd.output().map_err(|e| e.to_string())?;
        rows.push((
            row.to_string(),
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    Ok(rows)
}

/// The release app (target/release), and a demo server of the server's profile (target/server)
/// whose demo member has 1,000 more open bills. With `--no-build`, the binaries already there are
/// used as they are.
fn release_app_and_server(name: &str, args: &[String]) -> Result<(PathBuf, DemoServer)> {
    crate::deps::system_packages()?;
    if no_build(args) {
        step("Using the binaries in target/release and target/server as they are (--no-build)");
    } else {
        crate::deps::build_ui()?;
        step("Building the app in release mode (size)");
        sh(cargo().args(["build", "--release", "--package", "carebill"]))?;
        SERVER.build(&["--bin", "carebill-server"])?;
    }
    let data = root().join("target/bench").join(name);
    let _ = std::fs::remove_dir_all(&data);
    let bin = SERVER.server();
    step("Seeding 1,000 bills for the demo member");
    sh(Command::new(&bin)
        .args(["--demo", "--data-dir"])
        .arg(&data)
        .args(["seed", "--bills", "1000"]))?;
    let server = DemoServer::start_binary(&bin, &data, "127.0.0.1:0", false, None)?;
    Ok((root().join("target/release/carebill"), server))
}

/// `--no-build`: the bench uses the binaries already built.
fn no_build(args: &[String]) -> bool {
    args.iter().any(|a| a == "--no-build")
}

/// Runs one ignored harness test of the e2e crate against the release app and the bench server.
fn harness(test: &str, app: &Path, server: &DemoServer, env: &[(&str, &OsStr)]) -> Result {
    let mut all = vec![
        ("CAREBILL_APP", app.as_os_str()),
        ("CAREBILL_BENCH_API", OsStr::new(&server.url)),
    ];
    all.extend_from_slice(env);
    crate::e2e::app_tests(
        &["--test", test, "--", "--ignored", "--nocapture", "--test-threads=1"],
        &all,
    )
}

/// The floor app (xtask/floor): built, outside the workspace, from the workspace's lock file and
/// with its release profile, into target/floor.
fn floor_app(build: bool) -> Result<PathBuf> {
    let dir = root().join("xtask/floor");
    let bin = root().join("target/floor/release/carebill-floor");
    if build || !bin.exists() {
        step("Building the floor app (xtask/floor: Tauri 2, one window, a 50-row list; same release profile)");
        std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).map_err(|e| e.to_string())?;
        sh(cargo()
            .args(["build", "--release", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", root().join("target/floor")))?;
    }
    Ok(bin)
}

/// `cargo xtask bench startup`: the release app's cold start to the bills list from a cache of
/// 1,000+ bills, its idle memory after 60 s, and its binary size, each beside the floor app's
/// (the platform's own cost, same run).
pub fn startup(args: &[String]) -> Result {
    let (app, server) = release_app_and_server("startup", args)?;
    let floor = floor_app(!no_build(args))?;
    let size = std::fs::metadata(&app).map_err(|e| e.to_string())?.len();
    let floor_size = std::fs::metadata(&floor).map_err(|e| e.to_string())?.len();
    step("Timing starts (tests/tests/startup.rs), Carebill's and the floor's in turn");
    let outcome = harness("startup", &app, &server, &[("CAREBILL_FLOOR_APP", floor.as_os_str())]);
    drop(server);
    eprintln!(
        "release binary target/release/carebill: {:.2} MiB ({size} bytes; target 12 MiB); the floor's: {:.2} MiB ({floor_size} bytes)",
        size as f64 / 1_048_576.0,
        floor_size as f64 / 1_048_576.0
    );
    outcome
}

/// `cargo xtask bench ui`: click-to-painted times in the release app (switching screens, opening
/// a bill, filtering, submitting a card payment), measured in the page.
pub fn ui(args: &[String]) -> Result {
    let (app, server) = release_app_and_server("ui", args)?;
    step("Timing interactions (tests/tests/interaction.rs)");
    harness("interaction", &app, &server, &[])
}

/// `--replicas N` (with `--postgres`): the figures again with one server and with N servers
/// sharing one PostgreSQL database, the load split between them as a balancer would.
fn replicas_arg(args: &[String]) -> Result<Option<usize>> {
    let Some(i) = args.iter().position(|a| a == "--replicas") else {
        return Ok(None);
    };
    let n: usize = args
        .get(i + 1)
        .and_then(|n| n.parse().ok())
        .filter(|n| *n >= 2)
        .ok_or("--replicas needs a count of 2 or more")?;
    if !args.iter().any(|a| a == "--postgres") {
        return Err("--replicas needs --postgres: replicas share one PostgreSQL database".into());
    }
    Ok(Some(n))
}

/// A named column of figures: (figure, value) rows.
type Column = (String, Vec<(String, String)>);

/// `n` demo servers (release build) on the PostgreSQL database `url`; the first seeded the data.
struct Fleet {
    servers: Vec<DemoServer>,
}

impl Fleet {
    fn start(bin: &Path, data: &Path, url: &str, n: usize) -> Result<Fleet> {
        let mut servers = Vec::with_capacity(n);
        for i in 0..n {
            let dir = data.join(format!("replica-{i}"));
            servers.push(DemoServer::start_binary(bin, &dir, "127.0.0.1:0", false, Some(url))?);
        }
        Ok(Fleet { servers })
    }

    /// CPU seconds so far: each server, and the cluster.
    fn cpu(&self, cluster: &pg::Cluster) -> (Vec<f64>, f64) {
        (
            self.servers.iter().map(|s| process_cpu(s.pid(), false)).collect(),
            cluster.cpu_seconds(),
        )
    }

    /// "CPU/req: servers 40 + 41 µs, PostgreSQL 58 µs" between two readings, per unit of work.
    fn cpu_per(before: &(Vec<f64>, f64), after: &(Vec<f64>, f64), units: u64, unit: &str) -> String {
        let us = |s: f64| s / units.max(1) as f64 * 1e6;
        let servers: Vec<String> = after
            .0
            .iter()
            .zip(&before.0)
            .map(|(a, b)| format!("{:.0}", us(a - b)))
            .collect();
        format!(
            "CPU/{unit}: server{} {} µs, PostgreSQL {:.0} µs",
            if servers.len() > 1 { "s" } else { "" },
            servers.join(" + "),
            us(after.1 - before.1)
        )
    }
}

/// A fresh database in `cluster`, seeded by `seed_args` (after `--demo --data-dir DATA seed`).
fn seeded_database(cluster: &pg::Cluster, bin: &Path, name: &str, data: &Path, seed_args: &[&str]) -> Result<String> {
    let url = cluster.create_database(name)?;
    let _ = std::fs::remove_dir_all(data);
    sh(Command::new(bin)
        .env("CAREBILL_DATABASE_URL", &url)
        .args(["--demo", "--data-dir"])
        .arg(data.join("seed"))
        .arg("seed")
        .args(seed_args))?;
    Ok(url)
}

/// `GET /v1/bills` with 1 and `n` servers: one oha per server, each with its share of the
/// connections and of the offered rate, at the same time.
fn api_replicas(cluster: &pg::Cluster, n: usize) -> Result<Vec<Column>> {
    let bin = SERVER.server();
    let mut columns = Vec::new();
    for count in [1, n] {
        let data = root().join(format!("target/bench/api-replicas-{count}"));
        step(&format!(
            "PostgreSQL, {count} server(s): seeding 10,000 bills, then GET /v1/bills"
        ));
        let url = seeded_database(
            cluster,
            &bin,
            &format!("bench_api_r{count}"),
            &data,
            &["--bills", "10000"],
        )?;
        let fleet = Fleet::start(&bin, &data, &url, count)?;
        let token = sign_in(&fleet.servers[0].url, "demo@carebill.example")?;
        let auth = format!("Authorization: Bearer {token}");
        let mut rows = Vec::new();
        for (figure, rate) in [
            ("`GET /v1/bills` at saturation (64 connections in all)", None),
            ("`GET /v1/bills`, 5,000 req/s offered in all", Some(5000)),
        ] {
            let run = |warm: bool| -> Result<Vec<Value>> {
                let handles: Vec<_> = fleet
                    .servers
                    .iter()
                    .map(|s| {
                        let mut a: Vec<String> = vec!["-c".into(), (64 / count).to_string(), "-H".into(), auth.clone()];
                        if let Some(q) = rate.filter(|_| !warm) {
                            a.extend(["-q".into(), (q / count).to_string()]);
                        }
                        a.push(format!("{}/v1/bills", s.url));
                        std::thread::spawn(move || oha(&a.iter().map(String::as_str).collect::<Vec<_>>()))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().map_err(|_| "oha thread panicked".to_string())?)
                    .collect()
            };
            if rate.is_none() {
                run(true)?; // warm-up
            }
            let before = fleet.cpu(cluster);
            let results = run(false)?;
            let after = fleet.cpu(cluster);
            let requests: u64 = results.iter().map(total).sum();
            let ok: u64 = results
                .iter()
                .map(|v| v["statusCodeDistribution"]["200"].as_u64().unwrap_or(0))
                .sum();
            rows.push((
                figure.to_string(),
                format!(
                    "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms (worst server; {ok}/{requests} answered 200); {}",
                    results.iter().map(rps).sum::<f64>(),
                    results.iter().map(p50_ms).fold(0.0, f64::max),
                    results.iter().map(p99_ms).fold(0.0, f64::max),
                    Fleet::cpu_per(&before, &after, requests, "req")
                ),
            ));
        }
        columns.push((format!("PostgreSQL, {count} server(s)"), rows));
    }
    Ok(columns)
}

/// `POST /v1/payments` with 1 and `n` servers: 16 generated members paying (so one member's lock
/// is not the whole load), the connections spread over the servers.
fn payments_replicas(cluster: &pg::Cluster, n: usize) -> Result<Vec<Column>> {
    let bin = SERVER.server();
    let logins: Vec<String> = (1..=16).map(|k| format!("member-{k}@load.carebill.example")).collect();
    let logins = logins.join(",");
    let mut columns = Vec::new();
    for count in [1, n] {
        let data = root().join(format!("target/bench/payments-replicas-{count}"));
        step(&format!(
            "PostgreSQL, {count} server(s): 16 members with 200 bills each, then POST /v1/payments"
        ));
        let url = seeded_database(
            cluster,
            &bin,
            &format!("bench_payments_r{count}"),
            &data,
            &["--members", "16", "--bills", "200"],
        )?;
        let fleet = Fleet::start(&bin, &data, &url, count)?;
        let urls: Vec<&str> = fleet.servers.iter().map(|s| s.url.as_str()).collect();
        let urls = urls.join(",");
        let load = |seconds: &str, concurrency: &str, rate: Option<&str>| -> Result<String> {
            let mut cmd = Command::new(SERVER.example("payment_load"));
            cmd.args([
                urls.as_str(),
                logins.as_str(),
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
        load("5", "16", None)?; // warm-up
        let mut rows = Vec::new();
        for (figure, concurrency, rate) in [
            ("`POST /v1/payments`, 400/s offered (16 members)", "64", Some("400")),
            ("`POST /v1/payments`, 64 connections (16 members)", "64", None),
        ] {
            let before = fleet.cpu(cluster);
            let out = load("15", concurrency, rate)?;
            let after = fleet.cpu(cluster);
            rows.push((
                figure.to_string(),
                payment_figures(&out, |ok| Fleet::cpu_per(&before, &after, ok, "payment")),
            ));
        }
        columns.push((format!("PostgreSQL, {count} server(s)"), rows));
    }
    Ok(columns)
}

/// "400/s, p50 2.9 ms, p99 12 ms (0 failed); CPU…" from `payment_load`'s output, with the CPU
/// figure made by `cpu` from the number of payments answered.
fn payment_figures(out: &str, cpu: impl FnOnce(u64) -> String) -> String {
    let value = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or("?")
            .to_string()
    };
    let ok: u64 = value("payments_ok").parse().unwrap_or(0);
    format!(
        "{}/s, p50 {} ms, p99 {} ms ({} failed); {}",
        value("payments_per_s"),
        value("latency_ms_p50"),
        value("latency_ms_p99"),
        value("payments_failed"),
        cpu(ok)
    )
}

/// Prints named columns side by side.
fn print_named(columns: &[Column]) {
    print!("\n| Figure |");
    for (name, _) in columns {
        print!(" {name} |");
    }
    print!("\n|---|");
    for _ in columns {
        print!("---|");
    }
    println!();
    for (i, (figure, _)) in columns[0].1.iter().enumerate() {
        print!("| {figure} |");
        for (_, rows) in columns {
            print!(" {} |", rows.get(i).map_or("", |(_, v)| v.as_str()));
        }
        println!();
    }
}
