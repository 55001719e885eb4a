//! The README's screenshots, from the real app against the demo data: `cargo xtask screenshots`
//! (ignored in the normal run; it writes files rather than checking anything).

use std::path::PathBuf;

use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD, KIOSK_CLINIC, kiosk_config};
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
    // The form itself, painted: the fields and the way to register, not the loading frame.
    app.until("the sign-in form is painted", || async {
        match app.wd.find(By::Id("login")).await {
            Ok(field) => field.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    })
    .await;
    app.sees("Create an account").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
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

    app.open_first_bill().await;
    app.sees("How this bill adds up").await;
    app.screenshot(&out.join("bill-detail.png")).await;

    app.click("Pay this bill").await;
    app.screen("Pay bills").await;
    app.sees("Visa •••• 4242").await;
    // The saved Visa (the first saved method may be the bank account, which needs its authorization).
    app.click_xpath("//label[starts-with(normalize-space(), 'Visa •••• 4242')]")
        .await;
    app.screenshot(&out.join("pay.png")).await;
    app.click("Continue to review").await;
    app.screen("Review your payment").await;
    app.screenshot(&out.join("review.png")).await;
    app.click_xpath("//button[starts-with(normalize-space(), 'Pay $')]")
        .await;
    app.screen("Payment received").await;
    app.click("View receipt").await;
    app.screen("Receipt").await;
    app.screenshot(&out.join("receipt.png")).await;

    // A payment plan for the open bills: the schedule before it is set up, then the plan.
    app.click("Dashboard").await;
    app.screen("Hello, Jordan").await;
    app.click("Can't pay all at once? Set up a payment plan").await;
    app.screen("Payment plan").await;
    app.fill("plan-months", "6").await;
    app.fill("plan-day", "15").await;
    app.click_xpath("//label[starts-with(normalize-space(), 'Visa •••• 4242')]")
        .await;
    app.click("See the schedule").await;
    app.sees("Payment plan authorization").await;
    app.screenshot(&out.join("payment-plan-preview.png")).await;
    app.check("plan-accept").await;
    app.click("Set up payment plan").await;
    app.sees("Your payment plan is set up").await;
    app.screenshot(&out.join("payment-plan.png")).await;
    app.click("Dashboard").await;
    app.screen("Hello, Jordan").await;
    app.sees("Payment plan:").await;
    app.screenshot(&out.join("dashboard-with-plan.png")).await;

    // The plan's claims, and one claim.
    app.click("Claims").await;
    app.screen("Claims").await;
    app.sees("Claims, newest service first").await;
    app.screenshot(&out.join("claims.png")).await;
    app.click_xpath("(//table[@id='claims-table']//button[contains(@class, 'row-link')])[1]")
        .await;
    app.sees("This is not a bill.").await;
    app.screenshot(&out.join("claim.png")).await;

    // Asking the billing office about a line of a bill, and the office's answer.
    app.click("Bills").await;
    app.screen("Bills").await;
    app.open_first_bill().await;
    app.sees("How this bill adds up").await;
    app.click("Ask").await;
    app.screen("Ask the billing office").await;
    app.check("topic-0").await;
    app.fill(
        "ask-body",
        "I don't remember this lab test. Was it ordered at my visit?",
    )
    .await;
    app.screenshot(&out.join("ask.png")).await;
    app.click("Send").await;
    app.sees("Sent. Your reference number is").await;
    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let listed = backend.get(&token, "/v1/conversations").await;
    let reference = listed["data"][0]["reference"].as_str().expect("a question").to_string();
    let head = backend.state().letterhead();
    let secret = backend.state().secret.clone();
    backend
        .state()
        .db
        .transaction(move |tx| {
            let reply = carebill_server::conversations::StaffReply {
                reference: &reference,
                staff_name: "Dana",
                body: "Yes: Dr. Patel ordered it during your visit on the 20th. Your plan has not processed it yet; \
                       we have paused autopay on this bill until it does.",
                status: carebill_server::conversations::StaffStatus::Answered,
                files: &[],
                origin: "test",
            };
            carebill_server::conversations::staff_reply(tx, &head, &secret, &reply, 1 << 20, chrono::Utc::now())
        })
        .await
        .expect("the office replies");
    let _ = app.invoke("sync_now", serde_json::json!({})).await;
    app.click_xpath("//nav//button[starts-with(normalize-space(), 'Messages')]")
        .await;
    app.screen("Messages").await;
    app.sees("Answered").await;
    app.screenshot(&out.join("messages.png")).await;
    app.click_xpath("//table[@id='conversations-table']//button[contains(@class, 'row-link')]")
        .await;
    app.sees("Dana, billing office").await;
    app.screenshot(&out.join("conversation.png")).await;

    // The largest text size, as a member who needs it sees the dashboard and a bill.
    app.click("Account").await;
    app.screen("Account and settings").await;
    app.check("text-size-largest").await;
    app.click("Dashboard").await;
    app.screen("Hello, Jordan").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.screenshot(&out.join("dashboard-largest-text.png")).await;

    // In Spanish, at the normal size: the dashboard and a bill.
    app.click("Account").await;
    app.screen("Account and settings").await;
    app.check("text-size-normal").await;
    app.check("language-es").await;
    app.screen("Cuenta y configuración").await;
    app.click("Inicio").await;
    app.screen("Hola, Jordan").await;
    app.sees("Sincronizado").await;
    app.screenshot(&out.join("dashboard-es.png")).await;
    app.click("Ver facturas").await;
    app.screen("Facturas").await;
    app.open_first_bill().await;
    app.sees("Cómo se calcula esta factura").await;
    app.screenshot(&out.join("bill-detail-es.png")).await;
    app.click("Pagar esta factura").await;
    app.screen("Pagar facturas").await;
    app.sees("Visa •••• 4242").await;
    app.click_xpath("//label[starts-with(normalize-space(), 'Visa •••• 4242')]")
        .await;
    app.screenshot(&out.join("pay-es.png")).await;
    app.click("Continuar para revisar").await;
    app.screen("Revise su pago").await;
    app.screenshot(&out.join("review-es.png")).await;
    app.click_xpath("//button[starts-with(normalize-space(), 'Pagar $')]")
        .await;
    app.screen("Pago recibido").await;
    app.click("Ver recibo").await;
    app.screen("Recibo").await;
    app.sees("Facturas pagadas").await;
    app.screenshot(&out.join("receipt-es.png")).await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots; run with `cargo xtask screenshots`"]
async fn take_the_kiosk_screenshots() {
    let out = PathBuf::from(std::env::var_os("CAREBILL_SCREENSHOTS").expect("CAREBILL_SCREENSHOTS names the folder"));
    std::fs::create_dir_all(&out).expect("screenshot folder");
    let backend = Backend::start().await;
    let home = AppHome::new();
    let config = kiosk_config(&home).to_string_lossy().to_string();
    let app = App::launch_with(&backend.url, &home, &[("CAREBILL_SYSTEM_CONFIG", config.as_str())]).await;
    app.screen(&format!("Welcome to {KIOSK_CLINIC}")).await;
    app.sees("Ask at the front desk").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.screenshot(&out.join("kiosk-welcome.png")).await;
    app.click_xpath("//button[@lang='es']").await;
    app.screen(&format!("Le damos la bienvenida a {KIOSK_CLINIC}")).await;
    app.screenshot(&out.join("kiosk-welcome-es.png")).await;

    let statement = backend
        .state()
        .db
        .read(carebill_server::seed::guest_statements)
        .await
        .expect("statements")
        .remove(0);
    // A guest's bill in Spanish; "Empezar de nuevo" ends the visit, and the next patient starts
    // in English again.
    app.click("Pagar una factura como invitado").await;
    app.screen("Busque su factura").await;
    app.fill("statement-number", &statement).await;
    app.fill("last-name", "Rivera").await;
    app.fill("dob-month", "04").await;
    app.fill("dob-day", "12").await;
    app.fill("dob-year", "1985").await;
    app.click("Buscar mi factura").await;
    app.screen("Su factura").await;
    app.sees("Usted debe ahora").await;
    app.screenshot(&out.join("kiosk-bill-es.png")).await;
    app.click("Empezar de nuevo").await;
    app.screen(&format!("Welcome to {KIOSK_CLINIC}")).await;
    app.click("Pay a bill as a guest").await;
    app.screen("Find your bill").await;
    app.fill("statement-number", &statement).await;
    app.fill("last-name", "Rivera").await;
    app.fill("dob-month", "04").await;
    app.fill("dob-day", "12").await;
    app.fill("dob-year", "1985").await;
    app.screenshot(&out.join("kiosk-lookup.png")).await;
    app.click("Find my bill").await;
    app.screen("Your bill").await;
    app.screenshot(&out.join("kiosk-bill.png")).await;
    app.fill_card("4242424242424242", Some("Alex Rivera")).await;
    app.click("Continue to review").await;
    app.screen("Review your payment").await;
    app.click_xpath("//button[starts-with(normalize-space(), 'Pay $')]")
        .await;
    app.screen("Payment received").await;
    app.screenshot(&out.join("kiosk-receipt.png")).await;
    app.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots; run with `cargo xtask screenshots`"]
async fn take_the_console_screenshots() {
    use carebill_e2e::sign_in_staff;
    use carebill_server::seed::{DEMO_AGENT_EMAIL, DEMO_SUPERVISOR_EMAIL};
    let out = PathBuf::from(std::env::var_os("CAREBILL_SCREENSHOTS").expect("CAREBILL_SCREENSHOTS names the folder"));
    std::fs::create_dir_all(&out).expect("screenshot folder");
    let backend = Backend::start().await;
    let base = backend.console_url();
    let console = App::browse(&format!("{base}/")).await;
    console.screen("Sign in to the billing office console").await;
    console.screenshot(&out.join("console-sign-in.png")).await;
    sign_in_staff(&console, &backend, DEMO_AGENT_EMAIL).await;
    console.sees("Taylor Nguyen").await;
    console.screenshot(&out.join("console-inbox.png")).await;
    console
        .click_xpath("//table//a[starts-with(normalize-space(), 'Q-')]")
        .await;
    console.sees("Reply to the member").await;
    console.click("Assign to me").await;
    console
        .fill("note", "Asked about a plan on the phone too; offer 6 months.")
        .await;
    console.click("Add note").await;
    console.sees("members never see notes").await;
    console
        .wd
        .execute("window.scrollTo(0, 0);", vec![])
        .await
        .expect("scroll");
    console.screenshot(&out.join("console-conversation.png")).await;
    console
        .wd
        .goto(format!("{base}/members/{}", carebill_server::seed::DEMO_MEMBER_ID))
        .await
        .expect("open a member");
    console.screen("Why do you need this account?").await;
    console.fill("open-reason", "Member called about a refund").await;
    console.screenshot(&out.join("console-reason.png")).await;
    console.click("Open the account").await;
    console.screen("Jordan Lee").await;
    console.screenshot(&out.join("console-member.png")).await;
    console.click("Sign out").await;
    sign_in_staff(&console, &backend, DEMO_SUPERVISOR_EMAIL).await;
    console.click("Team").await;
    console.sees("Queues by staff member").await;
    console.screenshot(&out.join("console-team.png")).await;
    console.click("Audit log").await;
    console.sees("member access granted").await;
    console.screenshot(&out.join("console-audit.png")).await;
    console.quit().await;
}
