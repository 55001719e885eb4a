//! The startup harness (`cargo xtask bench startup`; ignored in the normal run, it measures rather
//! than checks). With the release app and a release server holding 1,000 open bills for the demo
//! member, it signs in once with "keep me signed in", then starts the app again and again: each
//! run is timed from just before the process is spawned to the moment the bills list has painted
//! (the app prints `carebill-ready bills <ms>` when `CAREBILL_STARTUP_PROBE=bills`). One run then
//! idles for 60 s and the proportional set size (PSS) of the app and its WebKit processes is read
//! from /proc.
//!
//! The floor (`CAREBILL_FLOOR_APP`, xtask/floor: the smallest Tauri app painting a 50-row list,
//! same profile) is started the same way, each of its starts right after one of Carebill's, so
//! the machine's drift falls on both; Carebill's figures are reported as ratios to it, with the
//! spread of the start-by-start ratios.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use carebill_e2e::{App, AppHome, DEMO_EMAIL, DEMO_PASSWORD, app_binary, percentile, wait_for_app_exit};

/// `pid` and every process below it (the children of each of their threads): an app and its
/// WebKit processes.
fn process_tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", all[i]));
        for task in tasks.into_iter().flatten().flatten() {
            let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
                if !all.contains(&child) {
                    all.push(child);
                }
            }
        }
        i += 1;
    }
    all
}

/// Whether `pid` is still running (not gone, not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// PSS in KiB of `pid` and every process below it.
fn pss_tree_kib(pid: u32) -> (u64, Vec<(String, u64)>) {
    let mut parts = Vec::new();
    for p in process_tree(pid) {
        let rollup = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).unwrap_or_default();
        let kib = rollup
            .lines()
            .find(|l| l.starts_with("Pss:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let name = std::fs::read_to_string(format!("/proc/{p}/comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        parts.push((name, kib));
    }
    (parts.iter().map(|(_, k)| k).sum(), parts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with `cargo xtask bench startup`"]
async fn cold_start_to_bills_visible_and_idle_memory() {
    let api =
        std::env::var("CAREBILL_BENCH_API").expect("CAREBILL_BENCH_API: a server with the demo member's 1,000 bills");
    let runs: usize = std::env::var("CAREBILL_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let home = AppHome::new();

    // Once through the UI: sign in, keep signed in, let the first sync fill the cache.
    let app = App::launch(&api, &home).await;
    app.screen("Sign in").await;
    app.fill("login", DEMO_EMAIL).await;
    app.fill("password", DEMO_PASSWORD).await;
    app.check("remember").await;
    app.click("Sign in").await;
    app.screen("Hello, Jordan").await;
    app.sees("Synced").await;
    app.quit().await;

    // Starts a binary and waits for its paint mark: (the process, spawn to mark, the app's own
    // figure from main()).
    let spawn = |bin: &std::path::Path, mark: &str| {
        let mut cmd = Command::new(bin);
        cmd.envs(home.env(&api))
            .env("CAREBILL_STARTUP_PROBE", "bills")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let started = Instant::now();
        let mut child = cmd.spawn().expect("the app starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut reported, mut stages) = (None, Vec::new());
        for line in lines.by_ref() {
            let line = line.expect("a line");
            if let Some(ms) = line.strip_prefix(mark) {
                reported = ms.trim().parse::<u64>().ok();
                break;
            }
            if let Some((name, ms)) = line
                .strip_prefix("carebill-ready stage ")
                .or_else(|| line.strip_prefix("floor-stage "))
                .and_then(|l| l.rsplit_once(' '))
            {
                stages.extend(ms.parse::<f64>().ok().map(|ms| (name.to_string(), ms)));
            }
        }
        let wall = started.elapsed();
        std::thread::spawn(move || lines.for_each(drop));
        (
            child,
            wall,
            reported.expect("the app reported its list painted"),
            stages,
        )
    };
    // Stops an app and waits (10 s at most) until its WebKit processes have exited too, so the
    // next start, of either app, has the machine to itself: a web process running down beside a
    // start took CPU from it (docs/PERFORMANCE.md, issue 23, fourteenth part).
    let stop = |child: &mut std::process::Child| {
        let family = process_tree(child.id());
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let _ = child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while family.iter().any(|&pid| running(pid)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let floor = std::env::var_os("CAREBILL_FLOOR_APP").map(std::path::PathBuf::from);
    let carebill = app_binary();
    const CAREBILL_MARK: &str = "carebill-ready bills ";
    const FLOOR_MARK: &str = "floor-ready ";

    let (mut walls, mut inner, mut floor_walls, mut ratios) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut stages: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let mut floor_stages: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for run in 0..=runs {
        let (mut child, wall, reported, marks) = spawn(&carebill, CAREBILL_MARK);
        stop(&mut child);
        wait_for_app_exit().await;
        let floor_wall = floor.as_deref().map(|bin| {
            let (mut child, wall, reported, marks) = spawn(bin, FLOOR_MARK);
            stop(&mut child);
            (wall.as_secs_f64() * 1000.0, reported, marks)
        });
        if run == 0 {
            continue; // the first start warms the page cache like any second launch of the day
        }
        for (name, ms) in marks {
            stages.entry(name).or_default().push(ms);
        }
        let wall = wall.as_secs_f64() * 1000.0;
        walls.push(wall);
        inner.push(reported as f64);
        if let Some((f, reported, marks)) = floor_wall {
            for (name, ms) in marks {
                floor_stages.entry(name).or_default().push(ms);
            }
            floor_stages.entry("painted".into()).or_default().push(reported as f64);
            floor_walls.push(f);
            ratios.push(wall / f);
        }
    }
    let line = |what: &str, v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        println!(
            "{what} ({} runs): p50 {:.0} ms, p90 {:.0} ms, min {:.0} ms, max {:.0} ms",
            v.len(),
            percentile(v, 50.0),
            percentile(v, 90.0),
            v[0],
            v[v.len() - 1]
        );
    };
    line("startup (process spawn -> bills painted)", &mut walls);
    inner.sort_by(f64::total_cmp);
    println!(
        "startup (as the app measured it from main()): p50 {:.0} ms, p90 {:.0} ms",
        percentile(&inner, 50.0),
        percentile(&inner, 90.0)
    );
    // Where the time went, from main(): each stage's median, Carebill's and the floor's (the
    // stages both mark: the window built, WebKit starting and finishing the page's load).
    let medians = |stages: &mut std::collections::BTreeMap<String, Vec<f64>>| {
        let mut order: Vec<(f64, String)> = stages
            .iter_mut()
            .map(|(name, v)| {
                v.sort_by(f64::total_cmp);
                (percentile(v, 50.0), name.clone())
            })
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        order
            .iter()
            .map(|(ms, name)| format!("{name} {ms:.0} ms"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "startup stages from main(), p50: {}, bills painted {:.0} ms",
        medians(&mut stages),
        percentile(&inner, 50.0)
    );
    if !floor_stages.is_empty() {
        println!("floor stages from main(), p50: {}", medians(&mut floor_stages));
    }
    if !floor_walls.is_empty() {
        line("floor (process spawn -> 50 rows painted)", &mut floor_walls);
        ratios.sort_by(f64::total_cmp);
        println!(
            "startup / floor: {:.2}x at p50 (target <= 1.25x); start-by-start ratios p10 {:.2}x, p50 {:.2}x, p90 {:.2}x",
            percentile(&walls, 50.0) / percentile(&floor_walls, 50.0),
            percentile(&ratios, 10.0),
            percentile(&ratios, 50.0),
            percentile(&ratios, 90.0)
        );
    }

    // Idle memory, one app at a time (two at once would share the libraries' pages and halve
    // each one's part of them).
    let idle = |child: &std::process::Child| {
        let (total, parts) = pss_tree_kib(child.id());
        let detail: Vec<String> = parts
            .iter()
            .map(|(n, k)| format!("{n} {:.1} MB", *k as f64 / 1024.0))
            .collect();
        (total as f64 / 1024.0, detail.join(", "))
    };
    let (mut child, _, _, _) = spawn(&carebill, CAREBILL_MARK);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let (carebill_mb, detail) = idle(&child);
    stop(&mut child);
    wait_for_app_exit().await;
    println!("idle PSS after 60 s: {carebill_mb:.1} MB ({detail})");
    if let Some(bin) = floor.as_deref() {
        let (mut child, _, _, _) = spawn(bin, FLOOR_MARK);
        tokio::time::sleep(Duration::from_secs(60)).await;
        let (floor_mb, detail) = idle(&child);
        stop(&mut child);
        println!("floor idle PSS after 60 s: {floor_mb:.1} MB ({detail})");
        println!("idle PSS / floor: {:.2}x (target <= 1.1x)", carebill_mb / floor_mb);
    }
}
