//! Bills: pagination, filters, detail, and one member never seeing another's.

use std::collections::HashSet;

use carebill_billing::Money;
use serde_json::Value;

use crate::harness::*;

fn money(v: &Value) -> Money {
    Money::parse(v.as_str().expect("money is a string")).expect("money parses")
}

#[tokio::test]
async fn pages_walk_every_bill_once_in_due_date_order() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let r = s
            .get(&format!("/v1/bills?status=all&limit=3&cursor={cursor}"), &token)
            .await;
        r.expect(200);
        let data = r.body["data"].as_array().unwrap();
        assert!(data.len() <= 3);
        seen.extend(data.iter().map(|b| {
            (
                b["due_date"].as_str().unwrap().to_string(),
                b["id"].as_str().unwrap().to_string(),
            )
        }));
        pages += 1;
        match (r.body["has_more"].as_bool().unwrap(), r.body["next_cursor"].as_str()) {
            (true, Some(c)) => cursor = c.to_string(),
            (false, None) => break,
            other => panic!("has_more and next_cursor disagree: {other:?}"),
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "sorted by due date then id");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len(), "no duplicates");
    assert!(
        (8..=20).contains(&seen.len()),
        "demo member has 8-20 bills, got {}",
        seen.len()
    );
    assert_eq!(pages, seen.len().div_ceil(3), "no empty trailing page");
    s.stop().await;
}

#[tokio::test]
async fn amounts_follow_the_formulas_and_filters_split_open_from_paid() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let all = s.all_bills(&token, "all").await;
    let open = s.all_bills(&token, "open").await;
    let paid = s.all_bills(&token, "paid").await;
    assert_eq!(open.len() + paid.len(), all.len());
    let default = s.get("/v1/bills", &token).await;
    assert_eq!(
        default.body["data"].as_array().unwrap().len(),
        open.len().min(25),
        "open is the default"
    );
    let mut statuses = HashSet::new();
    for b in &all {
        let due = money(&b["total_charges"])
            .checked_sub(money(&b["insurance_paid"]))
            .unwrap()
            .checked_sub(money(&b["adjustments"]))
            .unwrap();
        assert_eq!(money(&b["amount_due"]), due);
        let balance = [&b["payments_made"], &b["other_payments"]]
            .into_iter()
            .try_fold(due, |left, paid| left.checked_sub(money(paid)));
        assert_eq!(Some(money(&b["balance"])), balance, "{b:#}");
        assert_eq!(
            money(&b["payable"]),
            money(&b["balance"]).checked_sub(money(&b["pending_amount"])).unwrap()
        );
        let status = b["status"].as_str().unwrap();
        statuses.insert(status.to_string());
        assert_eq!(status == "paid", money(&b["balance"]).is_zero(), "{b:#}");
        assert!(
            b["total_charges"].as_str().unwrap().split('.').nth(1).unwrap().len() == 2,
            "two decimals"
        );
    }
    for st in ["open", "partially_paid", "paid"] {
        assert!(statuses.contains(st), "demo data has {st} bills");
    }
    assert!(
        all.iter().any(|b| !money(&b["other_payments"]).is_zero()),
        "demo data has a bill paid at the office"
    );
    assert!(
        all.iter().all(|b| b["billing_phone"].is_string()),
        "demo providers have billing phones"
    );
    assert!(open.iter().all(|b| !money(&b["balance"]).is_zero()));
    assert!(paid.iter().all(|b| money(&b["balance"]).is_zero()));
    let business_date = default.headers["business-date"].to_str().unwrap().to_string();
    assert!(
        open.iter()
            .any(|b| b["due_date"].as_str().unwrap() < business_date.as_str()),
        "some bills are overdue"
    );
    s.stop().await;
}

#[tokio::test]
async fn line_items_add_up_to_their_bill_for_every_seeded_bill() {
    let s = TestServer::start().await;
    for (login, password) in [(DEMO_EMAIL, DEMO_PASSWORD), (SECOND_EMAIL, DEMO_PASSWORD)] {
        let token = s.token(login, password).await;
        for bill in s.all_bills(&token, "all").await {
            let r = s
                .get(&format!("/v1/bills/{}", bill["id"].as_str().unwrap()), &token)
                .await;
            r.expect(200);
            let items = r.body["line_items"].as_array().unwrap();
            assert!(!items.is_empty());
            let sum = |f: &str| items.iter().map(|i| money(&i[f])).sum::<Money>();
            assert_eq!(sum("charge"), money(&r.body["total_charges"]));
            assert_eq!(sum("insurance_paid"), money(&r.body["insurance_paid"]));
            assert_eq!(sum("adjustment"), money(&r.body["adjustments"]));
            assert_eq!(sum("patient_responsibility"), money(&r.body["amount_due"]));
            for i in items {
                let code = i["code"].as_str().unwrap();
                assert!(
                    code.len() == 5 && code.chars().all(|c| c.is_ascii_alphanumeric()),
                    "CPT/HCPCS code {code}"
                );
            }
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn a_member_never_sees_another_members_bills() {
    let s = TestServer::start().await;
    let a = s.demo_token().await;
    let b = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;
    let a_bills: HashSet<String> = s
        .all_bills(&a, "all")
        .await
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    let b_bills: HashSet<String> = s
        .all_bills(&b, "all")
        .await
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert!(a_bills.is_disjoint(&b_bills));
    for id in b_bills.iter().take(3) {
        s.get(&format!("/v1/bills/{id}"), &a)
            .await
            .expect_error(404, "bill_not_found");
    }
    s.get("/v1/bills/bil_doesnotexist", &a)
        .await
        .expect_error(404, "bill_not_found");
    let sync = s.get("/v1/sync", &a).await;
    for change in sync.body["changes"].as_array().unwrap() {
        assert!(!b_bills.contains(change["id"].as_str().unwrap()));
    }
    // A cursor is bound to its member.
    let page = s.get("/v1/bills?status=all&limit=1", &b).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    s.get(&format!("/v1/bills?status=all&limit=1&cursor={cursor}"), &a)
        .await
        .expect_error(400, "invalid_cursor");
    s.stop().await;
}

#[tokio::test]
async fn bad_list_parameters_are_refused() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    s.get("/v1/bills?status=unpaid", &token)
        .await
        .expect_error(422, "validation_failed");
    for limit in ["0", "101", "-1", "ten", "1.5"] {
        let r = s.get(&format!("/v1/bills?limit={limit}"), &token).await;
        r.expect_error(422, "validation_failed");
        assert_eq!(r.field(), "/limit");
    }
    for cursor in ["garbage", "AAAA", "%27%20OR%201%3D1--"] {
        s.get(&format!("/v1/bills?cursor={cursor}"), &token)
            .await
            .expect_error(400, "invalid_cursor");
    }
    s.stop().await;
}

#[tokio::test]
async fn bill_views_are_audited() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let bill = &s.all_bills(&token, "all").await[0];
    let id = bill["id"].as_str().unwrap().to_string();
    s.get(&format!("/v1/bills/{id}"), &token).await.expect(200);
    s.server.state.audit.flush().await;
    let state = s.server.state.clone();
    let events: Vec<(String, Option<String>)> = state
        .db
        .read(|conn| {
            let mut stmt = conn.prepare("SELECT event, detail FROM audit_log ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap();
    assert!(events.iter().any(|(e, _)| e == "sign_in"));
    assert!(
        events
            .iter()
            .any(|(e, d)| e == "bill_viewed" && d.as_deref() == Some(id.as_str()))
    );
    s.stop().await;
}

#[tokio::test]
async fn a_listed_page_reflects_a_change_to_one_of_its_bills_at_once() {
    use carebill_api::types::{SyncEntity, SyncOp};
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let first = s.get("/v1/bills?limit=5", &token).await;
    let again = s.get("/v1/bills?limit=5", &token).await;
    assert_eq!(first.body, again.body);
    let bill = first.body["data"][0].clone();
    let id = bill["id"].as_str().unwrap().to_string();
    let now = s.clock_now();
    s.server
        .state
        .db
        .transaction(move |tx| {
            tx.execute(
                "UPDATE bills SET pending_cents = pending_cents + 100 WHERE id = ?1",
                [&id],
            )?;
            carebill_server::store::touch(tx, "M200000001", SyncEntity::Bill, &id, SyncOp::Upsert, now)
        })
        .await
        .unwrap();
    let after = s.get("/v1/bills?limit=5", &token).await;
    let changed = &after.body["data"][0];
    assert_eq!(changed["id"], bill["id"]);
    assert_eq!(
        money(&changed["pending_amount"]),
        money(&bill["pending_amount"])
            .checked_add(Money::from_cents(100))
            .unwrap()
    );
    s.stop().await;
}

/// Issue 17: a bill lists every payment applied to it (the part on this bill, method, status), so
/// "did my last payment count?" has an answer; the guest view shows none of them.
#[tokio::test]
async fn a_bill_lists_the_payments_applied_to_it() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let bills = s.payable_bills(&token).await;
    let (first, second) = (bills[0]["id"].as_str().unwrap(), bills[1]["id"].as_str().unwrap());
    let card = s.card_method(&token).await;
    let paid = s
        .pay(
            &token,
            "bill-payments-1",
            serde_json::json!({
                "payment_method_id": card,
                "allocations": [{"bill_id": first, "amount": "1.25"}, {"bill_id": second, "amount": "2.00"}],
            }),
        )
        .await;
    paid.expect(201);
    let before = s.bill(&token, first).await;
    let listed = before["payments"].as_array().unwrap();
    let ours = listed
        .iter()
        .find(|p| p["payment_id"] == paid.body["id"])
        .expect("the payment is listed on the bill");
    assert_eq!(
        ours["amount"], "1.25",
        "the part applied to this bill, not the whole payment"
    );
    assert_eq!(ours["status"], "succeeded");
    assert_eq!(ours["confirmation_number"], paid.body["confirmation_number"]);
    assert_eq!(ours["payment_method"]["last4"], "4242");
    let made: Money = listed
        .iter()
        .filter(|p| p["status"] == "succeeded")
        .map(|p| money(&p["amount"]))
        .sum();
    assert_eq!(
        money(&before["payments_made"]),
        made,
        "payments made are the settled payments listed"
    );
    let times: Vec<&str> = listed.iter().map(|p| p["created_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    let other = s.bill(&token, second).await;
    assert!(
        other["payments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["payment_id"] == paid.body["id"] && p["amount"] == "2.00")
    );
    s.stop().await;
}

/// Issue 17: the plan's facts are public and cacheable: an ETag, 304 for a current copy.
#[tokio::test]
async fn the_plan_document_is_public_and_cacheable() {
    let s = TestServer::start().await;
    let r = s.send(s.http.get(format!("{}/v1/plan", s.base))).await;
    r.expect(200);
    assert_eq!(r.body["member_services"]["phone"], "1-800-555-0142");
    assert!(
        r.body["member_services"]["hours"]["en"]
            .as_str()
            .unwrap()
            .contains("Monday")
    );
    assert!(
        r.body["language_assistance"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["lang"] == "es")
    );
    assert_eq!(r.headers["cache-control"], "public, max-age=300");
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let again = s
        .send(s.http.get(format!("{}/v1/plan", s.base)).header("If-None-Match", &etag))
        .await;
    again.expect(304);
    assert_eq!(again.body, Value::Null);
    assert_eq!(again.headers["etag"].to_str().unwrap(), etag);
    let stale = s
        .send(
            s.http
                .get(format!("{}/v1/plan", s.base))
                .header("If-None-Match", "\"other\""),
        )
        .await;
    stale.expect(200);
    s.stop().await;
}

#[tokio::test]
async fn a_dependents_bill_names_the_patient_and_the_members_own_bills_do_not() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let mut bills = s.all_bills(&token, "open").await;
    bills.extend(s.all_bills(&token, "paid").await);
    let named: Vec<&Value> = bills.iter().filter(|b| b.get("patient_name").is_some()).collect();
    assert_eq!(named.len(), 1, "one demo bill is for a dependent");
    assert_eq!(named[0]["patient_name"], carebill_server::seed::DEMO_DEPENDENT);
    let id = named[0]["id"].as_str().unwrap();
    assert_eq!(s.bill(&token, id).await["patient_name"], "Riley Lee");
}
