//! Times one autopay run over N due bills, in process, on a real encrypted database in a temp
//! dir (`synchronous=FULL`), or on PostgreSQL when `CAREBILL_DATABASE_URL` names an empty
//! database. Used by `cargo xtask bench payments [--postgres]`.
//!
//! `cargo run --release -p carebill-server --example autopay_timing -- [BILLS]`

use std::time::Instant;

use carebill_server::config::ServerConfig;
use carebill_server::{ManualClock, autopay, seed, store};
use chrono::{Duration, TimeZone, Utc};
use rand::SeedableRng;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bills: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::new("127.0.0.1:0".parse()?, dir.path().to_path_buf());
    config.demo = true;
    config.scheduler_every = None;
    // PostgreSQL instead of SQLite in the temp dir (`cargo xtask bench payments --postgres`).
    config.database_url = std::env::var("CAREBILL_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .map(|u| carebill_server::config::check_database_url(&u))
        .transpose()?;
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 27, 20, 0, 0).unwrap());
    let server = carebill_server::start(config, clock.clone()).await?;
    let state = server.state.clone();
    let today = state.business.today();
    let (business_now, now) = (state.business.now(), state.now());
    state
        .db
        .transaction(move |tx| {
            let method: String = tx.query_row(
                "SELECT id FROM payment_methods WHERE member_id = ?1 AND kind = 'card'",
                [seed::DEMO_MEMBER_ID],
                |r| r.get(0),
            )?;
            let rule = autopay::to_domain(
                carebill_api::types::AutopayAmount::StatementBalance,
                carebill_billing::Money::parse("100000.00").unwrap(),
                carebill_api::types::AutopayTiming::DueDate,
            )?;
            autopay::save_rule(
                tx,
                seed::DEMO_MEMBER_ID,
                &method,
                &rule,
                None,
                "bench",
                business_now,
                today,
                now,
            )?;
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            for i in 0..bills {
                let bill = seed::make_bill(&mut rng, seed::DEMO_MEMBER_ID, 900_000 + i as u64, today, 0);
                store::bills::insert_bill(tx, &bill, store::ms(business_now) + 1, now)?;
            }
            Ok(())
        })
        .await?;
    // As an import of the bills would.
    state
        .db
        .write(|conn| store::refresh_statistics(conn, store::BILL_TABLES))
        .await?;
    state.business.set_offset(Duration::days(31));
    let started = Instant::now();
    let summary = autopay::run(&state).await?;
    let elapsed = started.elapsed();
    println!("autopay_bills={bills}");
    println!("autopay_charged={}", summary.charged);
    println!("autopay_run_s={:.2}", elapsed.as_secs_f64());
    let again = Instant::now();
    let second = autopay::run(&state).await?;
    println!(
        "autopay_second_run_charged={} in {:.2}s",
        second.charged,
        again.elapsed().as_secs_f64()
    );
    server.stop().await;
    Ok(())
}
