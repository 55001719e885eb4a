//! Load for `POST /v1/payments` with a fresh Idempotency-Key per request against a running
//! server: a saved card pays $0.01 toward a rotating set of bills. Used by `cargo xtask bench
//! payments`.
//!
//! `cargo run --release -p carebill-server --example payment_load -- URLS LOGINS PASSWORD SECONDS CONCURRENCY [RATE]`
//!
//! URLS and LOGINS may be comma-separated lists: connection `i` pays as login `i % logins`
//! through server `i % urls` (replicas of one database, balanced as a load balancer would).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let urls: Vec<String> = args[0].split(',').map(str::to_string).collect();
    let logins: Vec<&str> = args[1].split(',').collect();
    let password = &args[2];
    let seconds: u64 = args[3].parse()?;
    let concurrency: usize = args[4].parse()?;
    let rate: Option<f64> = args.get(5).and_then(|r| r.parse().ok());
    // reqwest's `rustls-no-provider`: the process sets the provider (ring, as the app).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let mut payers = Vec::with_capacity(logins.len());
    for login in &logins {
        payers.push(payer(&http, &urls[0], login, password).await?);
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..concurrency {
        let (token, card, bills) = payers[i % payers.len()].clone();
        let (http, next, url) = (http.clone(), next.clone(), urls[i % urls.len()].clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(n as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let body = json!({"payment_method_id": card, "allocations": [{"bill_id": bills[n % bills.len()], "amount": "0.01"}]});
                let t = Instant::now();
                let res = http
                    .post(format!("{url}/v1/payments"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("load-{}-{n}", std::process::id()))
                    .json(&body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 201 => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut all = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await?;
        all.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!("payments_ok={}", all.len());
    println!("payments_failed={failures}");
    println!("payments_per_s={:.0}", all.len() as f64 / elapsed);
    println!("latency_ms_p50={:.2}", pct(0.50));
    println!("latency_ms_p99={:.2}", pct(0.99));
    Ok(())
}

/// Signs `login` in and finds its saved card and up to 100 of its bills.
async fn payer(
    http: &reqwest::Client,
    url: &str,
    login: &str,
    password: &str,
) -> Result<(String, String, Vec<String>), Box<dyn std::error::Error>> {
    let session: Value = http
        .post(format!("{url}/v1/sessions"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await?
        .json()
        .await?;
    let token = session["access_token"].as_str().ok_or("sign-in failed")?.to_string();
    let methods: Value = http
        .get(format!("{url}/v1/payment-methods"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let card = methods["data"]
        .as_array()
        .ok_or("no methods")?
        .iter()
        .find(|m| m["type"] == "card")
        .ok_or("no saved card")?["id"]
        .as_str()
        .ok_or("no id")?
        .to_string();
    let page: Value = http
        .get(format!("{url}/v1/bills?limit=100"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let bills = page["data"]
        .as_array()
        .ok_or("no bills")?
        .iter()
        .filter_map(|b| b["id"].as_str().map(str::to_string))
        .collect();
    Ok((token, card, bills))
}
