//! The billing office console in a real browser (Debian's Chromium under chromedriver, headless),
//! driven by visible labels: the demo agent signs in with a password and a TOTP code, finds the
//! member's question in the inbox, takes it and replies; opening another member's account asks
//! for a reason; the supervisor sees the team and the audit log. Then the member's desktop app
//! shows the reply by the agent's name, and the "You have a reply" mail is in the demo mailbox.
//! axe-core runs on every console screen.

use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD, sign_in_staff};
use carebill_server::seed::{DEMO_AGENT_EMAIL, DEMO_STAFF_PASSWORD, DEMO_SUPERVISOR_EMAIL};
use serde_json::json;

use crate::sign_in;

const REPLY: &str = "We found your front desk payment and corrected the bill.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_answers_a_question_in_the_console_and_the_member_reads_it_in_the_app() {
    let backend = Backend::start().await;
    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let asked: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/v1/conversations", backend.url))
        .bearer_auth(&token)
        .header("Idempotency-Key", "e2e-console-question")
        .json(&json!({"topic": "already_paid", "body": "I paid this at the front desk last week."}))
        .send()
        .await
        .expect("ask")
        .json()
        .await
        .expect("json");
    let reference = asked["reference"].as_str().expect("a reference").to_string();
    let base = backend.console_url();

    let console = App::browse(&format!("{base}/")).await;
    console.screen("Sign in to the billing office console").await;
    console.axe("console sign-in").await;
    // A wrong code is refused on the page, nothing else said.
    console.fill("email", DEMO_AGENT_EMAIL).await;
    console.fill("password", DEMO_STAFF_PASSWORD).await;
    let right = backend.staff_code();
    console
        .fill("code", if right == "000000" { "111111" } else { "000000" })
        .await;
    console.click("Sign in").await;
    console.sees("do not match").await;
    console.axe("console sign-in, refused").await;
    sign_in_staff(&console, &backend, DEMO_AGENT_EMAIL).await;
    // The cookie works over loopback (SameSite=Strict, HttpOnly: the page cannot read it).
    let cookie = console
        .wd
        .execute("return document.cookie;", vec![])
        .await
        .expect("script")
        .json()
        .clone();
    assert_eq!(cookie, json!(""), "the session cookie is HttpOnly");
    console.sees(&reference).await;
    console.sees("Jordan Lee").await;
    console.axe("console inbox").await;

    console.click(&reference).await;
    console.screen(&format!("{reference}: Already paid")).await;
    console.axe("console conversation").await;
    console.click("Assign to me").await;
    console
        .until("the conversation to be Dana's", || async {
            console.body_text().await.contains("Assigned to\nDana")
        })
        .await;
    console.fill("note", "Front desk log shows the payment.").await;
    console.click("Add note").await;
    console.sees("members never see notes").await;
    console.fill("reply", REPLY).await;
    console.click("Send reply").await;
    console.sees(REPLY).await;
    console.sees("Dana, billing office").await;
    console.axe("console conversation, answered").await;

    // Another member's account asks for a reason first.
    console
        .wd
        .goto(format!(
            "{base}/members/{}",
            carebill_server::seed::UNREGISTERED_MEMBER_ID
        ))
        .await
        .expect("open a member");
    console.screen("Why do you need this account?").await;
    console.axe("console reason").await;
    console
        .fill("open-reason", "Paper statement returned by the post office")
        .await;
    console.click("Open the account").await;
    console.screen("Alex Rivera").await;
    console.sees("Read-only view").await;
    console.axe("console member").await;
    console.click("Find a member").await;
    console.screen("Find a member").await;
    console.axe("console find").await;
    console.click("Sign out").await;
    console.screen("Sign in to the billing office console").await;

    // The supervisor: the team and the audit log, with the agent's work in it.
    sign_in_staff(&console, &backend, DEMO_SUPERVISOR_EMAIL).await;
    console.click("Team").await;
    console.screen("Team").await;
    console.sees("Queues by staff member").await;
    console.axe("console team").await;
    console.click("Audit log").await;
    console.screen("Audit log").await;
    console.sees("conversation replied").await;
    console.sees("Paper statement returned by the post office").await;
    console.axe("console audit log").await;
    console.click("Sign out").await;
    console.wd.goto(format!("{base}/setup")).await.expect("open setup");
    console.screen("Set up your sign-in").await;
    console.axe("console setup").await;
    console.quit().await;

    // The member reads the reply in the desktop app, and got a mail without its text.
    let mail = backend.last_mail_to(DEMO_EMAIL).await;
    assert!(mail.to_string().contains(&reference), "{mail}");
    assert!(!mail.to_string().contains(REPLY));
    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.click_xpath("//nav//button[starts-with(normalize-space(), 'Messages')]")
        .await;
    app.screen("Messages").await;
    app.sees("Answered").await;
    app.click_xpath("//table[@id='conversations-table']//button[contains(@class, 'row-link')]")
        .await;
    app.sees(REPLY).await;
    app.sees("Dana, billing office").await;
    app.quit().await;
}
