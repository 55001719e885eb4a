//! The interaction harness (`cargo xtask bench ui`; ignored in the normal run, it measures rather
//! than checks). With the release app and a release server holding 1,000 open bills for the demo
//! member, it times in the page itself, from the click to the frame that shows the result:
//! switching screens, opening a bill, filtering the bills list, and submitting a card payment up
//! to the confirmation screen. Each timing starts with `performance.now()` just before the click
//! and ends after the DOM shows the result and the next frame has been produced.

use carebill_e2e::{App, AppHome, DEMO_EMAIL, DEMO_PASSWORD, percentile};
use serde_json::json;
use thirtyfour::prelude::*;

/// Clicks the element `target` selects (a CSS selector, or `nav:Label` for a main menu item) and
/// returns the milliseconds until `done` (a JS expression) is true and a frame has followed.
async fn timed(app: &App, target: &str, done: &str) -> f64 {
    let script = format!(
        "const [target, finish] = [arguments[0], arguments[arguments.length - 1]];
         const find = () => target.startsWith('nav:')
           ? [...document.querySelectorAll('nav button')].find(b => b.textContent.trim() === target.slice(4))
           : document.querySelector(target);
         const el = find();
         if (!el) {{ finish(-1); return; }}
         const ready = () => {{ try {{ return Boolean({done}); }} catch (e) {{ return false; }} }};
         const t0 = performance.now();
         let over = false;
         const end = () => {{
           if (over || !ready()) return;
           over = true;
           observer.disconnect();
           requestAnimationFrame(() => setTimeout(() => finish(performance.now() - t0), 0));
         }};
         const observer = new MutationObserver(end);
         observer.observe(document.body, {{ subtree: true, childList: true, characterData: true, attributes: true }});
         el.click();
         setTimeout(() => {{ if (!over) {{ over = true; observer.disconnect(); finish(-2); }} }}, 10000);"
    );
    let ms = app
        .wd
        .execute_async(&script, vec![json!(target)])
        .await
        .expect("timing script")
        .json()
        .as_f64()
        .unwrap_or(-3.0);
    assert!(ms >= 0.0, "{target}: the result never showed ({ms})");
    ms
}

fn report(name: &str, mut samples: Vec<f64>) {
    samples.sort_by(f64::total_cmp);
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} |",
        samples.len(),
        percentile(&samples, 50.0),
        percentile(&samples, 95.0),
        samples[samples.len() - 1]
    );
}

const H1: &str = "(document.querySelector('main h1')?.textContent ?? '')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with `cargo xtask bench ui`"]
async fn clicks_to_painted_results() {
    let api = std::env::var("CAREBILL_BENCH_API").expect("CAREBILL_BENCH_API: a server with the demo member's bills");
    let runs: usize = std::env::var("CAREBILL_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let home = AppHome::new();
    let app = App::launch(&api, &home).await;
    app.screen("Sign in").await;
    app.fill("login", DEMO_EMAIL).await;
    app.fill("password", DEMO_PASSWORD).await;
    app.click("Sign in").await;
    app.screen("Hello, Jordan").await;
    app.sees("Synced").await;

    let bills_listed = format!("{H1} === 'Bills' && document.querySelectorAll('#bills-table .row-link').length > 0");
    let dashboard = format!("{H1}.startsWith('Hello') && document.getElementById('summary-title')");
    let history = format!("{H1} === 'Payment history' && document.getElementById('history-table')");
    let detail = format!("{H1} !== 'Bills' && {H1} !== 'Bill' && document.querySelectorAll('main table').length > 0");

    let (mut switching, mut opening, mut filtering, mut paying) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        switching.push(timed(&app, "nav:Bills", &bills_listed).await);
        switching.push(timed(&app, "nav:Payment history", &history).await);
        switching.push(timed(&app, "nav:Dashboard", &dashboard).await);
        switching.push(timed(&app, "nav:Bills", &bills_listed).await);
        opening.push(timed(&app, "#bills-table .row-link", &detail).await);
        switching.push(timed(&app, "nav:Bills", &bills_listed).await);
        // Status filters: each changes the count the list announces.
        for label in ["Paid", "All", "Open"] {
            let shown = app
                .wd
                .execute(
                    "return document.querySelector('p[role=status].hint')?.textContent ?? ''",
                    vec![],
                )
                .await
                .expect("status line")
                .json()
                .as_str()
                .unwrap_or_default()
                .to_string();
            let selector = match label {
                "Paid" => ".segmented button:nth-child(2)",
                "All" => ".segmented button:nth-child(3)",
                _ => ".segmented button:nth-child(1)",
            };
            let changed = format!(
                "document.querySelector('p[role=status].hint')?.textContent !== {} && document.querySelector('{selector}').getAttribute('aria-pressed') === 'true'",
                json!(shown)
            );
            filtering.push(timed(&app, selector, &changed).await);
        }
    }
    // Card payments: the form and review are prepared through WebDriver, the submit is timed.
    for _ in 0..runs {
        app.click("Dashboard").await;
        app.screen("Hello, Jordan").await;
        app.click("Pay").await;
        app.screen("Pay bills").await;
        let a = &app;
        a.until("the payable bills to be listed", || async move {
            a.wd.find(By::Css("input[type=checkbox][id^='bill-']")).await.is_ok()
        })
        .await;
        app.wd
            .execute(
                "document.querySelector('input[type=checkbox][id^=\"bill-\"]').click()",
                vec![],
            )
            .await
            .expect("tick a bill");
        app.wd
            .execute(
                "[...document.querySelectorAll('label')].find(l => l.textContent.trim().startsWith('Visa •••• 4242')).click()",
                vec![],
            )
            .await
            .expect("choose the saved Visa");
        app.click("Continue to review").await;
        app.screen("Review your payment").await;
        let pay_button = "main button.primary";
        paying.push(timed(&app, pay_button, "document.getElementById('confirmation-number')").await);
        app.screen("Payment received").await;
    }
    app.quit().await;

    println!("\n| Interaction | Samples | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|");
    report("Switch screen (menu, list loaded)", switching);
    report("Open a bill (row to line items)", opening);
    report("Filter bills (Open / Paid / All)", filtering);
    report("Submit card payment to confirmation", paying);
}
