//! Desktop notices, decided by the app from the synced copy: nothing for what was already there
//! at the first sync, each new event once (across syncs and restarts), none of a kind whose
//! desktop switch is off, and the list keeps what the member has not read.

use carebill_client::notices::{NoticeKind, NoticeTarget};
use carebill_client::types::Event;

use crate::harness::*;

/// Adds `count` bills to the demo member on the server; answers their IDs.
async fn add_bills(w: &World, count: usize, seed: u64) -> Vec<String> {
    use rand::SeedableRng;
    let state = &w.server().state;
    let (now, today) = (state.now(), state.business.today());
    state
        .db
        .transaction(move |tx| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            carebill_server::seed::add_bills(tx, &mut rng, carebill_server::seed::DEMO_MEMBER_ID, count, today, now)
        })
        .await
        .unwrap()
}

/// The fresh notices the engine announced since `events` was made.
fn announced(events: &mut tokio::sync::broadcast::Receiver<Event>) -> Vec<carebill_client::notices::DesktopNotice> {
    let mut out = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let Event::Notices { fresh, .. } = ev {
            out.extend(fresh);
        }
    }
    out
}

#[tokio::test]
async fn each_new_event_is_announced_once_per_device_and_a_switched_off_kind_never() {
    let w = World::start().await;
    let e = w.engine();
    let mut events = e.events();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    e.sync().await.unwrap();
    // The first sync of a new copy: what is already there is not news.
    assert!(announced(&mut events).is_empty());
    let list = e.notices().await.unwrap();
    assert!(list.notices.is_empty() && list.unread == 0, "{list:?}");

    // Two bills arrive: each is announced once, with its amount, in the list and on the screen.
    let added = add_bills(&w, 2, 7).await;
    e.sync().await.unwrap();
    let fresh = announced(&mut events);
    let new_bills: Vec<_> = fresh.iter().filter(|n| n.kind == NoticeKind::NewBill).collect();
    assert_eq!(new_bills.len(), 2, "{fresh:?}");
    for id in &added {
        let n = new_bills
            .iter()
            .find(|n| n.target == NoticeTarget::Bill { bill_id: id.clone() })
            .unwrap_or_else(|| panic!("bill {id} announced: {fresh:?}"));
        let bill = e.bill(id).await.unwrap().bill.bill;
        assert!(n.body.contains(&bill.provider), "{}", n.body);
        assert!(n.body.contains(&bill.payable.display_usd()), "{}", n.body);
        assert!(
            !n.screen_body.contains(&bill.provider),
            "the screen names no provider: {}",
            n.screen_body
        );
        assert!(!n.read);
    }
    let list = e.notices().await.unwrap();
    assert_eq!(list.unread as usize, fresh.len());
    assert_eq!(list.notices.len(), fresh.len());

    // Syncing again, and after a restart of the app, announces nothing again.
    e.sync().await.unwrap();
    assert!(announced(&mut events).is_empty());
    e.sign_out(false).await.unwrap();
    let e = w.engine();
    let mut events = e.events();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    e.sync().await.unwrap();
    assert!(announced(&mut events).is_empty(), "once per device, across restarts");
    // Missed: still unread in the list at the next start.
    assert_eq!(e.notices().await.unwrap().unread as usize, fresh.len());

    // The member turns new-bill notices off on the desktop (email stays on): a new bill is
    // decided, not shown, and turning the switch back on announces nothing old.
    let mut p = e.notification_preferences().await.unwrap();
    p.new_bill.desktop = false;
    e.set_notification_preferences(p).await.unwrap();
    let quiet = add_bills(&w, 1, 8).await;
    e.sync().await.unwrap();
    let after_off = announced(&mut events);
    assert!(
        after_off.iter().all(|n| n.kind != NoticeKind::NewBill),
        "switched off: {after_off:?}"
    );
    p.new_bill.desktop = true;
    e.set_notification_preferences(p).await.unwrap();
    e.sync().await.unwrap();
    assert!(
        announced(&mut events).iter().all(|n| n.target
            != NoticeTarget::Bill {
                bill_id: quiet[0].clone()
            }
            || n.kind != NoticeKind::NewBill),
        "nothing old once switched on again"
    );

    // Reading: the member opens the list; bad keys are refused and change nothing.
    let list = e.notices().await.unwrap();
    let too_many: Vec<String> = (0..500).map(|i| format!("k{i}")).collect();
    let refused = e.read_notices(too_many).await.unwrap_err();
    assert_eq!(refused.code, "invalid_notice_keys");
    assert_eq!(e.notices().await.unwrap().unread, list.unread);
    let keys = list.notices.iter().map(|n| n.key.clone()).collect();
    assert_eq!(e.read_notices(keys).await.unwrap(), 0);
    let read = e.notices().await.unwrap();
    assert!(read.notices.iter().all(|n| n.read) && read.notices.len() == list.notices.len());
}

#[tokio::test]
async fn a_copy_kept_in_memory_decides_nothing() {
    // Kiosks keep the member's copy in memory and show no notices: the decision needs a copy on
    // disk, and the first sync of one records a baseline only.
    let w = World::start().await;
    let mut config = w.config(&w.api_url);
    config.persistence = carebill_client::Persistence::Memory;
    let e = w.engine_with(config);
    let mut events = e.events();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    add_bills(&w, 2, 9).await;
    e.sync().await.unwrap();
    assert!(announced(&mut events).is_empty());
    assert!(e.notices().await.unwrap().notices.is_empty());
}

#[tokio::test]
async fn a_business_day_turning_is_news_even_when_the_sync_brings_nothing() {
    // A sync with nothing new reads no copy on the same day; on a new day it does, because a bill
    // falls due by the calendar, not by a change on the server.
    let w = World::start().await;
    let e = w.engine();
    let mut events = e.events();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    e.sync().await.unwrap();
    let added = add_bills(&w, 4, 11).await;
    e.sync().await.unwrap();
    let bill = e.bill(&added[3]).await.unwrap().bill.bill;
    let today = w.server().state.business.today();
    let ahead = (bill.due_date - today).num_days() - i64::from(carebill_client::notices::DUE_SOON_DAYS);
    assert!(
        ahead > 0,
        "a bill due after the reminder window: {} on {today}",
        bill.due_date
    );
    let due_soon = |fresh: &[carebill_client::notices::DesktopNotice]| {
        fresh
            .iter()
            .filter(|n| {
                n.kind == NoticeKind::DueSoon
                    && n.target
                        == NoticeTarget::Bill {
                            bill_id: bill.id.clone(),
                        }
            })
            .count()
    };
    assert_eq!(due_soon(&announced(&mut events)), 0);

    // The same day, nothing new: nothing said.
    assert_eq!(e.sync().await.unwrap().changes, 0);
    assert!(announced(&mut events).is_empty());

    // The plan's calendar reaches the bill's reminder day; the server has nothing new to send.
    w.server().state.business.set_offset(chrono::Duration::days(ahead));
    let report = e.sync().await.unwrap();
    assert_eq!(report.changes, 0, "{report:?}");
    assert_eq!(due_soon(&announced(&mut events)), 1);
    e.sync().await.unwrap();
    assert_eq!(due_soon(&announced(&mut events)), 0, "once");
}
