//! Offline review: the service is down; the copy opens with the password, read-only.

use carebill_client::types::{BillQuery, BillStatusFilter};
use carebill_client::{DraftAllocation, DraftMethod, ErrorKind, PaymentDraft};

use crate::harness::*;

#[tokio::test]
async fn with_the_server_stopped_cached_bills_open_with_the_password_read_only() {
    let mut w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    let online = e
        .bills(BillQuery {
            status: BillStatusFilter::All,
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let card = e
        .payment_methods()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.last4 == "4242")
        .unwrap()
        .id;
    e.sign_out(false).await.unwrap();
    w.stop_server().await;

    let e = w.engine();
    let err = e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Offline);
    let wrong = e
        .unlock_offline(DEMO_EMAIL, "not my password at all")
        .await
        .unwrap_err();
    assert_eq!(
        (wrong.kind, wrong.code.as_str()),
        (ErrorKind::Unauthenticated, "invalid_credentials")
    );
    assert_eq!(
        e.dashboard().await.unwrap_err().code,
        "not_signed_in",
        "a wrong password opens nothing"
    );
    let unknown = e.unlock_offline("nobody@example.com", DEMO_PASSWORD).await.unwrap_err();
    assert_eq!(unknown.message, wrong.message, "unknown logins look the same");

    let info = e.unlock_offline("m200000001", DEMO_PASSWORD).await.unwrap();
    assert!(info.offline);
    let cached = e
        .bills(BillQuery {
            status: BillStatusFilter::All,
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(cached.total, online.total);
    assert!(cached.freshness.offline && cached.freshness.synced_at.is_some());
    assert_eq!(
        cached.freshness.business_date,
        chrono::Local::now().date_naive(),
        "overdue from today's date"
    );
    let detail = e.bill(&cached.bills[0].bill.id).await.unwrap();
    assert!(!detail.bill.line_items.is_empty());

    // Payments and changes are refused and change nothing.
    let draft = PaymentDraft {
        pay_on: None,
        allocations: vec![DraftAllocation {
            bill_id: cached.bills[0].bill.id.clone(),
            amount: "1.00".into(),
        }],
        method: DraftMethod::Saved {
            payment_method_id: card.clone(),
        },
    };
    assert_eq!(e.prepare_payment(draft).await.unwrap_err().kind, ErrorKind::Offline);
    assert_eq!(
        e.remove_payment_method(&card).await.unwrap_err().kind,
        ErrorKind::Offline
    );
    assert_eq!(e.skip_autopay("bil_x").await.unwrap_err().kind, ErrorKind::Offline);
    assert_eq!(e.unresolved().await.unwrap().len(), 0);
    assert_eq!(e.payment_methods().await.unwrap().len(), 2);
}

/// Review finding 23: the offline unlock's count of wrong passwords survives a restart of the app.
#[tokio::test]
async fn wrong_offline_passwords_are_counted_across_restarts() {
    let w = World::start().await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    e.sign_out(true).await.unwrap();
    for _ in 0..3 {
        let e = w.engine();
        assert!(e.unlock_offline(DEMO_EMAIL, "wrong wrong wrong wrong").await.is_err());
    }
    let counted = std::fs::read_to_string(w.data.path().join("offline-unlock-failures")).unwrap();
    assert_eq!(counted.trim(), "3", "three engines (app starts), one count");
    let e = w.engine();
    e.unlock_offline(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    assert!(
        !w.data.path().join("offline-unlock-failures").exists(),
        "a success clears it"
    );
}

/// Issue 17: the plan's phone and hours stay on screen offline: the last copy is kept on the
/// device (public data, no member's) and used when the service cannot be reached.
#[tokio::test]
async fn the_plans_facts_are_kept_for_offline_use() {
    let mut w = World::start().await;
    let e = w.engine();
    assert!(
        !w.data.path().join("plan.json").exists(),
        "nothing is kept before the first answer"
    );
    let online = e.plan().await.unwrap().expect("the service answers");
    assert_eq!(online.member_services.phone, "1-800-555-0142");
    assert!(w.data.path().join("plan.json").exists());
    // A second engine (a restart) asks with the ETag and keeps its copy on a 304.
    assert_eq!(w.engine().plan().await.unwrap(), Some(online.clone()));
    w.stop_server().await;
    let restarted = w.engine();
    assert_eq!(restarted.plan().await.unwrap(), Some(online), "offline: the last copy");
    std::fs::remove_file(w.data.path().join("plan.json")).unwrap();
    assert_eq!(
        w.engine().plan().await.unwrap(),
        None,
        "offline with no copy: nothing made up"
    );
}
