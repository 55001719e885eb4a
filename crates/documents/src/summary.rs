//! The yearly summary of payments: total paid, number of payments, and the amounts by provider
//! and by month, as figures for the screen, a CSV and a PDF.
//!
//! **What counts.** A payment counts in the year of its date in the plan's time zone (the
//! calendar date of `created_at` there). Succeeded payments count, and bank payments still
//! processing (not returned); declined and returned payments do not, nor card payments still
//! processing or held for review (no money has moved for them yet). Guest payments made at a
//! clinic kiosk on the member's bills count and are marked. Every figure is an exact sum of
//! the counted payments' parts (one row per bill a payment paid), so the CSV's amounts add up to
//! the total to the cent.

use std::collections::BTreeMap;

use carebill_api::types::{
    Bill, Locale, Payment, PaymentMethodSummary, PaymentMethodType, PaymentSource, PaymentStatus,
};
use carebill_billing::Money;
use carebill_billing::calendar::ZoneRules;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::layout::{Block, Chart, Column, Table};
use crate::{Error, Holder, total_row, tr};

/// A year of payments, summed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct YearlySummary {
    pub year: i32,
    pub total_paid: Money,
    /// Payments counted (a payment that paid several bills is one payment).
    pub payment_count: u32,
    /// Of those, guest payments made at a clinic kiosk.
    pub guest_payment_count: u32,
    /// By provider, the largest first.
    pub by_provider: Vec<ProviderTotal>,
    /// January to December, all twelve.
    pub by_month: Vec<MonthTotal>,
    /// One row per bill each counted payment paid, by date.
    pub rows: Vec<SummaryRow>,
    /// The years with counted payments on this device, newest first (the year picker's choices).
    pub years: Vec<i32>,
    /// The plan's time zone, whose calendar year this is.
    pub time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ProviderTotal {
    pub provider: String,
    pub amount: Money,
    /// Payments with a part for this provider.
    pub payments: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MonthTotal {
    /// 1 to 12.
    pub month: u32,
    pub amount: Money,
    pub payments: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SummaryRow {
    pub payment_id: String,
    pub confirmation_number: String,
    /// The payment's date in the plan's time zone.
    pub date: NaiveDate,
    pub provider: String,
    pub statement_number: String,
    /// The part of the payment that paid this bill.
    pub amount: Money,
    pub payment_method: PaymentMethodSummary,
    /// Made as a guest at a clinic kiosk.
    pub guest: bool,
}

/// Whether a payment counts as paid (module documentation).
pub fn counts(p: &Payment) -> bool {
    match p.status {
        PaymentStatus::Succeeded => true,
        PaymentStatus::Pending => p.payment_method.kind == PaymentMethodType::BankAccount,
        PaymentStatus::Failed | PaymentStatus::Returned | PaymentStatus::NeedsReview => false,
    }
}

/// Sums a year of the payments this device holds. `bills` name the providers.
pub fn yearly_summary(year: i32, payments: &[Payment], bills: &[Bill], zone: &ZoneRules) -> YearlySummary {
    let bill_of: BTreeMap<&str, &Bill> = bills.iter().map(|b| (b.id.as_str(), b)).collect();
    let mut years: Vec<i32> = Vec::new();
    let mut rows = Vec::new();
    let mut payment_count = 0;
    let mut guest_payment_count = 0;
    let mut month_payments = [0u32; 12];
    for p in payments.iter().filter(|p| counts(p)) {
        let date = zone.date_at(p.created_at);
        if !years.contains(&date.year()) {
            years.push(date.year());
        }
        if date.year() != year {
            continue;
        }
        payment_count += 1;
        let guest = p.source == PaymentSource::Guest;
        guest_payment_count += u32::from(guest);
        month_payments[date.month0() as usize] += 1;
        for a in &p.allocations {
            let bill = bill_of.get(a.bill_id.as_str());
            rows.push(SummaryRow {
                payment_id: p.id.clone(),
                confirmation_number: p.confirmation_number.clone(),
                date,
                provider: bill.map_or_else(|| a.bill_id.clone(), |b| b.provider.clone()),
                statement_number: bill.map_or_else(String::new, |b| b.statement_number.clone()),
                amount: a.amount,
                payment_method: p.payment_method.clone(),
                guest,
            });
        }
    }
    rows.sort_by(|a, b| (a.date, &a.confirmation_number).cmp(&(b.date, &b.confirmation_number)));
    years.sort_unstable_by(|a, b| b.cmp(a));

    let total_paid: Money = rows.iter().map(|r| r.amount).sum();
    let by_month = (0..12)
        .map(|m| MonthTotal {
            month: m + 1,
            amount: rows.iter().filter(|r| r.date.month0() == m).map(|r| r.amount).sum(),
            payments: month_payments[m as usize],
        })
        .collect();
    let mut providers: BTreeMap<&str, (Money, Vec<&str>)> = BTreeMap::new();
    for r in &rows {
        let entry = providers
            .entry(r.provider.as_str())
            .or_insert((Money::from_cents(0), Vec::new()));
        entry.0 = [entry.0, r.amount].into_iter().sum();
        if !entry.1.contains(&r.payment_id.as_str()) {
            entry.1.push(r.payment_id.as_str());
        }
    }
    let mut by_provider: Vec<ProviderTotal> = providers
        .into_iter()
        .map(|(provider, (amount, ids))| ProviderTotal {
            provider: provider.to_string(),
            amount,
            payments: ids.len() as u32,
        })
        .collect();
    by_provider.sort_by(|a, b| b.amount.cmp(&a.amount).then_with(|| a.provider.cmp(&b.provider)));
    YearlySummary {
        year,
        total_paid,
        payment_count,
        guest_payment_count,
        by_provider,
        by_month,
        rows,
        years,
        time_zone: zone.name.clone(),
    }
}

/// A month's name: "January" / "enero"; short: "Jan" / "ene".
fn month_name(l: Locale, month: u32, short: bool) -> String {
    let full = match l {
        Locale::En => [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ][(month as usize).saturating_sub(1) % 12]
            .to_string(),
        Locale::Es => carebill_api::types::MESES[(month as usize).saturating_sub(1) % 12].to_string(),
    };
    if short { full.chars().take(3).collect() } else { full }
}

/// A cell a spreadsheet will not run: text starting with `=`, `+`, `-`, `@`, tab or CR gets a
/// leading apostrophe.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// The summary's rows as CSV (UTF-8, a header row in the member's language, amounts as plain
/// decimals "1234.50" so a spreadsheet sums them; the amounts add up to `total_paid`).
pub fn summary_csv(l: Locale, summary: &YearlySummary) -> Result<String, Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| Error::Csv(e.to_string());
    out.write_record([
        tr(l, "Date", "Fecha"),
        tr(l, "Confirmation number", "Número de confirmación"),
        tr(l, "Provider", "Proveedor"),
        tr(l, "Statement number", "Número de estado de cuenta"),
        tr(l, "Method", "Método"),
        tr(l, "Guest payment at a kiosk", "Pago de invitado en un quiosco"),
        tr(l, "Amount", "Cantidad"),
    ])
    .map_err(csv_error)?;
    for r in &summary.rows {
        out.write_record([
            r.date.to_string(),
            cell(&r.confirmation_number),
            cell(&r.provider),
            cell(&r.statement_number),
            cell(&r.payment_method.label(l)),
            if r.guest {
                tr(l, "yes", "sí")
            } else {
                tr(l, "no", "no")
            }
            .to_string(),
            r.amount.to_string(),
        ])
        .map_err(csv_error)?;
    }
    let bytes = out.into_inner().map_err(|e| Error::Csv(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| Error::Csv(e.to_string()))
}

/// The summary as a PDF: the totals, a chart of payments by month with its data table, the
/// amounts by provider, and every payment.
pub fn summary_pdf(holder: &Holder, summary: &YearlySummary) -> Result<Vec<u8>, Error> {
    let l = holder.locale;
    let title = match l {
        Locale::En => format!("{} summary of payments", summary.year),
        Locale::Es => format!("Resumen de pagos de {}", summary.year),
    };
    let mut blocks = vec![
        Block::Title(title.clone()),
        Block::Facts(
            holder
                .facts()
                .into_iter()
                .chain([
                    (
                        tr(l, "Total paid", "Total pagado").into(),
                        summary.total_paid.display_usd(),
                    ),
                    (tr(l, "Payments", "Pagos").into(), summary.payment_count.to_string()),
                    (
                        tr(
                            l,
                            "Guest payments at a clinic kiosk",
                            "Pagos de invitado en un quiosco de la clínica",
                        )
                        .into(),
                        summary.guest_payment_count.to_string(),
                    ),
                ])
                .collect(),
        ),
        Block::Heading(tr(l, "By month", "Por mes").to_string()),
    ];
    let described: Vec<String> = summary
        .by_month
        .iter()
        .map(|m| format!("{} {}", month_name(l, m.month, false), m.amount.display_usd()))
        .collect();
    blocks.push(Block::Chart(Chart {
        alt: format!(
            "{}: {}. {}",
            tr(
                l,
                "Bar chart of the amount paid each month",
                "Gráfico de barras de la cantidad pagada cada mes"
            ),
            described.join(", "),
            tr(
                l,
                "The table below has the same figures.",
                "La tabla de abajo tiene las mismas cifras."
            )
        ),
        bars: summary
            .by_month
            .iter()
            .map(|m| {
                let value = m.amount.cents() as f64;
                (month_name(l, m.month, true), value)
            })
            .collect(),
    }));
    blocks.push(Block::Table(Table {
        columns: vec![
            Column::left(tr(l, "Month", "Mes"), 0.4),
            Column::right(tr(l, "Payments", "Pagos"), 0.3),
            Column::right(tr(l, "Amount", "Cantidad"), 0.3),
        ],
        rows: summary
            .by_month
            .iter()
            .map(|m| {
                vec![
                    month_name(l, m.month, false),
                    m.payments.to_string(),
                    m.amount.display_usd(),
                ]
            })
            .collect(),
        total: Some(total_row(
            l,
            3,
            vec![summary.payment_count.to_string(), summary.total_paid.display_usd()],
        )),
    }));
    blocks.push(Block::Heading(tr(l, "By provider", "Por proveedor").to_string()));
    if summary.by_provider.is_empty() {
        blocks.push(Block::Para(
            tr(
                l,
                "No payments counted in this year.",
                "No hay pagos contados en este año.",
            )
            .to_string(),
        ));
    } else {
        blocks.push(Block::Table(Table {
            columns: vec![
                Column::left(tr(l, "Provider", "Proveedor"), 0.5),
                Column::right(tr(l, "Payments", "Pagos"), 0.2),
                Column::right(tr(l, "Amount", "Cantidad"), 0.3),
            ],
            rows: summary
                .by_provider
                .iter()
                .map(|p| vec![p.provider.clone(), p.payments.to_string(), p.amount.display_usd()])
                .collect(),
            total: Some(total_row(l, 3, vec![summary.total_paid.display_usd()])),
        }));
        blocks.push(Block::Heading(tr(l, "Payments", "Pagos").to_string()));
        blocks.push(Block::Table(Table {
            columns: vec![
                Column::left(tr(l, "Date", "Fecha"), 0.15),
                Column::left(tr(l, "Confirmation number", "Número de confirmación"), 0.17),
                Column::left(tr(l, "Provider", "Proveedor"), 0.25),
                Column::left(tr(l, "Method", "Método"), 0.29),
                Column::right(tr(l, "Amount", "Cantidad"), 0.14),
            ],
            rows: summary
                .rows
                .iter()
                .map(|r| {
                    let method = if r.guest {
                        format!(
                            "{} ({})",
                            r.payment_method.label(l),
                            tr(l, "guest payment", "pago de invitado")
                        )
                    } else {
                        r.payment_method.label(l)
                    };
                    vec![
                        l.date(r.date),
                        r.confirmation_number.clone(),
                        r.provider.clone(),
                        method,
                        r.amount.display_usd(),
                    ]
                })
                .collect(),
            total: Some(total_row(l, 5, vec![summary.total_paid.display_usd()])),
        }));
    }
    blocks.push(Block::Note(format!(
        "{} {}.",
        tr(
            l,
            "Counted: payments that went through, and bank payments still processing. Not counted: declined and returned payments. Dates are in the plan's time zone",
            "Se cuentan: los pagos que se completaron y los pagos bancarios aún en proceso. No se cuentan: los pagos rechazados y devueltos. Las fechas están en la zona horaria del plan"
        ),
        summary.time_zone
    )));
    holder.pdf(&title, &blocks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{at, bank, card, payment, year_of_payments};
    use PaymentSource::{Guest, Member};
    use PaymentStatus::{Failed, NeedsReview, Pending, Returned, Succeeded};

    fn bills() -> Vec<Bill> {
        vec![
            crate::sample::bill("bil_a", "Bayside Medical Group", 1).bill,
            crate::sample::bill("bil_b", "Harbor Imaging", 1).bill,
        ]
    }

    #[test]
    fn what_counts_is_succeeded_and_unreturned_bank_payments_in_the_plans_calendar_year() {
        let zone = carebill_billing::BusinessCalendar::default().rules(2015, 2045); // America/Los_Angeles
        let payments = vec![
            payment(
                "pay_1",
                at(2026, 2, 10, 18),
                10_000,
                &["bil_a"],
                Succeeded,
                card(None),
                Member,
            ),
            // A bank payment still processing counts; one returned does not.
            payment("pay_2", at(2026, 3, 10, 18), 2_550, &["bil_b"], Pending, bank(), Member),
            payment(
                "pay_3",
                at(2026, 3, 11, 18),
                7_000,
                &["bil_b"],
                Returned,
                bank(),
                Member,
            ),
            // Declined, held for review and a card still processing: no money moved.
            payment(
                "pay_4",
                at(2026, 3, 12, 18),
                9_000,
                &["bil_a"],
                Failed,
                card(None),
                Member,
            ),
            payment(
                "pay_5",
                at(2026, 3, 13, 18),
                9_100,
                &["bil_a"],
                NeedsReview,
                card(None),
                Member,
            ),
            payment(
                "pay_6",
                at(2026, 3, 14, 18),
                9_200,
                &["bil_a"],
                Pending,
                card(None),
                Member,
            ),
            // A guest payment at a kiosk on the member's bill counts, and is marked.
            payment(
                "pay_7",
                at(2026, 5, 1, 18),
                1_234,
                &["bil_a", "bil_b"],
                Succeeded,
                card(None),
                Guest,
            ),
            // 2027-01-01 05:00 UTC is still Dec 31, 2026 in Los Angeles: this year.
            payment(
                "pay_8",
                at(2027, 1, 1, 5),
                101,
                &["bil_b"],
                Succeeded,
                card(None),
                Member,
            ),
            // 2026-01-01 07:30 UTC is Dec 31, 2025 there: last year.
            payment(
                "pay_9",
                at(2026, 1, 1, 7) + chrono::Duration::minutes(30),
                5_000,
                &["bil_a"],
                Succeeded,
                card(None),
                Member,
            ),
        ];
        let s = yearly_summary(2026, &payments, &bills(), &zone);
        assert_eq!(s.payment_count, 4);
        assert_eq!(s.guest_payment_count, 1);
        assert_eq!(s.total_paid, Money::from_cents(10_000 + 2_550 + 1_234 + 101));
        assert_eq!(s.years, vec![2026, 2025]);
        assert_eq!(s.by_month[1].amount, Money::from_cents(10_000));
        assert_eq!(s.by_month[2].amount, Money::from_cents(2_550));
        assert_eq!(s.by_month[4].amount, Money::from_cents(1_234));
        assert_eq!(s.by_month[4].payments, 1, "one payment over two bills is one payment");
        assert_eq!(
            s.by_month[11].amount,
            Money::from_cents(101),
            "Dec 31 in the plan's zone"
        );
        assert_eq!(
            s.by_month[0].amount,
            Money::from_cents(0),
            "Dec 31, 2025 there is last year"
        );
        let bayside = s
            .by_provider
            .iter()
            .find(|p| p.provider == "Bayside Medical Group")
            .unwrap();
        // $100.00 + the guest payment's first half ($6.17).
        assert_eq!(bayside.amount, Money::from_cents(10_617));
        assert_eq!(bayside.payments, 2);
        assert!(s.rows.iter().filter(|r| r.payment_id == "pay_7").all(|r| r.guest));
        assert!(s.rows.iter().filter(|r| r.payment_id != "pay_7").all(|r| !r.guest));
        let last = yearly_summary(2025, &payments, &bills(), &zone);
        assert_eq!(last.total_paid, Money::from_cents(5_000));
    }

    #[test]
    fn the_csv_sums_to_the_total_to_the_cent_and_every_figure_is_the_sum_of_its_rows() {
        let zone = carebill_billing::BusinessCalendar::default().rules(2015, 2045);
        let (payments, bills) = year_of_payments(1_000);
        let s = yearly_summary(2026, &payments, &bills, &zone);
        assert_eq!(s.payment_count, 1_000);
        let csv = summary_csv(Locale::En, &s).unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let mut sum = Money::from_cents(0);
        let mut rows = 0;
        for record in reader.records() {
            let record = record.unwrap();
            sum = [sum, Money::parse(&record[6]).unwrap()].into_iter().sum();
            rows += 1;
        }
        assert_eq!(rows, s.rows.len());
        assert_eq!(sum, s.total_paid, "the CSV's amounts add up to the total");
        let by_month: Money = s.by_month.iter().map(|m| m.amount).sum();
        let by_provider: Money = s.by_provider.iter().map(|p| p.amount).sum();
        let from_payments: Money = payments.iter().map(|p| p.amount).sum();
        assert_eq!(by_month, s.total_paid);
        assert_eq!(by_provider, s.total_paid);
        assert_eq!(from_payments, s.total_paid);
        assert_eq!(s.by_month.iter().map(|m| m.payments).sum::<u32>(), 1_000);
    }

    #[test]
    fn a_csv_cell_a_spreadsheet_would_run_is_quoted_as_text() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("Bayside"), "Bayside");
        let es = summary_csv(
            Locale::Es,
            &yearly_summary(
                2026,
                &[],
                &[],
                &carebill_billing::BusinessCalendar::default().rules(2025, 2027),
            ),
        )
        .unwrap();
        assert!(es.starts_with("Fecha,Número de confirmación,Proveedor"), "{es}");
    }
}
