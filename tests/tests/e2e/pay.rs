//! Paying in the real app window against the real server: cards, declines, bank payments and their
//! settlement or return, one payment per double click, autopay. Every screen is checked with axe.

use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD, cents, usd};
use carebill_testkit::proxy::FaultProxy;
use serde_json::{Value, json};
use thirtyfour::prelude::*;

use crate::sign_in;

struct Session {
    backend: Backend,
    home: AppHome,
    app: App,
    token: String,
}

async fn signed_in() -> Session {
    let backend = Backend::start().await;
    let url = backend.url.clone();
    signed_in_through(backend, AppHome::new(), &url).await
}

/// Launches the app of `home` against `api_url` (the server, or a proxy in front of it) and signs
/// the demo member in.
async fn signed_in_through(backend: Backend, home: AppHome, api_url: &str) -> Session {
    let app = App::launch(api_url, &home).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.sees("Synced").await;
    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    Session {
        backend,
        home,
        app,
        token,
    }
}

impl Session {
    async fn done(self) {
        self.app.quit().await;
    }

    async fn bill(&self, id: &str) -> Value {
        self.backend.get(&self.token, &format!("/v1/bills/{id}")).await
    }

    async fn payable(&self, id: &str) -> i64 {
        cents(self.bill(id).await["payable"].as_str().expect("payable"))
    }

    /// Open bills with something to pay, soonest due first (the order the Pay screen lists them).
    async fn payable_bills(&self) -> Vec<Value> {
        let mut open: Vec<Value> = self
            .backend
            .open_bills(&self.token)
            .await
            .into_iter()
            .filter(|b| cents(b["payable"].as_str().unwrap_or("0.00")) > 0)
            .collect();
        open.sort_by_key(|b| {
            (
                b["due_date"].as_str().unwrap_or_default().to_string(),
                b["id"].as_str().unwrap_or_default().to_string(),
            )
        });
        open
    }

    async fn payments_for(&self, bill_id: &str) -> i64 {
        self.backend
            .query_i64(format!(
                "SELECT COUNT(*) FROM payment_allocations WHERE bill_id = '{bill_id}'"
            ))
            .await
    }

    /// Ids of the server's payments that pay something on this bill.
    async fn payment_ids_for(&self, bill_id: &str) -> Vec<String> {
        let list = self.backend.get(&self.token, "/v1/payments?limit=100").await;
        list["data"]
            .as_array()
            .expect("payments")
            .iter()
            .filter(|p| {
                p["allocations"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x["bill_id"] == bill_id))
            })
            .filter_map(|p| p["id"].as_str().map(str::to_string))
            .collect()
    }

    async fn click_xpath(&self, xpath: &str) {
        self.app.click_xpath(xpath).await;
    }

    /// Opens the Pay screen with nothing chosen and ticks these bills.
    async fn pay_screen_with(&self, bills: &[&str]) {
        self.app.click("Pay").await;
        self.app.screen("Pay bills").await;
        for id in bills {
            self.app.check(&format!("bill-{id}")).await;
        }
    }

    async fn choose_saved(&self, label_start: &str) {
        self.click_xpath(&format!("//label[starts-with(normalize-space(), {label_start:?})]"))
            .await;
    }

    async fn new_card(&self, number: &str) {
        self.app.check("method-new-card").await;
        self.app.fill_card(number, None).await;
    }

    async fn review_and_pay(&self) {
        self.app.click("Continue to review").await;
        self.app.screen("Review your payment").await;
        self.click_xpath("//button[starts-with(normalize-space(), 'Pay $')]")
            .await;
    }

    async fn confirmation(&self) -> String {
        let app = &self.app;
        app.until("a confirmation number", || async move {
            app.wd.find(By::Id("confirmation-number")).await.is_ok()
        })
        .await;
        app.wd
            .find(By::Id("confirmation-number"))
            .await
            .expect("number")
            .text()
            .await
            .expect("text")
    }

    async fn payment(&self, confirmation: &str) -> Value {
        let list = self.backend.get(&self.token, "/v1/payments?limit=100").await;
        list["data"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["confirmation_number"] == confirmation).cloned())
            .unwrap_or_else(|| panic!("payment {confirmation} on the server: {list}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_one_bill_in_full_by_visa_and_find_it_in_history() {
    let s = signed_in().await;
    let app = &s.app;
    let bill = s.payable_bills().await.remove(0);
    let id = bill["id"].as_str().expect("id").to_string();
    let owed = s.payable(&id).await;
    let earlier = s.payments_for(&id).await;

    app.click("View bills").await;
    app.screen("Bills").await;
    s.click_xpath(&format!(
        "//button[@aria-label={:?}]",
        format!(
            "Pay {}, statement {}",
            bill["provider"].as_str().unwrap_or_default(),
            bill["statement_number"].as_str().unwrap_or_default()
        )
    ))
    .await;
    app.screen("Pay bills").await;
    app.axe("pay").await;
    s.choose_saved("Visa •••• 4242").await;
    app.click("Continue to review").await;
    app.screen("Review your payment").await;
    app.sees(&format!("Pay {}", usd(owed))).await;
    app.sees("Visa •••• 4242").await;
    app.axe("review").await;
    app.click(&format!("Pay {}", usd(owed))).await;
    app.screen("Payment received").await;
    app.axe("confirmation").await;
    let number = s.confirmation().await;

    let payment = s.payment(&number).await;
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(cents(payment["amount"].as_str().expect("amount")), owed);
    assert_eq!(s.payable(&id).await, 0, "the bill is paid on the server");
    assert_eq!(s.payments_for(&id).await, earlier + 1);

    app.click("Payment history").await;
    app.screen("Payment history").await;
    app.sees(&number).await;
    app.axe("history").await;
    s.click_xpath(&format!("//button[normalize-space()={number:?}]")).await;
    app.screen("Receipt").await;
    app.sees(bill["provider"].as_str().expect("provider")).await;
    app.axe("receipt").await;

    // The dashboard's total is the server's, after the payment.
    app.click("Dashboard").await;
    app.screen("Hello, Jordan").await;
    let total: i64 = s
        .payable_bills()
        .await
        .iter()
        .map(|b| cents(b["payable"].as_str().expect("payable")))
        .sum();
    app.sees(&format!("Pay what you owe now, {}", usd(total))).await;
    s.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bills_partly_in_one_payment_with_a_one_time_card_that_is_not_saved() {
    let s = signed_in().await;
    let app = &s.app;
    let bills = s.payable_bills().await;
    let (a, b) = (
        bills[0]["id"].as_str().expect("id").to_string(),
        bills[1]["id"].as_str().expect("id").to_string(),
    );
    let (before_a, before_b) = (s.payable(&a).await, s.payable(&b).await);

    s.pay_screen_with(&[&a, &b]).await;
    app.check(&format!("other-{a}")).await;
    app.fill(&format!("amount-{a}"), "10.00").await;
    app.check(&format!("other-{b}")).await;
    app.fill(&format!("amount-{b}"), "5.25").await;
    app.sees("Total: $15.25").await;
    s.new_card("5555 5555 5555 4444").await;
    app.sees("Mastercard").await;
    app.axe("pay with a new card").await;
    app.click("Continue to review").await;
    app.screen("Review your payment").await;
    app.sees("Mastercard •••• 4444").await;
    app.click("Pay $15.25").await;
    app.screen("Payment received").await;
    let number = s.confirmation().await;

    let payment = s.payment(&number).await;
    assert_eq!(payment["amount"], "15.25");
    assert_eq!(payment["allocations"].as_array().map(Vec::len), Some(2));
    assert_eq!(s.payable(&a).await, before_a - 1000);
    assert_eq!(s.payable(&b).await, before_b - 525);

    let methods = s.backend.get(&s.token, "/v1/payment-methods").await;
    assert!(
        !methods.to_string().contains("\"4444\""),
        "a card not chosen to be saved is not saved: {methods}"
    );
    app.click("Payment methods").await;
    app.screen("Payment methods").await;
    app.sees("Visa •••• 4242").await;
    assert!(!app.body_text().await.contains("Mastercard •••• 4444"));
    app.axe("payment methods").await;
    s.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_cards_say_why_and_change_nothing() {
    let s = signed_in().await;
    let app = &s.app;
    let id = s.payable_bills().await[0]["id"].as_str().expect("id").to_string();
    let before = s.payable(&id).await;
    let charged = format!(
        "SELECT COUNT(*) FROM payment_allocations a JOIN payments p ON p.id = a.payment_id WHERE a.bill_id = '{id}' AND p.status <> 'failed'"
    );
    let charged_before = s.backend.query_i64(charged.clone()).await;

    s.pay_screen_with(&[&id]).await;
    s.new_card("4000000000000002").await;
    s.review_and_pay().await;
    app.screen("Pay bills").await;
    app.sees("Your card was declined. Nothing was charged.").await;
    app.axe("declined").await;
    assert_eq!(s.payable(&id).await, before);

    // The card number and code were forgotten: they are typed again.
    s.new_card("4000000000009995").await;
    s.review_and_pay().await;
    app.screen("Pay bills").await;
    app.sees("Your card has insufficient funds.").await;
    assert_eq!(s.payable(&id).await, before, "a decline changes no balance");
    assert_eq!(
        s.backend.query_i64(charged).await,
        charged_before,
        "nothing was charged"
    );
    s.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_payments_are_pending_then_settle_or_come_back_returned() {
    let s = signed_in().await;
    let app = &s.app;
    let bills = s.payable_bills().await;
    let (a, b) = (
        bills[0]["id"].as_str().expect("id").to_string(),
        bills[1]["id"].as_str().expect("id").to_string(),
    );
    let before_b = s.payable(&b).await;

    // A bank account whose debits come back R01.
    app.click("Payment methods").await;
    app.screen("Payment methods").await;
    app.click("Add a bank account").await;
    app.fill("bank-routing", "110000000").await;
    app.sees("Bank: Carebill Test Bank").await;
    app.fill("bank-account", "000111111113").await;
    app.fill("bank-account-confirm", "000111111113").await;
    app.axe("add a bank account").await;
    app.click("Save bank account").await;
    app.sees("Carebill Test Bank •••• 1113 was saved.").await;

    // Bill A from the account that settles, bill B from the one that is returned.
    let mut numbers = Vec::new();
    for (bill, account) in [
        (&a, "Carebill Test Bank •••• 6789"),
        (&b, "Carebill Test Bank •••• 1113"),
    ] {
        s.pay_screen_with(&[bill]).await;
        s.choose_saved(account).await;
        app.click("Continue to review").await;
        app.screen("Review your payment").await;
        app.sees("Bank payment authorization").await;
        app.axe("bank review").await;
        app.check("ach-accept").await;
        s.click_xpath("//button[starts-with(normalize-space(), 'Pay $')]").await;
        app.screen("Payment submitted").await;
        app.sees("usually settles in 2 business days").await;
        numbers.push(s.confirmation().await);
    }
    assert_eq!(s.payment(&numbers[0]).await["status"], "pending");
    assert_eq!(s.payable(&b).await, 0, "a pending payment holds the bill");

    s.backend.post("/dev/clock", json!({"advance": "P5D"})).await;
    assert_eq!(s.payment(&numbers[0]).await["status"], "succeeded");
    assert_eq!(s.payment(&numbers[1]).await["status"], "returned");
    assert_eq!(s.payable(&b).await, before_b, "a returned payment restores the balance");
    assert_eq!(s.payable(&a).await, 0);

    app.click("Payment history").await;
    app.screen("Payment history").await;
    app.click("Refresh").await;
    app.sees("Returned").await;
    app.sees("R01").await;
    app.axe("history with a return").await;
    s.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_click_on_pay_makes_one_payment() {
    let s = signed_in().await;
    let app = &s.app;
    let id = s.payable_bills().await[0]["id"].as_str().expect("id").to_string();
    let earlier = s.payments_for(&id).await;
    s.pay_screen_with(&[&id]).await;
    s.choose_saved("Visa •••• 4242").await;
    app.click("Continue to review").await;
    app.screen("Review your payment").await;
    app.wd
        .execute(
            "const b = [...document.querySelectorAll('button')].find(b => b.textContent.trim().startsWith('Pay $'));
             b.click(); b.click(); b.dispatchEvent(new MouseEvent('dblclick', {bubbles: true}));",
            vec![],
        )
        .await
        .expect("double click");
    app.screen("Payment received").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(s.payments_for(&id).await, earlier + 1, "one payment on the server");
    s.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autopay_charges_new_bills_once_and_skips_what_was_skipped() {
    let s = signed_in().await;
    let app = &s.app;
    app.click("Autopay").await;
    app.screen("Autopay").await;
    app.sees("Autopay is off.").await;
    app.axe("autopay off").await;
    app.click("Set up autopay").await;
    s.choose_saved("Visa •••• 4242").await;
    app.sees("We'll charge up to $500.00 to Visa •••• 4242 on each new bill's due date.")
        .await;
    // New bills' amounts are random, and a hospital stay insurance did not cover can owe more than
    // $5,000: a maximum above any generated bill keeps both charges scheduled.
    app.fill("autopay-max", "99999.00").await;
    app.sees("We'll charge up to $99,999.00 to Visa •••• 4242 on each new bill's due date.")
        .await;
    app.axe("autopay form").await;
    app.click("Turn on autopay").await;
    app.sees("Autopay is on.").await;

    // Two new bills arrive.
    let first = s.backend.post("/dev/bills", json!({})).await;
    let second = s.backend.post("/dev/bills", json!({})).await;
    let (first, second) = (
        first["id"].as_str().expect("id").to_string(),
        second["id"].as_str().expect("id").to_string(),
    );
    app.click("Refresh").await;
    app.until("two upcoming charges", || async move {
        app.wd
            .find_all(By::Css("#upcoming-table tbody tr"))
            .await
            .is_ok_and(|rows| rows.len() == 2)
    })
    .await;
    app.axe("autopay with upcoming charges").await;
    s.click_xpath("//table[@id='upcoming-table']/tbody/tr[1]//button[normalize-space()='Skip']")
        .await;
    app.sees("That charge will be skipped.").await;
    let skipped = s
        .backend
        .query_i64(format!(
            "SELECT COUNT(*) FROM autopay_bills WHERE bill_id = '{first}' AND skipped_at IS NOT NULL"
        ))
        .await;
    // The first row is whichever bill is charged first; name the two by what was skipped.
    let (first, second) = if skipped == 1 { (first, second) } else { (second, first) };

    // Past both due dates, twice: each bill is charged at most once.
    s.backend.post("/dev/clock", json!({"advance": "P32D"})).await;
    s.backend.post("/dev/clock", json!({"advance": "P1D"})).await;
    let autopaid = |bill: String| {
        let backend = &s.backend;
        async move {
            backend
                .query_i64(format!(
                    "SELECT COUNT(*) FROM payment_allocations a JOIN payments p ON p.id = a.payment_id WHERE a.bill_id = '{bill}' AND p.source = 'autopay'"
                ))
                .await
        }
    };
    assert_eq!(autopaid(first.clone()).await, 0, "the skipped charge was not made");
    assert_eq!(autopaid(second.clone()).await, 1, "the other was charged exactly once");

    // The method autopay uses cannot be removed.
    app.click("Payment methods").await;
    app.screen("Payment methods").await;
    s.click_xpath("//button[@aria-label='Remove Visa •••• 4242']").await;
    app.click("Yes, remove").await;
    app.sees("Go to autopay").await;
    app.axe("removal refused").await;
    let methods = s.backend.get(&s.token, "/v1/payment-methods").await;
    assert!(methods.to_string().contains("\"4242\""), "the method is still there");
    s.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_killed_before_the_answer_arrives_shows_the_payment_once_after_restart() {
    let backend = Backend::start().await;
    let proxy = FaultProxy::start(backend.server.as_ref().expect("server").addr, 6).await;
    let s = signed_in_through(backend, AppHome::new(), &proxy.url()).await;
    let bill = s.payable_bills().await.remove(0);
    let id = bill["id"].as_str().expect("id").to_string();
    let owed = s.payable(&id).await;
    let earlier = s.payments_for(&id).await;
    let before = s.payment_ids_for(&id).await;

    s.pay_screen_with(&[&id]).await;
    s.choose_saved("Visa •••• 4242").await;
    s.app.click("Continue to review").await;
    s.app.screen("Review your payment").await;
    // From here on the server handles every request and the proxy keeps every answer.
    proxy.hold_every_answer();
    s.app.click(&format!("Pay {}", usd(owed))).await;
    // (A keep-alive connection from before closes at its answer; the client re-sends on a new one.)
    let (backend, proxy, id2) = (&s.backend, &proxy, id.clone());
    s.app
        .until("the server to take the payment and its answer to be held", || {
            let id = id2.clone();
            async move {
                proxy.held() >= 1
                    && backend
                        .query_i64(format!(
                            "SELECT COUNT(*) FROM payment_allocations WHERE bill_id = '{id}'"
                        ))
                        .await
                        > earlier
            }
        })
        .await;
    assert!(
        s.app.body_text().await.contains("Sending your payment"),
        "the app is still waiting"
    );

    // The app dies with the answer still on the way; then it comes back with the network.
    let Session { backend, home, app, .. } = s;
    app.kill().await;
    proxy.set_mode(carebill_testkit::proxy::Mode::Pass);
    let s = signed_in_through(backend, home, &proxy.url()).await;
    let app = &s.app;

    // The engine re-sends the saved intent with its key: the server answers with the payment it has.
    app.until("the intent to be confirmed", || async move {
        app.invoke("unresolved", json!({})).await == json!([])
    })
    .await;
    assert_eq!(s.payments_for(&id).await, earlier + 1, "charged once");
    assert_eq!(s.payable(&id).await, 0);
    let new: Vec<String> = s
        .payment_ids_for(&id)
        .await
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(new.len(), 1, "one new payment for the bill: {new:?}");
    let number = s.backend.get(&s.token, &format!("/v1/payments/{}", new[0])).await["confirmation_number"]
        .as_str()
        .expect("number")
        .to_string();

    app.click("Payment history").await;
    app.screen("Payment history").await;
    app.sees(&number).await;
    assert_eq!(app.body_text().await.matches(&number).count(), 1, "listed once");
    s.done().await;
}
