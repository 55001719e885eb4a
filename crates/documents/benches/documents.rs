//! Document benchmarks (docs/PERFORMANCE.md): a statement PDF for a bill with 200 line items
//! (target 100 ms), and a yearly summary over 1,000 payments (target 200 ms): the figures, and
//! the figures with their PDF and CSV.
//!
//! `cargo bench -p carebill-documents --bench documents` (or `cargo xtask bench documents`).

use carebill_api::types::Locale;
use carebill_documents::{sample, statement, summary};
use criterion::Criterion;

fn main() {
    let zone = carebill_billing::BusinessCalendar::default().rules(2015, 2045);
    let holder = sample::holder(Locale::En);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 4, 2).unwrap_or_default();
    let detail = sample::bill("bil_1", "Bayside Medical Group", 200);
    let (payments, bills) = sample::year_of_payments(1_000);

    let mut c = Criterion::default().configure_from_args().sample_size(20);
    c.bench_function("statement_pdf_200_lines", |b| {
        b.iter(|| statement::statement_pdf(&holder, &detail, &zone, today).map(|pdf| pdf.len()))
    });
    c.bench_function("yearly_summary_1000_payments", |b| {
        b.iter(|| summary::yearly_summary(2026, &payments, &bills, &zone).rows.len())
    });
    c.bench_function("yearly_summary_1000_payments_pdf_and_csv", |b| {
        b.iter(|| {
            let s = summary::yearly_summary(2026, &payments, &bills, &zone);
            let pdf = summary::summary_pdf(&holder, &s).map(|p| p.len());
            let csv = summary::summary_csv(Locale::En, &s).map(|c| c.len());
            (pdf.ok(), csv.ok())
        })
    });
    c.final_summary();
}
