//! The README's screenshots, from the real app against the demo data: `cargo xtask screenshots`
//! (ignored in the normal run; it writes files rather than checking anything).

use std::path::PathBuf;

use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD};
use thirtyfour::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots; run with `cargo xtask screenshots`"]
async fn take_the_readme_screenshots() {
    let out = PathBuf::from(std::env::var_os("CAREBILL_SCREENSHOTS").expect("CAREBILL_SCREENSHOTS names the folder"));
    std::fs::create_dir_all(&out).expect("screenshot folder");
    let backend = Backend::start().await;
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;
    let _ = app.wd.set_window_rect(0, 0, 1200, 820).await;

    app.screen("Sign in").await;
    app.sees("Demo server").await;
    app.screenshot(&out.join("sign-in.png")).await;

    app.fill("login", DEMO_EMAIL).await;
    app.fill("password", DEMO_PASSWORD).await;
    app.click("Sign in").await;
    app.screen("Hello, Jordan").await;
    app.sees("Synced").await;
    app.screenshot(&out.join("dashboard.png")).await;

    app.click("View bills").await;
    app.screen("Bills").await;
    app.screenshot(&out.join("bills.png")).await;

    app.wd
        .find(By::Css("#bills-table .row-link"))
        .await
        .expect("a bill row")
        .click()
        .await
        .expect("click");
    app.sees("How the amount adds up").await;
    app.screenshot(&out.join("bill-detail.png")).await;

    app.click("Pay this bill").await;
    app.screen("Pay bills").await;
    app.sees("Visa •••• 4242").await;
    app.screenshot(&out.join("pay.png")).await;
    app.click("Continue to review").await;
    app.screen("Review your payment").await;
    app.screenshot(&out.join("review.png")).await;
    app.quit().await;
}
