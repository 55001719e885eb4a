//! A payment's receipt: confirmation number, the full date and time in the plan's time zone,
//! the method (brand and last four), and every bill it paid with its provider, patient and
//! service dates.

use carebill_api::types::{Bill, Locale, Payment, PaymentSource};
use carebill_billing::calendar::ZoneRules;
use chrono::{DateTime, Utc};

use crate::layout::{Block, Column, Table};
use crate::statement::status_word;
use crate::{Error, Holder, service_dates, total_row, tr};

/// "Dec 1, 2026, 2:15 PM PST" in the plan's time zone.
pub fn date_time(l: Locale, zone: &ZoneRules, at: DateTime<Utc>) -> String {
    let (local, abbreviation) = zone.local(at);
    format!("{}, {} {abbreviation}", l.date(local.date()), l.time(local.time()))
}

/// Who made a payment, as a receipt says it.
pub(crate) fn source_word(l: Locale, s: PaymentSource) -> &'static str {
    match s {
        PaymentSource::Member => tr(l, "You, in the app", "Usted, en la aplicación"),
        PaymentSource::Autopay => tr(l, "Autopay", "Pago automático"),
        PaymentSource::Guest => tr(
            l,
            "A guest payment at a clinic kiosk",
            "Un pago de invitado en un quiosco de la clínica",
        ),
        PaymentSource::PaymentPlan => tr(l, "Payment plan", "Plan de pagos"),
        PaymentSource::Scheduled => tr(l, "Scheduled payment", "Pago programado"),
    }
}

/// The receipt of one payment, as a PDF. `bills` are the member's bills this device holds
/// (those the payment paid are named; one it does not hold is named by its id).
pub fn receipt_pdf(holder: &Holder, payment: &Payment, bills: &[Bill], zone: &ZoneRules) -> Result<Vec<u8>, Error> {
    let l = holder.locale;
    let title = format!("{} {}", tr(l, "Receipt", "Recibo"), payment.confirmation_number);
    let mut blocks = vec![Block::Title(title.clone())];
    let mut facts = holder.facts();
    facts.extend([
        (
            tr(l, "Confirmation number", "Número de confirmación").to_string(),
            payment.confirmation_number.clone(),
        ),
        (
            tr(l, "Date and time", "Fecha y hora").to_string(),
            date_time(l, zone, payment.created_at),
        ),
        (tr(l, "Amount", "Cantidad").to_string(), payment.amount.display_usd()),
        (tr(l, "Method", "Método").to_string(), payment.payment_method.label(l)),
        (
            tr(l, "Status", "Estado").to_string(),
            status_word(l, payment.status).to_string(),
        ),
        (
            tr(l, "Paid by", "Pagado por").to_string(),
            source_word(l, payment.source).to_string(),
        ),
    ]);
    if let Some(settled) = payment.settled_at {
        facts.push((tr(l, "Settled", "Acreditado").to_string(), date_time(l, zone, settled)));
    }
    if let Some(failure) = &payment.failure {
        facts.push((tr(l, "Why", "Motivo").to_string(), failure.message.clone()));
    }
    blocks.push(Block::Facts(facts));

    blocks.push(Block::Heading(tr(l, "Bills paid", "Facturas pagadas").to_string()));
    let rows = payment
        .allocations
        .iter()
        .map(|a| match bills.iter().find(|b| b.id == a.bill_id) {
            Some(b) => vec![
                b.provider.clone(),
                b.statement_number.clone(),
                b.account_number.clone(),
                b.patient_name.clone().unwrap_or_else(|| holder.name.clone()),
                service_dates(l, b.service_date_from, b.service_date_to),
                a.amount.display_usd(),
            ],
            None => vec![
                tr(
                    l,
                    "A bill not on this device",
                    "Una factura que no está en este dispositivo",
                )
                .to_string(),
                a.bill_id.clone(),
                String::new(),
                String::new(),
                String::new(),
                a.amount.display_usd(),
            ],
        })
        .collect();
    blocks.push(Block::Table(Table {
        columns: vec![
            Column::left(tr(l, "Provider", "Proveedor"), 0.2),
            Column::left(tr(l, "Statement number", "Número de estado de cuenta"), 0.15),
            Column::left(tr(l, "Account number", "Número de cuenta"), 0.15),
            Column::left(tr(l, "Patient", "Paciente"), 0.13),
            Column::left(tr(l, "Service dates", "Fechas de servicio"), 0.24),
            Column::right(tr(l, "Amount applied", "Cantidad aplicada"), 0.13),
        ],
        rows,
        total: Some(total_row(l, 6, vec![payment.amount.display_usd()])),
    }));
    blocks.push(Block::Note(format!(
        "{} {}.",
        tr(
            l,
            "Keep this receipt for your records. Times are in the plan's time zone",
            "Guarde este recibo. Las horas están en la zona horaria del plan"
        ),
        zone.name
    )));
    holder.pdf(&title, &blocks)
}
