//! Account -> Notifications in the real app: a member turns off the email for new bills, saves,
//! and a new bill brings no mail; turned on again, the next bill's mail comes, once. The switches
//! pass axe, and the section is left as a screenshot.
//!
//! The desktop switch stays on meanwhile: the app announces the bill on this computer, once,
//! through the desktop's notification service (a recording one on the test's D-Bus session) with
//! words that name no provider, and keeps it in the app's list, offered on the dashboard.

use carebill_e2e::notifications::NotificationService;
use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD, root};
use serde_json::json;

use crate::sign_in;

const NEW_BILL: &str = "Carebill: you have a new bill";

async fn new_bill_mails(backend: &Backend) -> i64 {
    backend
        .query_i64(format!(
            "SELECT COUNT(*) FROM outbox WHERE to_addr = '{DEMO_EMAIL}' AND subject = '{NEW_BILL}'"
        ))
        .await
}

async fn toggle_new_bill_email_and_save(app: &App) {
    app.check("notice-new_bill-email").await;
    app.click("Save notifications").await;
    app.sees("Your notification choices are saved.").await;
}

/// A new bill for the demo member, then an hour on the business clock (a scheduler pass).
async fn issue_a_bill(backend: &Backend) {
    backend.post("/dev/bills", json!({})).await;
    backend.post("/dev/clock", json!({"advance": "PT1H"})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_turned_off_is_not_sent_and_turned_on_again_it_is() {
    let backend = Backend::start().await;
    // The bills the test issues are to be the only news: no business day turns during the test.
    backend.business_clock_to_noon().await;
    let desktop = NotificationService::start().await;
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.click("Account").await;
    app.screen("Account and settings").await;
    app.sees("Notifications").await;
    app.sees("A new bill arrives").await;
    app.axe("account with notifications").await;
    // For people to look at: target/screenshots/account-notifications.png.
    app.wd
        .execute(
            "document.getElementById('notifications-title').scrollIntoView({block: 'start'}); window.scrollBy(0, 0);",
            vec![],
        )
        .await
        .expect("scroll");
    let dir = root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    app.screenshot(&dir.join("account-notifications.png")).await;

    toggle_new_bill_email_and_save(&app).await;
    let off = "SELECT COUNT(*) FROM notification_preferences WHERE member_id = 'M200000001' AND NOT email_new_bill";
    assert_eq!(backend.query_i64(off.into()).await, 1, "saved on the service");
    // The copy's first decision (at sign-in) is behind us: what follows is news.
    app.invoke("sync_now", json!({})).await;
    issue_a_bill(&backend).await;
    assert_eq!(new_bill_mails(&backend).await, 0, "switched off: no mail");

    // On this computer, the new bill is announced: on the screen, by the desktop's service, in
    // words that name no provider; and in the app, where the dashboard offers the list.
    app.invoke("sync_now", json!({})).await;
    let listed = app.invoke("notices", json!({})).await;
    let notice = &listed["notices"][0];
    assert_eq!(notice["kind"], "new_bill", "{listed}");
    let bill = app.invoke("bill", json!({"id": notice["target"]["bill_id"]})).await;
    let provider = bill["bill"]["provider"]
        .as_str()
        .unwrap_or_else(|| panic!("the bill: {bill}"))
        .to_string();
    let screen_words = notice["screen_body"].as_str().expect("the screen's words").to_string();
    app.until("the desktop to show the notice", || async {
        desktop.shown().iter().any(|n| n.body == screen_words)
    })
    .await;
    let shown: Vec<_> = desktop.shown().into_iter().filter(|n| n.body == screen_words).collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0].summary, "New bill");
    assert!(!shown[0].body.contains(&provider), "{shown:?}");
    assert!(notice["body"].as_str().unwrap_or_default().contains(&provider));
    app.click("Dashboard").await;
    app.sees("You have 1 notification you have not seen.").await;
    app.click("See notifications").await;
    app.screen("Notifications").await;
    app.sees("New bill").await;
    app.axe("notifications list").await;
    app.screenshot(&dir.join("notifications.png")).await;
    let listed = app.invoke("notices", json!({})).await;
    assert_eq!(listed["notices"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed["notices"][0]["kind"], "new_bill");
    assert_eq!(listed["unread"], 0, "seen once the list was opened");
    app.invoke("sync_now", json!({})).await;
    let again = app.invoke("notices", json!({})).await;
    assert_eq!(again["notices"].as_array().map(Vec::len), Some(1), "announced once");
    assert_eq!(
        desktop.shown().iter().filter(|n| n.body == screen_words).count(),
        1,
        "shown once"
    );
    app.click("Account").await;
    app.screen("Account and settings").await;

    toggle_new_bill_email_and_save(&app).await;
    assert_eq!(backend.query_i64(off.into()).await, 0);
    issue_a_bill(&backend).await;
    assert_eq!(new_bill_mails(&backend).await, 1, "switched on: the next bill's mail");
    app.quit().await;
}
