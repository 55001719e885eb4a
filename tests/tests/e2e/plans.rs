//! A payment plan in the real app window, by visible labels: set up from a bill, the first
//! instalment declined on a card the sandbox declines, the plan moved to a good card and made up
//! with Pay now, the second instalment charged, then cancelled: nothing more is charged. Every
//! screen is checked with axe.

use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD, cents};
use serde_json::{Value, json};
use thirtyfour::prelude::*;

use crate::sign_in;

/// Saves a card over the API (as another device of the member would).
async fn save_card(backend: &Backend, token: &str, number: &str) -> String {
    let card = backend
        .post(
            "/processor/v1/tokens",
            json!({"card": {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123", "postal_code": "94110", "holder_name": "Jordan Lee"}}),
        )
        .await;
    let saved: Value = reqwest::Client::new()
        .post(format!("{}/v1/payment-methods", backend.url))
        .bearer_auth(token)
        .json(&json!({"token": card["token"]}))
        .send()
        .await
        .expect("save")
        .json()
        .await
        .expect("json");
    saved["id"]
        .as_str()
        .unwrap_or_else(|| panic!("saved: {saved}"))
        .to_string()
}

/// Moves the business clock to `day` (the server runs its scheduler after each move).
async fn move_clock_to(backend: &Backend, day: &str) {
    // A second forward says what day it is (and runs the scheduler).
    let now = backend.post("/dev/clock", json!({"advance": "PT1S"})).await;
    let today =
        chrono::NaiveDate::parse_from_str(now["business_date"].as_str().expect("date"), "%Y-%m-%d").expect("date");
    let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("day");
    let days = (day - today).num_days();
    assert!(days >= 0, "{day} is not after {today}");
    if days > 0 {
        backend
            .post("/dev/clock", json!({"advance": format!("P{days}D")}))
            .await;
    }
}

async fn plan_payments(backend: &Backend, status: &str) -> i64 {
    backend
        .query_i64(format!(
            "SELECT COUNT(*) FROM payments WHERE source = 'payment_plan' AND status = '{status}'"
        ))
        .await
}

async fn refresh(app: &App) {
    app.click("Refresh").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_six_month_plan_set_up_from_a_bill_recovers_from_a_declined_instalment_and_cancels() {
    let backend = Backend::start().await;
    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let declining = save_card(&backend, &token, "4000000000000002").await;
    let mut bills = backend.open_bills(&token).await;
    bills.sort_by_key(|b| std::cmp::Reverse(cents(b["payable"].as_str().unwrap_or("0.00"))));
    let bill = bills.remove(0);
    assert!(
        cents(bill["payable"].as_str().expect("payable")) >= 10_000,
        "a bill of $100 or more"
    );
    let statement = bill["statement_number"].as_str().expect("statement").to_string();

    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.sees("Synced").await;

    // From the bill: "Can't pay all at once?"
    app.click("Bills").await;
    app.screen("Bills").await;
    app.open_bill_by_statement(&statement).await;
    app.click("Can't pay all at once? Set up a payment plan").await;
    app.screen("Payment plan").await;
    app.sees("How do you want to pay?").await;
    app.axe("payment plan form").await;
    app.fill("plan-months", "6").await;
    app.fill("plan-day", "15").await;
    app.check(&format!("plan-method-{declining}")).await;
    app.click("See the schedule").await;
    app.sees("Your schedule").await;
    app.until("six payments in the schedule", || async {
        app.wd
            .find_all(By::Css("#plan-preview tbody tr"))
            .await
            .is_ok_and(|rows| rows.len() == 6)
    })
    .await;
    app.sees("Payment plan authorization").await;
    app.axe("payment plan preview").await;
    // Without the authorization nothing is set up.
    app.click("Set up payment plan").await;
    app.sees("tick the box to authorize its payments").await;
    app.check("plan-accept").await;
    app.click("Set up payment plan").await;
    app.sees("Your payment plan is set up. Plan number PP-").await;
    app.sees("0 of 6 paid").await;
    app.axe("payment plan set up").await;
    let plans = backend.get(&token, "/v1/payment-plans").await;
    let plan = plans["data"][0].clone();
    assert_eq!(plan["schedule"].as_array().expect("schedule").len(), 6);
    let plan_id = plan["id"].as_str().expect("id").to_string();

    // The first instalment, on the card the sandbox declines: the plan is behind.
    move_clock_to(&backend, plan["schedule"][0]["charge_date"].as_str().expect("date")).await;
    assert_eq!(plan_payments(&backend, "failed").await, 1);
    refresh(&app).await;
    let behind = format!("Behind: pay ${}", plan["monthly_amount"].as_str().expect("monthly"));
    app.sees(&behind).await;
    app.axe("payment plan behind").await;

    // Move the plan to the good card (new terms, accepted again), then Pay now.
    app.click("Change the plan").await;
    app.sees("Add bills to the plan").await;
    app.click_xpath("//label[starts-with(normalize-space(), 'Visa •••• 4242')]")
        .await;
    app.click("See the schedule").await;
    app.sees("Your schedule").await;
    app.check("plan-accept").await;
    app.click("Save the new terms").await;
    app.sees("was changed").await;
    let moved = backend.get(&token, &format!("/v1/payment-plans/{plan_id}")).await;
    assert_ne!(moved["payment_method_id"], declining.as_str(), "{moved}");
    app.click("Pay now").await;
    app.screen("Pay bills").await;
    app.axe("pay what is behind").await;
    app.click("Continue to review").await;
    app.screen("Review your payment").await;
    app.click_xpath("//button[starts-with(normalize-space(), 'Pay $')]")
        .await;
    app.screen("Payment received").await;
    app.click("Payment plan").await;
    app.screen("Payment plan").await;
    refresh(&app).await;
    app.sees("On schedule").await;

    // The second instalment is charged on the good card.
    let moved = backend.get(&token, &format!("/v1/payment-plans/{plan_id}")).await;
    move_clock_to(&backend, moved["schedule"][0]["charge_date"].as_str().expect("date")).await;
    assert_eq!(plan_payments(&backend, "succeeded").await, 1);
    refresh(&app).await;
    app.sees("1 of").await;

    // Cancelled: nothing more is charged.
    app.click("Cancel the plan").await;
    app.sees("is cancelled. Nothing more will be charged.").await;
    app.axe("payment plan cancelled").await;
    backend.post("/dev/clock", json!({"advance": "P70D"})).await;
    assert_eq!(plan_payments(&backend, "succeeded").await, 1);
    assert_eq!(plan_payments(&backend, "failed").await, 1);
    let after = backend
        .get(&token, &format!("/v1/bills/{}", bill["id"].as_str().expect("id")))
        .await;
    assert!(after.get("payment_plan_id").is_none_or(Value::is_null), "{after}");
    app.quit().await;
}
