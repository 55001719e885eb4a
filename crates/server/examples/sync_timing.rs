//! Times a full sync (every page of `GET /v1/sync` from an empty cursor) and a no-change sync
//! against a running server. Used by `cargo xtask bench api`.
//!
//! `cargo run --release -p carebill-server --example sync_timing -- URL LOGIN PASSWORD [RUNS]`

use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, login, password] = [&args[0], &args[1], &args[2]];
    let runs: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(5);
    // reqwest's `rustls-no-provider`: the process sets the provider (ring, as the app).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let session: Value = http
        .post(format!("{url}/v1/sessions"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await?
        .json()
        .await?;
    let token = session["access_token"].as_str().ok_or("sign-in failed")?.to_string();

    let mut full = Vec::new();
    let mut etag = String::new();
    let mut changes = 0;
    let mut pages = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let mut cursor = String::new();
        changes = 0;
        pages = 0;
        loop {
            let res = http
                .get(format!("{url}/v1/sync?cursor={cursor}"))
                .bearer_auth(&token)
                .send()
                .await?;
            etag = res
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let page: Value = res.json().await?;
            pages += 1;
            changes += page["changes"].as_array().map_or(0, Vec::len);
            cursor = page["next_cursor"].as_str().unwrap_or_default().to_string();
            if !page["has_more"].as_bool().unwrap_or(false) {
                break;
            }
        }
        full.push(started.elapsed());
    }
    let mut unchanged = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let res = http
            .get(format!("{url}/v1/sync"))
            .bearer_auth(&token)
            .header("If-None-Match", &etag)
            .send()
            .await?;
        assert_eq!(res.status(), 304);
        unchanged.push(started.elapsed());
    }
    full.sort();
    unchanged.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("full_sync_changes={changes}");
    println!("full_sync_pages={pages}");
    println!("full_sync_ms_median={:.1}", ms(full[full.len() / 2]));
    println!("full_sync_ms_best={:.1}", ms(full[0]));
    println!("no_change_sync_ms_p50={:.2}", ms(unchanged[unchanged.len() / 2]));
    println!("no_change_sync_ms_p99={:.2}", ms(unchanged[unchanged.len() * 99 / 100]));
    Ok(())
}
