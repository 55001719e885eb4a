//! Writing bills: a new bill with its line items (the plan's import, and the demo's seeding).

use crate::sql::{Connection, OptionalExtension, params};
use carebill_api::types::{SyncEntity, SyncOp};
use carebill_billing::BillKind;
use chrono::{DateTime, NaiveDate, Utc};

use crate::error::ApiResult;
use crate::store::{date_str, ms, touch};

/// One line of a new bill; amounts in cents.
pub struct NewLine {
    pub service_date: NaiveDate,
    pub code: String,
    pub description: String,
    pub quantity: u32,
    pub charge: i64,
    pub insurance: i64,
    pub adjustment: i64,
}

/// A bill to write, with its lines.
pub struct NewBill {
    pub id: String,
    pub member_id: String,
    pub account_number: String,
    pub statement_number: String,
    pub kind: BillKind,
    pub provider: String,
    pub facility: String,
    pub service_from: NaiveDate,
    pub service_to: NaiveDate,
    pub statement_date: NaiveDate,
    pub due_date: NaiveDate,
    pub lines: Vec<NewLine>,
    /// Paid elsewhere (at the provider's office, by another party), in cents.
    pub other_payments: i64,
    pub billing_phone: Option<String>,
    /// The plan's claim this bill is for, when known.
    pub claim_number: Option<String>,
    /// Who the care was for, when not the member.
    pub patient_name: Option<String>,
}

impl NewBill {
    pub fn amount_due_cents(&self) -> i64 {
        self.lines.iter().map(|l| l.charge - l.insurance - l.adjustment).sum()
    }
}

/// Inserts a bill, its line items and its change-feed entry.
pub fn insert_bill(tx: &Connection, bill: &NewBill, issued_at: i64, now: DateTime<Utc>) -> ApiResult<()> {
    let total: i64 = bill.lines.iter().map(|l| l.charge).sum();
    let insurance: i64 = bill.lines.iter().map(|l| l.insurance).sum();
    let adjustments: i64 = bill.lines.iter().map(|l| l.adjustment).sum();
    tx.prepare_cached(
        "INSERT INTO bills (id, member_id, account_number, statement_number, kind, provider, facility,
            service_date_from, service_date_to, statement_date, due_date,
            total_charges_cents, insurance_paid_cents, adjustments_cents, created_at, issued_at,
            other_payments_cents, billing_phone, claim_number, patient_name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    )?
    .execute(params![
        bill.id,
        bill.member_id,
        bill.account_number,
        bill.statement_number,
        bill.kind.as_str(),
        bill.provider,
        bill.facility,
        date_str(bill.service_from),
        date_str(bill.service_to),
        date_str(bill.statement_date),
        date_str(bill.due_date),
        total,
        insurance,
        adjustments,
        ms(now),
        issued_at,
        bill.other_payments,
        bill.billing_phone,
        bill.claim_number,
        bill.patient_name,
    ])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO line_items (bill_id, position, service_date, description, code, quantity, charge_cents, insurance_paid_cents, adjustment_cents)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for (i, l) in bill.lines.iter().enumerate() {
        stmt.execute(params![
            bill.id,
            i as i64,
            date_str(l.service_date),
            l.description,
            l.code,
            l.quantity,
            l.charge,
            l.insurance,
            l.adjustment
        ])?;
    }
    touch(tx, &bill.member_id, SyncEntity::Bill, &bill.id, SyncOp::Upsert, now)
}

/// The bill with this statement number and its member's last name and date of birth on the
/// roster: (bill id, member id, last name, date of birth).
pub fn statement_owner(conn: &Connection, statement: &str) -> ApiResult<Option<(String, String, String, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT b.id, b.member_id, r.last_name, r.date_of_birth FROM bills b
             JOIN roster r ON r.member_id = b.member_id WHERE b.statement_number = ?1",
        )?
        .query_row([statement], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?)
}
