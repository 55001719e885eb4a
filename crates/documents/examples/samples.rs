//! Writes sample documents to look at: `cargo run -p carebill-documents --example samples DIR`
//! (a statement with 200 line items, a receipt and a yearly summary, in English and Spanish).

use carebill_api::types::{Funding, Locale, PaymentSource, PaymentStatus};
use carebill_documents::{receipt, sample, statement, summary};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: samples DIR")?);
    std::fs::create_dir_all(&dir)?;
    let zone = carebill_billing::BusinessCalendar::default().rules(2015, 2045);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 4, 2).ok_or("date")?;
    let detail = sample::bill("bil_1", "Bayside Medical Group", 200);
    let (payments, bills) = sample::year_of_payments(120);
    let year = summary::yearly_summary(2026, &payments, &bills, &zone);
    let paid = sample::payment(
        "pay_r1",
        sample::at(2026, 4, 1, 18),
        10_001,
        &["bil_0", "bil_1"],
        PaymentStatus::Succeeded,
        sample::card(Some(Funding::HsaFsa)),
        PaymentSource::Member,
    );
    for locale in [Locale::En, Locale::Es] {
        let holder = sample::holder(locale);
        let l = locale.as_str();
        std::fs::write(
            dir.join(format!("statement-{l}.pdf")),
            statement::statement_pdf(&holder, &detail, &zone, today)?,
        )?;
        std::fs::write(
            dir.join(format!("receipt-{l}.pdf")),
            receipt::receipt_pdf(&holder, &paid, &bills, &zone)?,
        )?;
        std::fs::write(
            dir.join(format!("summary-{l}.pdf")),
            summary::summary_pdf(&holder, &year)?,
        )?;
        std::fs::write(
            dir.join(format!("summary-{l}.csv")),
            summary::summary_csv(locale, &year)?,
        )?;
    }
    println!("written to {}", dir.display());
    Ok(())
}
