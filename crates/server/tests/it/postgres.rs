//! What only PostgreSQL does. Servers starting together on one database seed the demo once.
//! `carebill-server migrate-to`: a SQLite deployment with payments, autopay and a kiosk's guest
//! payment moves into PostgreSQL with the real command; the moved server answers the same bills,
//! payments, autopay and sync feed to the same session, a replayed idempotency key replays, and
//! a second move into the now non-empty database is refused without touching it.

use carebill_server::config::DatabaseUrl;
use carebill_testkit::postgres::PgCluster;
use serde_json::{Value, json};

use crate::autopay::{autopay_payments, issue_bill, put_autopay, rule};
use crate::harness::*;
use crate::sync::sync_all;

/// An empty PostgreSQL database: in the run's cluster when the suite runs on PostgreSQL, else in
/// a cluster of its own (kept alive by the returned handle).
fn empty_database() -> (String, Option<PgCluster>) {
    off_runtime(|| match carebill_testkit::server::postgres_database() {
        Some(url) => (url, None),
        None => {
            let cluster = PgCluster::start().expect("a PostgreSQL cluster starts");
            cluster
                .create_database("moved")
                .expect("the target database is created");
            (cluster.url("moved"), Some(cluster))
        }
    })
}

fn migrate_to(data_dir: &std::path::Path, key_hex: &str, url: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_carebill-server"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["migrate-to", "--database-url", url])
        .env("CAREBILL_DB_KEY", key_hex)
        .env_remove("CAREBILL_DATABASE_URL")
        .output()
        .expect("carebill-server runs")
}

/// What a member's app sees, to compare before and after the move.
async fn member_view(s: &TestServer, token: &str) -> Vec<Value> {
    let mut view = Vec::new();
    for path in [
        "/v1/bills?status=all",
        "/v1/payments",
        "/v1/autopay",
        "/v1/payment-methods",
        "/v1/me",
    ] {
        let r = s.get(path, token).await;
        r.expect(200);
        view.push(r.body);
    }
    view
}

#[tokio::test]
async fn a_sqlite_deployment_moves_to_postgresql_and_keeps_working() {
    let s = TestServer::start_with(|c| c.database_url = None).await;
    let token = s.demo_token().await;

    // A member payment, a bank payment still settling, autopay charging a new bill, and a guest
    // payment at the demo kiosk.
    let bills = s.payable_bills(&token).await;
    let card = s.card_method(&token).await;
    let body = json!({"payment_method_id": card, "allocations": one_bill(bills[0]["id"].as_str().unwrap(), "10.00")});
    let paid = s.pay(&token, "move-key-1", body.clone()).await;
    paid.expect(201);
    let bank = s.method_of(&token, "bank_account").await;
    s.pay(
        &token,
        "move-key-2",
        json!({"payment_method_id": bank, "allocations": one_bill(bills[1]["id"].as_str().unwrap(), "5.00"), "ach_authorization": {"text_version": ACH_SINGLE}}),
    )
    .await
    .expect(201);
    put_autopay(&s, &token, rule(&card, "5000.00", json!({"type": "due_date"})))
        .await
        .expect(200);
    let autopaid = issue_bill(&s).await["id"].as_str().unwrap().to_string();
    s.advance_business("P31D").await;
    assert_eq!(autopay_payments(&s, &autopaid).await, 1, "autopay charged the new bill");
    let statement = s.statements().await.remove(0);
    let guest = s.lookup(&statement).await;
    let guest_card = s.card_token("4242424242424242").await;
    s.guest_pay(&guest, "kiosk-key-1", json!({"amount": "3.00", "token": guest_card}))
        .await
        .expect(201);

    let token = s.demo_token().await;
    let before = member_view(&s, &token).await;
    let (changes, cursor, _, _) = sync_all(&s, &token, "").await;
    let config = s.server.state.config.clone();
    let charges = processor_charges(&config);
    let TestServer {
        server,
        clock,
        _dir: dir,
        ..
    } = s;
    server.stop().await;

    let (url, _cluster) = empty_database();
    let key = config.database_key.to_hex();
    let out = off_runtime(|| migrate_to(dir.path(), &key, &url));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "migrate-to: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("every table's row count and checksum matched"),
        "{stdout}"
    );
    for table in [
        "payments",
        "idempotency_keys",
        "autopay_rules",
        "guest_tokens",
        "charges",
        "settings",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{table} ")))
            .unwrap_or_default();
        assert!(!line.contains(" 0 rows"), "{table} moved with rows: {stdout}");
    }
    assert!(
        !stdout.contains(&key) && !stdout.contains(&url),
        "no key or URL printed"
    );

    // A second move into the same (no longer empty) database is refused and changes nothing.
    let again = off_runtime(|| migrate_to(dir.path(), &key, &url));
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds data"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let moved = TestServer::start_full(
        |c| c.database_url = Some(DatabaseUrl(url.clone())),
        |_| None,
        dir,
        clock,
    )
    .await;
    assert!(
        moved.server.state.db.path().is_none(),
        "the moved server runs on PostgreSQL"
    );
    assert_eq!(
        member_view(&moved, &token).await,
        before,
        "the same session sees the same account"
    );
    let (moved_changes, moved_cursor, _, _) = sync_all(&moved, &token, "").await;
    assert_eq!(moved_changes, changes, "the same feed");
    assert_eq!(moved_cursor, cursor);
    assert_eq!(
        processor_charges(&moved.server.state.config),
        charges,
        "the sandbox's charges moved"
    );

    // The replay answers as before and charges nothing.
    let replay = moved.pay(&token, "move-key-1", body).await;
    assert_eq!((replay.status, &replay.body), (paid.status, &paid.body));
    assert_eq!(processor_charges(&moved.server.state.config), charges);

    // New rows get new ids, and the old cursor brings just them.
    moved
        .pay(
            &token,
            "move-key-3",
            json!({"payment_method_id": card, "allocations": one_bill(bills[2]["id"].as_str().unwrap(), "1.00")}),
        )
        .await
        .expect(201);
    let (news, _, _, _) = sync_all(&moved, &token, &cursor).await;
    assert!(
        !news.is_empty() && news.len() < changes.len(),
        "only what changed: {news:?}"
    );
    assert!(news.iter().any(|c| c["entity"] == "payment"));
    moved.stop().await;
}

#[tokio::test]
async fn demo_servers_starting_together_on_one_database_seed_it_once() {
    let (url, _cluster) = empty_database();
    let start = || {
        let url = url.clone();
        TestServer::start_with(move |c| c.database_url = Some(DatabaseUrl(url)))
    };
    let (a, b, c) = tokio::join!(start(), start(), start());
    assert_eq!(a.count("SELECT COUNT(*) FROM roster").await, 6);
    assert_eq!(a.count("SELECT COUNT(*) FROM kiosk_devices").await, 1);
    assert_eq!(b.count("SELECT COUNT(*) FROM accounts").await, 2);
    let token = c.demo_token().await;
    assert!(!c.all_bills(&token, "all").await.is_empty());
    for s in [a, b, c] {
        s.stop().await;
    }
}
