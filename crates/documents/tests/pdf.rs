//! The documents read back as a reader and a screen reader would: their text (pdftotext) holds
//! every figure, and their structure (pypdf) is tagged, in the member's language, US Letter,
//! with the fonts embedded.

use carebill_api::types::{Funding, Locale, PaymentSource, PaymentStatus};
use carebill_documents::check::{assert_accessible_pdf, pdf_text};
use carebill_documents::{receipt, sample, statement, summary};

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    assert!(bytes.starts_with(b"%PDF-"), "{name} is a PDF");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The text with runs of spaces made one, so a figure is found whatever the column width.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_statement_holds_every_line_its_totals_and_the_payments_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let zone = carebill_billing::BusinessCalendar::default().rules(2015, 2045);
    let detail = sample::bill("bil_1", "Bayside Medical Group", 60);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 4, 2).unwrap();
    let pdf = statement::statement_pdf(&sample::holder(Locale::En), &detail, &zone, today).unwrap();
    let path = write(&dir, "statement.pdf", &pdf);
    assert_accessible_pdf(&path, "en-US");
    let text = pdf_text(&path);
    let flat = squeeze(&text);
    for expected in [
        "Statement ST-bil_1: Bayside Medical Group",
        "Jordan Lee",
        "M200000001",
        "Riley Lee",
        "1-800-555-0199",
        "ACCT-448812",
        "Mar 2, 2026 to Mar 6, 2026",
        "Apr 19, 2026",
        "CB-7K2M-9QXP",
        "Visa HSA/FSA card ending 1000",
        // The totals: 60 lines of $125.00 / $80.00 / $20.00 / $25.00.
        "$7,500.00",
        "$4,800.00",
        "$1,200.00",
        "$1,500.00",
        // Owed now: $1,500.00 - $25.00.
        "$1,475.00",
    ] {
        assert!(flat.contains(expected), "{expected:?} is not in the statement:\n{text}");
    }
    for i in 1..=60 {
        assert!(flat.contains(&format!("item {i}")), "line {i} is missing");
    }
    assert!(text.contains("Page 2"), "60 lines take more than one page");

    let es = statement::statement_pdf(&sample::holder(Locale::Es), &detail, &zone, today).unwrap();
    let path = write(&dir, "estado.pdf", &es);
    assert_accessible_pdf(&path, "es-US");
    let flat = squeeze(&pdf_text(&path));
    for expected in [
        "Estado de cuenta ST-bil_1",
        "Número de identificación de miembro",
        "Pagado por el seguro",
        "Usted debe ahora",
        "19 de abril de 2026",
        "tarjeta HSA/FSA Visa que termina en 1000",
        "$1,475.00",
    ] {
        assert!(flat.contains(expected), "{expected:?} is not in the Spanish statement");
    }
}

#[test]
fn a_receipt_names_the_payment_the_time_in_the_plans_zone_and_the_bills_it_paid() {
    let dir = tempfile::tempdir().unwrap();
    let zone = carebill_billing::BusinessCalendar::default().rules(2015, 2045);
    let a = sample::bill("bil_a", "Bayside Medical Group", 2).bill;
    let b = sample::bill("bil_b", "Harbor Imaging", 2).bill;
    // 01:30 UTC on Apr 2 is still Apr 1 in Los Angeles (the plan's zone).
    let mut p = sample::payment(
        "pay_r1",
        sample::at(2026, 4, 2, 1) + chrono::Duration::minutes(30),
        10_001,
        &["bil_a", "bil_b"],
        PaymentStatus::Succeeded,
        sample::card(Some(Funding::HsaFsa)),
        PaymentSource::Member,
    );
    p.settled_at = Some(p.created_at);
    let pdf = receipt::receipt_pdf(&sample::holder(Locale::En), &p, &[a, b], &zone).unwrap();
    let path = write(&dir, "receipt.pdf", &pdf);
    assert_accessible_pdf(&path, "en-US");
    let flat = squeeze(&pdf_text(&path));
    for expected in [
        "Receipt CB-R1",
        "Apr 1, 2026, 6:30 PM PDT",
        "$100.01",
        "$50.00",
        "$50.01",
        "Visa HSA/FSA card ending 1000",
        "Bayside Medical Group",
        "Harbor Imaging",
        "ST-bil_a",
        "ST-bil_b",
        "Riley Lee",
        "Jordan Lee",
        "M200000001",
    ] {
        assert!(flat.contains(expected), "{expected:?} is not in the receipt:\n{flat}");
    }
}

#[test]
fn the_yearly_summary_pdf_has_the_totals_the_chart_and_its_data_table() {
    let dir = tempfile::tempdir().unwrap();
    let zone = carebill_billing::BusinessCalendar::default().rules(2015, 2045);
    let (payments, bills) = sample::year_of_payments(40);
    let s = summary::yearly_summary(2026, &payments, &bills, &zone);
    for locale in [Locale::En, Locale::Es] {
        let pdf = summary::summary_pdf(&sample::holder(locale), &s).unwrap();
        let name = format!("summary-{}.pdf", locale.as_str());
        let path = write(&dir, &name, &pdf);
        let lang = if locale == Locale::En { "en-US" } else { "es-US" };
        assert_accessible_pdf(&path, lang);
        let flat = squeeze(&pdf_text(&path));
        assert!(
            flat.contains(&s.total_paid.display_usd()),
            "the total is in the {lang} summary"
        );
        for p in &s.by_provider {
            assert!(flat.contains(&p.provider) && flat.contains(&p.amount.display_usd()));
        }
        for m in &s.by_month {
            assert!(
                flat.contains(&m.amount.display_usd()),
                "month {} is in the table",
                m.month
            );
        }
    }
}
