//! Payment plans and scheduled payments through the engine: a preview that adds up and matches
//! the server, the plan synced and readable offline, a plan's bills never overdue, a payment
//! scheduled from a review once however often it is submitted; and plans set up through dropped
//! answers and restarts, their instalments charged by racing and interrupted scheduler passes:
//! none duplicated, none missed.

use std::time::Duration;

use carebill_api::types::{PaymentPlanStatus, ScheduledStatus};
use carebill_billing::Money;
use carebill_client::types::{PlanAction, PlanDraft};
use carebill_client::{DraftAllocation, DraftMethod, PaymentDraft, SubmitOutcome};
use carebill_server::seed;
use rand::SeedableRng;
use serde_json::json;

use crate::harness::*;
use crate::payments::card;
use carebill_testkit::proxy::FaultProxy;

/// Moves the server's business clock (and runs its scheduler once).
async fn advance(w: &World, days: u32) {
    let r = reqwest::Client::new()
        .post(format!("{}/dev/clock", w.api_url))
        .json(&json!({"advance": format!("P{days}D")}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

fn draft(bills: &[String], method: &str, months: u32) -> PlanDraft {
    PlanDraft {
        bill_ids: bills.to_vec(),
        monthly_amount: None,
        months: Some(months),
        day_of_month: 10,
        payment_method_id: method.to_string(),
    }
}

#[tokio::test]
async fn a_plan_is_previewed_on_the_device_set_up_once_synced_and_readable_offline() {
    let w = World::start().await;
    let engine = w.engine();
    engine.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    engine.sync().await.unwrap();
    let method = card(&engine).await;
    let offer = engine
        .dashboard()
        .await
        .unwrap()
        .plan_offer
        .expect("the demo's open bills reach the minimum");
    let biggest = {
        let page = open_bills(&engine).await;
        page.bills.into_iter().max_by_key(|b| b.bill.payable.cents()).unwrap()
    };
    assert!(offer.bill_ids.contains(&biggest.bill.id));
    let bills = vec![biggest.bill.id.clone()];

    // Refused on the device with the server's codes, before anything is sent.
    let mut bad = draft(&bills, &method, 25);
    assert_eq!(
        engine.preview_payment_plan(bad.clone(), None).await.unwrap_err().code,
        "plan_too_long"
    );
    bad.months = Some(6);
    bad.day_of_month = 30;
    let e = engine.preview_payment_plan(bad, None).await.unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("invalid_day_of_month", Some("/day_of_month"))
    );

    let preview = engine
        .preview_payment_plan(draft(&bills, &method, 6), None)
        .await
        .unwrap();
    assert_eq!(preview.schedule.len(), 6);
    assert_eq!(
        preview.schedule.iter().map(|i| i.amount).sum::<Money>(),
        biggest.bill.payable
    );
    let plan = engine
        .create_payment_plan(draft(&bills, &method, 6), preview.authorization.text_version.clone())
        .await
        .unwrap();
    assert_eq!(plan.status, PaymentPlanStatus::Active);
    let server_schedule: Vec<_> = plan.schedule.iter().map(|i| (i.charge_date, i.amount)).collect();
    let device_schedule: Vec<_> = preview.schedule.iter().map(|i| (i.charge_date, i.amount)).collect();
    assert_eq!(
        server_schedule, device_schedule,
        "the device's preview is the server's schedule"
    );
    assert_eq!(w.server_count("SELECT COUNT(*) FROM payment_plans".into()).await, 1);

    // Synced: the plan, the bill's badge, the dashboard's line; the bill is never overdue.
    engine.sync().await.unwrap();
    let view = engine.bill(&bills[0]).await.unwrap();
    assert_eq!(
        view.payment_plan.as_ref().map(|p| p.id.as_str()),
        Some(plan.id.as_str())
    );
    assert!(!view.overdue);
    let dash = engine.dashboard().await.unwrap();
    assert_eq!(dash.payment_plans.len(), 1);
    assert_eq!(
        (dash.payment_plans[0].paid_count, dash.payment_plans[0].total_count),
        (0, 6)
    );

    // Offline: the plan and its schedule are read from the copy.
    engine.sign_out(false).await.unwrap();
    let offline = w.engine_with(w.config("http://127.0.0.1:9"));
    offline.unlock_offline(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let kept = offline.payment_plans().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].schedule.len(), 6);
    assert!(
        offline
            .payment_plan_action(plan.id.clone(), i64::from(plan.version), PlanAction::Cancel)
            .await
            .is_err(),
        "changes need the service"
    );
}

#[tokio::test]
async fn a_payment_scheduled_from_a_review_is_made_once_however_often_it_is_submitted() {
    let w = World::start().await;
    let engine = w.engine();
    engine.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    engine.sync().await.unwrap();
    let method = card(&engine).await;
    let bill = w.post("/dev/bills", json!({})).await;
    engine.sync().await.unwrap();
    let id = bill["id"].as_str().unwrap().to_string();
    // A new bill's amounts are random: enough on it for the payment below.
    let raise = id.clone();
    w.server()
        .state
        .db
        .transaction(move |tx| {
            tx.execute(
                "UPDATE bills SET total_charges_cents = total_charges_cents + 5000 WHERE id = ?1",
                [&raise],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    engine.sync().await.unwrap();
    let today = engine.dashboard().await.unwrap().freshness.business_date;
    let pay = |pay_on| PaymentDraft {
        allocations: vec![DraftAllocation {
            bill_id: id.clone(),
            amount: "5.00".into(),
        }],
        method: DraftMethod::Saved {
            payment_method_id: method.clone(),
        },
        pay_on: Some(pay_on),
    };
    // After the due date: refused on the device, with the server's code.
    let late = engine
        .prepare_payment(pay(today + chrono::Days::new(60)))
        .await
        .unwrap_err();
    assert_eq!(
        (late.code.as_str(), late.field.as_deref()),
        ("invalid_pay_on", Some("/pay_on"))
    );
    let review = engine.prepare_payment(pay(today + chrono::Days::new(5))).await.unwrap();
    assert_eq!(review.pay_on, Some(today + chrono::Days::new(5)));
    let (a, b) = tokio::join!(
        engine.submit_payment(&review.review_id, false),
        engine.submit_payment(&review.review_id, false)
    );
    let (SubmitOutcome::Scheduled { scheduled: a }, SubmitOutcome::Scheduled { scheduled: b }) =
        (a.unwrap(), b.unwrap())
    else {
        panic!("both answers are the scheduled payment");
    };
    assert_eq!(a.id, b.id);
    assert_eq!(
        w.server_count("SELECT COUNT(*) FROM scheduled_payments".into()).await,
        1
    );
    assert_eq!(
        w.server_count("SELECT COUNT(*) FROM payments WHERE source = 'scheduled'".into())
            .await,
        0
    );
    let listed = engine.scheduled_payments().await.unwrap();
    assert_eq!(listed[0].status, ScheduledStatus::Scheduled);
    assert!(engine.bill(&id).await.unwrap().scheduled.is_some());
    // Moved a day later (still before the due date), from the version the app holds.
    let moved = engine
        .change_scheduled_payment(a.id.clone(), i64::from(a.version), today + chrono::Days::new(6))
        .await
        .unwrap();
    assert_eq!(moved.pay_on, today + chrono::Days::new(6));
    let e = engine
        .change_scheduled_payment(a.id.clone(), i64::from(moved.version), today + chrono::Days::new(90))
        .await
        .unwrap_err();
    assert_eq!(e.code, "invalid_pay_on");
    // An attempt whose answer was lost made the change; the retry, against the old version, is
    // refused as changed elsewhere, and the engine finds the change made (the server's state is
    // this change) instead of reporting a failure. Another change from the old version fails.
    let token = reqwest::Client::new()
        .post(format!("{}/v1/sessions", w.api_url))
        .json(&json!({"login": DEMO_EMAIL, "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let lost = reqwest::Client::new()
        .put(format!("{}/v1/scheduled-payments/{}", w.api_url, a.id))
        .bearer_auth(&token)
        .header("If-Match", format!("\"{}\"", moved.version))
        .json(
            &json!({"pay_on": today + chrono::Days::new(4), "payment_method_id": method,
                      "allocations": [{"bill_id": id, "amount": "5.00"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(lost.status(), 200);
    let found = engine
        .change_scheduled_payment(a.id.clone(), i64::from(moved.version), today + chrono::Days::new(4))
        .await
        .unwrap();
    assert_eq!(
        (found.pay_on, found.version),
        (today + chrono::Days::new(4), moved.version + 1)
    );
    let stale = engine
        .change_scheduled_payment(a.id.clone(), i64::from(moved.version), today + chrono::Days::new(3))
        .await
        .unwrap_err();
    assert_eq!(stale.code, "changed_elsewhere");
    advance(&w, 3).await;
    assert_eq!(
        w.server_count("SELECT COUNT(*) FROM payments WHERE source = 'scheduled'".into())
            .await,
        0
    );
    advance(&w, 1).await;
    assert_eq!(
        w.server_count("SELECT COUNT(*) FROM payments WHERE source = 'scheduled'".into())
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_set_up_through_faults_and_restarts_have_every_instalment_charged_exactly_once() {
    const PLANS: usize = 12;
    let w = World::start_with(|c| {
        c.payment_limits = carebill_server::config::PaymentLimits::generous();
        if let Some(plan) = c.plan.as_mut() {
            plan.payment_plans.min_balance = Money::parse("20.00").unwrap();
            plan.payment_plans.min_monthly = Money::parse("5.00").unwrap();
        }
    })
    .await;
    let (now, today) = (chrono::Utc::now(), w.server().state.business.today());
    let added: Vec<String> = w
        .server()
        .state
        .db
        .transaction(move |tx| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(18);
            seed::add_bills(tx, &mut rng, "M200000001", 40, today, now)
        })
        .await
        .unwrap();
    let proxy = FaultProxy::start(w.server().addr, 1818).await;
    let mut config = w.config(&proxy.url());
    config.retries = 3;
    config.keep_alive = false;
    config.connect_timeout = Duration::from_millis(300);
    config.request_timeout = Duration::from_millis(700);

    let mut engine = w.engine_with(config.clone());
    engine.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    engine.sync().await.unwrap();
    let method = card(&engine).await;
    let mut candidates = Vec::new();
    for b in &added {
        if engine.bill(b).await.unwrap().bill.bill.payable.cents() >= 2_000 {
            candidates.push(b.clone());
        }
    }
    assert!(candidates.len() >= PLANS, "{} bills of $20 or more", candidates.len());

    // Set up through dropped answers, delays and cuts, with the app restarted now and then. An
    // attempt whose answer never came may or may not have made its plan: the synced copy says.
    proxy.set_faults(true);
    for (i, bill) in candidates.iter().take(PLANS).enumerate() {
        if i % 4 == 3 {
            engine = w.engine_with(config.clone());
            engine.resume().await.ok();
        }
        let bills = vec![bill.clone()];
        for _ in 0..5 {
            let made = match engine.preview_payment_plan(draft(&bills, &method, 3), None).await {
                Ok(p) => {
                    engine
                        .create_payment_plan(draft(&bills, &method, 3), p.authorization.text_version)
                        .await
                }
                Err(e) => Err(e),
            };
            let on_plan = w
                .server_count(format!(
                    "SELECT COUNT(*) FROM bills WHERE id = '{bill}' AND payment_plan_id IS NOT NULL"
                ))
                .await;
            if made.is_ok() || on_plan == 1 {
                break;
            }
            let _ = engine.sync().await;
        }
    }
    proxy.set_faults(false);
    let plans = w.server_count("SELECT COUNT(*) FROM payment_plans".into()).await;
    assert_eq!(plans, PLANS as i64, "one plan per bill, none twice");
    assert_eq!(
        w.server_count(
            "SELECT COUNT(*) FROM (SELECT bill_id FROM plan_bills GROUP BY bill_id HAVING COUNT(*) > 1) AS twice"
                .into()
        )
        .await,
        0
    );

    // Three instalment days: each with two passes racing and one pass stopped part-way (a
    // scheduler that died), then one more pass.
    let state = w.server().state.clone();
    for _ in 0..3 {
        advance(&w, 31).await;
        let interrupted = tokio::spawn({
            let state = state.clone();
            async move { carebill_server::scheduler::run_once(&state).await }
        });
        tokio::time::sleep(Duration::from_millis(3)).await;
        interrupted.abort();
        let (a, b) = tokio::join!(
            carebill_server::scheduler::run_once(&state),
            carebill_server::scheduler::run_once(&state)
        );
        a.unwrap();
        b.unwrap();
        carebill_server::scheduler::run_once(&state).await.unwrap();
    }
    // Leases of an interrupted charge run out; the sweep finishes it.
    advance(&w, 1).await;
    let instalments = w
        .server_count("SELECT COUNT(*) FROM plan_instalments WHERE status = 'paid'".into())
        .await;
    let payments = w
        .server_count("SELECT COUNT(*) FROM payments WHERE source = 'payment_plan' AND status = 'succeeded'".into())
        .await;
    let keys = w
        .server_count("SELECT COUNT(DISTINCT idempotency_key) FROM payments WHERE source = 'payment_plan'".into())
        .await;
    let done = w
        .server_count("SELECT COUNT(*) FROM payment_plans WHERE status = 'completed'".into())
        .await;
    let left = w
        .server_count("SELECT COUNT(*) FROM bills WHERE id IN (SELECT bill_id FROM plan_bills) AND total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents > 0".into())
        .await;
    assert_eq!(
        (instalments, payments, keys),
        (3 * PLANS as i64, 3 * PLANS as i64, 3 * PLANS as i64),
        "three instalments per plan, each charged once: 0 duplicates, 0 missed"
    );
    assert_eq!((left, done), (0, PLANS as i64), "every plan paid in full and closed");
    assert_eq!(
        w.server_count("SELECT COUNT(*) FROM notices WHERE event = 'receipt'".into())
            .await,
        3 * PLANS as i64,
        "one receipt decided per instalment"
    );
    engine.sync().await.unwrap();
    let synced = engine.payment_plans().await.unwrap();
    assert_eq!(synced.len(), PLANS);
    assert!(
        synced
            .iter()
            .all(|p| p.status == PaymentPlanStatus::Completed && p.paid_count == 3)
    );
}
