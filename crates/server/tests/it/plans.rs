//! Payment plans and scheduled payments: the policy, the schedule, instalments charged exactly
//! once on the business clock, misses, catching up, pauses, cancels, balance changes, `If-Match`,
//! and one-time payments scheduled for a date.

use serde_json::{Value, json};

use crate::autopay::{issue_bill, put_autopay, rule};
use crate::harness::*;

pub(crate) const CARD_TEXT: &str = "2026-12-card-instalments";
pub(crate) const BANK_TEXT: &str = "2026-12-instalments";

pub(crate) fn plan_request(bills: &[&str], method: &str, terms: Value, day: u32) -> Value {
    let mut body = json!({
        "bill_ids": bills,
        "day_of_month": day,
        "payment_method_id": method,
        "authorization": {"text_version": CARD_TEXT},
    });
    for (k, v) in terms.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// An open bill of the demo member that owes at least $100 (the default minimum for a plan).
async fn big_bill(s: &TestServer, token: &str) -> (String, String) {
    let bill = s
        .payable_bills(token)
        .await
        .into_iter()
        .max_by_key(|b| money_cents(&b["payable"]))
        .unwrap();
    assert!(
        money_cents(&bill["payable"]) >= 10_000,
        "the demo has a bill of $100 or more"
    );
    (
        bill["id"].as_str().unwrap().to_string(),
        bill["payable"].as_str().unwrap().to_string(),
    )
}

pub(crate) fn money_cents(v: &Value) -> i64 {
    let s = v.as_str().unwrap();
    let (whole, cents) = s.split_once('.').unwrap();
    whole.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
}

async fn plan_payments(s: &TestServer) -> i64 {
    s.count("SELECT COUNT(*) FROM payments WHERE source = 'payment_plan'")
        .await
}

async fn mails(s: &TestServer, subject: &str) -> usize {
    s.mailbox().await.iter().filter(|m| m["subject"] == subject).count()
}

async fn put_plan(s: &TestServer, token: &str, id: &str, version: Option<&str>, body: Value) -> Resp {
    let mut req = s
        .http
        .put(format!("{}/v1/payment-plans/{id}", s.base))
        .bearer_auth(token)
        .json(&body);
    if let Some(v) = version {
        req = req.header("If-Match", v);
    }
    s.send(req).await
}

async fn plan_action(
    s: &TestServer,
    token: &str,
    method: reqwest::Method,
    path: &str,
    version: &Value,
    body: Option<Value>,
) -> Resp {
    let mut req = s
        .http
        .request(method, format!("{}{path}", s.base))
        .bearer_auth(token)
        .header("If-Match", format!("\"{version}\""));
    if let Some(b) = body {
        req = req.json(&b);
    }
    s.send(req).await
}

/// POST with an Idempotency-Key of its own.
pub(crate) async fn post_keyed(s: &TestServer, token: &str, path: &str, body: Value) -> Resp {
    let key = format!(
        "k-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    s.send(
        s.http
            .post(format!("{}{path}", s.base))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&body),
    )
    .await
}

async fn plan_action_raw(s: &TestServer, token: &str, path: &str, if_match: &str, body: Option<Value>) -> Resp {
    let mut req = s
        .http
        .post(format!("{}{path}", s.base))
        .bearer_auth(token)
        .header("If-Match", if_match);
    if let Some(b) = body {
        req = req.json(&b);
    }
    s.send(req).await
}

async fn create(s: &TestServer, token: &str, body: Value) -> Value {
    let r = post_keyed(s, token, "/v1/payment-plans", body).await;
    r.expect(201);
    r.body.clone()
}

#[tokio::test]
async fn a_plan_adds_up_to_the_cent_and_each_instalment_is_noticed_charged_and_receipted_once() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let (bill, payable) = big_bill(&s, &token).await;
    let plan = create(&s, &token, plan_request(&[&bill], &card, json!({"months": 6}), 15)).await;
    assert!(plan["number"].as_str().unwrap().starts_with("PP-"));
    assert_eq!(plan["status"], "active");
    let schedule = plan["schedule"].as_array().unwrap();
    assert_eq!(schedule.len(), 6);
    let sum: i64 = schedule.iter().map(|i| money_cents(&i["amount"])).sum();
    assert_eq!(sum, money_cents(&Value::String(payable.clone())), "to the cent");
    assert!(schedule[..5].iter().all(|i| i["amount"] == plan["monthly_amount"]));
    // Today is Friday 2026-11-27: the 15th of December is a Tuesday.
    assert_eq!(schedule[0]["charge_date"], "2026-12-15");
    assert_eq!(
        (plan["paid_count"].as_u64(), plan["total_count"].as_u64()),
        (Some(0), Some(6))
    );
    assert_eq!(s.bill(&token, &bill).await["payment_plan_id"], plan["id"]);
    assert_eq!(mails(&s, "Carebill: your payment plan is set up").await, 1);
    let confirmation = s
        .mailbox()
        .await
        .into_iter()
        .rfind(|m| m["subject"] == "Carebill: your payment plan is set up")
        .unwrap();
    assert!(
        confirmation["body"]
            .as_str()
            .unwrap()
            .contains(plan["number"].as_str().unwrap())
    );

    // The notice comes 3 days before, once however many passes run.
    s.advance_business("P14D").await; // 2026-12-11: not yet
    assert_eq!(mails(&s, "Carebill: your next payment plan payment").await, 0);
    s.advance_business("P1D").await; // 2026-12-12
    s.run_scheduler().await;
    s.run_scheduler().await;
    assert_eq!(mails(&s, "Carebill: your next payment plan payment").await, 1);
    assert_eq!(plan_payments(&s).await, 0);

    s.advance_business("P3D").await; // 2026-12-15
    s.run_scheduler().await;
    s.run_scheduler().await;
    assert_eq!(plan_payments(&s).await, 1, "one charge for the instalment");
    let token = s.demo_token().await;
    let now = s
        .get(&format!("/v1/payment-plans/{}", plan["id"].as_str().unwrap()), &token)
        .await;
    now.expect(200);
    assert_eq!(now.headers["etag"], format!("\"{}\"", now.body["version"]).as_str());
    let now = now.body.clone();
    assert_eq!(now["instalments"][0]["status"], "paid");
    assert_eq!(now["instalments"][0]["amount"], plan["monthly_amount"]);
    assert_eq!(
        (now["paid_count"].as_u64(), now["total_count"].as_u64()),
        (Some(1), Some(6))
    );
    assert_eq!(now["schedule"][0]["charge_date"], "2027-01-15");
    let history = s.get("/v1/payments?limit=1", &token).await;
    assert_eq!(history.body["data"][0]["source"], "payment_plan");
    assert_eq!(
        s.count("SELECT COUNT(*) FROM notices WHERE event = 'receipt'").await,
        1,
        "one receipt decided for the instalment"
    );
    s.stop().await;
}

#[tokio::test]
async fn terms_outside_the_policy_and_bills_that_cannot_go_on_a_plan_are_refused_and_change_nothing() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let (bill, _) = big_bill(&s, &token).await;
    let small = s
        .payable_bills(&token)
        .await
        .into_iter()
        .find(|b| money_cents(&b["payable"]) < 10_000)
        .map(|b| b["id"].as_str().unwrap().to_string());
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            plan_request(&[&bill], &card, json!({"monthly_amount": "24.99"}), 15),
            422,
            "instalment_too_small",
            "/monthly_amount",
        ),
        (
            plan_request(&[&bill], &card, json!({"months": 25}), 15),
            422,
            "plan_too_long",
            "/months",
        ),
        (
            plan_request(&[&bill], &card, json!({"months": 0}), 15),
            422,
            "plan_too_long",
            "/months",
        ),
        (
            plan_request(&[&bill], &card, json!({"months": 6}), 29),
            422,
            "invalid_day_of_month",
            "/day_of_month",
        ),
        (
            plan_request(&[&bill], &card, json!({"months": 6}), 31),
            422,
            "invalid_day_of_month",
            "/day_of_month",
        ),
        (
            plan_request(&[&bill], &card, json!({}), 15),
            422,
            "plan_terms_required",
            "/monthly_amount",
        ),
        (
            plan_request(&[&bill], &card, json!({"months": 6, "monthly_amount": "50.00"}), 15),
            422,
            "plan_terms_required",
            "/monthly_amount",
        ),
        (
            plan_request(&[&bill, &bill], &card, json!({"months": 6}), 15),
            422,
            "duplicate_bill",
            "/bill_ids/1",
        ),
        (
            plan_request(&["bil_nope"], &card, json!({"months": 6}), 15),
            404,
            "bill_not_found",
            "/bill_ids/0",
        ),
        (
            plan_request(&[&bill], "pm_nope", json!({"months": 6}), 15),
            404,
            "payment_method_not_found",
            "/payment_method_id",
        ),
        (
            {
                let mut b = plan_request(&[&bill], &card, json!({"months": 6}), 15);
                b["authorization"]["text_version"] = json!(BANK_TEXT);
                b
            },
            422,
            "plan_authorization_required",
            "/authorization/text_version",
        ),
        (
            plan_request(&[&bill], &card, json!({"monthly_amount": "25.001"}), 15),
            422,
            "validation_failed",
            "/monthly_amount",
        ),
    ];
    for (body, status, code, field) in cases {
        let r = post_keyed(&s, &token, "/v1/payment-plans", body.clone()).await;
        r.expect_error(status, code);
        assert_eq!(r.field(), field, "{body}");
    }
    if let Some(small) = small {
        let r = post_keyed(
            &s,
            &token,
            "/v1/payment-plans",
            plan_request(&[&small], &card, json!({"months": 2}), 15),
        )
        .await;
        r.expect_error(422, "plan_below_minimum");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("$100.00"));
    }
    assert_eq!(
        s.count("SELECT COUNT(*) FROM payment_plans").await,
        0,
        "nothing changed"
    );
    assert_eq!(
        s.count("SELECT COUNT(*) FROM bills WHERE payment_plan_id IS NOT NULL")
            .await,
        0
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM notices").await, 0);

    // Without a key nothing is made; the same key sent again answers the plan it made.
    let body = plan_request(&[&bill], &card, json!({"months": 6}), 15);
    s.post_auth("/v1/payment-plans", &token, body.clone())
        .await
        .expect_error(400, "idempotency_key_missing");
    let send = || {
        s.send(
            s.http
                .post(format!("{}/v1/payment-plans", s.base))
                .bearer_auth(&token)
                .header("Idempotency-Key", "plan-once")
                .json(&body),
        )
    };
    let first = send().await;
    first.expect(201);
    let again = send().await;
    again.expect(200);
    assert_eq!(again.body["id"], first.body["id"], "a double click makes one plan");
    assert_eq!(mails(&s, "Carebill: your payment plan is set up").await, 1);
    // A bill on a plan cannot go on another, and the plan's method cannot be removed.
    post_keyed(
        &s,
        &token,
        "/v1/payment-plans",
        plan_request(&[&bill], &card, json!({"months": 3}), 15),
    )
    .await
    .expect_error(409, "bill_on_payment_plan");
    s.delete(&format!("/v1/payment-methods/{card}"), &token)
        .await
        .expect_error(409, "in_use_by_payment_plan");
    // A paid bill has nothing to put on a plan.
    let other = s
        .payable_bills(&token)
        .await
        .into_iter()
        .find(|b| b["id"] != bill.as_str())
        .unwrap();
    let id = other["id"].as_str().unwrap();
    s.pay(
        &token,
        "pay-it-off",
        json!({"payment_method_id": card, "allocations": [{"bill_id": id, "amount": other["payable"]}]}),
    )
    .await
    .expect(201);
    post_keyed(
        &s,
        &token,
        "/v1/payment-plans",
        plan_request(&[id], &card, json!({"months": 3}), 15),
    )
    .await
    .expect_error(422, "nothing_to_pay");
    assert_eq!(s.count("SELECT COUNT(*) FROM payment_plans").await, 1);
    s.stop().await;
}

#[tokio::test]
async fn a_declined_instalment_puts_the_plan_behind_and_a_payment_by_hand_catches_it_up() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let good = s.card_method(&token).await;
    let declining = s.save_card(&token, "4000000000000002").await;
    let (bill, _) = big_bill(&s, &token).await;
    let plan = create(&s, &token, plan_request(&[&bill], &declining, json!({"months": 6}), 1)).await;
    let id = plan["id"].as_str().unwrap().to_string();
    assert_eq!(plan["schedule"][0]["charge_date"], "2026-12-01");
    s.advance_business("P4D").await; // 2026-12-01
    s.run_scheduler().await;
    let token = s.demo_token().await;
    let behind = s.get(&format!("/v1/payment-plans/{id}"), &token).await.body;
    assert_eq!(behind["status"], "behind");
    assert_eq!(behind["behind_amount"], plan["monthly_amount"]);
    assert_eq!(behind["instalments"][0]["status"], "missed");
    assert_eq!(
        mails(&s, "Carebill: a payment plan payment did not go through").await,
        1
    );
    s.run_scheduler().await;
    assert_eq!(
        plan_payments(&s).await,
        1,
        "a missed instalment is not retried by itself"
    );
    assert_eq!(
        mails(&s, "Carebill: a payment plan payment did not go through").await,
        1
    );

    // The member moves the plan to a good card and pays what is behind by hand ("Pay now").
    let moved = put_plan(
        &s,
        &token,
        &id,
        Some(&format!("\"{}\"", behind["version"])),
        plan_request(&[&bill], &good, json!({"monthly_amount": plan["monthly_amount"]}), 1),
    )
    .await;
    moved.expect(200);
    assert_eq!(moved.body["payment_method_id"], good.as_str());
    assert_eq!(
        moved.body["schedule"][0]["charge_date"], "2027-01-04",
        "no second instalment in December"
    );
    s.pay(
        &token,
        "pay-now-1",
        json!({"payment_method_id": good, "allocations": [{"bill_id": bill, "amount": behind["behind_amount"]}]}),
    )
    .await
    .expect(201);
    let caught_up = s.get(&format!("/v1/payment-plans/{id}"), &token).await.body;
    assert_eq!(
        (caught_up["status"].as_str(), caught_up["behind_amount"].as_str()),
        (Some("active"), Some("0.00"))
    );
    s.stop().await;
}

#[tokio::test]
async fn more_misses_than_the_policy_allows_end_the_plan_and_the_bills_return_to_normal() {
    let s = TestServer::start_with(|c| {
        if let Some(plan) = c.plan.as_mut() {
            plan.payment_plans.misses_allowed = 1;
        }
    })
    .await;
    let token = s.demo_token().await;
    let declining = s.save_card(&token, "4000000000000002").await;
    let (bill, _) = big_bill(&s, &token).await;
    let plan = create(&s, &token, plan_request(&[&bill], &declining, json!({"months": 4}), 1)).await;
    let id = plan["id"].as_str().unwrap().to_string();
    s.advance_business("P4D").await; // 2026-12-01: first miss, allowed
    s.advance_business("P31D").await; // 2027-01-01 is a holiday: Monday 2027-01-04
    s.advance_business("P3D").await;
    let token = s.demo_token().await;
    let ended = s.get(&format!("/v1/payment-plans/{id}"), &token).await.body;
    assert_eq!(ended["status"], "ended", "{ended:#}");
    assert_eq!(plan_payments(&s).await, 2);
    assert!(ended["schedule"].as_array().unwrap().is_empty());
    assert_eq!(s.bill(&token, &bill).await["payment_plan_id"], Value::Null);
    assert_eq!(mails(&s, "Carebill: your payment plan has ended").await, 1);
    s.advance_business("P40D").await;
    assert_eq!(plan_payments(&s).await, 2, "nothing more is charged");
    s.stop().await;
}

#[tokio::test]
async fn changes_need_the_version_read_so_two_devices_cannot_overwrite_each_other() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let (bill, _) = big_bill(&s, &token).await;
    let plan = create(&s, &token, plan_request(&[&bill], &card, json!({"months": 6}), 15)).await;
    let id = plan["id"].as_str().unwrap().to_string();
    let body = plan_request(&[&bill], &card, json!({"months": 3}), 20);
    put_plan(&s, &token, &id, None, body.clone())
        .await
        .expect_error(428, "precondition_required");
    put_plan(&s, &token, &id, Some("\"99\""), body.clone())
        .await
        .expect_error(412, "changed_elsewhere");
    put_plan(&s, &token, &id, Some("garbage"), body.clone())
        .await
        .expect_error(412, "changed_elsewhere");
    let first = put_plan(&s, &token, &id, Some(&format!("\"{}\"", plan["version"])), body.clone()).await;
    first.expect(200);
    assert_eq!(first.body["schedule"].as_array().unwrap().len(), 3);
    assert_eq!(
        first.body["schedule"][0]["charge_date"], "2026-12-21",
        "the 20th is a Sunday"
    );
    // The second device still holds the first version.
    put_plan(
        &s,
        &token,
        &id,
        Some(&format!("\"{}\"", plan["version"])),
        plan_request(&[&bill], &card, json!({"months": 2}), 20),
    )
    .await
    .expect_error(412, "changed_elsewhere");
    assert_eq!(
        s.get(&format!("/v1/payment-plans/{id}"), &token).await.body["schedule"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(mails(&s, "Carebill: your payment plan was changed").await, 1);
    // Adding a bill makes a new schedule under a new authorization.
    let extra = s
        .payable_bills(&token)
        .await
        .into_iter()
        .find(|b| b["id"] != bill.as_str())
        .unwrap();
    let added = put_plan(
        &s,
        &token,
        &id,
        Some(&format!("\"{}\"", first.body["version"])),
        plan_request(&[extra["id"].as_str().unwrap()], &card, json!({"months": 4}), 20),
    )
    .await;
    added.expect(200);
    assert_eq!(added.body["bills"].as_array().unwrap().len(), 2);
    let total: i64 = added.body["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| money_cents(&i["amount"]))
        .sum();
    assert_eq!(total, money_cents(&added.body["balance"]));
    // Bills are applied oldest due date first.
    let dues: Vec<&str> = added.body["bills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["due_date"].as_str().unwrap())
        .collect();
    assert!(dues.windows(2).all(|w| w[0] <= w[1]));
    s.stop().await;
}

#[tokio::test]
async fn a_pause_holds_the_instalments_and_a_cancel_stops_them_for_good() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let (bill, _) = big_bill(&s, &token).await;
    let plan = create(&s, &token, plan_request(&[&bill], &card, json!({"months": 6}), 1)).await;
    let id = plan["id"].as_str().unwrap().to_string();
    let path = format!("/v1/payment-plans/{id}/pause");
    plan_action(
        &s,
        &token,
        reqwest::Method::POST,
        &path,
        &plan["version"],
        Some(json!({"until": "2027-01-27"})),
    )
    .await
    .expect_error(422, "pause_too_long");
    let paused = plan_action(
        &s,
        &token,
        reqwest::Method::POST,
        &path,
        &plan["version"],
        Some(json!({"until": "2026-12-20"})),
    )
    .await;
    paused.expect(200);
    assert_eq!(paused.body["status"], "paused");
    // `*` says "whatever it is now": resuming and pausing again works without the version.
    let resumed_now = plan_action_raw(&s, &token, &format!("/v1/payment-plans/{id}/resume"), "*", None).await;
    resumed_now.expect(200);
    assert_eq!(resumed_now.body["status"], "active");
    let paused = plan_action_raw(&s, &token, &path, "*", Some(json!({"until": "2026-12-20"}))).await;
    paused.expect(200);
    assert_eq!(
        paused.body["schedule"][0]["charge_date"],
        "2027-01-01".replace("01-01", "01-04"),
        "after the pause"
    );
    s.advance_business("P4D").await; // 2026-12-01: paused
    assert_eq!(plan_payments(&s).await, 0);
    s.advance_business("P24D").await; // 2026-12-25: the pause is over, next is January
    let token = s.demo_token().await;
    let resumed = s.get(&format!("/v1/payment-plans/{id}"), &token).await.body;
    assert_eq!(resumed["status"], "active");
    assert_eq!(plan_payments(&s).await, 0);
    let cancelled = plan_action(
        &s,
        &token,
        reqwest::Method::POST,
        &format!("/v1/payment-plans/{id}/cancel"),
        &resumed["version"],
        None,
    )
    .await;
    cancelled.expect(200);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(
        s.bill(&token, &bill).await["payment_plan_id"],
        Value::Null,
        "the bill is back to normal"
    );
    assert_eq!(mails(&s, "Carebill: your payment plan was cancelled").await, 1);
    plan_action(
        &s,
        &token,
        reqwest::Method::POST,
        &format!("/v1/payment-plans/{id}/cancel"),
        &cancelled.body["version"],
        None,
    )
    .await
    .expect_error(409, "payment_plan_closed");
    s.advance_business("P70D").await;
    assert_eq!(plan_payments(&s).await, 0, "nothing is charged after a cancel");
    // The method is free again.
    let token = s.demo_token().await;
    assert_ne!(
        s.delete(&format!("/v1/payment-methods/{card}"), &token).await.status,
        409
    );
    s.stop().await;
}

/// Adds `cents` to one of a bill's amount columns, as the plan's import would change it.
async fn add_to_bill(s: &TestServer, bill: &str, column: &'static str, cents: i64) {
    let bill = bill.to_string();
    s.server
        .state
        .db
        .transaction(move |tx| {
            tx.execute(
                &format!("UPDATE bills SET {column} = {column} + ?2 WHERE id = ?1"),
                carebill_server::sql::params![bill, cents],
            )?;
            Ok(())
        })
        .await
        .unwrap();
}

/// Paid elsewhere (the provider's office, another party) or taken off by insurance.
async fn set_other_payments(s: &TestServer, bill: &str, cents: i64) {
    add_to_bill(s, bill, "other_payments_cents", cents).await;
}

/// A re-adjudication that raises what the member owes.
async fn add_charges(s: &TestServer, bill: &str, cents: i64) {
    add_to_bill(s, bill, "total_charges_cents", cents).await;
}

#[tokio::test]
async fn a_lower_balance_shortens_the_schedule_and_a_bill_paid_elsewhere_ends_the_plan_without_a_charge() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let (bill, payable) = big_bill(&s, &token).await;
    let plan = create(&s, &token, plan_request(&[&bill], &card, json!({"months": 4}), 15)).await;
    let id = plan["id"].as_str().unwrap().to_string();
    let monthly = money_cents(&plan["monthly_amount"]);
    // An insurance re-adjudication takes off more than one instalment.
    set_other_payments(&s, &bill, monthly + 1).await;
    let shorter = s.get(&format!("/v1/payment-plans/{id}"), &token).await.body;
    assert_eq!(shorter["schedule"].as_array().unwrap().len(), 3);
    assert_eq!(
        shorter["monthly_amount"], plan["monthly_amount"],
        "the same monthly amount"
    );
    let sum: i64 = shorter["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| money_cents(&i["amount"]))
        .sum();
    assert_eq!(sum, money_cents(&Value::String(payable)) - monthly - 1);
    // Then someone else pays the rest.
    set_other_payments(&s, &bill, sum).await;
    s.advance_business("P18D").await; // 2026-12-15
    let token = s.demo_token().await;
    let done = s.get(&format!("/v1/payment-plans/{id}"), &token).await.body;
    assert_eq!(done["status"], "completed");
    assert_eq!(plan_payments(&s).await, 0, "no charge");
    assert_eq!(mails(&s, "Carebill: your payment plan is paid in full").await, 1);
    s.stop().await;
}

#[tokio::test]
async fn a_higher_balance_adds_instalments_and_beyond_the_term_asks_for_new_terms_never_a_higher_amount() {
    let s = TestServer::start_with(|c| {
        if let Some(plan) = c.plan.as_mut() {
            plan.payment_plans.max_months = 6;
        }
    })
    .await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let (bill, _) = big_bill(&s, &token).await;
    let plan = create(&s, &token, plan_request(&[&bill], &card, json!({"months": 4}), 15)).await;
    let id = plan["id"].as_str().unwrap().to_string();
    let monthly = money_cents(&plan["monthly_amount"]);
    add_charges(&s, &bill, monthly).await;
    let longer = s.get(&format!("/v1/payment-plans/{id}"), &token).await.body;
    assert_eq!(
        longer["schedule"].as_array().unwrap().len(),
        5,
        "one more instalment at the same amount"
    );
    assert_eq!(longer["needs_authorization"], false);
    add_charges(&s, &bill, 3 * monthly).await;
    s.advance_business("P15D").await; // 2026-12-12: the pass looks at the plan
    let token = s.demo_token().await;
    let asks = s.get(&format!("/v1/payment-plans/{id}"), &token).await.body;
    assert_eq!(asks["needs_authorization"], true);
    assert_eq!(mails(&s, "Carebill: your payment plan needs your approval").await, 1);
    s.advance_business("P3D").await; // 2026-12-15
    let history = s.get("/v1/payments?limit=1", &s.demo_token().await).await;
    assert_eq!(
        history.body["data"][0]["amount"], plan["monthly_amount"],
        "never more than agreed"
    );
    s.run_scheduler().await;
    assert_eq!(
        mails(&s, "Carebill: your payment plan needs your approval").await,
        1,
        "asked once"
    );
    s.stop().await;
}

#[tokio::test]
async fn bills_on_a_plan_are_left_alone_by_autopay() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    put_autopay(&s, &token, rule(&card, "5000.00", json!({"type": "due_date"})))
        .await
        .expect(200);
    let bill = issue_bill(&s).await;
    let id = bill["id"].as_str().unwrap();
    if money_cents(&bill["payable"]) < 10_000 {
        add_charges(&s, id, 10_000).await;
    }
    create(&s, &token, plan_request(&[id], &card, json!({"months": 3}), 28)).await;
    let upcoming = s.get("/v1/autopay/upcoming", &token).await;
    assert!(upcoming.body.as_array().unwrap().iter().all(|u| u["bill_id"] != id));
    s.advance_business("P35D").await;
    assert_eq!(crate::autopay::autopay_payments(&s, id).await, 0);
    s.stop().await;
}

async fn schedule_payment(s: &TestServer, token: &str, body: Value) -> Resp {
    post_keyed(s, token, "/v1/scheduled-payments", body).await
}

#[tokio::test]
async fn a_scheduled_payment_is_reminded_the_day_before_and_made_once_on_its_date() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let bill = issue_bill(&s).await; // due 2026-12-27
    let id = bill["id"].as_str().unwrap();
    // A new bill's amounts are random: enough on it for every amount below.
    add_charges(&s, id, 5_000).await;
    let body = |pay_on: &str, amount: &str| json!({"pay_on": pay_on, "payment_method_id": card, "allocations": [{"bill_id": id, "amount": amount}]});
    let cases = [
        (body("2026-11-26", "10.00"), 422, "invalid_pay_on", "/pay_on"),
        (body("2026-12-28", "10.00"), 422, "invalid_pay_on", "/pay_on"),
        (
            body("2026-12-10", "0.00"),
            422,
            "invalid_amount",
            "/allocations/0/amount",
        ),
        (
            body("2026-12-10", "99999.00"),
            422,
            "amount_exceeds_balance",
            "/allocations/0/amount",
        ),
    ];
    for (b, status, code, field) in cases {
        let r = schedule_payment(&s, &token, b).await;
        r.expect_error(status, code);
        assert_eq!(r.field(), field);
    }
    assert_eq!(s.count("SELECT COUNT(*) FROM scheduled_payments").await, 0);

    let made = schedule_payment(&s, &token, body("2026-12-10", "10.00")).await;
    made.expect(201);
    let sid = made.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        (made.body["status"].as_str(), made.body["change_until"].as_str()),
        (Some("scheduled"), Some("2026-12-09"))
    );
    // Changed once, from the version read; a stale version is refused.
    let path = format!("/v1/scheduled-payments/{sid}");
    let changed = s
        .send(
            s.http
                .put(format!("{}{path}", s.base))
                .bearer_auth(&token)
                .header("If-Match", "\"1\"")
                .json(&body("2026-12-11", "12.00")),
        )
        .await;
    changed.expect(200);
    s.send(
        s.http
            .put(format!("{}{path}", s.base))
            .bearer_auth(&token)
            .header("If-Match", "\"1\"")
            .json(&body("2026-12-12", "12.00")),
    )
    .await
    .expect_error(412, "changed_elsewhere");

    s.advance_business("P13D").await; // 2026-12-10: the reminder
    s.run_scheduler().await;
    assert_eq!(mails(&s, "Carebill: your scheduled payment is tomorrow").await, 1);
    s.advance_business("P1D").await; // 2026-12-11
    s.run_scheduler().await;
    let token = s.demo_token().await;
    let after = s.get(&path, &token).await.body;
    assert_eq!(after["status"], "made");
    s.send(
        s.http
            .post(format!("{}{path}/cancel", s.base))
            .bearer_auth(&token)
            .header("If-Match", format!("\"{}\"", after["version"])),
    )
    .await
    .expect_error(422, "too_late_to_change");
    let payment = s
        .get(
            &format!("/v1/payments/{}", after["payment_id"].as_str().unwrap()),
            &token,
        )
        .await
        .body;
    assert_eq!(
        (payment["amount"].as_str(), payment["source"].as_str()),
        (Some("12.00"), Some("scheduled"))
    );
    assert_eq!(
        s.count("SELECT COUNT(*) FROM payments WHERE source = 'scheduled'")
            .await,
        1
    );
    s.stop().await;
}

#[tokio::test]
async fn a_scheduled_payment_pays_only_what_is_left_and_is_cancelled_with_a_notice_when_nothing_is() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let first = issue_bill(&s).await;
    let second = issue_bill(&s).await;
    let schedule = |bill: &Value| json!({"pay_on": "2026-12-10", "payment_method_id": card, "allocations": [{"bill_id": bill["id"], "amount": bill["payable"]}]});
    let a = schedule_payment(&s, &token, schedule(&first)).await;
    a.expect(201);
    let b = schedule_payment(&s, &token, schedule(&second)).await;
    b.expect(201);
    // Insurance takes $5 off the first; the second is paid in full by hand.
    set_other_payments(&s, first["id"].as_str().unwrap(), 500).await;
    s.pay(
        &token,
        "by-hand",
        json!({"payment_method_id": card, "allocations": [{"bill_id": second["id"], "amount": second["payable"]}]}),
    )
    .await
    .expect(201);
    s.advance_business("P13D").await;
    let token = s.demo_token().await;
    let a = s
        .get(
            &format!("/v1/scheduled-payments/{}", a.body["id"].as_str().unwrap()),
            &token,
        )
        .await
        .body;
    let paid = s
        .get(&format!("/v1/payments/{}", a["payment_id"].as_str().unwrap()), &token)
        .await
        .body;
    assert_eq!(money_cents(&paid["amount"]), money_cents(&first["payable"]) - 500);
    let b = s
        .get(
            &format!("/v1/scheduled-payments/{}", b.body["id"].as_str().unwrap()),
            &token,
        )
        .await
        .body;
    assert_eq!(
        (b["status"].as_str(), b["cancel_reason"].as_str()),
        (Some("cancelled"), Some("nothing_to_pay"))
    );
    assert_eq!(mails(&s, "Carebill: your scheduled payment was not needed").await, 1);
    s.stop().await;
}

#[tokio::test]
async fn an_instalment_whose_charge_was_interrupted_is_finished_by_the_sweep_never_charged_twice() {
    let (s, processor) = crate::payments::start_with_dying(1).await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let (bill, _) = big_bill(&s, &token).await;
    create(&s, &token, plan_request(&[&bill], &card, json!({"months": 6}), 1)).await;
    s.advance_business("P4D").await; // the charge is made, then the processor "dies"
    assert_eq!(
        s.count("SELECT COUNT(*) FROM plan_instalments WHERE status = 'processing'")
            .await,
        1
    );
    s.run_scheduler().await;
    assert_eq!(off_runtime(|| processor.inner.charge_count()), 1);
    processor.revive();
    s.advance(chrono::Duration::seconds(200));
    s.run_scheduler().await;
    s.run_scheduler().await;
    assert_eq!(
        s.count("SELECT COUNT(*) FROM plan_instalments WHERE status = 'paid'")
            .await,
        1
    );
    assert_eq!(plan_payments(&s).await, 1);
    assert_eq!(
        off_runtime(|| processor.inner.charge_count()),
        1,
        "one charge at the processor"
    );
    s.stop().await;
}

#[tokio::test]
async fn moving_a_scheduled_bank_payment_keeps_its_debit_authorization_and_another_account_needs_its_own() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let bank = s.method_of(&token, "bank_account").await;
    let card = s.card_method(&token).await;
    let bill = issue_bill(&s).await;
    add_charges(&s, bill["id"].as_str().unwrap(), 5_000).await;
    let body = |pay_on: &str, method: &str, ach: bool| {
        let mut b = json!({"pay_on": pay_on, "payment_method_id": method, "allocations": [{"bill_id": bill["id"], "amount": "3.00"}]});
        if ach {
            b["ach_authorization"] = json!({"text_version": "2026-11-single"});
        }
        b
    };
    schedule_payment(&s, &token, body("2026-12-10", &bank, false))
        .await
        .expect_error(422, "ach_authorization_required");
    let made = schedule_payment(&s, &token, body("2026-12-10", &bank, true)).await;
    made.expect(201);
    let path = format!("{}/v1/scheduled-payments/{}", s.base, made.body["id"].as_str().unwrap());
    let put = |b: Value, v: &str| s.send(s.http.put(&path).bearer_auth(&token).header("If-Match", v).json(&b));
    let moved = put(body("2026-12-12", &bank, false), "\"1\"").await;
    moved.expect(200);
    assert_eq!(moved.body["pay_on"], "2026-12-12");
    assert_eq!(
        s.count("SELECT COUNT(*) FROM scheduled_payments WHERE ach_text_version = '2026-11-single'")
            .await,
        1,
        "the accepted authorization is kept"
    );
    // To a card: no authorization needed; back to the bank account: it must be accepted again.
    put(body("2026-12-12", &card, false), "\"2\"").await.expect(200);
    put(body("2026-12-12", &bank, false), "\"3\"")
        .await
        .expect_error(422, "ach_authorization_required");
    s.stop().await;
}

#[tokio::test]
async fn a_returned_bank_instalment_puts_the_plan_behind_like_a_decline() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    // An account whose debits the sandbox returns (R01, insufficient funds) at settlement.
    let saved = s
        .post_auth(
            "/v1/payment-methods",
            &token,
            json!({"token": s.bank_token("000111111113").await}),
        )
        .await;
    let returning = saved.body["id"].as_str().unwrap().to_string();
    let (bill, _) = big_bill(&s, &token).await;
    let mut body = plan_request(&[&bill], &returning, json!({"months": 4}), 1);
    body["authorization"]["text_version"] = json!(CARD_TEXT);
    post_keyed(&s, &token, "/v1/payment-plans", body.clone())
        .await
        .expect_error(422, "plan_authorization_required");
    body["authorization"]["text_version"] = json!(BANK_TEXT);
    let plan = create(&s, &token, body).await;
    let id = plan["id"].as_str().unwrap().to_string();
    s.advance_business("P4D").await; // 2026-12-01: the debit is sent
    let token = s.demo_token().await;
    let sent = s.get(&format!("/v1/payment-plans/{id}"), &token).await.body;
    assert_eq!(
        sent["instalments"][0]["status"], "paid",
        "a bank debit on its way counts as paid"
    );
    assert_eq!(
        s.count(
            "SELECT COUNT(*) FROM payments WHERE source = 'payment_plan' AND ach_text_version = '2026-12-instalments'"
        )
        .await,
        1,
        "the debit carries the plan's authorization"
    );
    s.advance_business("P5D").await; // settlement: the bank returns it
    let token = s.demo_token().await;
    let returned = s.get(&format!("/v1/payment-plans/{id}"), &token).await.body;
    assert_eq!(returned["instalments"][0]["status"], "missed");
    assert_eq!(returned["status"], "behind");
    assert_eq!(returned["behind_amount"], plan["monthly_amount"]);
    assert_eq!(
        mails(&s, "Carebill: a payment plan payment did not go through").await,
        1
    );
    s.stop().await;
}

#[tokio::test]
async fn the_schedulers_charges_are_never_refused_by_the_members_own_payment_limits() {
    let s = TestServer::start_with(|c| {
        c.payment_limits.member_payments_per_day = 1;
        c.payment_limits.member_declines_per_day = 1;
        c.payment_limits.card_declines_per_day = 1;
    })
    .await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let declining = s.save_card(&token, "4000000000000002").await;
    let (bill, _) = big_bill(&s, &token).await;
    create(&s, &token, plan_request(&[&bill], &declining, json!({"months": 4}), 1)).await;
    let other = issue_bill(&s).await;
    schedule_payment(
        &s,
        &token,
        json!({"pay_on": "2026-12-01", "payment_method_id": card, "allocations": [{"bill_id": other["id"], "amount": "2.00"}]}),
    )
    .await
    .expect(201);
    // By hand, the plan's card is declined: the member's declines for the day, and the card's, are
    // used up, so the member's next payment by hand is refused.
    s.pay(
        &token,
        "by-hand-1",
        json!({"payment_method_id": declining, "allocations": [{"bill_id": other["id"], "amount": "1.00"}]}),
    )
    .await
    .expect_error(402, "card_declined");
    s.pay(
        &token,
        "by-hand-2",
        json!({"payment_method_id": card, "allocations": [{"bill_id": other["id"], "amount": "1.00"}]}),
    )
    .await
    .expect_error(429, "too_many_declines");
    s.advance_business("P4D").await; // 2026-12-01: the instalment and the scheduled payment
    assert_eq!(
        s.count("SELECT COUNT(*) FROM payments WHERE source = 'scheduled' AND status = 'succeeded'")
            .await,
        1,
        "the scheduled payment was made"
    );
    // The instalment was tried (and declined by the card), not refused by the limits.
    assert_eq!(plan_payments(&s).await, 1, "the instalment was charged");
    assert_eq!(
        s.count("SELECT COUNT(*) FROM plan_instalments WHERE status = 'missed'")
            .await,
        1
    );
    // The next one (2027-01-01 is a holiday: Monday the 4th) is tried too.
    s.advance_business("P34D").await;
    assert_eq!(plan_payments(&s).await, 2, "the next instalment was tried as well");
    s.stop().await;
}

/// While a question about a plan's bill is open, its instalment waits: no notice, no charge, not
/// a miss. Closed, the next pass charges it, once.
#[tokio::test]
async fn an_instalment_waits_while_a_question_about_the_plans_bill_is_open() {
    use crate::conversations::{ask, close};
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let (bill, _) = big_bill(&s, &token).await;
    let plan = create(&s, &token, plan_request(&[&bill], &card, json!({"months": 6}), 15)).await;
    let asked = ask(
        &s,
        &token,
        "plan-q",
        json!({"topic": "payment_help", "bill_id": bill, "body": "Can I lower this?"}),
    )
    .await;
    asked.expect(201);
    s.advance_business("P20D").await; // 2026-12-17, past the first charge date (12-15)
    s.run_scheduler().await;
    assert_eq!(
        mails(&s, "Carebill: your next payment plan payment").await,
        0,
        "no notice"
    );
    assert_eq!(plan_payments(&s).await, 0, "no charge");
    let token = s.demo_token().await;
    let now = s
        .get(&format!("/v1/payment-plans/{}", plan["id"].as_str().unwrap()), &token)
        .await;
    assert_eq!(now.body["status"], "active", "a held instalment is not a miss");
    close(&s, &token, asked.body["id"].as_str().unwrap()).await.expect(200);
    s.run_scheduler().await;
    s.run_scheduler().await;
    assert_eq!(plan_payments(&s).await, 1, "charged once after the question is closed");
    s.stop().await;
}
