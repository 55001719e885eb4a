//! Sync: full, delta, 304, 410, a crash mid-page, deletions, business-date changes.

use carebill_api::types::{SyncEntity, SyncOp};
use carebill_client::types::{BillQuery, BillStatusFilter};
use carebill_server::{seed, store};
use rand::SeedableRng;

use crate::harness::*;
use carebill_testkit::proxy::FaultProxy;

#[tokio::test]
async fn first_sync_pulls_everything_then_deltas_and_304() {
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    let first = e.sync().await.unwrap();
    assert!(first.changes > 0 && !first.full_resync);
    let server_bills = w
        .server_count("SELECT COUNT(*) FROM bills WHERE member_id = 'M200000001'".into())
        .await;
    let all = e
        .bills(BillQuery {
            status: BillStatusFilter::All,
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total as i64, server_bills);
    assert!(!e.bill(&all.bills[0].bill.id).await.unwrap().bill.line_items.is_empty());

    let unchanged = e.sync().await.unwrap();
    assert_eq!(
        (unchanged.requests, unchanged.changes),
        (1, 0),
        "nothing changed: one request, answered 304"
    );

    // A bill changes on the server: the delta brings exactly it.
    let id = all.bills[0].bill.id.clone();
    let now = chrono::Utc::now();
    let bill_id = id.clone();
    w.server()
        .state
        .db
        .transaction(move |tx| {
            tx.execute(
                "UPDATE bills SET adjustments_cents = adjustments_cents + 100 WHERE id = ?1",
                [&bill_id],
            )?;
            tx.execute(
                "UPDATE line_items SET adjustment_cents = adjustment_cents + 100 WHERE bill_id = ?1 AND position = 0",
                [&bill_id],
            )?;
            store::touch(tx, "M200000001", SyncEntity::Bill, &bill_id, SyncOp::Upsert, now)
        })
        .await
        .unwrap();
    let delta = e.sync().await.unwrap();
    assert_eq!(delta.changes, 1);
    let after = e.bill(&id).await.unwrap();
    assert_eq!(
        after.bill.bill.adjustments.cents(),
        all.bills[0].bill.adjustments.cents() + 100
    );
}

#[tokio::test]
async fn deletions_and_an_expired_cursor_are_handled() {
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    let before = e
        .bills(BillQuery {
            status: BillStatusFilter::All,
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let gone = before.bills[0].bill.id.clone();
    let now = chrono::Utc::now();
    let g = gone.clone();
    w.server()
        .state
        .db
        .transaction(move |tx| store::touch(tx, "M200000001", SyncEntity::Bill, &g, SyncOp::Delete, now))
        .await
        .unwrap();
    e.sync().await.unwrap();
    assert_eq!(e.bill(&gone).await.unwrap_err().code, "bill_not_found");

    // The server prunes its history past this client's cursor: 410, then a full resync.
    let later = now + chrono::Duration::days(91);
    w.server()
        .state
        .db
        .transaction(move |tx| store::prune_changes(tx, later - store::CHANGE_RETENTION))
        .await
        .unwrap();
    let g = gone.clone();
    w.server()
        .state
        .db
        .transaction(move |tx| store::touch(tx, "M200000001", SyncEntity::Bill, &g, SyncOp::Delete, later))
        .await
        .unwrap();
    w.server()
        .state
        .db
        .transaction(move |tx| store::prune_changes(tx, later + chrono::Duration::days(1)))
        .await
        .unwrap();
    let report = e.sync().await.unwrap();
    assert!(report.full_resync);
    let after = e
        .bills(BillQuery {
            status: BillStatusFilter::All,
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(after.total, before.total - 1);
}

#[tokio::test]
async fn a_sync_cut_mid_feed_leaves_a_consistent_copy_that_the_next_sync_completes() {
    let w = World::start().await;
    let now = chrono::Utc::now();
    let today = w.server().state.business.today();
    w.server()
        .state
        .db
        .transaction(move |tx| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(3);
            seed::add_bills(tx, &mut rng, "M200000001", 1400, today, now)?;
            Ok(())
        })
        .await
        .unwrap();
    let proxy = FaultProxy::start(w.server().addr, 7).await;
    let mut config = w.config(&proxy.url());
    config.retries = 0;
    config.keep_alive = false;
    config.request_timeout = std::time::Duration::from_secs(2);
    let e = w.engine_with(config);
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    // Faults on: some pages arrive, some are cut; whatever arrived is applied whole.
    proxy.set_faults(true);
    for _ in 0..30 {
        if e.sync().await.is_ok() {
            break;
        }
    }
    proxy.set_faults(false);
    e.sync().await.unwrap();
    let all = e
        .bills(BillQuery {
            status: BillStatusFilter::All,
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let server_bills = w
        .server_count("SELECT COUNT(*) FROM bills WHERE member_id = 'M200000001'".into())
        .await;
    assert_eq!(all.total as i64, server_bills, "every bill once, none twice");
}

#[tokio::test]
async fn the_business_date_follows_the_server() {
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    let before = e.dashboard().await.unwrap().freshness.business_date;
    let r = reqwest::Client::new()
        .post(format!("{}/dev/clock", w.api_url))
        .json(&serde_json::json!({"advance": "P40D"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    e.sync().await.unwrap();
    let after = e.dashboard().await.unwrap();
    assert_eq!(after.freshness.business_date, before + chrono::Duration::days(40));
    assert!(after.overdue_count > 0, "bills now past due count as overdue");
}

#[tokio::test]
async fn bills_filter_by_status_kind_provider_dates_and_words_and_sort_both_ways() {
    use carebill_billing::BillKind;
    use carebill_client::types::BillSort;
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    let all = e
        .bills(BillQuery {
            status: BillStatusFilter::All,
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let q = |f: fn(&mut BillQuery)| {
        let mut query = BillQuery {
            status: BillStatusFilter::All,
            limit: 200,
            ..Default::default()
        };
        f(&mut query);
        query
    };
    let open = e.bills(q(|q| q.status = BillStatusFilter::Open)).await.unwrap();
    let paid = e.bills(q(|q| q.status = BillStatusFilter::Paid)).await.unwrap();
    assert_eq!(open.total + paid.total, all.total);
    assert!(open.bills.iter().all(|b| b.bill.balance.is_positive()));
    let hospital = e.bills(q(|q| q.kind = Some(BillKind::Hospital))).await.unwrap();
    assert!(hospital.bills.iter().all(|b| b.bill.kind == BillKind::Hospital));
    let provider = all.providers[0].clone();
    let one = e
        .bills(BillQuery {
            provider: Some(provider.clone()),
            ..q(|_| {})
        })
        .await
        .unwrap();
    assert!(one.total > 0 && one.bills.iter().all(|b| b.bill.provider == provider));
    let first = all.bills[0].bill.clone();
    let by_date = e
        .bills(BillQuery {
            from: Some(first.service_date_from),
            to: Some(first.service_date_to),
            ..q(|_| {})
        })
        .await
        .unwrap();
    assert!(by_date.bills.iter().any(|b| b.bill.id == first.id));
    assert!(by_date.bills.iter().all(
        |b| b.bill.service_date_to >= first.service_date_from && b.bill.service_date_from <= first.service_date_to
    ));
    // Words match the statement number, line items and codes.
    let found = e
        .bills(BillQuery {
            search: Some(first.statement_number.to_lowercase()),
            ..q(|_| {})
        })
        .await
        .unwrap();
    assert_eq!(
        found.bills.iter().map(|b| b.bill.id.clone()).collect::<Vec<_>>(),
        vec![first.id.clone()]
    );
    let item = e.bill(&first.id).await.unwrap().bill.line_items[0].clone();
    let by_code = e
        .bills(BillQuery {
            search: Some(item.code.clone()),
            ..q(|_| {})
        })
        .await
        .unwrap();
    assert!(by_code.bills.iter().any(|b| b.bill.id == first.id));
    assert_eq!(
        e.bills(BillQuery {
            search: Some("zzqx%_".into()),
            ..q(|_| {})
        })
        .await
        .unwrap()
        .total,
        0,
        "LIKE wildcards are literal"
    );
    // Sorting, and paging through the same order.
    let by_amount = e
        .bills(BillQuery {
            sort: BillSort::AmountDesc,
            ..q(|_| {})
        })
        .await
        .unwrap();
    assert!(
        by_amount
            .bills
            .windows(2)
            .all(|w| w[0].bill.balance >= w[1].bill.balance)
    );
    let by_due = e
        .bills(BillQuery {
            sort: BillSort::DueDateDesc,
            ..q(|_| {})
        })
        .await
        .unwrap();
    assert!(
        by_due
            .bills
            .windows(2)
            .all(|w| w[0].bill.due_date >= w[1].bill.due_date)
    );
    let page2 = e
        .bills(BillQuery {
            limit: 3,
            offset: 3,
            ..q(|_| {})
        })
        .await
        .unwrap();
    assert_eq!(
        page2.bills.iter().map(|b| &b.bill.id).collect::<Vec<_>>(),
        all.bills[3..6].iter().map(|b| &b.bill.id).collect::<Vec<_>>()
    );
}

/// Issue 17: the dashboard tells the truth: what is owed now and in total, the overdue amount,
/// the next due bill with its amount and provider, and what each recent payment paid.
#[tokio::test]
async fn the_dashboard_adds_up_from_the_bills() {
    use carebill_billing::Money;
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    let dash = e.dashboard().await.unwrap();
    let page = open_bills(&e).await;
    let today = dash.freshness.business_date;
    let sum = |pick: &dyn Fn(&carebill_client::types::BillRow) -> Option<Money>| -> Money {
        page.bills.iter().filter_map(pick).sum()
    };
    assert_eq!(dash.total_payable, sum(&|r| Some(r.bill.payable)));
    assert_eq!(
        page.total_payable, dash.total_payable,
        "the bills list's total is the same figure"
    );
    assert_eq!(dash.total_balance, sum(&|r| Some(r.bill.balance)));
    assert_eq!(dash.overdue_amount, sum(&|r| r.overdue.then_some(r.bill.payable)));
    assert!(dash.overdue_amount.is_positive(), "the demo member has overdue bills");
    assert_eq!(dash.open_count as usize, page.bills.len());
    let next = dash.next_due.expect("a bill is due later");
    let expected = page
        .bills
        .iter()
        .filter(|r| r.bill.due_date >= today && r.bill.payable.is_positive())
        .min_by_key(|r| (r.bill.due_date, r.bill.id.clone()))
        .unwrap();
    assert_eq!(
        (next.bill_id.as_str(), next.amount, next.provider.as_str()),
        (
            expected.bill.id.as_str(),
            expected.bill.payable,
            expected.bill.provider.as_str()
        )
    );
    for p in &dash.recent_payments {
        for a in &p.allocations {
            assert!(
                dash.recent_bills
                    .iter()
                    .any(|b| b.bill_id == a.bill_id && !b.provider.is_empty()),
                "{a:?}"
            );
        }
    }
}

/// Issue 17: a bill autopay will pay says so (amount and date) on the list and on the bill, so
/// the member does not pay it by hand as well.
#[tokio::test]
async fn a_bill_autopay_will_pay_shows_the_charge() {
    use carebill_api::types::{AutopayAmount, AutopayRequest, AutopayTiming};
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    let method = e
        .payment_methods()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.last4 == "4242")
        .unwrap()
        .id;
    e.set_autopay(AutopayRequest {
        payment_method_id: method,
        amount: AutopayAmount::StatementBalance,
        max_amount: carebill_billing::Money::parse("5000.00").unwrap(),
        timing: AutopayTiming::DueDate,
        ach_authorization: None,
    })
    .await
    .unwrap();
    // A bill issued after autopay was set up is covered; the ones before are not.
    let issued = w.post("/dev/bills", serde_json::json!({})).await;
    let new_bill = issued["id"].as_str().unwrap().to_string();
    e.sync().await.unwrap();
    let page = open_bills(&e).await;
    let covered: Vec<_> = page
        .bills
        .iter()
        .filter(|r| r.autopay.is_some())
        .map(|r| r.bill.id.clone())
        .collect();
    assert_eq!(covered, vec![new_bill.clone()]);
    let view = e.bill(&new_bill).await.unwrap();
    let charge = view.autopay.expect("the bill shows autopay's charge");
    assert_eq!(charge.amount, view.bill.bill.payable);
    // On the due date, or the business day the plan's calendar moves it to.
    assert!(
        charge
            .charge_date
            .signed_duration_since(view.bill.bill.due_date)
            .num_days()
            .abs()
            <= 3
    );
}
