//! Paying through the engine: review, submit once, declines, pending confirmation, restarts.

use carebill_api::types::{CardDetails, TokenRequest};
use carebill_client::{DraftAllocation, DraftMethod, Engine, ErrorKind, PaymentDraft, SubmitOutcome};

use crate::harness::*;
use carebill_testkit::proxy::FaultProxy;

pub async fn signed_in(e: &Engine) {
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, true).await.unwrap();
    e.sync().await.unwrap();
}

pub async fn payable_bill(e: &Engine) -> String {
    let page = e
        .bills(carebill_client::types::BillQuery {
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    page.bills
        .into_iter()
        .find(|b| b.bill.payable.is_positive() && !b.payment_in_flight)
        .unwrap()
        .bill
        .id
}

pub async fn card(e: &Engine) -> String {
    e.payment_methods()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.last4 == "4242")
        .unwrap()
        .id
}

fn draft(bill: &str, amount: &str, method: &str) -> PaymentDraft {
    PaymentDraft {
        pay_on: None,
        allocations: vec![DraftAllocation {
            bill_id: bill.into(),
            amount: amount.into(),
        }],
        method: DraftMethod::Saved {
            payment_method_id: method.into(),
        },
    }
}

#[tokio::test]
async fn a_reviewed_payment_is_paid_once_even_when_submitted_twice() {
    let w = World::start().await;
    let e = w.engine();
    signed_in(&e).await;
    let bill = payable_bill(&e).await;
    let before = e.bill(&bill).await.unwrap().bill.bill.balance;
    let review = e.prepare_payment(draft(&bill, "12.34", &card(&e).await)).await.unwrap();
    assert_eq!(review.total.to_string(), "12.34");
    assert_eq!(review.method.last4, "4242");
    assert!(review.ach_authorization.is_none());
    assert_eq!(
        review.payment_date,
        Some(e.dashboard().await.unwrap().freshness.business_date),
        "the review says the plan's date the card is charged on"
    );
    let (a, b) = tokio::join!(
        e.submit_payment(&review.review_id, false),
        e.submit_payment(&review.review_id, false)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let (SubmitOutcome::Paid { payment: pa }, SubmitOutcome::Paid { payment: pb }) = (&a, &b) else {
        panic!("{a:?} {b:?}")
    };
    assert_eq!(pa.id, pb.id);
    let key = pa.idempotency_key.clone().unwrap();
    assert_eq!(
        w.server_count(format!("SELECT COUNT(*) FROM payments WHERE idempotency_key = '{key}'"))
            .await,
        1
    );
    e.sync().await.unwrap();
    assert_eq!(
        e.bill(&bill).await.unwrap().bill.bill.balance.cents(),
        before.cents() - 1234
    );
    assert_eq!(e.payments(Default::default()).await.unwrap().payments[0].id, pa.id);
}

#[tokio::test]
async fn rules_are_checked_before_anything_is_sent() {
    let w = World::start().await;
    let e = w.engine();
    signed_in(&e).await;
    let bill = payable_bill(&e).await;
    let card = card(&e).await;
    for (amount, code) in [
        ("0", "invalid_amount"),
        ("1.234", "invalid_amount"),
        ("abc", "invalid_amount"),
        ("99999999.00", "amount_exceeds_balance"),
    ] {
        let err = e.prepare_payment(draft(&bill, amount, &card)).await.unwrap_err();
        assert_eq!(
            (err.kind, err.code.as_str(), err.field.as_deref()),
            (ErrorKind::Validation, code, Some("/allocations/0/amount")),
            "{amount}"
        );
        // Over the balance: the most that can be paid travels as a named value, not only inside
        // the English sentence.
        let max = err.params.as_ref().and_then(|p| p.get("max"));
        assert_eq!(max.is_some(), code == "amount_exceeds_balance", "{amount}: {max:?}");
    }
    let mut dup = draft(&bill, "1.00", &card);
    dup.allocations.push(dup.allocations[0].clone());
    assert_eq!(e.prepare_payment(dup).await.unwrap_err().code, "duplicate_bill");
    assert_eq!(
        e.prepare_payment(draft(&bill, "1.00", "pm_nope"))
            .await
            .unwrap_err()
            .code,
        "payment_method_not_found"
    );
    assert_eq!(w.server_count("SELECT COUNT(*) FROM idempotency_keys".into()).await, 0);
}

#[tokio::test]
async fn a_declined_card_and_a_bank_payment_with_its_authorization() {
    let w = World::start().await;
    let e = w.engine();
    signed_in(&e).await;
    let bill = payable_bill(&e).await;
    let token = e
        .tokenize(TokenRequest::Card(CardDetails {
            number: "4000 0000 0000 0002".into(),
            exp_month: 12,
            exp_year: 2031,
            cvc: "123".into(),
            postal_code: "94110".into(),
            holder_name: "Jordan Lee".into(),
        }))
        .await
        .unwrap();
    assert_eq!(token.last4, "0002");
    let review = e
        .prepare_payment(PaymentDraft {
            pay_on: None,
            allocations: vec![DraftAllocation {
                bill_id: bill.clone(),
                amount: "5.00".into(),
            }],
            method: DraftMethod::New { token, save: false },
        })
        .await
        .unwrap();
    let SubmitOutcome::Declined { error } = e.submit_payment(&review.review_id, false).await.unwrap() else {
        panic!("expected a decline")
    };
    assert_eq!(
        (error.kind, error.code.as_str()),
        (ErrorKind::Declined, "card_declined")
    );

    let bank = e
        .payment_methods()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.bank_name.is_some())
        .unwrap()
        .id;
    let review = e.prepare_payment(draft(&bill, "5.00", &bank)).await.unwrap();
    let text = review
        .ach_authorization
        .clone()
        .expect("bank payments show the authorization");
    assert!(text.text.contains("authorize"));
    assert_eq!(
        e.submit_payment(&review.review_id, false).await.unwrap_err().code,
        "ach_authorization_required"
    );
    let SubmitOutcome::Paid { payment } = e.submit_payment(&review.review_id, true).await.unwrap() else {
        panic!()
    };
    assert_eq!(payment.status.as_str(), "pending");
}

#[tokio::test]
async fn a_lost_answer_becomes_pending_confirmation_blocks_a_second_payment_and_resolves_after_a_restart() {
    let w = World::start().await;
    let proxy = FaultProxy::start(w.server().addr, 11).await;
    let mut config = w.config(&proxy.url());
    config.retries = 0;
    config.keep_alive = false;
    config.request_timeout = std::time::Duration::from_millis(800);
    config.submit_patience = std::time::Duration::from_millis(10);
    let e = w.engine_with(config.clone());
    signed_in(&e).await;
    let bill = payable_bill(&e).await;
    let review = e.prepare_payment(draft(&bill, "3.00", &card(&e).await)).await.unwrap();
    // The request reaches the server, which pays; the answer is lost on the way back.
    proxy.drop_every_answer();
    let outcome = e.submit_payment(&review.review_id, false).await.unwrap();
    let SubmitOutcome::PendingConfirmation { intent_id, bill_ids } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(bill_ids, vec![bill.clone()]);
    assert_eq!(e.unresolved().await.unwrap().len(), 1);
    assert!(e.bill(&bill).await.unwrap().payment_in_flight);
    let again = e
        .prepare_payment(draft(&bill, "1.00", &card(&e).await))
        .await
        .unwrap_err();
    assert_eq!(
        (again.kind, again.code.as_str()),
        (ErrorKind::Conflict, "payment_in_flight")
    );
    assert_eq!(e.sign_out(false).await.unwrap_err().code, "unresolved_payments");

    // The app restarts; the connection is good again: the same key confirms it, once.
    drop(e);
    proxy.set_faults(false);
    let e = w.engine_with(config);
    e.resume().await.unwrap().unwrap();
    e.resolve_unresolved().await.unwrap();
    assert!(e.unresolved().await.unwrap().is_empty());
    assert_eq!(w.server_count(format!("SELECT COUNT(*) FROM payments p JOIN payment_allocations a ON a.payment_id = p.id WHERE a.bill_id = '{bill}' AND p.amount_cents = 300 AND p.status = 'succeeded'")).await, 1);
    assert!(!e.bill(&bill).await.unwrap().payment_in_flight);
    let resolved: Vec<_> = e.payments(Default::default()).await.unwrap().payments;
    assert!(
        resolved.iter().any(|p| p.amount.cents() == 300),
        "the payment {intent_id} is in the history"
    );
}

/// Review finding 14: a payment too old to re-send is concluded "never reached the server" only
/// on the server's word, never from a copy that a failed sync left out of date.
#[tokio::test]
async fn an_old_unconfirmed_payment_is_not_given_up_while_the_server_cannot_be_asked() {
    let w = World::start().await;
    let proxy = FaultProxy::start(w.server().addr, 12).await;
    let mut config = w.config(&proxy.url());
    config.retries = 0;
    config.keep_alive = false;
    config.request_timeout = std::time::Duration::from_millis(800);
    config.submit_patience = std::time::Duration::from_millis(10);
    let clock = carebill_client::ManualClock::new(chrono::Utc::now());
    let e = Engine::new(config, w.secrets.clone(), clock.clone()).unwrap();
    signed_in(&e).await;
    let bill = payable_bill(&e).await;
    let review = e.prepare_payment(draft(&bill, "2.00", &card(&e).await)).await.unwrap();
    proxy.drop_every_answer();
    let outcome = e.submit_payment(&review.review_id, false).await.unwrap();
    assert!(
        matches!(outcome, SubmitOutcome::PendingConfirmation { .. }),
        "{outcome:?}"
    );
    // A day later, the service still cannot be reached: the payment stays unconfirmed.
    clock.advance(chrono::Duration::hours(25));
    e.resolve_unresolved().await.unwrap();
    assert_eq!(e.unresolved().await.unwrap().len(), 1, "not given up on a failed sync");
    // Reachable again: confirmed from the server (never re-sent: one payment).
    proxy.set_faults(false);
    e.resolve_unresolved().await.unwrap();
    assert!(e.unresolved().await.unwrap().is_empty());
    let history = e.payments(Default::default()).await.unwrap().payments;
    assert!(history.iter().any(|p| p.amount.cents() == 200));
    assert_eq!(w.server_count(format!("SELECT COUNT(*) FROM payments p JOIN payment_allocations a ON a.payment_id = p.id WHERE a.bill_id = '{bill}' AND p.amount_cents = 200")).await, 1);
}
