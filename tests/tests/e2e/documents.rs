//! Documents in the real app: a bill's statement downloaded as a PDF holds what the screen
//! shows, and Payment history's yearly summary (with its chart and data table, checked by axe)
//! downloads as a CSV whose amounts add up to the total on the screen. Debug builds save into
//! `CAREBILL_SAVE_DIR` instead of showing the native dialog (WebDriver cannot reach one).

use carebill_documents::check::pdf_text;
use carebill_e2e::{App, AppHome, Backend, DEMO_EMAIL, DEMO_PASSWORD, root};
use thirtyfour::By;

use crate::sign_in;

/// "1234.5" as the screens and documents write it: "$1,234.50".
fn usd(amount: &str) -> String {
    let (whole, cents) = amount.split_once('.').unwrap_or((amount, "00"));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("${grouped}.{cents:0<2}")
}

async fn text_of(app: &App, id: &str) -> String {
    app.wd
        .find(By::Id(id))
        .await
        .unwrap_or_else(|_| panic!("#{id}"))
        .text()
        .await
        .expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_and_the_yearly_summary_download_with_the_screens_figures() {
    let backend = Backend::start().await;
    let home = AppHome::new();
    let saved = home.dir.path().join("saved");
    std::fs::create_dir_all(&saved).expect("save folder");
    let save_dir = saved.to_string_lossy().into_owned();
    let app = App::launch_with(&backend.url, &home, &[("CAREBILL_SAVE_DIR", save_dir.as_str())]).await;
    sign_in(&app, DEMO_EMAIL, DEMO_PASSWORD, false).await;
    app.screen("Hello, Jordan").await;

    let token = backend.token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let bill = backend
        .open_bills(&token)
        .await
        .into_iter()
        .next()
        .expect("an open bill");
    let statement = bill["statement_number"].as_str().expect("statement").to_string();
    let provider = bill["provider"].as_str().expect("provider").to_string();
    app.click("Bills").await;
    app.open_bill_by_statement(&statement).await;
    app.screen(&provider).await;
    app.click("Download statement (PDF)").await;
    let file = format!("statement-{statement}.pdf");
    app.sees(&format!("Saved as {file}.")).await;
    let pdf = saved.join(&file);
    let text = pdf_text(&pdf);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let screen = app.body_text().await;
    for field in ["amount_due", "payable", "total_charges", "insurance_paid"] {
        let amount = usd(bill[field].as_str().expect("an amount"));
        assert!(screen.contains(&amount), "{field} {amount} is on the screen");
        assert!(flat.contains(&amount), "{field} {amount} is in the statement:\n{text}");
    }
    for expected in [provider.as_str(), statement.as_str(), "Jordan Lee", "M200000001"] {
        assert!(flat.contains(expected), "{expected:?} is in the statement");
    }

    app.click("Payment history").await;
    app.screen("Payment history").await;
    app.sees("summary").await;
    app.sees("Paid by month").await;
    app.axe("payment history with the yearly summary").await;
    let dir = root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    app.screenshot(&dir.join("history-summary.png")).await;
    let total = text_of(&app, "summary-total").await;
    let year = text_of(&app, "year-summary-title").await;
    let year = year.split_whitespace().next().expect("the year").to_string();
    app.click("Download summary (CSV)").await;
    let file = format!("payments-summary-{year}.csv");
    app.sees(&format!("Saved as {file}.")).await;
    let csv = std::fs::read_to_string(saved.join(&file)).expect("the CSV");
    let mut cents: i64 = 0;
    for line in csv.lines().skip(1) {
        let amount = line.rsplit(',').next().expect("an amount");
        let (whole, part) = amount.split_once('.').expect("dollars and cents");
        cents += whole.parse::<i64>().expect("dollars") * 100 + part.parse::<i64>().expect("cents");
    }
    let summed = usd(&format!("{}.{:02}", cents / 100, cents % 100));
    assert_eq!(summed, total, "the CSV adds up to the total on the screen");
    assert!(cents > 0, "the demo member has paid something this year");
    app.quit().await;
}
