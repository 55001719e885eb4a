//! Text size at Largest (200%, WCAG 1.4.4): every member screen reflows with no sideways scrolling
//! of the page and no clipped text, passes axe, and leaves a screenshot for people to look at
//! (`target/screenshots/text-largest/`).

use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD, root};
use thirtyfour::prelude::*;

use crate::sign_in;

async fn check(app: &App, name: &str) {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let problems = app.layout_problems().await;
    assert!(problems.is_empty(), "{name} at the largest text size: {problems:#?}");
    app.axe(&format!("{name} at the largest text size")).await;
    let dir = root().join("target/screenshots/text-largest");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    app.screenshot(&dir.join(format!("{name}.png"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_largest_text_size_every_screen_reflows_without_clipping() {
    let backend = Backend::start().await;
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;
    let _ = app.wd.set_window_rect(0, 0, 1200, 820).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.sees("Synced").await;

    // Chosen in Account, and kept on the device.
    app.click("Account").await;
    app.screen("Account and settings").await;
    app.check("text-size-largest").await;
    let size = app
        .wd
        .execute("return document.documentElement.dataset.textSize;", vec![])
        .await
        .expect("script");
    assert_eq!(size.json().as_str(), Some("largest"));
    let font = app
        .wd
        .execute("return getComputedStyle(document.documentElement).fontSize;", vec![])
        .await
        .expect("script");
    assert_eq!(font.json().as_str(), Some("32px"), "twice the normal 16 px");
    check(&app, "account").await;

    for (nav, heading, name) in [
        ("Dashboard", "Hello, Jordan", "dashboard"),
        ("Bills", "Bills", "bills"),
        ("Payment history", "Payment history", "history"),
        ("Payment methods", "Payment methods", "methods"),
        ("Autopay", "Autopay", "autopay"),
        ("Help", "Help", "help"),
    ] {
        app.click(nav).await;
        app.screen(heading).await;
        check(&app, name).await;
    }

    app.click("Bills").await;
    app.screen("Bills").await;
    app.open_first_bill().await;
    app.sees("How this bill adds up").await;
    check(&app, "bill").await;

    app.click("Pay this bill").await;
    app.screen("Pay bills").await;
    app.sees("Visa •••• 4242").await;
    // The saved Visa (the first saved method may be the bank account, which needs its authorization).
    app.click_xpath("//label[starts-with(normalize-space(), 'Visa •••• 4242')]")
        .await;
    check(&app, "pay").await;
    app.click("Continue to review").await;
    app.screen("Review your payment").await;
    check(&app, "review").await;
    app.click_xpath("//button[starts-with(normalize-space(), 'Pay $')]")
        .await;
    app.screen("Payment received").await;
    check(&app, "confirmation").await;
    app.click("View receipt").await;
    app.screen("Receipt").await;
    check(&app, "receipt").await;

    // The zoom keys step back down, and the choice outlives a restart of the app.
    app.wd
        .find(By::Tag("body"))
        .await
        .expect("body")
        .send_keys(Key::Control + "-")
        .await
        .expect("keys");
    let size = app
        .wd
        .execute("return document.documentElement.dataset.textSize;", vec![])
        .await
        .expect("script");
    assert_eq!(size.json().as_str(), Some("large"));
    app.quit().await;
    let again = App::launch(&backend.url, &home).await;
    again.screen("Sign in").await;
    let size = again
        .wd
        .execute("return document.documentElement.dataset.textSize;", vec![])
        .await
        .expect("script");
    assert_eq!(size.json().as_str(), Some("large"), "kept on this device");
    again.quit().await;
}
