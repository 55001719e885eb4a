//! A bill's statement: who, which provider and account, every line item with its codes, what
//! insurance paid, the discounts, the payments applied and what is owed by when.

use carebill_api::types::{BillDetail, Locale, PaymentStatus};
use carebill_billing::calendar::ZoneRules;
use chrono::NaiveDate;

use crate::layout::{Block, Column, Table};
use crate::{Error, Holder, service_dates, total_row, tr};

/// What a payment's state is called on paper.
pub(crate) fn status_word(l: Locale, s: PaymentStatus) -> &'static str {
    match s {
        PaymentStatus::Succeeded => tr(l, "Paid", "Pagado"),
        PaymentStatus::Pending => tr(l, "Processing", "En proceso"),
        PaymentStatus::Failed => tr(l, "Declined, not charged", "Rechazado, no se cobró"),
        PaymentStatus::Returned => tr(l, "Returned by the bank", "Devuelto por el banco"),
        PaymentStatus::NeedsReview => tr(l, "Being reviewed", "En revisión"),
    }
}

/// The statement of one bill, as a PDF. `today` is the date the copy was read (in the footer
/// note); `zone` turns payment instants into the plan's dates.
pub fn statement_pdf(
    holder: &Holder,
    detail: &BillDetail,
    zone: &ZoneRules,
    today: NaiveDate,
) -> Result<Vec<u8>, Error> {
    let l = holder.locale;
    let bill = &detail.bill;
    let title = format!("{} {}", tr(l, "Statement", "Estado de cuenta"), bill.statement_number);
    let mut blocks = vec![Block::Title(format!("{title}: {}", bill.provider))];

    let service = service_dates(l, bill.service_date_from, bill.service_date_to);
    let mut facts = holder.facts();
    facts.extend([
        (
            tr(l, "Patient", "Paciente").to_string(),
            bill.patient_name.clone().unwrap_or_else(|| holder.name.clone()),
        ),
        (tr(l, "Provider", "Proveedor").to_string(), bill.provider.clone()),
    ]);
    if let Some(phone) = &bill.billing_phone {
        facts.push((
            tr(l, "Provider's billing phone", "Teléfono de facturación del proveedor").to_string(),
            phone.clone(),
        ));
    }
    facts.extend([
        (tr(l, "Facility", "Centro").to_string(), bill.facility.clone()),
        (
            tr(l, "Account number", "Número de cuenta").to_string(),
            bill.account_number.clone(),
        ),
        (
            tr(l, "Statement number", "Número de estado de cuenta").to_string(),
            bill.statement_number.clone(),
        ),
        (
            tr(l, "Statement date", "Fecha del estado de cuenta").to_string(),
            l.date(bill.statement_date),
        ),
        (tr(l, "Service dates", "Fechas de servicio").to_string(), service),
    ]);
    if let Some(claim) = &bill.claim_number {
        facts.push((tr(l, "Claim", "Reclamación").to_string(), claim.clone()));
    }
    blocks.push(Block::Facts(facts));

    blocks.push(Block::Heading(tr(l, "Services", "Servicios").to_string()));
    let rows = detail
        .line_items
        .iter()
        .map(|li| {
            vec![
                l.date(li.service_date),
                li.description.clone(),
                li.code.clone(),
                li.quantity.to_string(),
                li.charge.display_usd(),
                li.insurance_paid.display_usd(),
                li.adjustment.display_usd(),
                li.patient_responsibility.display_usd(),
            ]
        })
        .collect();
    blocks.push(Block::Table(Table {
        columns: vec![
            Column::left(tr(l, "Date", "Fecha"), 0.13),
            Column::left(tr(l, "Service", "Servicio"), 0.21),
            Column::left(tr(l, "Code", "Código"), 0.08),
            Column::right(tr(l, "Qty", "Cant."), 0.06),
            Column::right(tr(l, "Amount billed", "Cantidad facturada"), 0.12),
            Column::right(tr(l, "Insurance paid", "Pagado por el seguro"), 0.12),
            Column::right(tr(l, "Discounts", "Descuentos"), 0.13),
            Column::right(tr(l, "Your responsibility", "Su responsabilidad"), 0.15),
        ],
        rows,
        total: Some(total_row(
            l,
            8,
            vec![
                bill.total_charges.display_usd(),
                bill.insurance_paid.display_usd(),
                bill.adjustments.display_usd(),
                bill.amount_due.display_usd(),
            ],
        )),
    }));

    blocks.push(Block::Heading(tr(l, "What you owe", "Lo que usted debe").to_string()));
    blocks.push(Block::Facts(vec![
        (
            tr(l, "Amount billed", "Cantidad facturada").into(),
            bill.total_charges.display_usd(),
        ),
        (
            tr(l, "Insurance paid", "Pagado por el seguro").into(),
            bill.insurance_paid.display_usd(),
        ),
        (tr(l, "Discounts", "Descuentos").into(), bill.adjustments.display_usd()),
        (
            tr(l, "Your responsibility", "Su responsabilidad").into(),
            bill.amount_due.display_usd(),
        ),
        (
            tr(l, "Payments you made", "Pagos que usted hizo").into(),
            bill.payments_made.display_usd(),
        ),
        (
            tr(l, "Other payments received", "Otros pagos recibidos").into(),
            bill.other_payments.display_usd(),
        ),
        (
            tr(l, "Processing", "En proceso").into(),
            bill.pending_amount.display_usd(),
        ),
        (
            tr(l, "You owe now", "Usted debe ahora").into(),
            bill.payable.display_usd(),
        ),
        (tr(l, "Due date", "Fecha de vencimiento").into(), l.date(bill.due_date)),
    ]));

    blocks.push(Block::Heading(tr(l, "Payments applied", "Pagos aplicados").to_string()));
    if detail.payments.is_empty() {
        blocks.push(Block::Para(
            tr(
                l,
                "No payments on this bill yet.",
                "Todavía no hay pagos en esta factura.",
            )
            .to_string(),
        ));
    } else {
        blocks.push(Block::Table(Table {
            columns: vec![
                Column::left(tr(l, "Date", "Fecha"), 0.15),
                Column::left(tr(l, "Confirmation number", "Número de confirmación"), 0.2),
                Column::left(tr(l, "Method", "Método"), 0.3),
                Column::left(tr(l, "Status", "Estado"), 0.2),
                Column::right(tr(l, "Amount", "Cantidad"), 0.15),
            ],
            rows: detail
                .payments
                .iter()
                .map(|p| {
                    vec![
                        l.date(zone.date_at(p.created_at)),
                        p.confirmation_number.clone(),
                        p.payment_method.label(l),
                        status_word(l, p.status).to_string(),
                        p.amount.display_usd(),
                    ]
                })
                .collect(),
            total: None,
        }));
    }
    let note = match &bill.billing_phone {
        Some(phone) => format!(
            "{} {} {phone}. {} {}.",
            tr(
                l,
                "Questions about this bill? Call",
                "¿Preguntas sobre esta factura? Llame a"
            ),
            bill.provider,
            tr(
                l,
                "Made by Carebill from the copy on this device on",
                "Hecho por Carebill con la copia de este dispositivo el"
            ),
            l.date(today)
        ),
        None => format!(
            "{} {}.",
            tr(
                l,
                "Made by Carebill from the copy on this device on",
                "Hecho por Carebill con la copia de este dispositivo el"
            ),
            l.date(today)
        ),
    };
    blocks.push(Block::Note(note));

    holder.pdf(&title, &blocks)
}
