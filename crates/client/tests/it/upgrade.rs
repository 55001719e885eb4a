//! Data written by an earlier release survives the current code. `tests/upgrade/<release>/` holds
//! what that release's server and app wrote (made by `crates/client/tests/upgrade/make_fixture_bc362b3.rs`, run
//! against that release; its recipe is in the file): the server's data directory (database,
//! sandbox processor, and the database key, fixed for the fixture), a member's app data directory with an encrypted copy and a
//! payment whose answer was lost, still unresolved in the outbox, and `manifest.json` with what
//! must still be there. Every later change to stored data extends the fixture. The same checks
//! run with the old data upgraded in place on SQLite, and upgraded and then moved to PostgreSQL.

use std::path::Path;

use carebill_server::config::ServerConfig;
use serde_json::Value;

use crate::harness::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Where the upgraded server keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    /// The old SQLite file, migrated in place.
    Sqlite,
    /// The old SQLite file migrated, then moved to PostgreSQL with `migrate-to` (there is no
    /// PostgreSQL data from an earlier release: a plan reaches PostgreSQL by moving).
    Postgres,
}

#[tokio::test]
async fn data_written_by_bc362b3_opens_with_nothing_lost_and_the_lost_payment_resolved_once() {
    upgrade(Engine::Sqlite).await;
}

#[tokio::test]
async fn data_written_by_bc362b3_moved_to_postgresql_loses_nothing_and_resolves_the_lost_payment_once() {
    upgrade(Engine::Postgres).await;
}

/// An empty PostgreSQL database: in the run's cluster when there is one, else in a cluster of
/// its own (kept alive by the returned handle).
fn empty_postgres() -> (String, carebill_testkit::postgres::EmptyDatabase) {
    std::thread::spawn(|| carebill_testkit::postgres::empty_database("upgraded"))
        .join()
        .expect("the database is made")
}

async fn upgrade(engine: Engine) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/upgrade/bc362b3");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("manifest.json")).unwrap()).unwrap();
    let server_dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture.join("server"), server_dir.path());
    let key = std::fs::read_to_string(fixture.join("server/fixture-database-key.hex")).unwrap();
    let key = carebill_server::config::DatabaseKey::from_hex(&key).unwrap();
    let (database_url, _cluster) = match engine {
        Engine::Sqlite => (None, None),
        Engine::Postgres => {
            let (url, cluster) = empty_postgres();
            let mut source = ServerConfig::new("127.0.0.1:0".parse().unwrap(), server_dir.path().to_path_buf());
            source.database_key = key.clone();
            let target = carebill_server::config::DatabaseUrl(url.clone());
            let moved = std::thread::spawn(move || carebill_server::migrate_to::migrate_to(&source, &target))
                .join()
                .unwrap()
                .expect("the old deployment moves");
            assert!(moved.iter().any(|t| t.table == "payments" && t.rows > 0));
            (Some(carebill_server::config::DatabaseUrl(url)), Some(cluster))
        }
    };
    let server_path = server_dir.path().to_path_buf();
    // The upgraded server runs at the instant the fixture was written, so the data is as old as
    // its release left it: by the wall clock its unconfirmed registration is past the 72 hours
    // after which the server's clean-up drops it. (bc362b3's maker did not record the instant:
    // its manifest was given the minute after its last row, the outbox's, at 14:19:03 UTC.)
    let written_at = manifest["written_at"].as_str().expect("the fixture's written_at");
    let written_at = written_at.parse().expect("an RFC 3339 instant");
    let w = World::start_at(written_at, move |c| {
        c.data_dir = server_path;
        c.database_key = key;
        c.database_url = database_url;
    })
    .await;
    assert_eq!(w.server().state.db.path().is_none(), engine == Engine::Postgres);
    copy_dir(&fixture.join("client"), w.data.path());

    // The server: migrations ran on the old database; every row is still there.
    for (table, before) in manifest["tables"].as_object().unwrap() {
        let now = w.server_count(format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(now, before.as_i64().unwrap(), "rows of {table}");
    }
    // Server migration 7 (issue 17): nothing of an old bill was paid elsewhere, so every balance
    // stays what it was.
    let elsewhere = "SELECT COUNT(*) FROM bills WHERE other_payments_cents <> 0 OR billing_phone IS NOT NULL";
    assert_eq!(w.server_count(elsewhere.into()).await, 0);
    // Server migration 8: every existing account's mail stays in English.
    let english = "SELECT COUNT(*) FROM accounts WHERE locale = 'en'";
    assert_eq!(
        w.server_count(english.into()).await,
        manifest["tables"]["accounts"].as_i64().unwrap()
    );
    // Server migration 9 (issue 18): no old bill is on a payment plan, and there are no plans,
    // scheduled payments or scheduler notices yet.
    for sql in [
        "SELECT COUNT(*) FROM bills WHERE payment_plan_id IS NOT NULL",
        "SELECT COUNT(*) FROM payment_plans",
        "SELECT COUNT(*) FROM scheduled_payments",
        "SELECT COUNT(*) FROM notices",
        // Server migration 10 (issue 19): no claims, and no old bill names one.
        "SELECT COUNT(*) FROM claims",
        "SELECT COUNT(*) FROM bills WHERE claim_number IS NOT NULL",
    ] {
        assert_eq!(w.server_count(sql.into()).await, 0, "{sql}");
    }
    let key = manifest["unresolved_key"].as_str().unwrap().to_string();
    let with_key = format!("SELECT COUNT(*) FROM payments WHERE idempotency_key = '{key}'");
    assert_eq!(w.server_count(with_key.clone()).await, 1);

    // The app: the member signs in on the old copy (its directory is renamed and re-keyed on
    // the way), and the payment whose answer was lost is learned, not made again.
    let engine = w.engine();
    engine.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    let waiting = engine.unresolved().await.unwrap();
    assert_eq!(waiting.len(), 1, "the old outbox's payment waits: {waiting:?}");
    for _ in 0..10 {
        if engine.unresolved().await.unwrap().is_empty() {
            break;
        }
        engine.resolve_unresolved().await.unwrap();
    }
    assert!(engine.unresolved().await.unwrap().is_empty(), "the outbox is resolved");
    assert_eq!(w.server_count(with_key).await, 1, "paid exactly once");
    assert_eq!(
        w.server_count("SELECT COUNT(*) FROM payments".into()).await,
        manifest["tables"]["payments"].as_i64().unwrap(),
        "no payment was added"
    );
    engine.sync().await.unwrap();
    let lost_bill = manifest["unresolved_bill"].as_str().unwrap();
    let history = engine
        .payments(carebill_client::types::PaymentQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let learned: Vec<_> = history
        .payments
        .iter()
        .filter(|p| {
            p.allocations
                .iter()
                .any(|a| a.bill_id == lost_bill && a.amount.to_string() == "7.25")
        })
        .collect();
    assert_eq!(learned.len(), 1, "the copy shows the payment once");
    // Cache migration 8 (issue 22): the old copy's first decision of desktop notices records what
    // it already held; none is announced.
    assert_eq!(engine.notices().await.unwrap().notices, vec![]);
    // Cache migration 6 (issue 19): the old copy gains claims, and the plan's claims reach it,
    // those imported before the app upgraded included (its sync started over).
    let db = w.server().state.db.clone();
    let eob = std::env::temp_dir().join(format!("carebill-upgrade-eob-{}.json", std::process::id()));
    std::fs::write(
        &eob,
        serde_json::json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "identifier": [{"type": {"coding": [{"code": "MB"}]}, "value": "M200000001"}]}},
            {"resource": {"resourceType": "ExplanationOfBenefit", "id": "e1", "identifier": [{"value": "UPG-1"}], "status": "active",
                "type": {"coding": [{"code": "professional"}]}, "patient": {"reference": "Patient/p1"},
                "billablePeriod": {"start": "2026-10-01"},
                "item": [{"sequence": 1, "productOrService": {"coding": [{"code": "99213"}]},
                    "adjudication": [{"category": {"coding": [{"code": "memberliability"}]}, "amount": {"value": 25, "currency": "USD"}}]}]}}
        ]})
        .to_string(),
    )
    .unwrap();
    let file = eob.clone();
    std::thread::spawn(move || {
        let sources = carebill_server::import::Sources {
            fhir: std::slice::from_ref(&file),
            ..Default::default()
        };
        carebill_server::import::import(&db, &sources, &Default::default(), chrono::Utc::now()).unwrap()
    })
    .join()
    .unwrap();
    std::fs::remove_file(&eob).unwrap();
    engine.sync().await.unwrap();
    let claims = engine.claims(Default::default()).await.unwrap();
    assert_eq!(
        claims
            .claims
            .iter()
            .map(|c| c.claim_number.as_str())
            .collect::<Vec<_>>(),
        ["UPG-1"]
    );
    // Cache migration 7 and server migration 11 (issue 20): a question about a bill the old
    // release stored is sent, holds the bill, and its thread is in the old copy, offline too.
    let old_bill = manifest["paid_bill"].as_str().unwrap().to_string();
    let asked = engine
        .ask(carebill_client::types::QuestionDraft {
            topic: carebill_api::types::ConversationTopic::AlreadyPaid,
            bill_id: Some(old_bill.clone()),
            line: Some(1),
            body: "I paid this before the update".into(),
            files: vec![],
        })
        .await
        .unwrap();
    let carebill_client::types::MessageSent::Sent { conversation } = asked else {
        panic!("sent: {asked:?}")
    };
    engine.sync().await.unwrap();
    assert_eq!(
        engine.bill(&old_bill).await.unwrap().bill.bill.open_conversation_id,
        Some(conversation.id.clone()),
        "the old bill is under review"
    );
    // ...and the billing office's reply to it, which came after the upgrade, is announced once.
    office_replies(
        &w,
        &conversation.reference,
        "We found your payment.",
        carebill_server::conversations::StaffStatus::Answered,
        vec![],
    )
    .await;
    engine.sync().await.unwrap();
    engine.sync().await.unwrap();
    let notices = engine.notices().await.unwrap();
    assert_eq!(
        notices.notices.iter().map(|n| n.kind).collect::<Vec<_>>(),
        [carebill_client::notices::NoticeKind::MessageReply]
    );
    // What the old copy held is readable offline too.
    engine.sign_out(false).await.unwrap();
    let offline = w.engine_with(w.config("http://127.0.0.1:9"));
    offline.unlock_offline(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let paid = offline
        .bill(manifest["paid_bill"].as_str().unwrap())
        .await
        .unwrap()
        .bill;
    assert!(!paid.payments.is_empty(), "the paid bill lists its payment");
    let threads = offline.conversations().await.unwrap();
    assert_eq!(threads.conversations.len(), 1);
    assert_eq!(threads.conversations[0].id, conversation.id);
    assert_eq!(
        paid.bill.amount_due.checked_sub(paid.bill.payments_made),
        Some(paid.bill.balance),
        "the old bill adds up on screen"
    );
}
