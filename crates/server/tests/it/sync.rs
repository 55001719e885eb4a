//! The change feed: full, delta, 304, 410, bad cursors, large pages.

use carebill_api::types::{SyncEntity, SyncOp};
use carebill_server::{seed, store};
use chrono::Duration;
use rand::SeedableRng;
use serde_json::Value;

use crate::harness::*;

async fn sync_page(s: &TestServer, token: &str, cursor: &str) -> Resp {
    s.get(&format!("/v1/sync?cursor={cursor}"), token).await
}

/// Follows the feed to its end; returns the changes and the final cursor and ETag.
pub(crate) async fn sync_all(s: &TestServer, token: &str, cursor: &str) -> (Vec<Value>, String, String, usize) {
    let mut cursor = cursor.to_string();
    let mut changes = Vec::new();
    let mut requests = 0;
    loop {
        let r = sync_page(s, token, &cursor).await;
        r.expect(200);
        requests += 1;
        let page = r.body["changes"].as_array().unwrap();
        assert!(page.len() <= 500);
        changes.extend(page.iter().cloned());
        cursor = r.body["next_cursor"].as_str().unwrap().to_string();
        if !r.body["has_more"].as_bool().unwrap() {
            let etag = r.headers["etag"].to_str().unwrap().to_string();
            return (changes, cursor, etag, requests);
        }
    }
}

#[tokio::test]
async fn a_full_sync_brings_every_bill_with_line_items_then_deltas_bring_only_changes() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let bills = s.all_bills(&token, "all").await;
    let (changes, cursor, etag, _) = sync_all(&s, &token, "").await;
    let bill_changes: Vec<&Value> = changes.iter().filter(|c| c["entity"] == "bill").collect();
    assert_eq!(bill_changes.len(), bills.len());
    for c in &bill_changes {
        assert_eq!(c["op"], "upsert");
        assert!(!c["data"]["line_items"].as_array().unwrap().is_empty());
        assert_eq!(c["data"]["id"], c["id"]);
    }

    // Nothing changed: one request, 304, no body.
    let r = s
        .send(
            s.http
                .get(format!("{}/v1/sync?cursor={cursor}", s.base))
                .bearer_auth(&token)
                .header("If-None-Match", &etag),
        )
        .await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_null());
    assert!(r.headers.contains_key("business-date"));

    // One bill changes: the delta holds exactly it.
    let changed = bills[0]["id"].as_str().unwrap().to_string();
    let member = "M200000001".to_string();
    let now = s.clock_now();
    let id = changed.clone();
    s.server
        .state
        .db
        .transaction(move |tx| {
            tx.execute(
                "UPDATE bills SET adjustments_cents = adjustments_cents + 1 WHERE id = ?1",
                [&id],
            )?;
            tx.execute(
                "UPDATE line_items SET adjustment_cents = adjustment_cents + 1 WHERE bill_id = ?1 AND position = 0",
                [&id],
            )?;
            store::touch(tx, &member, SyncEntity::Bill, &id, SyncOp::Upsert, now)
        })
        .await
        .unwrap();
    let r = s
        .send(
            s.http
                .get(format!("{}/v1/sync?cursor={cursor}", s.base))
                .bearer_auth(&token)
                .header("If-None-Match", &etag),
        )
        .await;
    r.expect(200);
    let delta = r.body["changes"].as_array().unwrap();
    assert_eq!(delta.len(), 1);
    assert_eq!(delta[0]["id"], changed.as_str());
    assert_ne!(r.headers["etag"].to_str().unwrap(), etag);
    s.stop().await;
}

#[tokio::test]
async fn deletions_reach_the_feed_and_old_cursors_expire_after_pruning() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    let (_, old_cursor, _, _) = sync_all(&s, &token, "").await;
    let now = s.clock_now();
    s.server
        .state
        .db
        .transaction(move |tx| {
            store::touch(
                tx,
                "M200000001",
                SyncEntity::Bill,
                "bil_withdrawn00",
                SyncOp::Delete,
                now,
            )
        })
        .await
        .unwrap();
    let (delta, newer_cursor, _, _) = sync_all(&s, &token, &old_cursor).await;
    assert_eq!(delta.len(), 1);
    assert_eq!(
        (delta[0]["op"].as_str(), delta[0]["id"].as_str()),
        (Some("delete"), Some("bil_withdrawn00"))
    );
    assert!(delta[0].get("data").is_none());

    s.advance(Duration::days(91));
    let later = s.clock_now();
    s.server
        .state
        .db
        .transaction(move |tx| store::prune_changes(tx, later - store::CHANGE_RETENTION))
        .await
        .unwrap();
    let token = s.demo_token().await;
    sync_page(&s, &token, &old_cursor)
        .await
        .expect_error(410, "cursor_expired");
    // A client that saw the deletion carries on; a full resync always works.
    sync_page(&s, &token, &newer_cursor).await.expect(200);
    sync_all(&s, &token, "").await;
    s.stop().await;
}

#[tokio::test]
async fn bad_cursors_are_refused() {
    let s = TestServer::start().await;
    let token = s.demo_token().await;
    for cursor in ["nope", "AAAAAAAAAAAAAAAAAAAAAAAAAAA", "-1"] {
        sync_page(&s, &token, cursor).await.expect_error(400, "invalid_cursor");
    }
    let other = s.token(SECOND_EMAIL, DEMO_PASSWORD).await;
    let (_, theirs, _, _) = sync_all(&s, &other, "").await;
    sync_page(&s, &token, &theirs).await.expect_error(400, "invalid_cursor");
    s.stop().await;
}

#[tokio::test]
async fn large_feeds_come_in_pages_of_500() {
    let s = TestServer::start().await;
    let now = s.clock_now();
    let today = s.server.state.business.today();
    s.server
        .state
        .db
        .transaction(move |tx| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            seed::add_bills(tx, &mut rng, "M200000001", 1200, today, now)?;
            Ok(())
        })
        .await
        .unwrap();
    let token = s.demo_token().await;
    let (changes, _, _, requests) = sync_all(&s, &token, "").await;
    let bills = changes.iter().filter(|c| c["entity"] == "bill").count();
    assert!(bills >= 1208, "{bills}");
    assert_eq!(requests, changes.len().div_ceil(500));
    s.stop().await;
}
