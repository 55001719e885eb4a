//! Data written by an earlier release survives the current code. `tests/upgrade/<release>/` holds
//! what that release's server and app wrote (made by `crates/client/tests/upgrade/make_fixture_bc362b3.rs`, run
//! against that release; its recipe is in the file): the server's data directory (database,
//! sandbox processor, and the database key, fixed for the fixture), a member's app data directory with an encrypted copy and a
//! payment whose answer was lost, still unresolved in the outbox, and `manifest.json` with what
//! must still be there. Every later change to stored data extends the fixture.

use std::path::Path;

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

#[tokio::test]
async fn data_written_by_bc362b3_opens_with_nothing_lost_and_the_lost_payment_resolved_once() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/upgrade/bc362b3");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("manifest.json")).unwrap()).unwrap();
    let server_dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture.join("server"), server_dir.path());
    let key = std::fs::read_to_string(fixture.join("server/fixture-database-key.hex")).unwrap();
    let server_path = server_dir.path().to_path_buf();
    let w = World::start_with(move |c| {
        c.data_dir = server_path;
        c.database_key = carebill_server::config::DatabaseKey::from_hex(&key).unwrap();
    })
    .await;
    copy_dir(&fixture.join("client"), w.data.path());

    // The server: migrations ran on the old database; every row is still there.
    for (table, before) in manifest["tables"].as_object().unwrap() {
        let now = w.server_count(format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(now, before.as_i64().unwrap(), "rows of {table}");
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
    // What the old copy held is readable offline too.
    engine.sign_out(false).await.unwrap();
    let offline = w.engine_with(w.config("http://127.0.0.1:9"));
    offline.unlock_offline(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    offline.bill(manifest["paid_bill"].as_str().unwrap()).await.unwrap();
}
