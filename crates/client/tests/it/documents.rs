//! Statements, receipts and the yearly summary made with the server stopped, from the copy on
//! this device: their text (pdftotext) holds the figures the screens show, their structure
//! (pypdf) is tagged and in the member's language with the fonts embedded, and the yearly CSV
//! adds up to the summary's total to the cent.

use carebill_billing::{BusinessCalendar, Money};
use carebill_client::SummaryFormat;
use carebill_client::types::{BillQuery, BillStatusFilter, PaymentQuery};
use carebill_documents::check::{assert_accessible_pdf, pdf_text};

use crate::harness::*;

fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn keep(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test]
async fn documents_are_made_offline_from_the_copy_with_the_screens_figures() {
    // A plan in another time zone than the default: the summary's year is the plan's.
    let mut w = World::start_with(|c| {
        c.calendar = BusinessCalendar::for_zone("America/New_York").unwrap();
    })
    .await;
    let e = w.engine();
    e.sign_in(DEMO_EMAIL, DEMO_PASSWORD, false).await.unwrap();
    e.sync().await.unwrap();
    assert_eq!(e.plan().await.unwrap().unwrap().time_zone, "America/New_York");
    let bills = e
        .bills(BillQuery {
            status: BillStatusFilter::All,
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let first = bills.bills.first().expect("the demo member has bills");
    let screen = e.bill(&first.bill.id).await.unwrap();
    let payments = e
        .payments(PaymentQuery {
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let paid = payments
        .payments
        .first()
        .expect("the demo member has paid before")
        .clone();
    let online = e.yearly_summary(None).await.unwrap();
    e.sign_out(false).await.unwrap();
    w.stop_server().await;

    let e = w.engine();
    e.unlock_offline(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    // The statement: every line's code and the bill's figures, as the bill screen shows them.
    let statement = e.statement_pdf(&screen.bill.bill.id).await.unwrap();
    assert_eq!(
        statement.file_name,
        format!("statement-{}.pdf", screen.bill.bill.statement_number)
    );
    let path = keep(&dir, &statement.file_name, &statement.bytes);
    assert_accessible_pdf(&path, "en-US");
    let text = flat(&pdf_text(&path));
    let b = &screen.bill.bill;
    for amount in [
        b.total_charges,
        b.insurance_paid,
        b.adjustments,
        b.amount_due,
        b.payable,
    ] {
        assert!(
            text.contains(&amount.display_usd()),
            "{} is in the statement",
            amount.display_usd()
        );
    }
    for line in &screen.bill.line_items {
        assert!(text.contains(&line.code), "line {} is in the statement", line.code);
    }
    for expected in [b.provider.as_str(), b.account_number.as_str(), "Jordan", "M200000001"] {
        assert!(text.contains(expected), "{expected:?} is in the statement");
    }

    // The receipt: confirmation number, amount and method.
    let receipt = e.receipt_pdf(&paid.id).await.unwrap();
    let path = keep(&dir, &receipt.file_name, &receipt.bytes);
    assert_accessible_pdf(&path, "en-US");
    let text = flat(&pdf_text(&path));
    assert!(text.contains(&paid.confirmation_number) && text.contains(&paid.amount.display_usd()));
    assert!(text.contains(&format!("ending {}", paid.payment_method.last4)));

    // The summary reads the same offline, and its CSV adds up to its total.
    let summary = e.yearly_summary(None).await.unwrap();
    assert_eq!(summary, online, "offline, from the copy: the same figures");
    assert_eq!(summary.time_zone, "America/New_York");
    assert!(summary.payment_count > 0, "the demo member paid this year");
    let csv = e.yearly_summary_file(summary.year, SummaryFormat::Csv).await.unwrap();
    let mut reader = csv::Reader::from_reader(csv.bytes.as_slice());
    let amounts: Vec<Money> = reader
        .records()
        .map(|r| Money::parse(&r.unwrap()[6]).unwrap())
        .collect();
    assert_eq!(amounts.len(), summary.rows.len());
    assert_eq!(amounts.into_iter().sum::<Money>(), summary.total_paid, "to the cent");
    let pdf = e.yearly_summary_file(summary.year, SummaryFormat::Pdf).await.unwrap();
    let path = keep(&dir, &pdf.file_name, &pdf.bytes);
    assert_accessible_pdf(&path, "en-US");
    assert!(flat(&pdf_text(&path)).contains(&summary.total_paid.display_usd()));

    // What does not exist is said so, and nothing is made.
    assert_eq!(e.statement_pdf("bil_nope").await.unwrap_err().code, "bill_not_found");
    assert_eq!(e.receipt_pdf("pay_nope").await.unwrap_err().code, "payment_not_found");
    let year = e.yearly_summary(Some(1999)).await.unwrap_err();
    assert_eq!(
        (year.code.as_str(), year.field.as_deref()),
        ("invalid_year", Some("/year"))
    );
}

/// The plan's zone is stated as data (offsets), so the app needs no time zone database. A copy
/// of the plan's facts kept by an earlier release has neither zone nor offsets: the default
/// zone's name, on this computer's own clock, until the service answers again.
#[tokio::test]
async fn the_plans_zone_comes_as_offsets_and_an_older_copy_falls_back_to_this_computers_clock() {
    let mut w = World::start_with(|c| {
        c.calendar = BusinessCalendar::for_zone("America/Chicago").unwrap();
    })
    .await;
    let plan = w.engine().plan().await.unwrap().unwrap();
    assert_eq!(plan.time_zone, "America/Chicago");
    let zone = w.engine().plan_zone();
    let chicago = BusinessCalendar::for_zone("America/Chicago").unwrap();
    // 03:30 UTC on Jul 1, 2026 is still Jun 30 in Chicago.
    let late = chrono::DateTime::parse_from_rfc3339("2026-07-01T03:30:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(zone.date_at(late), chicago.date_at(late));
    assert_eq!(zone.local(late).1, "CDT");
    w.stop_server().await;
    let file = w.data.path().join("plan.json");
    let mut copy: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let facts = copy["plan"].as_object_mut().unwrap();
    facts.remove("time_zone");
    facts.remove("utc_offsets");
    std::fs::write(&file, copy.to_string()).unwrap();
    let old = w.engine().plan_zone();
    assert_eq!(old.name, "America/Los_Angeles");
    assert_eq!(old.date_at(late), late.with_timezone(&chrono::Local).date_naive());
}
