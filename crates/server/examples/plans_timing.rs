//! Times one scheduler pass over N payment plans with an instalment due, in process, through the
//! real payment engine and the sandbox processor, on a real encrypted database in a temp dir
//! (`synchronous=FULL`), or on PostgreSQL when `CAREBILL_DATABASE_URL` names an empty database.
//! Used by `cargo xtask bench payments [--postgres]`.
//!
//! `cargo run --release -p carebill-server --example plans_timing -- [PLANS]`

use std::time::Instant;

use carebill_api::types::{AchAuthorizationAcceptance, PaymentPlanRequest};
use carebill_server::config::ServerConfig;
use carebill_server::{ManualClock, plans, seed, store};
use chrono::{Duration, TimeZone, Utc};
use rand::SeedableRng;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::new("127.0.0.1:0".parse()?, dir.path().to_path_buf());
    config.demo = true;
    config.scheduler_every = None;
    // Every generated bill can go on a plan of its own.
    if let Some(plan) = config.plan.as_mut() {
        plan.payment_plans.min_balance = carebill_billing::Money::parse("1.00")?;
        plan.payment_plans.min_monthly = carebill_billing::Money::parse("0.50")?;
    }
    config.database_url = std::env::var("CAREBILL_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .map(|u| carebill_server::config::check_database_url(&u))
        .transpose()?;
    // Friday 2026-11-27: plans on day 28 make their first instalment on Monday the 30th.
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 27, 20, 0, 0).unwrap());
    let server = carebill_server::start(config, clock.clone()).await?;
    let state = server.state.clone();
    let (today, cal) = (state.business.today(), *state.business.calendar());
    let (business_now, now) = (state.business.now(), state.now());
    let method: String = state
        .db
        .read(|tx| {
            Ok(tx.query_row(
                "SELECT id FROM payment_methods WHERE member_id = ?1 AND kind = 'card'",
                [seed::DEMO_MEMBER_ID],
                |r| r.get(0),
            )?)
        })
        .await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut made = 0;
    while made < count {
        let chunk = (count - made).min(500);
        let bills: Vec<_> = (0..chunk)
            .map(|i| seed::make_bill(&mut rng, seed::DEMO_MEMBER_ID, 800_000 + (made + i) as u64, today, 0))
            .collect();
        let (head, method) = (state.letterhead(), method.clone());
        state
            .db
            .transaction(move |tx| {
                for (i, bill) in bills.iter().enumerate() {
                    store::bills::insert_bill(tx, bill, store::ms(business_now) + 1, now)?;
                    let req = PaymentPlanRequest {
                        bill_ids: vec![bill.id.clone()],
                        monthly_amount: None,
                        months: Some(2),
                        day_of_month: 28,
                        payment_method_id: method.clone(),
                        authorization: AchAuthorizationAcceptance {
                            text_version: carebill_server::autopay::CARD_INSTALMENTS_VERSION.into(),
                        },
                    };
                    plans::create(
                        tx,
                        &head,
                        seed::DEMO_MEMBER_ID,
                        &format!("bench-{}-{i}", bill.id),
                        &req,
                        today,
                        &cal,
                        "bench",
                        now,
                    )?;
                }
                Ok(())
            })
            .await?;
        made += chunk;
    }
    state
        .db
        .write(|conn| {
            store::refresh_statistics(conn, store::BILL_TABLES)?;
            // As autovacuum would after the plans were made.
            store::refresh_statistics(conn, &["payment_plans", "plan_bills", "notices"])
        })
        .await?;
    state.business.set_offset(Duration::days(3));
    let started = Instant::now();
    let summary = plans::run(&state).await?;
    let elapsed = started.elapsed();
    println!("plans={count}");
    println!("plans_charged={}", summary.charged);
    println!("plans_run_s={:.2}", elapsed.as_secs_f64());
    let again = Instant::now();
    let second = plans::run(&state).await?;
    println!(
        "plans_second_run_charged={} in {:.2}s",
        second.charged,
        again.elapsed().as_secs_f64()
    );
    server.stop().await;
    Ok(())
}
