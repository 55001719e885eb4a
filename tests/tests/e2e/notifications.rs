//! Account -> Notifications in the real app: a member turns off the email for new bills, saves,
//! and a new bill brings no mail; turned on again, the next bill's mail comes, once. The switches
//! pass axe, and the section is left as a screenshot.

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
    issue_a_bill(&backend).await;
    assert_eq!(new_bill_mails(&backend).await, 0, "switched off: no mail");

    toggle_new_bill_email_and_save(&app).await;
    assert_eq!(backend.query_i64(off.into()).await, 0);
    issue_a_bill(&backend).await;
    assert_eq!(new_bill_mails(&backend).await, 1, "switched on: the next bill's mail");
    app.quit().await;
}
