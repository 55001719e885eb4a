//! Guest pay at clinic kiosks: device credentials, the lookup (match, each mismatch, expiry,
//! limits, scope), guest payments (idempotency, declines, the 3-decline limit) and receipts.

use carebill_server::kiosk;
use carebill_server::seed::{DEMO_KIOSK_CREDENTIAL, guest_statements};
use chrono::Duration;
use serde_json::{Value, json};

use crate::harness::*;

const DEVICE: &str = "X-Carebill-Device";

impl TestServer {
    pub(crate) async fn statements(&self) -> Vec<String> {
        self.server.state.db.read(guest_statements).await.unwrap()
    }

    fn guest(
        &self,
        method: reqwest::Method,
        path: &str,
        device: Option<&str>,
        guest: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(d) = device {
            req = req.header(DEVICE, d);
        }
        if let Some(g) = guest {
            req = req.bearer_auth(g);
        }
        req
    }

    async fn lookup_as(&self, device: Option<&str>, body: Value) -> Resp {
        let req = self.guest(reqwest::Method::POST, "/v1/guest/lookup", device, None);
        self.send(req.json(&body)).await
    }

    pub(crate) async fn lookup(&self, statement: &str) -> String {
        let r = self
            .lookup_as(
                Some(DEMO_KIOSK_CREDENTIAL),
                json!({"statement_number": statement, "last_name": "Rivera", "date_of_birth": "1985-04-12"}),
            )
            .await;
        r.expect(201);
        r.body["guest_token"].as_str().unwrap().to_string()
    }

    async fn guest_bill(&self, guest: &str) -> Resp {
        let req = self.guest(
            reqwest::Method::GET,
            "/v1/guest/bill",
            Some(DEMO_KIOSK_CREDENTIAL),
            Some(guest),
        );
        self.send(req).await
    }

    pub(crate) async fn guest_pay(&self, guest: &str, key: &str, body: Value) -> Resp {
        let req = self.guest(
            reqwest::Method::POST,
            "/v1/guest/payments",
            Some(DEMO_KIOSK_CREDENTIAL),
            Some(guest),
        );
        self.send(req.header("Idempotency-Key", key).json(&body)).await
    }

    async fn guest_payments_on(&self, bill_id: &str) -> i64 {
        let id = bill_id.to_string();
        self.server
            .state
            .db
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM payments p JOIN payment_allocations a ON a.payment_id = p.id
                     WHERE a.bill_id = ?1 AND p.source = 'guest' AND p.status != 'failed'",
                    [id],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_matching_lookup_reads_its_one_bill_and_nothing_else() {
    let s = TestServer::start().await;
    let statements = s.statements().await;
    assert_eq!(statements.len(), 2, "the demo prints two statements for guest pay");
    // Case and spacing of the name and statement do not matter.
    let r = s
        .lookup_as(
            Some(DEMO_KIOSK_CREDENTIAL),
            json!({"statement_number": format!(" {} ", statements[0].to_lowercase()), "last_name": " rivera", "date_of_birth": "1985-04-12"}),
        )
        .await;
    r.expect(201);
    let guest = r.body["guest_token"].as_str().unwrap().to_string();
    let expires = chrono::DateTime::parse_from_rfc3339(r.body["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        expires.with_timezone(&chrono::Utc) - s.clock_now(),
        Duration::minutes(10)
    );

    let bill = s.guest_bill(&guest).await;
    bill.expect(200);
    assert_eq!(bill.body["statement_number"], statements[0].as_str());
    assert!(!bill.body["line_items"].as_array().unwrap().is_empty());

    // The guest token is not an access token: member endpoints refuse it.
    for path in [
        "/v1/bills",
        "/v1/me",
        "/v1/payments",
        "/v1/payment-methods",
        "/v1/sync",
        "/v1/autopay",
    ] {
        s.get(path, &guest).await.expect_error(401, "unauthenticated");
    }
    // A member's access token is not a guest token either.
    let member = s.demo_token().await;
    s.guest_bill(&member).await.expect_error(401, "unauthenticated");
    // Another kiosk cannot use this kiosk's guest token.
    let other = s
        .server
        .state
        .db
        .write({
            let now = s.clock_now();
            move |c| kiosk::enroll(c, "Front desk B", now)
        })
        .await
        .unwrap();
    let req = s.guest(
        reqwest::Method::GET,
        "/v1/guest/bill",
        Some(&other.credential),
        Some(&guest),
    );
    s.send(req).await.expect_error(401, "unauthenticated");
}

#[tokio::test]
async fn every_mismatch_gets_one_answer_and_bad_input_a_field_error() {
    let s = TestServer::start().await;
    let statement = s.statements().await.remove(0);
    let good = json!({"statement_number": statement, "last_name": "Rivera", "date_of_birth": "1985-04-12"});
    let mut mismatches = Vec::new();
    for (field, value) in [
        ("statement_number", json!("ZZ26999999")),
        ("last_name", json!("Riviera")),
        ("date_of_birth", json!("1985-04-13")),
    ] {
        let mut body = good.clone();
        body[field] = value;
        mismatches.push(body);
    }
    // Another member's statement with Alex's details.
    let demo = s.demo_token().await;
    let jordans = s.payable_bills(&demo).await[0]["statement_number"]
        .as_str()
        .unwrap()
        .to_string();
    mismatches.push(json!({"statement_number": jordans, "last_name": "Rivera", "date_of_birth": "1985-04-12"}));
    let mut messages = Vec::new();
    for body in mismatches {
        let r = s.lookup_as(Some(DEMO_KIOSK_CREDENTIAL), body).await;
        r.expect_error(422, "guest_lookup_failed");
        messages.push(r.body["error"]["message"].clone());
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "one message for any mismatch");

    for (field, value, code) in [
        ("statement_number", json!(""), "validation_failed"),
        ("statement_number", json!("ST 12/34"), "validation_failed"),
        ("last_name", json!("R1vera"), "validation_failed"),
        ("date_of_birth", json!("12/04/1985"), "validation_failed"),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let r = s.lookup_as(Some(DEMO_KIOSK_CREDENTIAL), body).await;
        assert_eq!(r.status, 422, "{field}: {:?}", r.body);
        assert_eq!(r.code(), code, "{field}");
        assert_eq!(r.field(), format!("/{field}"));
    }
    let mut extra = good.clone();
    extra["member_id"] = json!("M200000002");
    s.lookup_as(Some(DEMO_KIOSK_CREDENTIAL), extra).await.expect(422);
}

#[tokio::test]
async fn kiosks_need_an_enrolled_unrevoked_credential() {
    let s = TestServer::start().await;
    let statement = s.statements().await.remove(0);
    let body = json!({"statement_number": statement, "last_name": "Rivera", "date_of_birth": "1985-04-12"});
    s.lookup_as(None, body.clone())
        .await
        .expect_error(401, "device_unauthenticated");
    s.lookup_as(Some("kdc_not-enrolled"), body.clone())
        .await
        .expect_error(401, "device_unauthenticated");

    let k = s
        .server
        .state
        .db
        .write({
            let now = s.clock_now();
            move |c| kiosk::enroll(c, "Front desk A", now)
        })
        .await
        .unwrap();
    let r = s.lookup_as(Some(&k.credential), body.clone()).await;
    r.expect(201);
    let guest = r.body["guest_token"].as_str().unwrap().to_string();
    let id = k.id.clone();
    let now = s.clock_now();
    assert!(
        s.server
            .state
            .db
            .write(move |c| kiosk::revoke(c, &id, now))
            .await
            .unwrap()
    );
    s.lookup_as(Some(&k.credential), body)
        .await
        .expect_error(401, "device_unauthenticated");
    let req = s.guest(
        reqwest::Method::GET,
        "/v1/guest/bill",
        Some(&k.credential),
        Some(&guest),
    );
    s.send(req).await.expect_error(401, "device_unauthenticated");
}

#[tokio::test]
async fn lookups_are_limited_per_statement_and_per_kiosk() {
    let s = TestServer::start().await;
    let statements = s.statements().await;
    let wrong = |st: &str| json!({"statement_number": st, "last_name": "Nobody", "date_of_birth": "1985-04-12"});
    for _ in 0..5 {
        s.lookup_as(Some(DEMO_KIOSK_CREDENTIAL), wrong(&statements[0]))
            .await
            .expect_error(422, "guest_lookup_failed");
    }
    // The sixth try on that statement is refused, even with the right details.
    let r = s
        .lookup_as(
            Some(DEMO_KIOSK_CREDENTIAL),
            json!({"statement_number": statements[0], "last_name": "Rivera", "date_of_birth": "1985-04-12"}),
        )
        .await;
    r.expect_error(429, "rate_limited");
    assert!(r.headers.get("retry-after").is_some());
    // Other statements still work from this kiosk...
    s.lookup(&statements[1]).await;
    // ...until the kiosk's own limit (30 in 10 minutes).
    let mut refused = false;
    for i in 0..30 {
        let r = s
            .lookup_as(Some(DEMO_KIOSK_CREDENTIAL), wrong(&format!("ZZ{i:08}")))
            .await;
        if r.status == 429 {
            refused = true;
            break;
        }
    }
    assert!(refused, "the kiosk limit applies");
    // Ten minutes later the window has passed.
    s.advance(Duration::minutes(11));
    s.lookup(&statements[0]).await;
}

#[tokio::test]
async fn a_guest_pays_once_per_key_and_replays_work_after_the_token_expires() {
    let s = TestServer::start().await;
    let statement = s.statements().await.remove(0);
    let guest = s.lookup(&statement).await;
    let bill = s.guest_bill(&guest).await.body;
    let bill_id = bill["id"].as_str().unwrap().to_string();
    let payable = bill["payable"].as_str().unwrap().to_string();

    // Bad input changes nothing.
    let card = s.card_token("4242424242424242").await;
    for (body, code) in [
        (json!({"amount": "0.00", "token": card}), "invalid_amount"),
        (json!({"amount": "1.001", "token": card}), "invalid_amount"),
        (json!({"amount": "1e2", "token": card}), "invalid_amount"),
        (json!({"amount": "1.00", "token": ""}), "invalid_payment_token"),
        (json!({"amount": "1.00", "token": "tok_nope"}), "invalid_payment_token"),
        (json!({"amount": "999999.00", "token": card}), "amount_exceeds_balance"),
    ] {
        let r = s.guest_pay(&guest, "bad", body).await;
        assert_eq!(r.code(), code, "{:?}", r.body);
    }
    let req = s.guest(
        reqwest::Method::POST,
        "/v1/guest/payments",
        Some(DEMO_KIOSK_CREDENTIAL),
        Some(&guest),
    );
    s.send(req.json(&json!({"amount": "1.00", "token": card})))
        .await
        .expect_error(400, "idempotency_key_missing");
    assert_eq!(s.guest_payments_on(&bill_id).await, 0);

    let body = json!({"amount": "10.00", "token": card});
    let first = s.guest_pay(&guest, "kiosk-key-1", body.clone()).await;
    first.expect(201);
    assert_eq!(first.body["source"], "guest");
    assert_eq!(first.body["allocations"][0]["bill_id"], bill_id.as_str());
    let again = s.guest_pay(&guest, "kiosk-key-1", body.clone()).await;
    again.expect(201);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body["id"], first.body["id"]);
    s.guest_pay(&guest, "kiosk-key-1", json!({"amount": "11.00", "token": card}))
        .await
        .expect_error(422, "idempotency_key_reused");
    let after = s.guest_bill(&guest).await.body;
    assert_eq!(
        carebill_billing::Money::parse(after["payable"].as_str().unwrap()).unwrap(),
        carebill_billing::Money::parse(&payable)
            .unwrap()
            .checked_sub(carebill_billing::Money::from_cents(1000))
            .unwrap()
    );

    // After 10 minutes: reading and new payments end; the replay still answers.
    s.advance(Duration::minutes(10));
    s.guest_bill(&guest).await.expect_error(401, "guest_session_ended");
    let card2 = s.card_token("4242424242424242").await;
    s.guest_pay(&guest, "kiosk-key-2", json!({"amount": "1.00", "token": card2}))
        .await
        .expect_error(401, "guest_session_ended");
    let late = s.guest_pay(&guest, "kiosk-key-1", body).await;
    late.expect(201);
    assert_eq!(late.body["id"], first.body["id"]);
    assert_eq!(s.guest_payments_on(&bill_id).await, 1);

    // The member sees the guest payment on their bill; the card is not saved anywhere.
    let methods: i64 = s
        .server
        .state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM payment_methods WHERE member_id = 'M200000002'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(methods, 0);
}

#[tokio::test]
async fn three_declines_end_the_guest_token() {
    let s = TestServer::start().await;
    let statement = s.statements().await.remove(0);
    let guest = s.lookup(&statement).await;
    let mut declined = Vec::new();
    for (i, number) in ["4000000000000002", "4000000000009995", "4000000000000002"]
        .iter()
        .enumerate()
    {
        let body = json!({"amount": "5.00", "token": s.card_token(number).await});
        let r = s.guest_pay(&guest, &format!("decline-{i}"), body.clone()).await;
        assert_eq!(r.status, 402, "{:?}", r.body);
        declined.push(body);
    }
    let good = s.card_token("4242424242424242").await;
    s.guest_pay(&guest, "after", json!({"amount": "5.00", "token": good}))
        .await
        .expect_error(401, "guest_session_ended");
    s.guest_bill(&guest).await.expect_error(401, "guest_session_ended");
    // A replay of a declined key still answers its decline (and counts nothing more).
    let replay = s.guest_pay(&guest, "decline-0", declined[0].clone()).await;
    assert_eq!(replay.status, 402);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    // A new lookup starts over (and counts against the statement's limit).
    let fresh = s.lookup(&statement).await;
    s.guest_bill(&fresh).await.expect(200);
}

#[tokio::test]
async fn bank_payments_need_the_authorization_and_receipts_go_to_the_typed_address() {
    let s = TestServer::start().await;
    let statement = s.statements().await.remove(0);
    let guest = s.lookup(&statement).await;
    let bank = s.bank_token("000123456789").await;
    s.guest_pay(&guest, "ach-1", json!({"amount": "3.00", "token": bank}))
        .await
        .expect_error(422, "ach_authorization_required");
    let auth = s.get("/v1/ach-authorization", "").await.body;
    let r = s
        .guest_pay(
            &guest,
            "ach-1",
            json!({"amount": "3.00", "token": bank, "ach_authorization": {"text_version": auth["text_version"]}}),
        )
        .await;
    r.expect(201);
    assert_eq!(r.body["status"], "pending");
    let number = r.body["confirmation_number"].as_str().unwrap().to_string();

    let receipt = |email: &str, number: &str| {
        let (email, number) = (email.to_string(), number.to_string());
        let s = &s;
        let guest = guest.clone();
        async move {
            let req = s.guest(
                reqwest::Method::POST,
                "/v1/guest/receipt",
                Some(DEMO_KIOSK_CREDENTIAL),
                Some(&guest),
            );
            s.send(req.json(&json!({"confirmation_number": number, "email": email})))
                .await
        }
    };
    receipt("not-an-email", &number).await.expect(422);
    receipt("pat@example.com", "CB-0000-0000")
        .await
        .expect_error(404, "payment_not_found");
    receipt("pat@example.com", &number).await.expect(202);
    let mail = s.last_mail_to("pat@example.com").await.expect("a receipt");
    let text = mail["body"].as_str().unwrap();
    assert!(text.contains(&number) && text.contains("$3.00") && text.contains("Processing"));
    assert!(
        !text.contains("Rivera") && !text.contains("Alex"),
        "no names in a guest receipt: {text}"
    );
}

/// Review finding 8: parallel declining guest payments on one token cannot race past the limit,
/// and a fresh lookup does not reset it: the statement's attempts at risk are counted in the
/// claim transaction, across tokens and kiosks, for 24 hours.
#[tokio::test]
async fn parallel_guest_declines_and_new_lookups_stop_at_the_statements_limit() {
    let s = std::sync::Arc::new(TestServer::start().await);
    let statement = s.statements().await.remove(0);
    let guest = s.lookup(&statement).await;
    let mut cards = Vec::new();
    for _ in 0..10 {
        cards.push(s.card_token("4000000000000002").await);
    }
    let attempts = cards.into_iter().enumerate().map(|(i, card)| {
        let (s, guest) = (s.clone(), guest.clone());
        tokio::spawn(async move {
            s.guest_pay(&guest, &format!("p-{i}"), json!({"amount": "1.00", "token": card}))
                .await
                .status
        })
    });
    let mut statuses = Vec::new();
    for a in attempts {
        statuses.push(a.await.unwrap());
    }
    let charged = statuses.iter().filter(|s| **s == 402).count();
    assert!(charged <= 3, "{charged} declined charges: {statuses:?}");
    // A new lookup for the same statement starts a new token, not a new allowance.
    let fresh = s.lookup(&statement).await;
    let card = s.card_token("4000000000000002").await;
    s.guest_pay(&fresh, "after-lookup", json!({"amount": "1.00", "token": card}))
        .await
        .expect_error(429, "too_many_declines");
    let processor_charges = s
        .count("SELECT COUNT(*) FROM payments WHERE source = 'guest' AND status = 'failed'")
        .await;
    assert_eq!(processor_charges as usize, charged);
    std::sync::Arc::try_unwrap(s).ok().unwrap().stop().await;
}

/// Review finding 24: the member whose bill a guest paid sees the payment, but not the kiosk's
/// key (it names the kiosk) nor the guest's card digits.
#[tokio::test]
async fn a_members_history_shows_guest_payments_without_the_guests_key_or_card() {
    let s = TestServer::start().await;
    s.post("/v1/accounts", alex(GOOD_PASSWORD)).await.expect(201);
    s.confirm_email("alex.rivera@example.com").await;
    let statement = s.statements().await.remove(0);
    let guest = s.lookup(&statement).await;
    let card = s.card_token("4242424242424242").await;
    s.guest_pay(&guest, "kiosk-key-1", json!({"amount": "2.00", "token": card}))
        .await
        .expect(201);
    let token = s.token("alex.rivera@example.com", GOOD_PASSWORD).await;
    let history = s.get("/v1/payments", &token).await;
    let paid = history.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["source"] == "guest")
        .expect("the guest payment is in the member's history")
        .clone();
    assert_eq!(paid["idempotency_key"], Value::Null);
    assert_eq!(paid["payment_method"]["last4"], "");
    assert!(!history.body.to_string().contains("kiosk-key-1"));
    s.stop().await;
}
