//! Kiosk mode in the real app window: the clinic's system config (a test path, accepted only by
//! debug builds), the locked-down window, guest pay by card, a signed-in patient wiped at the idle
//! time-out, and leaving kiosk mode with the admin passcode. Every kiosk screen is checked with axe.

use std::path::{Path, PathBuf};
use std::process::Command;

use carebill_e2e::{
    App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD, KIOSK_CLINIC as CLINIC, KIOSK_PASSCODE as PASSCODE,
    app_processes, cents, kiosk_config, usd,
};
use carebill_server::seed::guest_statements;
use carebill_testkit::canary;
use serde_json::{Value, json};
use thirtyfour::prelude::*;

async fn launch_kiosk(backend: &Backend, home: &AppHome, config: &Path) -> App {
    let config = config.to_string_lossy().to_string();
    let app = App::launch_with(&backend.url, home, &[("CAREBILL_SYSTEM_CONFIG", config.as_str())]).await;
    app.screen(&format!("Welcome to {CLINIC}")).await;
    app.window_shown().await;
    app
}

/// Every file under `dir` whose bytes contain any of `needles`.
fn files_containing(dir: &Path, needles: &[String]) -> Vec<PathBuf> {
    canary::files_under(dir)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|bytes| needles.iter().any(|n| canary::contains(&bytes, n))))
        .collect()
}

/// What the page holds, markup included.
async fn page_source(app: &App) -> String {
    app.wd
        .execute("return document.documentElement.outerHTML;", vec![])
        .await
        .expect("html")
        .json()
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn web_storage_is_empty(app: &App) -> bool {
    let v = app
        .wd
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const dbs = indexedDB.databases ? indexedDB.databases() : Promise.resolve([]);
             const names = window.caches ? caches.keys() : Promise.resolve([]);
             Promise.all([dbs, names]).then(([d, c]) => done(localStorage.length + sessionStorage.length + d.length + c.length))
               .catch(() => done(localStorage.length + sessionStorage.length));",
            vec![],
        )
        .await
        .expect("storage")
        .json()
        .as_i64();
    v == Some(0)
}

/// Secrets stored under the app's keyring service, as the Secret Service reports them.
fn keyring_entries(service: &str) -> String {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", service])
        .output()
        .expect("secret-tool (libsecret-tools)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_down_kiosk_takes_a_guest_payment_and_leaves_only_with_the_passcode() {
    let backend = Backend::start().await;
    let home = AppHome::new();
    let config = kiosk_config(&home);
    let app = launch_kiosk(&backend, &home, &config).await;
    app.axe("kiosk welcome").await;

    let window = app.invoke("kiosk_status", json!({})).await;
    assert_eq!(window["kiosk"], true, "{window}");
    assert_eq!(window["fullscreen"], true, "{window}");
    assert_eq!(window["decorated"], false, "{window}");
    assert_eq!(window["resizable"], false, "{window}");
    assert_eq!(window["closable"], false, "{window}");

    // Guest pay by card.
    let statement = backend
        .state()
        .db
        .read(guest_statements)
        .await
        .expect("statements")
        .remove(0);
    app.click("Pay a bill as a guest").await;
    app.screen("Find your bill").await;
    app.axe("guest lookup").await;
    app.fill("statement-number", &statement).await;
    app.fill("last-name", "Rivera").await;
    app.fill("dob-day", "12").await;
    app.fill("dob-month", "4").await;
    app.fill("dob-year", "1985").await;
    app.click("Find my bill").await;
    app.screen("Your bill").await;
    app.sees(&statement).await;
    app.axe("guest bill").await;
    let payable_cents = backend
        .query_i64(format!(
            "SELECT total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - pending_cents
             FROM bills WHERE statement_number = '{statement}'"
        ))
        .await;
    assert!(payable_cents > 0);
    assert!(
        app.wd.find(By::Id("save-method")).await.is_err(),
        "nothing is saved on a kiosk"
    );
    app.fill_card("4242424242424242", Some("Alex Rivera")).await;
    app.click("Continue to review").await;
    app.screen("Review your payment").await;
    app.axe("guest review").await;
    app.click(&format!("Pay {}", usd(payable_cents))).await;
    app.screen("Payment received").await;
    app.axe("guest confirmation").await;
    let number = app
        .wd
        .find(By::Id("confirmation-number"))
        .await
        .expect("confirmation")
        .text()
        .await
        .expect("text");
    assert!(app.wd.find(By::Css("figure.qr svg path")).await.is_ok(), "a QR receipt");
    let paid = backend
        .query_i64(format!(
            "SELECT COUNT(*) FROM payments WHERE confirmation_number = '{number}' AND source = 'guest' AND status = 'succeeded'"
        ))
        .await;
    assert_eq!(paid, 1);
    assert_eq!(
        backend
            .query_i64(format!(
                "SELECT total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - pending_cents
                 FROM bills WHERE statement_number = '{statement}'"
            ))
            .await,
        0
    );
    app.fill("receipt-email", "pat@example.com").await;
    app.click("Send receipt").await;
    app.sees("The address is not kept").await;
    let mail: Value = backend.last_mail_to("pat@example.com").await;
    assert!(mail["body"].as_str().unwrap_or_default().contains(&number));

    // Done: the next patient finds the welcome screen and nothing of this one.
    app.click("Done").await;
    app.screen(&format!("Welcome to {CLINIC}")).await;
    let html = page_source(&app).await;
    for secret in [statement.as_str(), number.as_str(), "Rivera", &usd(payable_cents)] {
        assert!(!html.contains(secret), "{secret:?} is still in the page");
    }
    assert!(web_storage_is_empty(&app).await, "web storage is empty");

    // Leaving needs the passcode; a wrong one is refused.
    app.click("Staff: leave kiosk mode").await;
    app.fill("passcode", "not-the-passcode").await;
    app.click("Close Carebill").await;
    app.sees("That passcode is not right").await;
    assert!(!app_processes().is_empty(), "still running");
    app.axe("staff exit").await;
    app.fill("passcode", PASSCODE).await;
    app.click("Close Carebill").await;
    let start = std::time::Instant::now();
    while !app_processes().is_empty() && start.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(app_processes().is_empty(), "the app closed with the passcode");
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_patient_who_walks_away_is_warned_then_wiped() {
    let backend = Backend::start().await;
    let home = AppHome::new();
    let config = kiosk_config(&home);
    let app = launch_kiosk(&backend, &home, &config).await;
    app.click("Sign in").await;
    app.screen("Sign in").await;
    assert!(
        app.wd.find(By::Id("remember")).await.is_err(),
        "no keep me signed in on a kiosk"
    );
    app.axe("kiosk sign in").await;
    app.fill("login", DEMO_EMAIL).await;
    app.fill("password", DEMO_PASSWORD).await;
    app.click("Sign in").await;
    app.screen("Hello, Jordan").await;
    app.sees("Synced").await;
    app.axe("kiosk dashboard").await;
    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let bills = backend.open_bills(&token).await;
    let total: i64 = bills
        .iter()
        .map(|b| cents(b["payable"].as_str().unwrap_or("0.00")))
        .sum();
    app.sees(&usd(total)).await;
    app.click("Bills").await;
    app.screen("Bills").await;
    let statements: Vec<String> = bills
        .iter()
        .filter_map(|b| b["statement_number"].as_str().map(str::to_string))
        .collect();
    app.sees(&statements[0]).await;

    // Hands off: the warning comes with at least 20 seconds left, then the session ends.
    let start = std::time::Instant::now();
    while !app.body_text().await.contains("This session ends in") {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "an idle warning");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let left: u64 = app
        .wd
        .find(By::Id("idle-text"))
        .await
        .expect("warning")
        .text()
        .await
        .expect("text")
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("seconds left");
    assert!(left >= 20, "at least 20 s to continue, got {left}");
    app.axe("kiosk idle warning").await;
    let start = std::time::Instant::now();
    while !app.h1().await.contains("Welcome to") {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "wiped at the time-out"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }

    // Nothing of Jordan is left: not in the page, not in web storage, not on disk, not in the keyring.
    let html = page_source(&app).await;
    let mut secrets = vec![
        "Jordan".to_string(),
        "M200000001".to_string(),
        DEMO_EMAIL.to_string(),
        usd(total),
    ];
    secrets.extend(statements.iter().take(5).cloned());
    for s in &secrets {
        assert!(!html.contains(s.as_str()), "{s:?} is still in the page");
    }
    assert!(web_storage_is_empty(&app).await, "web storage is empty");
    let on_disk = files_containing(home.dir.path(), &secrets);
    assert!(on_disk.is_empty(), "member data on disk: {on_disk:?}");
    let ring = keyring_entries(&home.keyring_service);
    assert!(ring.is_empty(), "the keyring was written: {ring}");
    app.kill().await;
}
