//! Payments: test cards and accounts, every error code, idempotency, races, crash recovery,
//! history, receipts, and that card numbers are never kept.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use carebill_api::types::{ProcessorToken, TokenRequest};
use carebill_billing::Money;
use carebill_server::ManualClock;
use carebill_server::processor::sandbox::SandboxProcessor;
use carebill_server::processor::{
    AchResult, Charge, Instrument, InstrumentDetails, PaymentProcessor, ProcessorError, Source,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::harness::*;

fn money(v: &Value) -> Money {
    Money::parse(v.as_str().expect("money string")).expect("money")
}

#[tokio::test]
async fn every_test_card_has_its_documented_outcome_and_declines_change_no_balance() {
    // Every declining test card in a row: more declines than the card-testing limit allows.
    let s = TestServer::start_with(|c| c.payment_limits.member_declines_per_day = 100).await;
    let token = s.demo_token().await;
    let bill = s.payable_bills(&token).await.into_iter().next().unwrap();
    let id = bill["id"].as_str().unwrap().to_string();
    for (number, expected) in [
        ("4242424242424242", None),
        ("4000056655665556", None),
        ("5555555555554444", None),
        ("5200828282828210", None),
        ("378282246310005", None),
        ("6011111111111117", None),
        ("4000000000000002", Some("card_declined")),
        ("4000000000009995", Some("insufficient_funds")),
        ("4000000000000069", Some("expired_card")),
        ("4000000000000127", Some("incorrect_cvc")),
        ("4000000000000119", Some("processing_error")),
        ("4111111111111111", Some("card_declined")),
    ] {
        let before = s.bill(&token, &id).await;
        let card_token = s.card_token(number).await;
        let r = s
            .pay(
                &token,
                &format!("card-{number}"),
                json!({"token": card_token, "allocations": one_bill(&id, "1.00")}),
            )
            .await;
        let after = s.bill(&token, &id).await;
        match expected {
            None => {
                r.expect(201);
                assert_eq!(r.body["status"], "succeeded", "{number}");
                assert_eq!(
                    money(&after["balance"]),
                    money(&before["balance"]).checked_sub(Money::from_cents(100)).unwrap()
                );
            }
            Some(code) => {
                r.expect_error(402, code);
                assert_eq!(r.body["error"]["payment"]["status"], "failed");
                assert_eq!(r.body["error"]["payment"]["failure"]["code"], code);
                assert!(
                    r.body["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("Nothing was charged"),
                    "{number}"
                );
                for field in ["balance", "pending_amount", "payable"] {
                    assert_eq!(after[field], before[field], "{number} changed {field}");
                }
            }
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn tokenization_refuses_bad_details_with_their_codes() {
    let s = TestServer::start().await;
    let mut bad_luhn = card("4242424242424241");
    let r = s.tokenize(bad_luhn.clone()).await;
    r.expect_error(422, "invalid_card_number");
    assert_eq!(r.field(), "/card/number");
    bad_luhn["card"]["number"] = json!("4242424242424242");
    bad_luhn["card"]["exp_year"] = json!(2025);
    s.tokenize(bad_luhn.clone()).await.expect_error(422, "invalid_expiry");
    bad_luhn["card"]["exp_year"] = json!(2030);
    bad_luhn["card"]["cvc"] = json!("12");
    s.tokenize(bad_luhn).await.expect_error(422, "invalid_cvc");
    let mut b = bank("000123456789");
    b["bank_account"]["routing_number"] = json!("110000001");
    s.tokenize(b.clone()).await.expect_error(422, "invalid_routing_number");
    b["bank_account"]["routing_number"] = json!("110000000");
    b["bank_account"]["account_number"] = json!("12ab");
    s.tokenize(b).await.expect_error(422, "invalid_account_number");
    s.tokenize(json!({"paypal": {}}))
        .await
        .expect_error(422, "validation_failed");

    let ok = s.tokenize(card("4000056655665556")).await;
    ok.expect(201);
    assert_eq!(
        (
            ok.body["brand"].as_str(),
            ok.body["funding"].as_str(),
            ok.body["last4"].as_str()
        ),
        (Some("visa"), Some("debit"), Some("5556"))
    );
    let bank_token = s.tokenize(bank("000123456789")).await;
    assert_eq!(bank_token.body["bank_name"], "Carebill Test Bank");
    assert_eq!(bank_token.body["type"], "bank_account");
    let lookup = s
        .send(s.http.get(format!("{}/processor/v1/banks/110000000", s.base)))
        .await;
    assert_eq!(lookup.body["bank_name"], "Carebill Test Bank");
    s.stop().await;
}

#[tokio::test]
async fn tokens_are_single_use_and_expire_after_fifteen_minutes() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let bill = s.payable_bills(&token).await.into_iter().next().unwrap();
    let id = bill["id"].as_str().unwrap();
    let t = s.card_token("4242424242424242").await;
    s.pay(
        &token,
        "once-1",
        json!({"token": t, "allocations": one_bill(id, "1.00")}),
    )
    .await
    .expect(201);
    s.pay(
        &token,
        "once-2",
        json!({"token": t, "allocations": one_bill(id, "1.00")}),
    )
    .await
    .expect_error(422, "invalid_payment_token");
    let late = s.card_token("4242424242424242").await;
    s.advance(Duration::minutes(15));
    let token = s.demo_token().await;
    s.pay(
        &token,
        "late",
        json!({"token": late, "allocations": one_bill(id, "1.00")}),
    )
    .await
    .expect_error(422, "invalid_payment_token");
    s.stop().await;
}

#[tokio::test]
async fn saved_methods_are_deduplicated_listed_and_removed_unless_autopay_uses_them() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let seeded = s.get("/v1/payment-methods", &token).await;
    assert_eq!(
        seeded.body["data"].as_array().unwrap().len(),
        2,
        "the demo account has a saved card and bank account"
    );
    let first = s
        .post_auth(
            "/v1/payment-methods",
            &token,
            json!({"token": s.card_token("5555555555554444").await}),
        )
        .await;
    first.expect(201);
    assert_eq!(
        (first.body["brand"].as_str(), first.body["last4"].as_str()),
        (Some("mastercard"), Some("4444"))
    );
    assert!(first.body.get("number").is_none() && first.body.get("fingerprint").is_none());
    let again = s
        .post_auth(
            "/v1/payment-methods",
            &token,
            json!({"token": s.card_token("5555 5555 5555 4444").await}),
        )
        .await;
    again.expect(200);
    assert_eq!(again.body["id"], first.body["id"]);
    s.post_auth("/v1/payment-methods", &token, json!({"token": "tok_nope"}))
        .await
        .expect_error(422, "invalid_payment_token");
    let id = first.body["id"].as_str().unwrap().to_string();

    let autopay = json!({"payment_method_id": id, "amount": {"type": "statement_balance"}, "max_amount": "500.00", "timing": {"type": "due_date"}});
    s.send(
        s.http
            .put(format!("{}/v1/autopay", s.base))
            .bearer_auth(&token)
            .json(&autopay),
    )
    .await
    .expect(200);
    s.delete(&format!("/v1/payment-methods/{id}"), &token)
        .await
        .expect_error(409, "in_use_by_autopay");
    s.delete("/v1/autopay", &token).await.expect(204);
    s.delete(&format!("/v1/payment-methods/{id}"), &token).await.expect(204);
    s.delete(&format!("/v1/payment-methods/{id}"), &token)
        .await
        .expect_error(404, "payment_method_not_found");
    assert_eq!(
        s.get("/v1/payment-methods", &token).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Another member cannot see or remove these.
    let other = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;
    let mine = seeded.body["data"][0]["id"].as_str().unwrap();
    s.delete(&format!("/v1/payment-methods/{mine}"), &other)
        .await
        .expect_error(404, "payment_method_not_found");
    s.stop().await;
}

#[tokio::test]
async fn every_payment_error_code_answers_and_changes_nothing() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let bills = s.payable_bills(&token).await;
    let (a, b) = (bills[0]["id"].as_str().unwrap(), bills[1]["id"].as_str().unwrap());
    let payable = bills[0]["payable"].as_str().unwrap();
    let methods = s.get("/v1/payment-methods", &token).await.body["data"].clone();
    let card_id = methods
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "card")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bank_id = methods
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "bank_account")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;
    let theirs = s.payable_bills(&other).await[0]["id"].as_str().unwrap().to_string();
    let payments_before = s.count("SELECT COUNT(*) FROM payments").await;

    let no_key = s
        .send(
            s.http
                .post(format!("{}/v1/payments", s.base))
                .bearer_auth(&token)
                .json(&json!({"payment_method_id": card_id, "allocations": one_bill(a, "1.00")})),
        )
        .await;
    no_key.expect_error(400, "idempotency_key_missing");
    s.pay(
        &token,
        &"k".repeat(256),
        json!({"payment_method_id": card_id, "allocations": one_bill(a, "1.00")}),
    )
    .await
    .expect_error(400, "idempotency_key_missing");

    let pm = |allocations: Value| json!({"payment_method_id": card_id, "allocations": allocations});
    for amount in ["0", "0.00", "1.234", "-1.00", "abc", "1e3", ""] {
        let r = s.pay(&token, "bad-amount", pm(one_bill(a, amount))).await;
        r.expect_error(422, "invalid_amount");
        assert_eq!(r.field(), "/allocations/0/amount");
    }
    let over = Money::parse(payable)
        .unwrap()
        .checked_add(Money::from_cents(1))
        .unwrap()
        .to_string();
    let refused = s.pay(&token, "over", pm(one_bill(a, &over))).await;
    refused.expect_error(422, "amount_exceeds_balance");
    // The most that can be paid, as a named value the app words in the member's language.
    assert_eq!(
        refused.body["error"]["params"]["max"],
        carebill_billing::Money::parse(payable).unwrap().display_usd()
    );
    s.pay(
        &token,
        "dup",
        pm(json!([{"bill_id": a, "amount": "1.00"}, {"bill_id": a, "amount": "1.00"}])),
    )
    .await
    .expect_error(422, "duplicate_bill");
    let r = s
        .pay(
            &token,
            "theirs",
            pm(json!([{"bill_id": b, "amount": "1.00"}, {"bill_id": theirs, "amount": "1.00"}])),
        )
        .await;
    r.expect_error(404, "bill_not_found");
    assert_eq!(r.field(), "/allocations/1/bill_id");
    s.pay(&token, "empty", pm(json!([])))
        .await
        .expect_error(422, "validation_failed");
    s.pay(
        &token,
        "nomethod",
        json!({"payment_method_id": "pm_nope", "allocations": one_bill(a, "1.00")}),
    )
    .await
    .expect_error(404, "payment_method_not_found");
    s.pay(
        &token,
        "both",
        json!({"payment_method_id": card_id, "token": "tok_x", "allocations": one_bill(a, "1.00")}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.pay(
        &token,
        "bank",
        json!({"payment_method_id": bank_id, "allocations": one_bill(a, "1.00")}),
    )
    .await
    .expect_error(422, "ach_authorization_required");
    s.pay(&token, "bank-old", json!({"payment_method_id": bank_id, "allocations": one_bill(a, "1.00"), "ach_authorization": {"text_version": "2020-01"}})).await.expect_error(422, "ach_authorization_required");
    s.pay(
        &token,
        "float",
        json!({"payment_method_id": card_id, "allocations": [{"bill_id": a, "amount": 1.5}]}),
    )
    .await
    .expect_error(422, "validation_failed");

    assert_eq!(
        s.count("SELECT COUNT(*) FROM payments").await,
        payments_before,
        "no payment recorded"
    );
    assert_eq!(
        s.count("SELECT COUNT(*) FROM idempotency_keys").await,
        0,
        "no key stored"
    );
    let after = s.bill(&token, a).await;
    assert_eq!(after["payable"].as_str(), Some(payable));
    // A corrected retry may reuse a key whose first attempt failed validation.
    s.pay(&token, "over", pm(one_bill(a, "1.00"))).await.expect(201);
    s.stop().await;
}

#[tokio::test]
async fn a_key_replays_its_answer_and_refuses_a_different_request() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let id = s.payable_bills(&token).await[0]["id"].as_str().unwrap().to_string();
    let card_id = s.card_method(&token).await;
    let body = json!({"payment_method_id": card_id, "allocations": one_bill(&id, "2.50")});
    let first = s.pay(&token, "replay-me", body.clone()).await;
    first.expect(201);
    // The same request, amounts written differently, is the same request.
    let same = s
        .pay(
            &token,
            "replay-me",
            json!({"payment_method_id": card_id, "allocations": one_bill(&id, "2.5")}),
        )
        .await;
    same.expect(201);
    assert_eq!(same.body, first.body);
    assert_eq!(same.headers["idempotent-replayed"], "true");
    let different = s
        .pay(
            &token,
            "replay-me",
            json!({"payment_method_id": card_id, "allocations": one_bill(&id, "3.00")}),
        )
        .await;
    different.expect_error(422, "idempotency_key_reused");
    // Keys are per member: another member's identical key is theirs.
    let other = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;
    let their_bill = s.payable_bills(&other).await[0]["id"].as_str().unwrap().to_string();
    let their_card = s.card_method(&other).await;
    s.pay(
        &other,
        "replay-me",
        json!({"payment_method_id": their_card, "allocations": one_bill(&their_bill, "2.50")}),
    )
    .await
    .expect(201);

    // A decline is an answer too: replayed, not retried.
    let declined = s.card_token("4000000000000002").await;
    let d1 = s
        .pay(
            &token,
            "declined",
            json!({"token": declined, "allocations": one_bill(&id, "1.00")}),
        )
        .await;
    d1.expect_error(402, "card_declined");
    let d2 = s
        .pay(
            &token,
            "declined",
            json!({"token": declined, "allocations": one_bill(&id, "1.00")}),
        )
        .await;
    assert_eq!((d2.status, d2.body.clone()), (402, d1.body.clone()));
    s.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_requests_with_one_key_make_one_payment() {
    let s = Arc::new(TestServer::start().await);
    let token = s.demo_token().await;
    let id = s.payable_bills(&token).await[0]["id"].as_str().unwrap().to_string();
    let card_id = s.card_method(&token).await;
    let body = json!({"payment_method_id": card_id, "allocations": one_bill(&id, "1.00")});
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (s, token, body) = (s.clone(), token.clone(), body.clone());
        tasks.push(tokio::spawn(async move { s.pay(&token, "fifty", body).await }));
    }
    let mut statuses = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        if r.status == 201 {
            ids.insert(r.body["id"].as_str().unwrap().to_string());
        } else {
            assert_eq!(r.code(), "idempotency_key_in_use");
        }
        statuses.push(r.status);
    }
    assert_eq!(ids.len(), 1, "every success is the same payment");
    assert_eq!(
        s.count("SELECT COUNT(*) FROM payments WHERE idempotency_key = 'fifty'")
            .await,
        1
    );
    let processor_charges = processor_charges(&s.server.state.config);
    assert_eq!(processor_charges, 1, "charged once at the processor");
    println!(
        "50 requests, one key: {} answered 201, {} answered 409",
        statuses.iter().filter(|x| **x == 201).count(),
        statuses.iter().filter(|x| **x == 409).count()
    );
}

#[tokio::test]
async fn two_keys_racing_for_a_bills_full_payable_make_one_payment() {
    let s = Arc::new(TestServer::start().await);
    let token = s.demo_token().await;
    let bill = s.payable_bills(&token).await[0].clone();
    let (id, payable) = (
        bill["id"].as_str().unwrap().to_string(),
        bill["payable"].as_str().unwrap().to_string(),
    );
    let card_id = s.card_method(&token).await;
    let body = json!({"payment_method_id": card_id, "allocations": one_bill(&id, &payable)});
    let (r1, r2) = tokio::join!(
        s.pay(&token, "race-a", body.clone()),
        s.pay(&token, "race-b", body.clone())
    );
    let mut codes = vec![(r1.status, r1.code().to_string()), (r2.status, r2.code().to_string())];
    codes.sort();
    assert_eq!(
        codes,
        vec![(201, String::new()), (422, "amount_exceeds_balance".to_string())]
    );
    let after = s.bill(&token, &id).await;
    assert_eq!(
        (after["balance"].as_str(), after["status"].as_str()),
        (Some("0.00"), Some("paid"))
    );
}

#[tokio::test]
async fn paying_two_bills_partially_in_one_payment_allocates_each() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let bills = s.payable_bills(&token).await;
    let (a, b) = (&bills[0], &bills[1]);
    let card_id = s.card_method(&token).await;
    let r = s
        .pay(&token, "two", json!({"payment_method_id": card_id, "allocations": [{"bill_id": a["id"], "amount": "1.10"}, {"bill_id": b["id"], "amount": "2.20"}]}))
        .await;
    r.expect(201);
    assert_eq!(r.body["amount"], "3.30");
    assert_eq!(r.body["allocations"].as_array().unwrap().len(), 2);
    assert!(r.body["confirmation_number"].as_str().unwrap().starts_with("CB-"));
    assert_eq!(r.body["payment_method"]["last4"], "4242");
    for (bill, paid) in [(a, 110), (b, 220)] {
        let after = s.bill(&token, bill["id"].as_str().unwrap()).await;
        assert_eq!(
            money(&after["balance"]),
            money(&bill["balance"]).checked_sub(Money::from_cents(paid)).unwrap()
        );
    }
    let receipt = s.last_mail_to(DEMO_EMAIL).await.unwrap();
    assert_eq!(
        receipt["subject"],
        format!("Carebill receipt {}", r.body["confirmation_number"].as_str().unwrap())
    );
    assert!(receipt["body"].as_str().unwrap().contains("$3.30"));
    s.stop().await;
}

#[tokio::test]
async fn bank_payments_are_pending_then_settle_or_return() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let bills = s.payable_bills(&token).await;
    let ach = json!({"text_version": ACH_SINGLE});
    let text = s.get("/v1/ach-authorization", &token).await;
    assert_eq!(text.body["text_version"], ACH_SINGLE);
    assert!(text.body["text"].as_str().unwrap().contains("authorize"));

    let mut cases = Vec::new();
    for (i, (account, outcome)) in [
        ("000123456789", "succeeded"),
        ("000111111113", "R01"),
        ("000111111116", "R03"),
    ]
    .into_iter()
    .enumerate()
    {
        let bill = &bills[i];
        let id = bill["id"].as_str().unwrap().to_string();
        let t = s.bank_token(account).await;
        let r = s
            .pay(
                &token,
                &format!("ach-{account}"),
                json!({"token": t, "allocations": one_bill(&id, "5.00"), "ach_authorization": ach}),
            )
            .await;
        r.expect(201);
        assert_eq!(r.body["status"], "pending");
        let pending = s.bill(&token, &id).await;
        assert_eq!(
            money(&pending["pending_amount"]),
            money(&bill["pending_amount"])
                .checked_add(Money::from_cents(500))
                .unwrap()
        );
        assert_eq!(
            money(&pending["payable"]),
            money(&bill["payable"]).checked_sub(Money::from_cents(500)).unwrap()
        );
        assert_eq!(
            pending["balance"], bill["balance"],
            "pending does not reduce the balance"
        );
        cases.push((id, bill.clone(), r.body["id"].as_str().unwrap().to_string(), outcome));
    }
    // Stored with the payment: the text, the time and the client address.
    let stored = s.count("SELECT COUNT(*) FROM payments WHERE ach_text LIKE 'I authorize%' AND ach_accepted_at IS NOT NULL AND ach_client = '127.0.0.1'").await;
    assert_eq!(stored, 3);

    // One business day: nothing settles yet. Two: everything resolves.
    s.advance_business("P1D").await;
    let token = s.demo_token().await;
    for (_, _, payment, _) in &cases {
        assert_eq!(
            s.get(&format!("/v1/payments/{payment}"), &token).await.body["status"],
            "pending"
        );
    }
    s.advance_business("P3D").await;
    for (id, before, payment, outcome) in &cases {
        let p = s.get(&format!("/v1/payments/{payment}"), &token).await;
        let after = s.bill(&token, id).await;
        if *outcome == "succeeded" {
            assert_eq!(p.body["status"], "succeeded");
            assert_eq!(
                money(&after["balance"]),
                money(&before["balance"]).checked_sub(Money::from_cents(500)).unwrap()
            );
        } else {
            assert_eq!(p.body["status"], "returned");
            assert_eq!(p.body["failure"]["code"], *outcome);
            for field in ["balance", "pending_amount", "payable"] {
                assert_eq!(after[field], before[field], "a return restores {field}");
            }
        }
    }
    let mails = s.mailbox().await;
    assert_eq!(
        mails
            .iter()
            .filter(|m| m["subject"] == "Your Carebill bank payment was returned")
            .count(),
        2
    );
    s.stop().await;
}

#[tokio::test]
async fn history_is_newest_first_paged_and_private() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let id = s.payable_bills(&token).await[0]["id"].as_str().unwrap().to_string();
    let card_id = s.card_method(&token).await;
    for i in 0..3 {
        s.advance(Duration::seconds(1));
        s.pay(
            &token,
            &format!("h{i}"),
            json!({"payment_method_id": card_id, "allocations": one_bill(&id, "1.00")}),
        )
        .await
        .expect(201);
    }
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = s.get(&format!("/v1/payments?limit=2&cursor={cursor}"), &token).await;
        r.expect(200);
        all.extend(r.body["data"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let times: Vec<&str> = all.iter().map(|p| p["created_at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert_eq!(all[0]["idempotency_key"], "h2");
    assert!(all.len() > 3, "seeded history is there too");
    let other = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;
    s.get(&format!("/v1/payments/{}", all[0]["id"].as_str().unwrap()), &other)
        .await
        .expect_error(404, "payment_not_found");
    s.get("/v1/payments?cursor=bogus", &token)
        .await
        .expect_error(400, "invalid_cursor");
    // Found by the conformance run's stateful phase: with a key, a bad `limit` was ignored.
    let by_key = s.get("/v1/payments?idempotency_key=h2&limit=1", &token).await;
    by_key.expect(200);
    assert_eq!(by_key.body["data"][0]["idempotency_key"], "h2");
    for bad in ["-2.00001", "0", "101", "x"] {
        s.get(&format!("/v1/payments?idempotency_key=h2&limit={bad}"), &token)
            .await
            .expect_error(422, "validation_failed");
    }
    s.stop().await;
}

#[tokio::test]
async fn the_change_feed_carries_payments_methods_and_autopay() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let first = s.get("/v1/sync", &token).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let kinds: std::collections::HashSet<&str> = first.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["entity"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains("payment") && kinds.contains("payment_method"),
        "{kinds:?}"
    );
    let id = s.payable_bills(&token).await[0]["id"].as_str().unwrap().to_string();
    let card_id = s.card_method(&token).await;
    s.pay(
        &token,
        "feed",
        json!({"payment_method_id": card_id, "allocations": one_bill(&id, "1.00")}),
    )
    .await
    .expect(201);
    let autopay = json!({"payment_method_id": card_id, "amount": {"type": "statement_balance"}, "max_amount": "500.00", "timing": {"type": "due_date"}});
    s.send(
        s.http
            .put(format!("{}/v1/autopay", s.base))
            .bearer_auth(&token)
            .json(&autopay),
    )
    .await
    .expect(200);
    let delta = s.get(&format!("/v1/sync?cursor={cursor}"), &token).await;
    let entities: Vec<(String, String)> = delta.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["entity"].as_str().unwrap().to_string(),
                c["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(entities.contains(&("bill".into(), id.clone())));
    assert!(entities.iter().any(|(e, _)| e == "payment"));
    let auto = delta.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["entity"] == "autopay")
        .unwrap();
    assert_eq!(auto["data"]["max_amount"], "500.00");
    s.stop().await;
}

/// The sandbox with faults switched on by tests: it can "die" right after making a charge (the
/// charge is recorded at the processor, but nothing after it reaches the billing side, as when the
/// server process is killed), answer slowly, or answer with a charge of another amount than asked
/// (a processor's bug, or a key it remembers from elsewhere).
pub struct DyingProcessor {
    pub inner: SandboxProcessor,
    pub die_after: AtomicUsize,
    pub dead: AtomicBool,
    /// Every charge is made for 0.01 whatever was asked.
    pub short_change: AtomicBool,
    /// Milliseconds each charge takes.
    pub delay_ms: AtomicU64,
}

impl DyingProcessor {
    pub fn new(config: &carebill_server::ServerConfig) -> DyingProcessor {
        DyingProcessor {
            inner: SandboxProcessor::for_config(config).unwrap(),
            die_after: AtomicUsize::new(usize::MAX),
            dead: AtomicBool::new(false),
            short_change: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
        }
    }

    fn check(&self) -> Result<(), ProcessorError> {
        if self.dead.load(Ordering::SeqCst) {
            Err(ProcessorError::Unavailable("process killed".into()))
        } else {
            Ok(())
        }
    }

    pub fn revive(&self) {
        self.dead.store(false, Ordering::SeqCst);
        self.die_after.store(usize::MAX, Ordering::SeqCst);
    }
}

impl PaymentProcessor for DyingProcessor {
    fn tokenize(
        &self,
        r: &TokenRequest,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<ProcessorToken, ProcessorError> {
        self.inner.tokenize(r, today, now)
    }
    fn token_details(&self, t: &str, now: DateTime<Utc>) -> Result<InstrumentDetails, ProcessorError> {
        self.check()?;
        self.inner.token_details(t, now)
    }
    fn attach(&self, t: &str, owner: &str, now: DateTime<Utc>) -> Result<Instrument, ProcessorError> {
        self.inner.attach(t, owner, now)
    }
    fn charge(&self, key: &str, source: &Source, amount: Money, now: DateTime<Utc>) -> Result<Charge, ProcessorError> {
        self.check()?;
        std::thread::sleep(std::time::Duration::from_millis(self.delay_ms.load(Ordering::SeqCst)));
        let amount = if self.short_change.load(Ordering::SeqCst) {
            Money::from_cents(1)
        } else {
            amount
        };
        let charge = self.inner.charge(key, source, amount, now)?;
        if self.die_after.fetch_sub(1, Ordering::SeqCst) <= 1 {
            self.dead.store(true, Ordering::SeqCst);
            return Err(ProcessorError::Unavailable("process killed after charging".into()));
        }
        Ok(charge)
    }
    fn find_charge(&self, key: &str) -> Result<Option<Charge>, ProcessorError> {
        self.check()?;
        self.inner.find_charge(key)
    }
    fn ach_result(&self, id: &str) -> Result<AchResult, ProcessorError> {
        self.check()?;
        self.inner.ach_result(id)
    }
}

pub async fn start_with_dying(die_after: usize) -> (TestServer, Arc<DyingProcessor>) {
    start_with_faults(|_| {}, die_after).await
}

/// A server (adjusted by `adjust`) on a [`DyingProcessor`] that dies after `die_after` charges.
pub async fn start_with_faults(
    adjust: impl FnOnce(&mut carebill_server::ServerConfig),
    die_after: usize,
) -> (TestServer, Arc<DyingProcessor>) {
    let holder: Arc<std::sync::Mutex<Option<Arc<DyingProcessor>>>> = Default::default();
    let h = holder.clone();
    let s = TestServer::start_full(
        adjust,
        move |config| {
            let p = Arc::new(DyingProcessor::new(config));
            *h.lock().unwrap() = Some(p.clone());
            Some(p)
        },
        tempfile::tempdir().unwrap(),
        ManualClock::new(start_instant()),
    )
    .await;
    let p = holder.lock().unwrap().clone().unwrap();
    p.die_after.store(die_after, Ordering::SeqCst);
    (s, p)
}

#[tokio::test]
async fn a_crash_after_charging_is_recovered_by_asking_the_processor_never_by_charging_again() {
    let (s, processor) = start_with_dying(1).await;
    let token = s.demo_token().await;
    let bill = s.payable_bills(&token).await[0].clone();
    let id = bill["id"].as_str().unwrap().to_string();
    let card_id = s.card_method(&token).await;
    let body = json!({"payment_method_id": card_id, "allocations": one_bill(&id, "4.00")});
    s.pay(&token, "crash", body.clone())
        .await
        .expect_error(503, "processor_unavailable");
    assert_eq!(
        off_runtime(|| processor.inner.charge_count()),
        1,
        "the processor did charge"
    );
    // While the lease lasts, the key is in use; the amount stays reserved.
    s.pay(&token, "crash", body.clone())
        .await
        .expect_error(409, "idempotency_key_in_use");
    assert_eq!(
        money(&s.bill(&token, &id).await["payable"]),
        money(&bill["payable"]).checked_sub(Money::from_cents(400)).unwrap()
    );
    // The process comes back; after the lease, the retry finds the charge by key.
    processor.revive();
    s.advance(Duration::seconds(61));
    let token = s.demo_token().await;
    let r = s.pay(&token, "crash", body.clone()).await;
    r.expect(201);
    assert_eq!(r.body["status"], "succeeded");
    assert_eq!(off_runtime(|| processor.inner.charge_count()), 1, "never charged again");
    assert_eq!(
        money(&s.bill(&token, &id).await["balance"]),
        money(&bill["balance"]).checked_sub(Money::from_cents(400)).unwrap()
    );
    s.pay(&token, "crash", body).await.expect(201);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM payments WHERE idempotency_key = 'crash'")
            .await,
        1
    );
    s.stop().await;
}

#[tokio::test]
async fn the_scheduler_sweep_finishes_a_payment_nobody_retried() {
    let (s, processor) = start_with_dying(1).await;
    let token = s.demo_token().await;
    let id = s.payable_bills(&token).await[0]["id"].as_str().unwrap().to_string();
    let card_id = s.card_method(&token).await;
    s.pay(
        &token,
        "swept",
        json!({"payment_method_id": card_id, "allocations": one_bill(&id, "4.00")}),
    )
    .await
    .expect_error(503, "processor_unavailable");
    processor.revive();
    s.advance(Duration::seconds(90));
    assert_eq!(s.run_scheduler().await.resumed, 0, "the grace period is not over");
    s.advance(Duration::seconds(60));
    assert_eq!(s.run_scheduler().await.resumed, 1);
    assert_eq!(off_runtime(|| processor.inner.charge_count()), 1);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM payments WHERE idempotency_key = 'swept' AND status = 'succeeded'")
            .await,
        1
    );
    s.stop().await;
}

#[tokio::test]
async fn card_and_account_numbers_never_reach_the_data_dir_or_the_logs() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let id = s.payable_bills(&token).await[0]["id"].as_str().unwrap().to_string();
    let canaries = ["4000056655665556", "000111111116", "5200828282828210"];
    let t = s.card_token(canaries[0]).await;
    s.post_auth("/v1/payment-methods", &token, json!({"token": t}))
        .await
        .expect(201);
    let t = s.bank_token(canaries[1]).await;
    s.pay(
        &token,
        "canary",
        json!({"token": t, "allocations": one_bill(&id, "1.00"), "ach_authorization": {"text_version": ACH_SINGLE}}),
    )
    .await
    .expect(201);
    let t = s.card_token(canaries[2]).await;
    s.pay(
        &token,
        "canary-2",
        json!({"token": t, "allocations": one_bill(&id, "1.00")}),
    )
    .await
    .expect(201);
    // A bad one is refused without echoing it.
    let r = s.tokenize(card("4242424242424241")).await;
    assert!(!r.body.to_string().contains("4242424242424241"));
    s.server.state.audit.flush().await;
    let dir = s.server.state.config.data_dir.clone();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Ok(bytes) = std::fs::read(&path) else { continue };
        for c in canaries.iter().chain(["4242424242424241"].iter()) {
            assert!(
                !carebill_testkit::canary::contains(&bytes, c),
                "{c} found in {}",
                path.display()
            );
        }
    }
    s.stop().await;
    let logs = carebill_testkit::logs::captured_text();
    for c in canaries {
        assert!(!logs.contains(c), "{c} in the logs");
    }
}

#[tokio::test]
async fn no_payment_endpoint_reaches_another_members_data() {
    let s = TestServer::start().await;
    let me = s.demo_token().await;
    let other = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;
    let my_card = s.card_method(&me).await;
    let my_bill = s.payable_bills(&me).await[0]["id"].as_str().unwrap().to_string();
    let their_bill = s.payable_bills(&other).await[0]["id"].as_str().unwrap().to_string();
    let mine = s
        .pay(
            &me,
            "mine",
            json!({"payment_method_id": my_card, "allocations": one_bill(&my_bill, "1.00")}),
        )
        .await;
    mine.expect(201);
    let my_payment = mine.body["id"].as_str().unwrap();

    // Their requests naming my things find nothing.
    s.pay(
        &other,
        "x1",
        json!({"payment_method_id": my_card, "allocations": one_bill(&their_bill, "1.00")}),
    )
    .await
    .expect_error(404, "payment_method_not_found");
    let their_card = s.card_method(&other).await;
    s.pay(
        &other,
        "x2",
        json!({"payment_method_id": their_card, "allocations": one_bill(&my_bill, "1.00")}),
    )
    .await
    .expect_error(404, "bill_not_found");
    s.get(&format!("/v1/payments/{my_payment}"), &other)
        .await
        .expect_error(404, "payment_not_found");
    s.delete(&format!("/v1/payment-methods/{my_card}"), &other)
        .await
        .expect_error(404, "payment_method_not_found");
    let autopay = json!({"payment_method_id": my_card, "amount": {"type": "statement_balance"}, "max_amount": "10.00", "timing": {"type": "due_date"}});
    s.send(
        s.http
            .put(format!("{}/v1/autopay", s.base))
            .bearer_auth(&other)
            .json(&autopay),
    )
    .await
    .expect_error(404, "payment_method_not_found");
    s.post_auth("/v1/autopay/skip", &other, json!({"bill_id": my_bill}))
        .await
        .expect_error(404, "autopay_not_found");
    // Lists show only their own.
    let listed = s.get("/v1/payments?limit=100", &other).await;
    assert!(
        listed.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"] != my_payment)
    );
    let methods = s.get("/v1/payment-methods", &other).await;
    assert!(
        methods.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["id"] != my_card.as_str())
    );
    // The same idempotency key is independent per member.
    let theirs = s
        .pay(
            &other,
            "mine",
            json!({"payment_method_id": their_card, "allocations": one_bill(&their_bill, "1.00")}),
        )
        .await;
    theirs.expect(201);
    assert_ne!(theirs.body["id"], mine.body["id"]);
    s.stop().await;
}

/// Review finding 1: a key whose answer was dropped after 48 hours must never let the processor's
/// memory of an old charge settle a new payment.
#[tokio::test]
async fn a_key_past_its_retention_never_pays_again_and_never_meets_its_old_charge() {
    let (s, processor) = start_with_dying(usize::MAX).await;
    let token = s.demo_token().await;
    let bill = s.payable_bills(&token).await[0].clone();
    let id = bill["id"].as_str().unwrap().to_string();
    let card_id = s.card_method(&token).await;
    s.pay(
        &token,
        "k-old",
        json!({"payment_method_id": card_id, "allocations": one_bill(&id, "0.01")}),
    )
    .await
    .expect(201);
    s.advance(Duration::hours(49));
    let now = s.clock_now();
    let purged = s
        .server
        .state
        .db
        .transaction(move |tx| carebill_server::payments::purge_keys(tx, now))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let token = s.demo_token().await;
    let payable = money(&s.bill(&token, &id).await["payable"]);
    // The full balance with the old key: refused, not settled by the old 0.01 charge.
    s.pay(
        &token,
        "k-old",
        json!({"payment_method_id": card_id, "allocations": one_bill(&id, &payable.to_string())}),
    )
    .await
    .expect_error(422, "idempotency_key_reused");
    // And the old 0.01 request itself: refused too (no replay, no new charge).
    s.pay(
        &token,
        "k-old",
        json!({"payment_method_id": card_id, "allocations": one_bill(&id, "0.01")}),
    )
    .await
    .expect_error(422, "idempotency_key_expired");
    assert_eq!(off_runtime(|| processor.inner.charge_count()), 1);
    assert_eq!(money(&s.bill(&token, &id).await["payable"]), payable);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM payments WHERE idempotency_key = 'k-old'")
            .await,
        1
    );
    // Every payment record has its own processor key: member, key and the record's id.
    let keys = s
        .count("SELECT COUNT(*) FROM payments WHERE processor_key = member_id || ':' || idempotency_key || ':' || id")
        .await;
    assert_eq!(
        keys,
        s.count("SELECT COUNT(*) FROM payments WHERE idempotency_key IS NOT NULL")
            .await
    );
    s.stop().await;
}

/// Review finding 1 (variant): the server's own keys (`autopay:…`, `guest:…`) contain a `:`;
/// a member's key never can, so a member cannot pre-claim autopay's key for a bill.
#[tokio::test]
async fn members_cannot_use_the_servers_own_key_namespaces() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let id = s.payable_bills(&token).await[0]["id"].as_str().unwrap().to_string();
    let card_id = s.card_method(&token).await;
    for key in [
        format!("autopay:{id}"),
        "guest:kiosk:abc".to_string(),
        "a b".into(),
        "é".into(),
    ] {
        s.pay(
            &token,
            &key,
            json!({"payment_method_id": card_id, "allocations": one_bill(&id, "0.01")}),
        )
        .await
        .expect_error(400, "idempotency_key_missing");
    }
    assert_eq!(
        s.count("SELECT COUNT(*) FROM payments WHERE source = 'member' AND idempotency_key LIKE '%:%'")
            .await,
        0
    );
    assert_eq!(
        s.count("SELECT COUNT(*) FROM idempotency_keys WHERE key LIKE 'autopay:%'")
            .await,
        0
    );
    s.stop().await;
}

#[tokio::test]
async fn a_charge_that_does_not_match_its_payment_is_held_for_review_and_settles_nothing() {
    let (s, processor) = start_with_dying(usize::MAX).await;
    processor.short_change.store(true, Ordering::SeqCst);
    let token = s.demo_token().await;
    let bill = s.payable_bills(&token).await[0].clone();
    let id = bill["id"].as_str().unwrap().to_string();
    let card_id = s.card_method(&token).await;
    let body = json!({"payment_method_id": card_id, "allocations": one_bill(&id, "25.00")});
    let r = s.pay(&token, "short", body.clone()).await;
    r.expect(202);
    assert_eq!(r.body["status"], "needs_review");
    // A replay says the same; the bill's balance is untouched and the amount stays set aside.
    let again = s.pay(&token, "short", body).await;
    assert_eq!((again.status, &again.body), (202, &r.body));
    let now = s.bill(&token, &id).await;
    assert_eq!(money(&now["balance"]), money(&bill["balance"]));
    assert_eq!(
        money(&now["payable"]),
        money(&bill["payable"]).checked_sub(Money::from_cents(2500)).unwrap()
    );
    let listed = s
        .get(&format!("/v1/payments/{}", r.body["id"].as_str().unwrap()), &token)
        .await;
    assert_eq!(listed.body["status"], "needs_review");
    // Counted in /healthz, listed for the billing office, logged at error level.
    let health = s.send(s.http.get(format!("{}/healthz", s.base))).await;
    assert_eq!(health.body["payments_needing_review"], 1);
    let held = s
        .server
        .state
        .db
        .read(carebill_server::store::payments::held_for_review)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].amount, Money::from_cents(2500));
    assert!(held[0].reason.contains("0.01"), "{}", held[0].reason);
    let logs = carebill_testkit::logs::captured_text();
    assert!(logs.contains("ERROR") && logs.contains("payment held for review"));
    s.stop().await;
}

/// The bank debit authorization in Spanish is its own version: a payment accepted in Spanish
/// records the Spanish words; a recurring text does not authorize one payment, nor one payment's
/// text autopay; an unknown language is refused.
#[tokio::test]
async fn a_bank_payment_authorized_in_spanish_records_the_spanish_words() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let es = s.get("/v1/ach-authorization?kind=single&locale=es", "").await;
    assert_eq!(es.body["text_version"], "2026-11-single-es");
    assert!(es.body["text"].as_str().unwrap().starts_with("Autorizo a Carebill"));
    let recurring = s.get("/v1/ach-authorization?kind=recurring&locale=es", "").await;
    assert_eq!(recurring.body["text_version"], "2026-11-recurring-es");
    s.get("/v1/ach-authorization?locale=fr", "")
        .await
        .expect_error(422, "validation_failed");

    let bills = s.payable_bills(&token).await;
    let id = bills[0]["id"].as_str().unwrap().to_string();
    let t = s.bank_token("000123456789").await;
    let wrong = s
        .pay(
            &token,
            "ach-es-recurring",
            json!({"token": t, "allocations": one_bill(&id, "5.00"), "ach_authorization": {"text_version": "2026-11-recurring-es"}}),
        )
        .await;
    wrong.expect_error(422, "ach_authorization_required");
    let t = s.bank_token("000123456789").await;
    s.pay(
        &token,
        "ach-es",
        json!({"token": t, "allocations": one_bill(&id, "5.00"), "ach_authorization": {"text_version": "2026-11-single-es"}}),
    )
    .await
    .expect(201);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM payments WHERE ach_text LIKE 'Autorizo a Carebill%' AND ach_text_version = '2026-11-single-es'")
            .await,
        1
    );
    s.stop().await;
}

#[tokio::test]
async fn an_hsa_or_fsa_card_is_labelled_as_one_on_the_method_the_payment_and_the_receipt() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let tokenized = s.tokenize(card("4000000000001000")).await;
    tokenized.expect(201);
    assert_eq!(tokenized.body["funding"], "hsa_fsa");
    let saved = s
        .post_auth("/v1/payment-methods", &token, json!({"token": tokenized.body["token"]}))
        .await;
    saved.expect(201);
    assert_eq!(saved.body["funding"], "hsa_fsa");
    let bill = s.payable_bills(&token).await[0]["id"].as_str().unwrap().to_string();
    let paid = s
        .pay(
            &token,
            "hsa-1",
            json!({"payment_method_id": saved.body["id"], "allocations": one_bill(&bill, "10.00")}),
        )
        .await;
    paid.expect(201);
    assert_eq!(paid.body["payment_method"]["funding"], "hsa_fsa");
    let id = paid.body["id"].as_str().unwrap();
    let again = s.get(&format!("/v1/payments/{id}"), &token).await;
    assert_eq!(again.body["payment_method"]["funding"], "hsa_fsa");
    let receipt = s.last_mail_to(DEMO_EMAIL).await.unwrap();
    assert!(
        receipt["body"]
            .as_str()
            .unwrap()
            .contains("Visa HSA/FSA card ending 1000"),
        "{receipt}"
    );
    // An ordinary card says what it is; a bank account has no funding.
    let mastercard = s.save_card(&token, "5555555555554444").await;
    let credit = s
        .pay(
            &token,
            "credit-1",
            json!({"payment_method_id": mastercard, "allocations": one_bill(&bill, "1.00")}),
        )
        .await;
    credit.expect(201);
    assert_eq!(credit.body["payment_method"]["funding"], "credit");
    let history = s.get("/v1/payments", &token).await;
    assert!(
        history.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["payment_method"]["type"] == "bank_account")
            .all(|p| p["payment_method"]["funding"].is_null())
    );
}
