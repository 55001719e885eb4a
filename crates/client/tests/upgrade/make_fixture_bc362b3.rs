//! Makes the upgrade fixture with this release's code (bc362b3): a server data directory and a
//! client data directory written by it, with an unresolved payment in the client's outbox.
//!
//! Recipe (from the repo root of main):
//!   git worktree add /tmp/carebill-bc362b3 bc362b3
//!   cp crates/client/tests/upgrade/make_fixture_bc362b3.rs /tmp/carebill-bc362b3/crates/client/tests/it/fixture.rs
//!   echo 'mod fixture;' >> /tmp/carebill-bc362b3/crates/client/tests/it/main.rs
//!   cd /tmp/carebill-bc362b3 && FIXTURE_OUT=$PWD/fixture cargo test -p carebill-client --test it fixture -- --ignored
//!   then replace crates/client/tests/upgrade/bc362b3 with the contents of $FIXTURE_OUT.

use carebill_api::types::{AutopayAmount, AutopayRequest, AutopayTiming, CardDetails, TokenRequest};
use carebill_billing::Money;
use carebill_client::{DraftAllocation, DraftMethod, PaymentDraft, SubmitOutcome};
use carebill_faultproxy::FaultProxy;
use serde_json::json;

use crate::harness::*;
use crate::payments::{card, payable_bill};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes the upgrade fixture; run by hand with FIXTURE_OUT set"]
async fn write_the_upgrade_fixture() {
    let out = std::path::PathBuf::from(std::env::var("FIXTURE_OUT").expect("FIXTURE_OUT"));
    let _ = std::fs::remove_dir_all(&out);
    let server_dir = out.join("server");
    let client_dir = out.join("client");
    std::fs::create_dir_all(&client_dir).unwrap();
    // A fixed database key, kept next to the data (a test fixture, never a real deployment).
    let key = carebill_server::config::DatabaseKey([0xC5; 32]);
    std::fs::create_dir_all(&server_dir).unwrap();
    std::fs::write(server_dir.join("fixture-database-key.hex"), "c5".repeat(32)).unwrap();
    let mut w = World::start_with(|c| {
        c.data_dir = server_dir.clone();
        c.database_key = key;
    })
    .await;
    let http = reqwest::Client::new();
    let api = w.api_url.clone();

    // A member with a copy, a payment made, autopay on, and one payment whose answer was lost.
    let proxy = FaultProxy::start(w.server().addr, 7).await;
    let mut config = w.config(&proxy.url());
    config.data_dir = client_dir.clone();
    config.submit_patience = std::time::Duration::from_millis(300);
    config.request_timeout = std::time::Duration::from_millis(700);
    config.retries = 0;
    let engine = w.engine_with(config);
    engine.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    engine.sync().await.unwrap();
    let method = card(&engine).await;
    let pay = |bill: String, amount: &str| PaymentDraft {
        allocations: vec![DraftAllocation {
            bill_id: bill,
            amount: amount.into(),
        }],
        method: DraftMethod::Saved {
            payment_method_id: method.clone(),
        },
    };
    let paid_bill = payable_bill(&engine).await;
    let review = engine.prepare_payment(pay(paid_bill.clone(), "5.00")).await.unwrap();
    assert!(matches!(
        engine.submit_payment(&review.review_id, false).await.unwrap(),
        SubmitOutcome::Paid { .. }
    ));
    engine
        .set_autopay(AutopayRequest {
            payment_method_id: method.clone(),
            amount: AutopayAmount::StatementBalance,
            max_amount: Money::parse("2500.00").unwrap(),
            timing: AutopayTiming::DaysBeforeDue { days: 3 },
            ach_authorization: None,
        })
        .await
        .unwrap();
    engine.sync().await.unwrap();
    let lost_bill = payable_bill(&engine).await;
    let review = engine.prepare_payment(pay(lost_bill.clone(), "7.25")).await.unwrap();
    proxy.drop_every_answer();
    let outcome = engine.submit_payment(&review.review_id, false).await.unwrap();
    assert!(matches!(outcome, SubmitOutcome::PendingConfirmation { .. }), "{outcome:?}");
    let unresolved = engine.unresolved().await.unwrap();
    assert_eq!(unresolved.len(), 1);
    drop(engine);

    // A guest payment at the demo kiosk, and a registration never confirmed.
    let statement: String = w
        .server()
        .state
        .db
        .read(|c| Ok(carebill_server::seed::guest_statements(c)?.remove(0)))
        .await
        .unwrap();
    let device = ("X-Carebill-Device", carebill_server::seed::DEMO_KIOSK_CREDENTIAL);
    let guest: serde_json::Value = http
        .post(format!("{api}/v1/guest/lookup"))
        .header(device.0, device.1)
        .json(&json!({"statement_number": statement, "last_name": "Rivera", "date_of_birth": "1985-04-12"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let guest_token = guest["guest_token"].as_str().unwrap();
    let token: serde_json::Value = http
        .post(format!("{api}/processor/v1/tokens"))
        .json(&TokenRequest::Card(CardDetails {
            number: "4242424242424242".into(),
            exp_month: 12,
            exp_year: 2031,
            cvc: "123".into(),
            postal_code: "94110".into(),
            holder_name: "Alex Rivera".into(),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!("{api}/v1/guest/payments"))
        .header(device.0, device.1)
        .header("Idempotency-Key", "fixture-guest-1")
        .bearer_auth(guest_token)
        .json(&json!({"amount": "3.00", "token": token["token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = http
        .post(format!("{api}/v1/accounts"))
        .json(&json!({
            "member_id": "M200000004", "first_name": "Samuel", "last_name": "Okafor",
            "date_of_birth": "1968-07-08", "email": "samuel@example.com",
            "password": "plum orbit canyon lantern 7319"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);

    // What the upgrade test checks survives.
    let count = |sql: &str| {
        let sql = sql.to_string();
        let state = w.server().state.clone();
        async move {
            state
                .db
                .read(move |c| Ok(c.query_row(&sql, [], |r| r.get::<_, i64>(0))?))
                .await
                .unwrap()
        }
    };
    let mut tables = serde_json::Map::new();
    for table in [
        "roster",
        "accounts",
        "bills",
        "line_items",
        "payments",
        "payment_allocations",
        "payment_methods",
        "autopay_rules",
        "autopay_bills",
        "kiosk_devices",
        "idempotency_keys",
        "changes",
        "outbox",
    ] {
        tables.insert(table.into(), json!(count(&format!("SELECT COUNT(*) FROM {table}")).await));
    }
    let mut manifest = serde_json::Map::new();
    manifest.insert("release".into(), json!("bc362b3"));
    manifest.insert("tables".into(), json!(tables));
    // The lost answer's payment reached the server: the client must learn it was made, once.
    let bill = lost_bill.clone();
    let key: String = w
        .server()
        .state
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT p.idempotency_key FROM payments p JOIN payment_allocations a ON a.payment_id = p.id
                 WHERE a.bill_id = ?1 AND a.amount_cents = 725",
                [&bill],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    manifest.insert("unresolved_key".into(), json!(key));
    manifest.insert("unresolved_bill".into(), json!(lost_bill));
    manifest.insert("unresolved_amount".into(), json!("7.25"));
    manifest.insert("paid_bill".into(), json!(paid_bill));
    // One file per database: fold the write-ahead log in before stopping.
    w.server()
        .state
        .db
        .with_writer(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))
        .unwrap();
    w.stop_server().await;
    // The shared-memory index is rebuilt from the log when the database opens.
    let _ = std::fs::remove_file(server_dir.join("carebill.db-shm"));
    // When the data was written: the upgrade test runs the new server at this instant, so the
    // data is never older than its release left it, whatever the date of the run.
    manifest.insert("written_at".into(), json!(chrono::Utc::now().to_rfc3339()));
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap() + "\n",
    )
    .unwrap();
}
