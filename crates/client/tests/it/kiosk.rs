//! Kiosk mode in the engine: guest pay exactly once per review (double submit, retries), nothing
//! on disk or in the keyring, and the idle time-out ending a guest's or a member's session.

use std::time::Duration;

use carebill_api::types::{CardDetails, GuestLookupRequest, TokenRequest};
use carebill_client::types::Event;
use carebill_client::{Persistence, SubmitOutcome};
use carebill_server::seed::{DEMO_KIOSK_CREDENTIAL, guest_statements};

use crate::harness::*;

fn card() -> TokenRequest {
    TokenRequest::Card(CardDetails {
        number: "4242424242424242".into(),
        exp_month: 12,
        exp_year: 2031,
        cvc: "123".into(),
        postal_code: "94110".into(),
        holder_name: "Alex Rivera".into(),
    })
}

fn kiosk_engine(w: &World) -> carebill_client::Engine {
    let mut c = w.config(&w.api_url);
    c.persistence = Persistence::Memory;
    c.device_credential = Some(DEMO_KIOSK_CREDENTIAL.into());
    c.idle_lock_after = Duration::from_secs(60);
    w.engine_with(c)
}

async fn lookup(w: &World, e: &carebill_client::Engine) -> carebill_api::types::BillDetail {
    let statement = w.server().state.db.read(guest_statements).await.unwrap().remove(0);
    let view = e
        .guest_lookup(GuestLookupRequest {
            statement_number: statement,
            last_name: "Rivera".into(),
            date_of_birth: "1985-04-12".into(),
        })
        .await
        .unwrap();
    // The guest sees whether the bill is overdue on the plan's date, and none of the member's
    // payments.
    let today = w
        .server()
        .state
        .business
        .calendar()
        .date_at(w.server().state.business.now());
    let due = carebill_billing::bill::is_overdue(view.bill.bill.due_date, view.bill.bill.payable, today);
    assert_eq!(view.overdue, due);
    assert!(
        view.bill.payments.is_empty(),
        "a guest sees no payments of the member's"
    );
    view.bill
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_review_pays_once_however_often_it_is_submitted() {
    let w = World::start().await;
    let e = kiosk_engine(&w);
    let bill = lookup(&w, &e).await;
    let token = e.tokenize(card()).await.expect("guests can tokenize on a kiosk");
    let review = e.guest_prepare("5.00", token).await.unwrap();
    assert_eq!(review.total.to_string(), "5.00");
    let (a, b) = tokio::join!(
        e.guest_submit(&review.review_id, false),
        e.guest_submit(&review.review_id, false)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b, "the second submission answers with the first one's outcome");
    let SubmitOutcome::Paid { payment } = a else {
        panic!("paid: {a:?}")
    };
    assert_eq!(payment.amount.to_string(), "5.00");
    let again = e.guest_submit(&review.review_id, false).await.unwrap();
    assert_eq!(again, SubmitOutcome::Paid { payment });
    let payments = w
        .server_count(format!(
            "SELECT COUNT(*) FROM payment_allocations a JOIN payments p ON p.id = a.payment_id
             WHERE a.bill_id = '{}' AND p.source = 'guest'",
            bill.bill.id
        ))
        .await;
    assert_eq!(payments, 1);

    // An amount over what is payable is refused before anything is sent.
    let token = e.tokenize(card()).await.unwrap();
    let err = e.guest_prepare("999999.00", token).await.unwrap_err();
    assert_eq!(err.code, "amount_exceeds_balance");

    // Nothing reached the disk or the keyring.
    assert!(
        std::fs::read_dir(w.data.path()).unwrap().next().is_none(),
        "the data dir stays empty"
    );
    assert!(w.secrets.is_empty(), "the keyring was never written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_session_ends_at_the_idle_time_out_and_drops_everything() {
    let w = World::start().await;
    let mut c = w.config(&w.api_url);
    c.persistence = Persistence::Memory;
    c.device_credential = Some(DEMO_KIOSK_CREDENTIAL.into());
    // Shorter than the 30 s warning: the warning comes at once, the end soon after.
    c.idle_lock_after = Duration::from_secs(1);
    let e = w.engine_with(c);
    let mut events = e.events();
    let quiet = Duration::from_millis(500);
    lookup(&w, &e).await;
    assert!(e.guest_active().await);
    assert!(
        e.in_use(quiet).await,
        "a guest flow means the kiosk is in use (no updates)"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    e.check_idle().await;
    assert!(!e.guest_active().await, "the guest flow is gone");
    assert!(!e.in_use(quiet).await, "nobody there and quiet: an update may run");
    e.record_activity();
    assert!(e.in_use(quiet).await, "someone just touched the screen");
    let mut ended = false;
    while let Ok(ev) = events.try_recv() {
        ended |= ev == Event::SessionEnded;
    }
    assert!(ended, "the UI is told to start over");

    // A member signed in on the kiosk: never remembered, and wiped the same way.
    let info = e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    assert!(!info.remembered, "no keep-me-signed-in on a kiosk");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        e.in_use(quiet).await,
        "a member's session, even idle, means the kiosk is in use"
    );
    e.check_idle().await;
    assert!(e.dashboard().await.is_err(), "signed out");
    assert!(
        std::fs::read_dir(w.data.path()).unwrap().next().is_none(),
        "the data dir stays empty"
    );
    assert!(w.secrets.is_empty(), "the keyring was never written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_pay_needs_a_kiosk_and_nothing_is_saved_on_one() {
    let w = World::start().await;
    let member_app = w.engine();
    let err = member_app
        .guest_lookup(GuestLookupRequest {
            statement_number: "X1".into(),
            last_name: "Rivera".into(),
            date_of_birth: "1985-04-12".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, "not_a_kiosk");

    let e = kiosk_engine(&w);
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    let token = e.tokenize(card()).await.unwrap();
    let err = e.add_payment_method(&token.token).await.unwrap_err();
    assert_eq!(err.code, "kiosk_no_saving");
}

/// Review finding 7: ending a kiosk session never waits on the network: the previous patient's
/// session is gone and the screen starts over at once, while the revocation runs on its own.
#[tokio::test]
async fn a_kiosk_session_ends_at_once_when_the_network_holds_the_sign_out() {
    let w = World::start().await;
    let proxy = carebill_testkit::proxy::FaultProxy::start(w.server().addr, 3).await;
    let mut c = w.config(&proxy.url());
    c.persistence = Persistence::Memory;
    c.device_credential = Some(DEMO_KIOSK_CREDENTIAL.into());
    c.request_timeout = Duration::from_secs(20);
    let e = w.engine_with(c);
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    let mut events = e.events();
    proxy.hold_every_answer();
    tokio::time::timeout(Duration::from_secs(3), e.end_kiosk_session())
        .await
        .expect("the session ends without waiting for the network");
    let mut ended = false;
    while let Ok(ev) = events.try_recv() {
        ended |= matches!(ev, Event::SessionEnded);
    }
    assert!(ended, "the screen is told to start over");
    assert!(e.dashboard().await.is_err(), "nothing of the patient is left");
    proxy.set_faults(false);
}
