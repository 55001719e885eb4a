//! The member's journeys through the real app window, against the real server on loopback.
//! Every screen visited is checked with axe-core (WCAG 2.1 A and AA).

mod claims;
mod console;
mod documents;
mod kiosk;
mod messages;
mod notifications;
mod pay;
mod plans;
mod spanish;
mod text_size;
mod update;

use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD, cents, usd};
use thirtyfour::prelude::*;

const ALEX_EMAIL: &str = "alex.rivera@example.org";
const GOOD_PASSWORD: &str = "maple kettle orbit 42";
const NEW_PASSWORD: &str = "lantern quiet harbor 77";

/// The first run of `len` characters of `body` that `ok` accepts, after `marker`.
fn code_in(body: &str, marker: &str, len: usize, ok: fn(char) -> bool) -> String {
    let rest = &body[body.find(marker).unwrap_or_else(|| panic!("{marker:?} in {body:?}")) + marker.len()..];
    let start = rest.find(ok).expect("a code");
    rest[start..].chars().take(len).collect()
}

pub(crate) async fn sign_in(app: &App, login: &str, password: &str, remember: bool) {
    app.screen("Sign in").await;
    app.fill("login", login).await;
    app.fill("password", password).await;
    if remember {
        app.check("remember").await;
    }
    app.click("Sign in").await;
}

/// After a password change or reset: the old password is refused, the new one signs in.
async fn only_the_new_password_works(app: &App) {
    sign_in(app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.sees("There is a problem").await;
    sign_in(app, DEMO_EMAIL, NEW_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
}

async fn field_error(app: &App, id: &str) -> String {
    app.until(&format!("an error on #{id}"), || async move {
        app.wd.find(By::Id(format!("{id}-error"))).await.is_ok()
    })
    .await;
    app.wd
        .find(By::Id(format!("{id}-error")))
        .await
        .expect("error")
        .text()
        .await
        .expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_with_a_weak_then_a_good_password_and_verify_by_email() {
    let backend = Backend::start().await;
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;

    app.screen("Sign in").await;
    app.sees("Demo server").await;
    app.axe("sign in").await;
    app.click("Create an account").await;
    app.screen("Create your Carebill account").await;
    app.axe("register").await;

    app.fill("member-id", "M200000002").await;
    app.fill("first-name", "Alex").await;
    app.fill("last-name", "Rivera").await;
    // Month, day, year, the US order; a whole date typed into the first field fills all three.
    app.fill("dob-month", "4/12/1985").await;
    app.fill("email", ALEX_EMAIL).await;
    app.fill("password", "password123").await;
    app.click("Create account").await;
    let weak = field_error(&app, "password").await;
    assert!(!weak.is_empty(), "a weak password is explained");
    app.sees("There is a problem").await;
    app.axe("register with errors").await;
    let accounts = backend
        .query_i64("SELECT COUNT(*) FROM accounts WHERE member_id = 'M200000002'".into())
        .await;
    assert_eq!(accounts, 0, "a refused form changes nothing on the server");

    app.fill("password", GOOD_PASSWORD).await;
    app.click("Create account").await;
    app.screen("Confirm your email address").await;
    app.axe("verify").await;

    let mail = backend.last_mail_to(ALEX_EMAIL).await;
    let code = code_in(mail["body"].as_str().expect("body"), "confirmation code is", 6, |c| {
        c.is_ascii_digit()
    });
    app.fill("code", "000000").await;
    app.click("Confirm").await;
    field_error(&app, "code").await;
    app.fill("code", &code).await;
    app.click("Confirm").await;
    app.screen("Sign in").await;
    app.sees("Your email address is confirmed").await;

    sign_in(&app, "M200000002", GOOD_PASSWORD, false).await;
    app.screen("Hello, Alex").await;
    app.quit().await;
}

/// The bills list as laid out in the window. Every cell holds what it shows: no header, amount,
/// badge or button runs into the next column. And no row is shorter than `ROW_FLOOR_PX` in
/// Bills.svelte: the list's first frame builds only the rows the window's height can show, counted
/// at that floor, so a shorter row would leave the bottom of the window empty at the first paint.
pub(crate) async fn the_bills_list_fits_its_cells(app: &App) {
    let source = include_str!("../../../ui/src/screens/Bills.svelte");
    let floor: f64 = source
        .split_once("const ROW_FLOOR_PX = ")
        .and_then(|(_, rest)| rest.split_once(';'))
        .and_then(|(value, _)| value.parse().ok())
        .expect("ROW_FLOOR_PX in Bills.svelte");
    let measured = app
        .wd
        .execute(
            "const table = document.getElementById('bills-table');
             const cells = Array.from(table.querySelectorAll('th, td'));
             return {
               heights: Array.from(table.querySelectorAll('tbody tr'), (r) => r.getBoundingClientRect().height),
               overflowing: cells.filter((c) => c.scrollWidth > c.clientWidth + 1)
                 .map((c) => `${c.textContent.trim()}: ${c.scrollWidth} px in ${c.clientWidth}`),
             };",
            Vec::new(),
        )
        .await
        .expect("the bills list measured");
    let measured = measured.json();
    let heights: Vec<f64> = serde_json::from_value(measured["heights"].clone()).expect("heights");
    assert!(!heights.is_empty(), "no bills rows");
    assert!(
        heights.iter().all(|h| *h >= floor),
        "rows shorter than {floor} px: {heights:?}"
    );
    assert_eq!(
        measured["overflowing"],
        serde_json::json!([]),
        "cells whose content runs out of them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_a_bill_show_what_the_server_has() {
    let backend = Backend::start().await;
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;

    app.screen("Sign in").await;
    app.window_shown().await;
    app.fill("login", DEMO_EMAIL).await;
    app.fill("password", "not the password").await;
    app.click("Sign in").await;
    app.sees("There is a problem").await;
    app.axe("sign in refused").await;

    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.sees("Synced").await;

    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let open = backend.open_bills(&token).await;
    let total: i64 = open
        .iter()
        .map(|b| cents(b["payable"].as_str().expect("payable")))
        .sum();
    let balance: i64 = open
        .iter()
        .map(|b| cents(b["balance"].as_str().expect("balance")))
        .sum();
    let total_card = app
        .wd
        .find(By::XPath(
            "//button[span[@class='label'][.='Total balance']]/span[@class='value']",
        ))
        .await;
    assert_eq!(
        total_card.expect("total card").text().await.expect("text"),
        usd(balance)
    );
    app.sees(&format!("Pay what you owe now, {}", usd(total))).await;
    app.sees(&format!("{} bills with something left to pay", open.len()))
        .await;
    app.axe("dashboard").await;

    app.click("View bills").await;
    app.screen("Bills").await;
    app.sees(&format!("of {} bills", open.len())).await;
    app.axe("bills").await;
    the_bills_list_fits_its_cells(&app).await;

    // The soonest-due open bill is first; open it and compare every line item.
    let first = open
        .iter()
        .min_by_key(|b| {
            (
                b["due_date"].as_str().unwrap_or_default().to_string(),
                b["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .expect("an open bill");
    let detail = backend
        .get(&token, &format!("/v1/bills/{}", first["id"].as_str().expect("id")))
        .await;
    app.open_first_bill().await;
    app.screen(first["provider"].as_str().expect("provider")).await;
    app.axe("bill detail").await;

    let items = detail["line_items"].as_array().expect("line items");
    let rows = app
        .wd
        .find_all(By::XPath(
            "//caption[starts-with(., 'Services on this bill')]/../tbody/tr",
        ))
        .await
        .expect("rows");
    assert_eq!(rows.len(), items.len());
    let mut owed = 0;
    for (row, item) in rows.iter().zip(items) {
        let cells: Vec<String> = {
            let mut v = Vec::new();
            for td in row.find_all(By::Tag("td")).await.expect("cells") {
                v.push(td.text().await.expect("text"));
            }
            v
        };
        assert!(
            cells[0].starts_with(item["description"].as_str().expect("description")),
            "{cells:?}"
        );
        assert!(
            cells[0].ends_with(&format!("code {}", item["code"].as_str().expect("code"))),
            "{cells:?}"
        );
        assert_eq!(cells[2], usd(cents(item["charge"].as_str().expect("charge"))));
        assert_eq!(
            cells[5],
            usd(cents(item["patient_responsibility"].as_str().expect("owe")))
        );
        owed += cents(item["patient_responsibility"].as_str().expect("owe"));
    }
    let foot = app
        .wd
        .find(By::XPath(
            // The fourth amount: what the member owes (the column after it holds each line's "Ask").
            "//caption[starts-with(., 'Services on this bill')]/../tfoot/tr/td[4]",
        ))
        .await
        .expect("total");
    assert_eq!(
        foot.text().await.expect("text"),
        usd(owed),
        "the line items add up to the bill's total"
    );
    assert_eq!(
        usd(owed),
        usd(cents(detail["amount_due"].as_str().expect("amount due")))
    );
    // The bill adds up on screen down to what the server says is owed now.
    for (row, field) in [
        ("Your responsibility", "amount_due"),
        ("Payments you made", "payments_made"),
        ("You owe now", "payable"),
    ] {
        let cell = app
            .wd
            .find(By::XPath(format!(
                "//table[contains(@class, 'adds-up')]//tr[th[normalize-space()={row:?}]]/td"
            )))
            .await
            .expect("row")
            .text()
            .await
            .expect("text");
        let expected = usd(cents(detail[field].as_str().expect(field)));
        assert_eq!(cell.trim_start_matches("− "), expected, "{row}");
    }
    app.sees("1-800-555-0142").await;

    app.click("← Back to bills").await;
    app.screen("Bills").await;
    app.click("Help").await;
    app.screen("Help").await;
    app.sees("1-800-555-0142").await;
    app.axe("help").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_with_the_emailed_code() {
    let backend = Backend::start().await;
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;

    app.screen("Sign in").await;
    app.click("Forgot your password?").await;
    app.screen("Reset your password").await;
    app.axe("forgot password").await;
    app.fill("email", "not an email").await;
    app.click("Send me a code").await;
    field_error(&app, "email").await;
    app.fill("email", DEMO_EMAIL).await;
    app.click("Send me a code").await;
    app.screen("Set a new password").await;
    app.axe("reset password").await;

    let mail = backend.last_mail_to(DEMO_EMAIL).await;
    let code = code_in(mail["body"].as_str().expect("body"), "reset code is", 9, |c| {
        c.is_ascii_alphanumeric()
    });
    app.fill("code", &code).await;
    app.fill("new-password", NEW_PASSWORD).await;
    app.click("Change password").await;
    app.screen("Sign in").await;
    app.sees("Your password is changed").await;

    only_the_new_password_works(&app).await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_changes_the_password_and_signs_out() {
    let backend = Backend::start().await;
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;

    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.click("Account").await;
    app.screen("Account and settings").await;
    app.axe("account").await;

    app.fill("current-password", "wrong current password").await;
    app.fill("new-password", NEW_PASSWORD).await;
    app.click("Change password").await;
    field_error(&app, "current-password").await;
    app.axe("account with errors").await;

    app.fill("current-password", DEMO_PASSWORD).await;
    app.fill("new-password", NEW_PASSWORD).await;
    app.click("Change password").await;
    app.sees("Your password is changed").await;

    app.click("Sign out").await;
    app.screen("Sign in").await;
    app.sees("You are signed out.").await;
    only_the_new_password_works(&app).await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_me_signed_in_survives_a_restart_and_plain_sign_in_does_not() {
    let backend = Backend::start().await;

    let kept = AppHome::new();
    let app = App::launch(&backend.url, &kept).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, true).await;
    app.screen("Hello, Jordan").await;
    app.quit().await;
    let app = App::launch(&backend.url, &kept).await;
    app.screen("Hello, Jordan").await;
    app.quit().await;

    let plain = AppHome::new();
    let app = App::launch(&backend.url, &plain).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.quit().await;
    let app = App::launch(&backend.url, &plain).await;
    app.screen("Sign in").await;
    app.quit().await;
}

/// Signs the demo member out everywhere over the API, as another device would: every session of
/// theirs is revoked, the app's among them.
async fn sign_out_everywhere_elsewhere(backend: &Backend) {
    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    assert_eq!(backend.delete(&token, "/v1/sessions").await, 204);
}

/// What the page shows and can reach of the member: nothing once the service refused the session.
async fn nothing_of_the_member(app: &App) {
    // (The sign-in screen shows the demo member ID as an example; the name is the member's.)
    let text = app.body_text().await;
    assert!(!text.contains("Jordan") && !text.contains("Bills"), "{text}");
    let dashboard = app.invoke("dashboard", serde_json::json!({})).await;
    assert_eq!(dashboard["error"]["code"], "not_signed_in", "{dashboard}");
}

/// Issue 23: the app asks the service about a remembered session while WebKit starts, and shows
/// the member's data only once the service confirmed it. A session revoked elsewhere (sign out
/// everywhere, a new password, a reported laptop) never shows a bill with the service reachable:
/// not at the next start, and not in an open app, whose screen is cleared and copy closed the
/// moment the service refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_revoked_elsewhere_never_shows_a_bill() {
    let backend = Backend::start().await;
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, true).await;
    app.screen("Hello, Jordan").await;
    app.sees("Synced").await;
    app.quit().await;

    // Revoked while the app was closed: the next start opens at "Sign in".
    sign_out_everywhere_elsewhere(&backend).await;
    let app = App::launch(&backend.url, &home).await;
    app.screen("Sign in").await;
    nothing_of_the_member(&app).await;
    app.quit().await;
    // And the one after (the remembered session is forgotten, not tried again).
    let app = App::launch(&backend.url, &home).await;
    app.screen("Sign in").await;

    // Revoked while the app is open, on the bills list: the next sync is refused, and the
    // screen and the copy close.
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, true).await;
    app.screen("Hello, Jordan").await;
    app.click("View bills").await;
    app.screen("Bills").await;
    sign_out_everywhere_elsewhere(&backend).await;
    app.invoke("sync_now", serde_json::json!({})).await;
    app.screen("Sign in").await;
    app.sees("Your session has ended").await;
    nothing_of_the_member(&app).await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_server_gone_saved_bills_open_with_the_password_only() {
    let mut backend = Backend::start().await;
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.sees("Synced").await;
    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let open = backend.open_bills(&token).await;
    app.quit().await;

    let url = backend.url.clone();
    backend.stop().await;
    let app = App::launch(&url, &home).await;
    app.screen("You are offline").await;
    app.axe("offline unlock").await;

    app.fill("login", DEMO_EMAIL).await;
    app.fill("password", "not the password").await;
    app.click("Open saved bills").await;
    app.sees("There is a problem").await;
    assert_eq!(app.h1().await, "You are offline", "a wrong password opens nothing");

    app.fill("password", DEMO_PASSWORD).await;
    app.click("Open saved bills").await;
    app.screen("Hello, Jordan").await;
    app.sees("Offline:").await;
    app.axe("dashboard offline").await;
    app.click("View bills").await;
    app.screen("Bills").await;
    app.sees(&format!("of {} bills", open.len())).await;
    app.sees("Offline:").await;
    app.quit().await;
}

/// Review finding 15: the lock screen hides everything of the member: it is opaque, and the
/// screens behind it are not in the page or the accessibility tree until the password is given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_screen_leaves_nothing_of_the_member_in_the_page() {
    let backend = Backend::start().await;
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.invoke("lock", serde_json::json!({})).await;
    app.sees("Carebill is locked").await;
    let text = app.body_text().await;
    assert!(!text.contains("Jordan") && !text.contains("M200000001"), "{text}");
    let page = app
        .wd
        .execute("return document.body.innerHTML;", Vec::new())
        .await
        .expect("page");
    let html = page.json().as_str().unwrap_or_default().to_string();
    assert!(
        !html.contains("Jordan") && !html.contains("<main"),
        "the screens are gone from the page"
    );
    app.axe("lock screen").await;
    app.fill("unlock-password", DEMO_PASSWORD).await;
    app.click("Unlock").await;
    app.screen("Hello, Jordan").await;
    app.quit().await;
}
