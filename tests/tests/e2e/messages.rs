//! Asking the billing office in the real app window, by visible labels: the member asks about a
//! line of a bill with a PDF attached, the bill shows "Under review", the billing office answers
//! with `carebill-server staff reply` (the real command line, on the server's own database), and
//! after a sync the app announces the reply, counts it in the sidebar, shows it by the staff
//! member's name, and the "You have a reply" mail (without the reply's text) is in the demo
//! mailbox. Every screen is checked with axe.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD, server_binary};
use serde_json::json;

use crate::sign_in;

const REPLY: &str = "Line 1 is the emergency visit on your statement; your plan has not processed it yet.";

/// Chooses a file for the `<input type=file>` `#id` as the file picker would (WebDriver cannot
/// drive the native dialog): a File with these bytes, and the input's change event.
async fn choose_file(app: &App, id: &str, name: &str, bytes: &[u8]) {
    app.wd
        .execute(
            "const [id, name, data] = arguments;
             const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
             const input = document.getElementById(id);
             const files = new DataTransfer();
             files.items.add(new File([bytes], name, { type: 'application/pdf' }));
             input.files = files.files;
             input.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![json!(id), json!(name), json!(STANDARD.encode(bytes))],
        )
        .await
        .expect("a file is chosen");
}

/// `carebill-server staff reply`, as billing staff would run it on the demo server's machine.
fn staff_reply(backend: &Backend, reference: &str) {
    let config = &backend.state().config;
    let out = std::process::Command::new(server_binary())
        .arg("--data-dir")
        .arg(&config.data_dir)
        .arg("--demo")
        .args([
            "staff",
            "reply",
            "--reference",
            reference,
            "--name",
            "Dana",
            "--body",
            REPLY,
        ])
        .env("CAREBILL_DB_KEY", config.database_key.to_hex())
        .output()
        .expect("carebill-server runs (built with the tests)");
    assert!(
        out.status.success(),
        "staff reply failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_asks_about_a_line_with_a_pdf_and_reads_the_billing_offices_reply() {
    let backend = Backend::start().await;
    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let bill = backend.open_bills(&token).await[0].clone();
    let statement = bill["statement_number"].as_str().expect("statement").to_string();

    let home = AppHome::new();
    let app = App::launch(&backend.url, &home).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;
    app.sees("Synced").await;

    app.click("Bills").await;
    app.screen("Bills").await;
    app.open_bill_by_statement(&statement).await;
    app.sees("Services").await;
    app.click("Ask").await;
    app.screen("Ask the billing office").await;
    app.sees(&format!("statement {statement}")).await;
    app.sees("Line 1:").await;
    app.check("topic-1").await; // Insurance should have paid
    app.fill("ask-body", "Why did insurance not pay for line 1?").await;
    choose_file(
        &app,
        "ask-files",
        "statement.pdf",
        &carebill_testkit::samples::pdf("My statement"),
    )
    .await;
    app.sees("statement.pdf").await;
    app.axe("ask the billing office").await;
    app.click("Send").await;
    app.screen("Insurance should have paid").await;
    app.sees("Sent. Your reference number is Q-").await;
    app.sees("Open").await;
    app.axe("conversation").await;

    // The server has the question, its PDF, and the hold on the bill.
    let listed = backend.get(&token, "/v1/conversations").await;
    let conversation = listed["data"][0].clone();
    let reference = conversation["reference"].as_str().expect("reference").to_string();
    assert_eq!(conversation["line"], 1);
    assert_eq!(conversation["messages"][0]["attachments"][0]["kind"], "pdf");
    app.click("Open the bill").await;
    app.sees("Under review").await;
    app.axe("bill under review").await;

    // The billing office answers from the command line; the app syncs.
    staff_reply(&backend, &reference);
    let mail = backend.last_mail_to(DEMO_EMAIL).await;
    assert_eq!(mail["subject"], "Carebill: you have a reply");
    let text = mail["body"].as_str().expect("body");
    assert!(text.contains(&reference), "{text}");
    assert!(
        !text.contains("emergency visit"),
        "the mail carries no message text: {text}"
    );
    let _ = app.invoke("sync_now", json!({})).await;
    app.until("the reply announced", || async {
        app.wd
            .execute(
                "return document.querySelector('main [aria-live=polite]')?.textContent ?? '';",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.json().as_str().map(str::to_string))
            .is_some_and(|t| t.contains("You have a new reply from the billing office"))
    })
    .await;
    app.until("the sidebar's count", || async {
        app.wd
            .execute("return document.querySelector('nav')?.textContent ?? '';", vec![])
            .await
            .ok()
            .and_then(|v| v.json().as_str().map(str::to_string))
            .is_some_and(|t| t.contains("1 new replies"))
    })
    .await;

    app.click_xpath("//nav//button[starts-with(normalize-space(), 'Messages')]")
        .await;
    app.screen("Messages").await;
    app.sees("Answered").await;
    app.sees("1 new").await;
    app.axe("messages").await;
    app.click_xpath("//table[@id='conversations-table']//button[contains(@class, 'row-link')]")
        .await;
    app.sees("Dana, billing office").await;
    app.sees(REPLY).await;
    app.axe("conversation with a reply").await;
    app.quit().await;
}
