//! What only PostgreSQL does. Servers starting together on one database seed the demo once.
//! `carebill-server migrate-to`: a SQLite deployment with payments, autopay and a kiosk's guest
//! payment moves into PostgreSQL with the real command; the moved server answers the same bills,
//! payments, autopay and sync feed to the same session, a replayed idempotency key replays, and
//! a second move into the now non-empty database is refused without touching it.

use carebill_server::config::DatabaseUrl;
use serde_json::{Value, json};

use crate::autopay::{autopay_payments, issue_bill, put_autopay, rule};
use crate::harness::*;
use crate::sync::sync_all;

/// An empty PostgreSQL database: in the run's cluster when the suite runs on PostgreSQL, else in
/// a cluster of its own (kept alive by the returned handle).
fn empty_database() -> (String, carebill_testkit::postgres::EmptyDatabase) {
    off_runtime(|| carebill_testkit::postgres::empty_database("moved"))
}

/// A test server on the PostgreSQL database `url`.
async fn on_database(url: &str) -> TestServer {
    let url = url.to_string();
    TestServer::start_with(move |c| c.database_url = Some(DatabaseUrl(url))).await
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
    put_autopay(&s, &token, rule(&card, "99999.99", json!({"type": "due_date"})))
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

/// Moves the business clock of every server on the database (they read it at each pass) without
/// running a pass, so the test can run the passes of two servers at once.
async fn move_business_clock(s: &TestServer, by: chrono::Duration) {
    let state = s.server.state.clone();
    carebill_server::scheduler::refresh_business_offset(&state)
        .await
        .unwrap();
    let offset = (state.business.offset() + by).num_milliseconds().to_string();
    state
        .db
        .transaction(move |tx| {
            carebill_server::store::set_setting(tx, carebill_server::store::BUSINESS_OFFSET_KEY, &offset)
        })
        .await
        .unwrap();
}

/// Every bill's books: what succeeded payments allocated is settled, what is in flight is
/// reserved. The rows that break it, as text.
async fn unbalanced_bills(s: &TestServer) -> Vec<String> {
    s.server
        .state
        .db
        .read(|c| {
            let rows = c
                .prepare(
                    "SELECT b.id, b.settled_cents, b.pending_cents,
                        CAST(COALESCE((SELECT SUM(a.amount_cents) FROM payment_allocations a JOIN payments p ON p.id = a.payment_id
                                  WHERE a.bill_id = b.id AND p.status = 'succeeded'), 0) AS BIGINT),
                        CAST(COALESCE((SELECT SUM(a.amount_cents) FROM payment_allocations a JOIN payments p ON p.id = a.payment_id
                                  WHERE a.bill_id = b.id AND p.status IN ('processing', 'pending', 'needs_review')), 0) AS BIGINT)
                     FROM bills b",
                )?
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, i64>(4)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows
                .into_iter()
                .filter(|(_, settled, pending, paid, held)| settled != paid || pending != held)
                .map(|(id, settled, pending, paid, held)| {
                    format!("{id}: settled {settled} vs paid {paid}, pending {pending} vs in flight {held}")
                })
                .collect())
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn two_servers_on_one_database_pay_settle_and_notice_once() {
    let (url, _cluster) = empty_database();
    let (a, b) = (on_database(&url).await, on_database(&url).await);
    let token = a.demo_token().await;
    let card = a.card_method(&token).await;
    let bank = a.method_of(&token, "bank_account").await;
    let bills = a.payable_bills(&token).await;
    let bill = bills[0]["id"].as_str().unwrap().to_string();

    // One new key sent to both servers at once, again and again: one payment each time.
    for i in 0..12 {
        let key = format!("race-{i}");
        let body = json!({"payment_method_id": card, "allocations": one_bill(&bill, "0.50")});
        let (x, y) = tokio::join!(a.pay(&token, &key, body.clone()), b.pay(&token, &key, body.clone()));
        for r in [&x, &y] {
            assert!(
                r.status == 201 || (r.status == 409 && r.code() == "idempotency_key_in_use"),
                "{key}: {} {}",
                r.status,
                r.body
            );
        }
        assert!(x.status == 201 || y.status == 201, "{key}: one of them paid");
        if x.status == 201 && y.status == 201 {
            assert_eq!(x.body["id"], y.body["id"], "{key}: the second is a replay");
        }
        let payments: i64 = a
            .server
            .state
            .db
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM payments WHERE idempotency_key = ?1",
                    [&key],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(payments, 1, "race-{i}: one payment");
    }
    assert_eq!(processor_charges(&a.server.state.config), 12, "one charge per key");

    // Bank payments settle once, whichever server's pass gets there.
    let banked = bills.len().saturating_sub(1).min(6);
    assert!(banked >= 3, "bills to pay by bank: {}", bills.len());
    for (i, b) in bills.iter().skip(1).take(banked).enumerate() {
        let body = json!({"payment_method_id": bank, "allocations": one_bill(b["id"].as_str().unwrap(), "1.00"), "ach_authorization": {"text_version": ACH_SINGLE}});
        a.pay(&token, &format!("bank-{i}"), body).await.expect(201);
    }
    move_business_clock(&a, chrono::Duration::days(7)).await;
    let (x, y) = tokio::join!(a.run_scheduler(), b.run_scheduler());
    assert_eq!(
        x.settled + y.settled,
        banked,
        "each bank payment settled by one pass: {x:?} {y:?}"
    );
    assert_eq!(unbalanced_bills(&a).await, Vec::<String>::new());

    // Autopay: each notice mailed once, each bill charged once, with both servers' passes running.
    let token = a.demo_token().await;
    put_autopay(&a, &token, rule(&card, "99999.99", json!({"type": "due_date"})))
        .await
        .expect(200);
    let mut issued = Vec::new();
    for _ in 0..4 {
        issued.push(issue_bill(&b).await["id"].as_str().unwrap().to_string());
    }
    move_business_clock(&a, chrono::Duration::days(24)).await;
    let (x, y) = tokio::join!(a.run_scheduler(), b.run_scheduler());
    assert_eq!(x.autopay.notices + y.autopay.notices, 4, "{x:?} {y:?}");
    let notices = a
        .count("SELECT COUNT(*) FROM outbox WHERE subject = 'Carebill autopay: an upcoming charge'")
        .await;
    assert_eq!(notices, 4, "one notice mail per bill");
    move_business_clock(&a, chrono::Duration::days(10)).await;
    let (x, y) = tokio::join!(a.run_scheduler(), b.run_scheduler());
    assert_eq!(x.autopay.charged + y.autopay.charged, 4, "{x:?} {y:?}");
    for bill in &issued {
        assert_eq!(autopay_payments(&a, bill).await, 1, "{bill} charged once");
    }
    assert_eq!(unbalanced_bills(&a).await, Vec::<String>::new());
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn two_servers_deliver_each_mail_once_with_a_stable_message_id() {
    let sink = carebill_testkit::smtp::SmtpSink::start().await;
    let (url, _cluster) = empty_database();
    let relay = |url: String, port: u16| {
        move |c: &mut carebill_server::config::ServerConfig| {
            c.database_url = Some(DatabaseUrl(url));
            c.demo = false;
            c.smtp = Some(carebill_server::config::SmtpConfig {
                host: "127.0.0.1".into(),
                port,
                username: None,
                password: None,
                security: "none".into(),
            });
        }
    };
    let a = TestServer::start_with(relay(url.clone(), sink.addr.port())).await;
    let b = TestServer::start_with(relay(url.clone(), sink.addr.port())).await;
    let (now, head) = (a.clock_now(), a.server.state.letterhead());
    a.server
        .state
        .db
        .transaction(move |tx| {
            for i in 0..120 {
                let mail = carebill_server::mail::templates::Mail {
                    subject: "A test".into(),
                    body: "Hello.".into(),
                };
                let to = format!("member{i}@carebill.example");
                carebill_server::mail::enqueue(tx, &head, Default::default(), &to, &mail, now)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    // Both senders wake to the same queue.
    a.server.state.mail_queued();
    b.server.state.mail_queued();
    let started = std::time::Instant::now();
    while a.count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").await > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the mail was delivered"
        );
        a.server.state.mail_queued();
        b.server.state.mail_queued();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let messages = sink.messages();
    let ids: std::collections::BTreeSet<String> = messages
        .iter()
        .filter_map(|m| {
            m.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
                .map(|l| l["message-id:".len()..].trim().to_string())
        })
        .collect();
    assert_eq!(messages.len(), 120, "each mail delivered once");
    assert_eq!(ids.len(), 120, "each with its own Message-ID");
    assert!(
        ids.iter()
            .all(|id| id.starts_with("<carebill-outbox-") && id.ends_with("@carebill.example>")),
        "{ids:?}"
    );
    assert_eq!(
        a.count("SELECT COUNT(*) FROM outbox WHERE body != ''").await,
        0,
        "bodies erased once delivered"
    );
    a.stop().await;
    b.stop().await;
}

/// Data the server at a9726bd wrote on PostgreSQL (schema version 1: `tests/upgrade/pg-a9726bd`,
/// made by its `make_fixture.sh`) opens with the later migrations applied and nothing lost: every
/// table keeps its rows, the member signs in, and the card payment's key replays its answer.
#[tokio::test]
async fn data_written_on_postgresql_by_a9726bd_survives_the_later_migrations() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/upgrade/pg-a9726bd");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["pg_schema_version"], 1);
    let data = std::fs::read_to_string(fixture.join("data.sql")).unwrap();
    let (url, _cluster) = empty_database();
    // The database as a9726bd left it: its schema (migration 1, recorded as such), then its rows.
    let load = url.clone();
    off_runtime(move || {
        let conn = carebill_server::pg_tls::connect(&load).unwrap();
        conn.execute_batch("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .unwrap();
        conn.execute_batch(include_str!("../../migrations/postgres/0001_schema.sql"))
            .unwrap();
        conn.execute_batch(&data).unwrap();
    });

    let s = TestServer::start_with(|c| c.database_url = Some(DatabaseUrl(url.clone()))).await;
    let versions = s.count("SELECT MAX(version) FROM schema_migrations").await;
    assert!(versions > 1, "the later migrations ran");
    for (table, before) in manifest["tables"].as_object().unwrap() {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let now: i64 = s
            .server
            .state
            .db
            .read(move |c| Ok(c.query_row(&sql, [], |r| r.get(0))?))
            .await
            .unwrap();
        // The version table gains the migrations that ran since; settings gains the instant
        // reminders started (the upgraded server's first start).
        if table == "schema_migrations" {
            assert_eq!(now, versions, "{table}");
        } else if table == "settings" {
            assert_eq!(now, before.as_i64().unwrap() + 1, "{table}");
        } else {
            assert_eq!(now, before.as_i64().unwrap(), "rows of {table}");
        }
    }
    let token = s.demo_token().await;
    let key = manifest["card_key"].as_str().unwrap();
    let replay = s.pay(&token, key, manifest["card_body"].clone()).await;
    assert!(replay.status == 200 || replay.status == 201, "{:?}", replay.body);
    assert_eq!(
        replay.body["id"], manifest["card_answer"]["id"],
        "the same payment, not a new one"
    );
    assert_eq!(replay.body["amount"], "12.34");
    // Migration 13 (a payment's card funding): a payment from before says nothing of it.
    assert!(replay.body["payment_method"]["funding"].is_null(), "{}", replay.body);
    // Migration 4 (issue 17): nothing of an old bill was paid elsewhere; each still adds up, and
    // the bill the replayed payment paid lists it.
    assert_eq!(
        s.count("SELECT COUNT(*) FROM bills WHERE other_payments_cents <> 0")
            .await,
        0
    );
    // Migration 5: every existing account's mail stays in English.
    assert_eq!(s.count("SELECT COUNT(*) FROM accounts WHERE locale <> 'en'").await, 0);
    assert_eq!(s.get("/v1/me", &token).await.body["locale"], "en");
    // Migration 6 (issue 18): no old bill is on a plan, and an old bill can go on one.
    assert_eq!(
        s.count("SELECT COUNT(*) FROM bills WHERE payment_plan_id IS NOT NULL")
            .await,
        0
    );
    // Migration 7 (issue 19): no old bill names a claim, there are no claims yet, and the old
    // bills still read whole.
    assert_eq!(
        s.count("SELECT COUNT(*) FROM bills WHERE claim_number IS NOT NULL")
            .await,
        0
    );
    let claims = s.get("/v1/claims?provider=bay&year=2026", &token).await;
    claims.expect(200);
    assert_eq!(claims.body["data"], json!([]));
    let card = s.card_method(&token).await;
    let big = s
        .payable_bills(&token)
        .await
        .into_iter()
        .max_by_key(|b| crate::plans::money_cents(&b["payable"]))
        .unwrap();
    let plan = crate::plans::post_keyed(
        &s,
        &token,
        "/v1/payment-plans",
        crate::plans::plan_request(&[big["id"].as_str().unwrap()], &card, json!({"months": 2}), 15),
    )
    .await;
    plan.expect(201);
    assert_eq!(
        s.bill(&token, big["id"].as_str().unwrap()).await["payment_plan_id"],
        plan.body["id"]
    );
    // Migration 8 (issue 20): no conversations yet; an old bill can be asked about, and is then
    // under review.
    assert_eq!(s.count("SELECT COUNT(*) FROM conversations").await, 0);
    let old_bill = big["id"].as_str().unwrap();
    let asked = crate::conversations::ask(
        &s,
        &token,
        "upgrade-q",
        json!({"topic": "other", "bill_id": old_bill, "line": 1, "body": "About this old bill"}),
    )
    .await;
    asked.expect(201);
    assert_eq!(s.bill(&token, old_bill).await["open_conversation_id"], asked.body["id"]);
    // Migration 9 (issue 21's first part): the staff audit log starts empty and intact, and the
    // billing office's reply is its first entry.
    let secret = s.server.state.secret.clone();
    let (head, reference) = (
        s.server.state.letterhead(),
        asked.body["reference"].as_str().unwrap().to_string(),
    );
    let check = secret.clone();
    let before = s
        .server
        .state
        .db
        .read(move |c| carebill_server::staff_audit::verify(c, &check))
        .await
        .unwrap();
    assert_eq!(
        before,
        carebill_server::staff_audit::Verdict::Intact {
            entries: 0,
            first: None,
            last: None
        }
    );
    let now = s.clock_now();
    let check = secret.clone();
    let after = s
        .server
        .state
        .db
        .transaction(move |tx| {
            let reply = carebill_server::conversations::StaffReply {
                reference: &reference,
                staff_name: "Dana",
                body: "Found it.",
                status: carebill_server::conversations::StaffStatus::Answered,
                files: &[],
                origin: "test",
            };
            carebill_server::conversations::staff_reply(tx, &head, &secret, &reply, 1 << 20, now)?;
            carebill_server::staff_audit::verify(tx, &check)
        })
        .await
        .unwrap();
    assert_eq!(
        after,
        carebill_server::staff_audit::Verdict::Intact {
            entries: 1,
            first: Some(1),
            last: Some(1)
        }
    );
    // Migration 10 (issue 21, the console): the demo staff arrive on the next start; the old
    // question is in the inbox, nobody's, and is worked: assigned, noted, answered.
    let dana = crate::console::agent(&s).await;
    let inbox = dana.get(&s, "/api/inbox?status=answered").await;
    inbox.expect(200);
    let old = inbox
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == asked.body["id"])
        .unwrap()
        .clone();
    assert_eq!(old["assigned_to"], Value::Null);
    let conversation = format!("/api/conversations/{}", asked.body["id"].as_str().unwrap());
    let me = dana.get(&s, "/api/session").await.body["staff"]["id"].clone();
    dana.post(&s, &format!("{conversation}/assign"), json!({"staff_id": me}))
        .await
        .expect(200);
    dana.post(
        &s,
        &format!("{conversation}/notes"),
        json!({"body": "Old question, new console."}),
    )
    .await
    .expect(201);
    let worked = dana.get(&s, &conversation).await;
    assert_eq!(worked.body["conversation"]["messages"].as_array().unwrap().len(), 2);
    assert_eq!(worked.body["notes"][0]["body"], "Old question, new console.");
    // Migration 11 (issue 22's preferences): an old member has every switch on and paper
    // statements until they change them.
    let prefs = s.get("/v1/me/notifications", &token).await;
    prefs.expect(200);
    assert_eq!(prefs.body["due_soon"], json!({"email": true, "desktop": true}));
    assert_eq!(prefs.body["paperless"], false);
    let mut paperless = prefs.body.clone();
    paperless["paperless"] = json!(true);
    let saved = s
        .send(
            s.http
                .put(format!("{}/v1/me/notifications", s.base))
                .bearer_auth(&token)
                .json(&paperless),
        )
        .await;
    saved.expect(200);
    assert_eq!(saved.body["paperless"], true);
    // Migration 12 (reminders): reminders start with the upgraded server; its old bills, issued
    // before, are never announced as new, even to a member now paperless. A bill issued after is.
    s.run_scheduler().await;
    assert_eq!(
        s.count("SELECT COUNT(*) FROM notices WHERE event = 'new_bill'").await,
        0
    );
    s.post("/dev/bills", json!({})).await.expect(201);
    s.run_scheduler().await;
    assert_eq!(
        s.count("SELECT COUNT(*) FROM notices WHERE event = 'new_bill'").await,
        1
    );
    let paid_bill = manifest["card_body"]["allocations"][0]["bill_id"].as_str().unwrap();
    let bill = s.bill(&token, paid_bill).await;
    // Migration 14 (patient_name): an old bill names no patient: it was the member's own.
    assert!(bill.get("patient_name").is_none(), "{bill}");
    assert!(
        bill["payments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["payment_id"] == replay.body["id"])
    );
    s.stop().await;
}

/// Waits up to `seconds` for `ready`.
async fn eventually(seconds: u64, what: &str, ready: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !ready() {
        assert!(started.elapsed() < std::time::Duration::from_secs(seconds), "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_session_revoked_on_one_server_is_refused_by_the_other_within_a_second() {
    let (url, _cluster) = empty_database();
    let (a, b) = (on_database(&url).await, on_database(&url).await);
    eventually(5, "b listens", || b.server.state.sessions.listening()).await;

    // Listening: b's cached session goes when a announces the revocation. (The test clocks stand
    // still, so without the announcement b would serve its cached entry for good.)
    let token = a.demo_token().await;
    b.get("/v1/me", &token).await.expect(200);
    b.get("/v1/me", &token).await.expect(200);
    a.delete("/v1/sessions/current", &token).await.expect(204);
    let started = std::time::Instant::now();
    while b.get("/v1/me", &token).await.status != 401 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "refused within a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // The listeners' connections are cut: b stops using its cache until it listens again, so a
    // revocation it cannot hear is still refused at once.
    let token = a.demo_token().await;
    b.get("/v1/me", &token).await.expect(200);
    let cut: i64 = a
        .server
        .state
        .db
        .write(|c| {
            Ok(c.query_row(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'carebill-listener'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert!(cut >= 2, "both servers' listeners were cut: {cut}");
    eventually(2, "b notices it is not listening", || {
        !b.server.state.sessions.listening()
    })
    .await;
    a.delete("/v1/sessions/current", &token).await.expect(204);
    b.get("/v1/me", &token).await.expect(401);
    eventually(5, "b listens again", || b.server.state.sessions.listening()).await;
    a.stop().await;
    b.stop().await;
}

/// What the member lock is for, shown on the sync feed. A transaction that has taken the member's
/// lock and recorded a change (a write that commits late) is held open on a connection of its
/// own. Meanwhile the same member's payment must wait for it, and a sync must not move past it:
/// before the lock, the payment took the next change numbers, committed first, and moved the
/// member's cursor past the held change, which the member's app then never received.
#[tokio::test]
async fn a_members_writes_wait_for_their_lock_so_the_feed_never_skips_a_late_commit() {
    use carebill_api::types::{SyncEntity, SyncOp};
    use carebill_server::{seed, store};
    let (url, _cluster) = empty_database();
    let a = on_database(&url).await;
    let token = a.demo_token().await;
    let card = a.card_method(&token).await;
    let bills = a.payable_bills(&token).await;
    let (paid, held_bill) = (
        bills[0]["id"].as_str().unwrap().to_string(),
        bills[1]["id"].as_str().unwrap().to_string(),
    );
    let (_, cursor, _, _) = sync_all(&a, &token, "").await;

    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let url = match &a.server.state.config.database_url {
        Some(DatabaseUrl(u)) => u.clone(),
        None => unreachable!(),
    };
    let held = std::thread::spawn(move || {
        let conn = carebill_server::pg_tls::connect(&url).expect("a second connection");
        conn.transaction(|tx| -> Result<(), carebill_server::error::ApiError> {
            store::lock_member(tx, seed::DEMO_MEMBER_ID)?;
            store::touch(
                tx,
                seed::DEMO_MEMBER_ID,
                SyncEntity::Bill,
                &held_bill,
                SyncOp::Upsert,
                chrono::Utc::now(),
            )?;
            tx.query_row("SELECT 1", [], |_| Ok(()))?; // everything above has run
            locked_tx.send(()).unwrap();
            released.recv().unwrap();
            Ok(())
        })
        .expect("the held transaction commits");
        held_bill
    });
    locked.recv().unwrap();

    let (payment, held_bill) = {
        let pay = a.pay(
            &token,
            "while-locked",
            json!({"payment_method_id": card, "allocations": one_bill(&paid, "1.00")}),
        );
        tokio::pin!(pay);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(800), &mut pay)
                .await
                .is_err(),
            "the member's payment waits for the transaction holding the member's lock"
        );
        let (during, _, _, _) = sync_all(&a, &token, &cursor).await;
        assert_eq!(during, Vec::<Value>::new(), "nothing of the member's has committed");
        release.send(()).unwrap();
        let held_bill = off_runtime(|| held.join().unwrap());
        (pay.await, held_bill)
    };
    payment.expect(201);
    let (after, _, _, _) = sync_all(&a, &token, &cursor).await;
    let seen: Vec<(String, String)> = after
        .iter()
        .map(|c| (c["entity"].as_str().unwrap().into(), c["id"].as_str().unwrap().into()))
        .collect();
    for want in [
        ("bill".to_string(), held_bill),
        ("bill".to_string(), paid),
        ("payment".to_string(), payment.body["id"].as_str().unwrap().to_string()),
    ] {
        assert!(seen.contains(&want), "{want:?} in the feed after the cursor: {seen:?}");
    }
    a.stop().await;
}

/// Throttles count in the database when servers share one: guesses spread over two servers are
/// one count, so the seventh is held whichever server it reaches (each server alone would have
/// seen three or four and let them through). Rate limits (per address, guest lookups) go through
/// the same table.
#[tokio::test]
async fn two_servers_share_one_sign_in_throttle() {
    let (url, _cluster) = empty_database();
    let (a, b) = (on_database(&url).await, on_database(&url).await);
    let guess = json!({"login": DEMO_EMAIL, "password": "wrong wrong wrong wrong"});
    for i in 0..6 {
        let s = if i % 2 == 0 { &a } else { &b };
        s.post("/v1/sessions", guess.clone())
            .await
            .expect_error(401, "invalid_credentials");
    }
    for s in [&a, &b] {
        s.post("/v1/sessions", guess.clone())
            .await
            .expect_error(429, "too_many_attempts");
    }
    let rows = a.count("SELECT COUNT(*) FROM rate_limits").await;
    assert!(rows >= 2, "the counts are in the database: {rows} rows");
    a.stop().await;
    b.stop().await;
}

/// The database ends every connection of a server (a restart, a failover, an administrator):
/// requests caught mid-way fail, and then the server has connected again, for reads and writes,
/// without a restart of its own.
#[tokio::test]
async fn a_server_whose_database_connections_are_ended_connects_again() {
    let (url, _cluster) = empty_database();
    let a = on_database(&url).await;
    let token = a.demo_token().await;
    let card = a.card_method(&token).await;
    let bill = a.payable_bills(&token).await[0]["id"].as_str().unwrap().to_string();
    let ended: i64 = off_runtime(|| {
        carebill_server::pg_tls::connect(&url)
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended",
                [],
                |r| r.get(0),
            )
            .unwrap()
    });
    assert!(ended >= 2, "the server's connections were ended: {ended}");
    let mut answers = Vec::new();
    for i in 0..20 {
        let read = a.get("/v1/bills", &token).await.status;
        let write = a
            .pay(
                &token,
                &format!("after-{i}"),
                json!({"payment_method_id": card, "allocations": one_bill(&bill, "0.10")}),
            )
            .await
            .status;
        answers.push((read, write));
        if read == 200 && write == 201 {
            break;
        }
    }
    assert_eq!(
        answers.last(),
        Some(&(200, 201)),
        "the server connected again: {answers:?}"
    );
    assert!(answers.len() <= 5, "within a few requests: {answers:?}");
    a.stop().await;
}

/// Payment plans and scheduled payments across servers: both servers' passes run at once on the
/// notice day and the charge day, and each instalment is noticed, charged and receipted once, and
/// each scheduled payment reminded and made once.
#[tokio::test]
async fn two_servers_notice_and_charge_each_instalment_and_scheduled_payment_once() {
    let (url, _cluster) = empty_database();
    let (a, b) = (on_database(&url).await, on_database(&url).await);
    let token = a.demo_token().await;
    let card = a.card_method(&token).await;
    let mut bills = a.payable_bills(&token).await;
    bills.sort_by_key(|b| std::cmp::Reverse(crate::plans::money_cents(&b["payable"])));
    let big = bills[0]["id"].as_str().unwrap().to_string();
    let plan = crate::plans::post_keyed(
        &a,
        &token,
        "/v1/payment-plans",
        crate::plans::plan_request(&[&big], &card, json!({"months": 3}), 10),
    )
    .await;
    plan.expect(201);
    let mut scheduled = Vec::new();
    for _ in 0..3 {
        let bill = issue_bill(&b).await;
        let r = crate::plans::post_keyed(
            &b,
            &token,
            "/v1/scheduled-payments",
            json!({"pay_on": "2026-12-10", "payment_method_id": card,
                       "allocations": one_bill(bill["id"].as_str().unwrap(), "1.00")}),
        )
        .await;
        r.expect(201);
        scheduled.push(r.body["id"].as_str().unwrap().to_string());
    }
    // 2026-12-07: the instalment's notice (3 days before Thursday the 10th).
    move_business_clock(&a, chrono::Duration::days(10)).await;
    for _ in 0..3 {
        tokio::join!(a.run_scheduler(), b.run_scheduler());
    }
    // 2026-12-09: the scheduled payments' reminders; 2026-12-10: every charge.
    move_business_clock(&a, chrono::Duration::days(2)).await;
    for _ in 0..3 {
        tokio::join!(a.run_scheduler(), b.run_scheduler());
    }
    move_business_clock(&a, chrono::Duration::days(1)).await;
    for _ in 0..3 {
        tokio::join!(a.run_scheduler(), b.run_scheduler());
    }
    let count = |sql: &'static str| a.count(sql);
    assert_eq!(
        count("SELECT COUNT(*) FROM payments WHERE source = 'payment_plan'").await,
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM payments WHERE source = 'scheduled'").await,
        3
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM outbox WHERE subject = 'Carebill: your next payment plan payment'").await,
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM outbox WHERE subject = 'Carebill: your scheduled payment is tomorrow'").await,
        3
    );
    assert_eq!(count("SELECT COUNT(*) FROM notices WHERE event = 'receipt'").await, 4);
    assert_eq!(processor_charges(&a.server.state.config), 4, "one charge each");
    assert_eq!(unbalanced_bills(&a).await, Vec::<String>::new());
    a.stop().await;
    b.stop().await;
}
