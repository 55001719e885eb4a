//! Reminders under the manual clock: a new bill, due in 7 days and 1 day overdue, each decided and
//! mailed once per bill and event, naming provider, amount and due date and nothing of the care;
//! none for a bill paid, processing, on a plan, scheduled, charged by autopay or under review;
//! the member's switches honoured and paperless members sent their statement; a card that expires
//! before autopay's charge announced once; and a pass that stops half way (a crash, a restart)
//! followed by two passes at once (two servers) still deciding each reminder exactly once.

use std::collections::HashSet;

use carebill_server::sql::Dialect;
use serde_json::{Value, json};

use crate::autopay::{issue_bill, put_autopay, rule};
use crate::harness::*;
use crate::notifications::put as put_preferences;
use crate::plans::{plan_request, post_keyed};

const NEW_BILL: &str = "Carebill: you have a new bill";
const NEW_STATEMENT: &str = "Carebill: your new statement is ready";
const DUE_SOON: &str = "Carebill: a bill is due in 7 days";
const OVERDUE: &str = "Carebill: a bill is past due";
const METHOD: &str = "Carebill: update your payment method before your next charge";

async fn mails(s: &TestServer, subject: &str) -> Vec<Value> {
    s.mailbox()
        .await
        .into_iter()
        .filter(|m| m["subject"] == subject)
        .collect()
}

/// The events decided for a bill, sorted.
async fn events(s: &TestServer, bill: &str) -> Vec<String> {
    let entity = format!("bill:{bill}");
    s.server
        .state
        .db
        .read(move |c| {
            let mut stmt = c.prepare("SELECT event FROM notices WHERE entity = ?1 ORDER BY event")?;
            let rows = stmt.query_map([&entity], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .await
        .unwrap()
}

async fn sql(s: &TestServer, statement: String) {
    s.server
        .state
        .db
        .transaction(move |tx| {
            tx.execute_batch(&statement)?;
            Ok(())
        })
        .await
        .unwrap();
}

/// Every bill so far paid on paper (the demo's seeded bills fall due around the test's dates):
/// only the bills a test issues can be reminded.
async fn settle_existing_bills(s: &TestServer) {
    sql(
        s,
        "UPDATE bills SET other_payments_cents = total_charges_cents - insurance_paid_cents - adjustments_cents
             - settled_cents - pending_cents"
            .to_string(),
    )
    .await;
}

/// Moves the business clock ahead without a scheduler pass (the test runs its own).
async fn move_business_clock(s: &TestServer, days: i64) {
    let offset = s.server.state.business.offset() + chrono::Duration::days(days);
    let value = offset.num_milliseconds().to_string();
    s.server
        .state
        .db
        .transaction(move |tx| {
            carebill_server::store::set_setting(tx, carebill_server::store::BUSINESS_OFFSET_KEY, &value)
        })
        .await
        .unwrap();
    s.server.state.business.set_offset(offset);
}

#[tokio::test]
async fn a_new_bill_then_due_in_7_days_then_overdue_each_mailed_once_with_provider_amount_and_due_date() {
    let s = TestServer::start().await;
    settle_existing_bills(&s).await;
    let bill = issue_bill(&s).await; // statement 2026-11-27, due 2026-12-27
    let id = bill["id"].as_str().unwrap();
    let provider = bill["provider"].as_str().unwrap();
    let owed = carebill_billing::Money::parse(bill["balance"].as_str().unwrap())
        .unwrap()
        .display_usd();
    for _ in 0..3 {
        s.run_scheduler().await;
    }
    let new = mails(&s, NEW_BILL).await;
    assert_eq!(new.len(), 1, "one new-bill mail however many passes");
    let body = new[0]["body"].as_str().unwrap();
    assert!(
        body.contains(provider) && body.contains(&owed) && body.contains("Dec 27, 2026"),
        "{body}"
    );
    // Nothing of the care: no service described, no code.
    for line in bill["line_items"].as_array().unwrap() {
        assert!(!body.contains(line["description"].as_str().unwrap()), "{body}");
        if let Some(code) = line["code"].as_str() {
            assert!(!body.contains(code), "{body}");
        }
    }
    // The day before the reminder: nothing; on it (Sunday Dec 20) and after: one.
    s.advance_business("P22D").await;
    assert!(mails(&s, DUE_SOON).await.is_empty());
    s.advance_business("P1D").await;
    s.advance_business("P2D").await;
    let soon = mails(&s, DUE_SOON).await;
    assert_eq!(soon.len(), 1);
    let body = soon[0]["body"].as_str().unwrap();
    assert!(
        body.contains(provider) && body.contains("Sunday, Dec 27, 2026"),
        "{body}"
    );
    // Due Dec 27; Dec 28 is a day late.
    s.advance_business("P4D").await;
    assert!(mails(&s, OVERDUE).await.is_empty());
    s.advance_business("P1D").await;
    s.run_scheduler().await;
    s.advance_business("P3D").await;
    let late = mails(&s, OVERDUE).await;
    assert_eq!(late.len(), 1);
    assert!(late[0]["body"].as_str().unwrap().contains(provider));
    assert_eq!(events(&s, id).await, ["due_soon", "new_bill", "overdue"]);
    // One new-bill decision in all: the issued bill's.
    assert_eq!(
        s.count("SELECT COUNT(*) FROM notices WHERE event = 'new_bill'").await,
        1
    );
}

#[tokio::test]
async fn no_reminder_for_a_bill_paid_processing_on_a_plan_scheduled_charged_by_autopay_or_under_review() {
    let s = TestServer::start().await;
    settle_existing_bills(&s).await;
    let token = s.demo_token().await;
    let card = s.card_method(&token).await;
    let bank = s.method_of(&token, "bank_account").await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        let bill = issue_bill(&s).await;
        let id = bill["id"].as_str().unwrap().to_string();
        // Enough on each for a plan's minimum.
        sql(
            &s,
            format!("UPDATE bills SET total_charges_cents = total_charges_cents + 50000 WHERE id = '{id}'"),
        )
        .await;
        ids.push(id);
    }
    let [open, paid, processing, planned, scheduled, asked] = ids.clone().try_into().unwrap();
    let payable = |id: String| {
        let s = &s;
        let token = token.clone();
        async move { s.bill(&token, &id).await["payable"].as_str().unwrap().to_string() }
    };
    let amount = payable(paid.clone()).await;
    s.pay(
        &token,
        "pay-all",
        json!({"payment_method_id": card, "allocations": one_bill(&paid, &amount)}),
    )
    .await
    .expect(201);
    let amount = payable(processing.clone()).await;
    s.pay(
        &token,
        "pay-by-bank",
        json!({"payment_method_id": bank, "allocations": one_bill(&processing, &amount), "ach_authorization": {"text_version": ACH_SINGLE}}),
    )
    .await
    .expect(201);
    post_keyed(
        &s,
        &token,
        "/v1/payment-plans",
        plan_request(&[&planned], &card, json!({"months": 3}), 15),
    )
    .await
    .expect(201);
    post_keyed(
        &s,
        &token,
        "/v1/scheduled-payments",
        json!({"pay_on": "2026-12-24", "payment_method_id": card, "allocations": [{"bill_id": scheduled, "amount": payable(scheduled.clone()).await}]}),
    )
    .await
    .expect(201);
    post_keyed(
        &s,
        &token,
        "/v1/conversations",
        json!({"topic": "unrecognized_charge", "body": "I was never seen on this day.", "bill_id": asked}),
    )
    .await
    .expect(201);
    // Another member's new bill, charged by autopay on its due date.
    let theirs = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;
    let their_card = s.save_card(&theirs, "4242424242424242").await;
    put_autopay(&s, &theirs, rule(&their_card, "99999.99", json!({"type": "due_date"})))
        .await
        .expect(200);
    let r = s.post("/dev/bills", json!({"member_id": "M200000003"})).await;
    r.expect(201);
    let autopaid = r.body["id"].as_str().unwrap().to_string();

    s.run_scheduler().await;
    s.advance_business("P23D").await; // Dec 20: due in 7 days
    s.advance_business("P8D").await; // Dec 28: a day late
    assert_eq!(
        events(&s, &open).await,
        ["due_soon", "new_bill", "overdue"],
        "the control bill"
    );
    for (what, id) in [
        ("paid", &paid),
        ("processing", &processing),
        ("on a plan", &planned),
        ("scheduled", &scheduled),
        ("under review", &asked),
        ("autopay", &autopaid),
    ] {
        assert!(events(&s, id).await.is_empty(), "{what}: {:?}", events(&s, id).await);
    }
    assert_eq!(mails(&s, NEW_BILL).await.len(), 1);
    assert_eq!(mails(&s, DUE_SOON).await.len(), 1);
    assert_eq!(mails(&s, OVERDUE).await.len(), 1);
}

#[tokio::test]
async fn switches_off_send_nothing_and_paperless_members_get_their_statement_by_email() {
    let s = TestServer::start().await;
    settle_existing_bills(&s).await;
    let token = s.demo_token().await;
    let mut prefs = s.get("/v1/me/notifications", &token).await.body;
    prefs["new_bill"]["email"] = json!(false);
    prefs["due_soon"]["email"] = json!(false);
    put_preferences(&s, &token, prefs.clone()).await.expect(200);
    let first = issue_bill(&s).await;
    s.run_scheduler().await;
    s.advance_business("P23D").await;
    assert!(mails(&s, NEW_BILL).await.is_empty(), "new bill: off");
    assert!(mails(&s, DUE_SOON).await.is_empty(), "due soon: off");
    // Decided without a mail: switching on again later sends nothing about it.
    assert_eq!(
        events(&s, first["id"].as_str().unwrap()).await,
        ["due_soon", "new_bill"]
    );
    // Paperless: the statement comes by email even with the new-bill switch off.
    prefs["paperless"] = json!(true);
    put_preferences(&s, &token, prefs.clone()).await.expect(200);
    let second = issue_bill(&s).await;
    s.run_scheduler().await;
    s.run_scheduler().await;
    let statements = mails(&s, NEW_STATEMENT).await;
    assert_eq!(statements.len(), 1);
    let body = statements[0]["body"].as_str().unwrap();
    assert!(
        body.contains(second["provider"].as_str().unwrap()) && body.contains("paperless"),
        "{body}"
    );
    assert!(mails(&s, NEW_BILL).await.is_empty());
    prefs["new_bill"]["email"] = json!(true);
    prefs["due_soon"]["email"] = json!(true);
    put_preferences(&s, &token, prefs.clone()).await.expect(200);
    s.run_scheduler().await;
    assert!(mails(&s, NEW_BILL).await.is_empty() && mails(&s, DUE_SOON).await.is_empty());
    // Overdue was on all along: the first bill's late notice comes.
    s.advance_business("P8D").await;
    assert_eq!(mails(&s, OVERDUE).await.len(), 1);
}

#[tokio::test]
async fn a_card_expiring_before_autopays_charge_is_announced_once_and_not_when_switched_off() {
    let s = TestServer::start().await;
    settle_existing_bills(&s).await;
    let token = s.demo_token().await;
    let save_expiring = |token: String| {
        let s = &s;
        async move {
            // A card good through December 2026.
            let mut details = card("4242424242424242");
            details["card"]["exp_month"] = json!(12);
            details["card"]["exp_year"] = json!(2026);
            let tokenized = s.tokenize(details).await;
            tokenized.expect(201);
            let saved = s
                .post_auth("/v1/payment-methods", &token, json!({"token": tokenized.body["token"]}))
                .await;
            saved.expect(201);
            saved.body["id"].as_str().unwrap().to_string()
        }
    };
    let expiring = save_expiring(token.clone()).await;
    put_autopay(&s, &token, rule(&expiring, "99999.99", json!({"type": "due_date"})))
        .await
        .expect(200);
    s.advance_business("P8D").await; // Dec 5
    issue_bill(&s).await; // due Jan 4, 2027, after the card's last month
    s.run_scheduler().await;
    s.advance_business("P11D").await; // Dec 16: the charge is 19 days away
    assert!(mails(&s, METHOD).await.is_empty(), "not yet");
    s.advance_business("P9D").await; // Dec 25: 10 days away
    s.run_scheduler().await;
    s.advance_business("P1D").await;
    let told = mails(&s, METHOD).await;
    assert_eq!(told.len(), 1, "once");
    let body = told[0]["body"].as_str().unwrap();
    assert!(
        body.contains("Visa ending 4242") && body.contains("12/2026") && body.contains("Autopay"),
        "{body}"
    );
    // The same for another member with the switch off: nothing.
    let theirs = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;
    let mut prefs = s.get("/v1/me/notifications", &theirs).await.body;
    prefs["method_attention"]["email"] = json!(false);
    put_preferences(&s, &theirs, prefs.clone()).await.expect(200);
    let their_card = save_expiring(theirs.clone()).await;
    put_autopay(&s, &theirs, rule(&their_card, "99999.99", json!({"type": "due_date"})))
        .await
        .expect(200);
    s.post("/dev/bills", json!({"member_id": "M200000003"}))
        .await
        .expect(201); // due Jan 24
    s.advance_business("P21D").await; // Jan 15: 9 days before their charge
    assert_eq!(mails(&s, METHOD).await.len(), 1, "only the first member's");
    assert_eq!(
        s.count("SELECT COUNT(*) FROM notices WHERE event = 'method_attention'")
            .await,
        2,
        "both decided, the second without a mail"
    );
}

/// Fails the notices of one member: a pass that reaches them stops there, as a crash would.
async fn crash_at(s: &TestServer, member: &str) {
    let statement = match s.server.state.db.dialect() {
        Dialect::Sqlite => format!(
            "CREATE TRIGGER crash BEFORE INSERT ON notices WHEN NEW.member_id = '{member}'
             BEGIN SELECT RAISE(ABORT, 'crash'); END;"
        ),
        Dialect::Postgres => format!(
            "CREATE FUNCTION crash() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.member_id = '{member}' THEN RAISE EXCEPTION 'crash'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER crash BEFORE INSERT ON notices FOR EACH ROW EXECUTE FUNCTION crash();"
        ),
    };
    sql(s, statement).await;
}

async fn restart(s: &TestServer) {
    let statement = match s.server.state.db.dialect() {
        Dialect::Sqlite => "DROP TRIGGER crash;",
        Dialect::Postgres => "DROP TRIGGER crash ON notices; DROP FUNCTION crash();",
    };
    sql(s, statement.to_string()).await;
}

#[tokio::test]
async fn a_pass_stopped_half_way_then_two_passes_at_once_decide_each_reminder_exactly_once() {
    let s = TestServer::start().await;
    settle_existing_bills(&s).await;
    let state = &s.server.state;
    let (today, now) = (state.business.today(), state.now());
    // 250 members, each with a bill issued today (due in 30 days) among others.
    off_runtime(|| {
        carebill_server::seed::add_members(&state.db, state.processor.as_ref(), 250, 4, today, now).unwrap()
    });
    move_business_clock(&s, 23).await;
    // Members sorted: the demo's, then M300000001..M300000250; the pass stops at the 150th.
    crash_at(&s, "M300000150").await;
    assert!(
        carebill_server::scheduler::run_once(state).await.is_err(),
        "the pass stops at the failing member"
    );
    let half = s.count("SELECT COUNT(*) FROM notices WHERE event = 'due_soon'").await;
    restart(&s).await;
    let (a, b) = tokio::join!(
        carebill_server::scheduler::run_once(state),
        carebill_server::scheduler::run_once(state)
    );
    a.unwrap();
    b.unwrap();
    s.run_scheduler().await;
    let decided = s.count("SELECT COUNT(*) FROM notices WHERE event = 'due_soon'").await;
    assert!(half > 0 && half < decided, "stopped half way: {half} of {decided}");
    let mailed = mails(&s, DUE_SOON).await;
    assert_eq!(mailed.len() as i64, decided, "each decision mailed once");
    let distinct: HashSet<(String, String)> = mailed
        .iter()
        .map(|m| {
            (
                m["to"].as_str().unwrap().to_string(),
                m["body"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(distinct.len(), mailed.len(), "no bill reminded twice");
    let members: HashSet<&str> = mailed.iter().map(|m| m["to"].as_str().unwrap()).collect();
    for n in 1..=250 {
        let email = carebill_server::seed::generated_email(n);
        assert!(members.contains(email.as_str()), "{email} was reminded");
    }
}
