//! `carebill-server import`: loads a health plan's roster and bills, all or nothing.
//!
//! Roster: CSV with the header `member_id,first_name,last_name,date_of_birth`. Existing members
//! are updated. Bills: a JSON array of bills in the API's shape (money as strings, dates as
//! `YYYY-MM-DD`) without the derived fields, each with its line items, and optionally
//! `other_payments` (paid at the provider's office or by another party; at most the amount due)
//! and `billing_phone` (the provider's billing office). Every row is checked
//! (formats, that line items add up to the bill, that the member is on the roster, that
//! statement numbers are new) before anything is written; then everything is written in one
//! transaction.

use std::collections::HashSet;
use std::path::Path;

use crate::sql::{OptionalExtension, params};
use carebill_billing::bill::check_line_items;
use carebill_billing::{BillKind, Charges, LineItem, Money, validate};
use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Deserialize;

use crate::db::Db;
use crate::ids::random_id;
use crate::store::bills::{NewBill, NewLine, insert_bill};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{file}, {location}: {problem}")]
    Invalid {
        file: String,
        location: String,
        problem: String,
    },
    #[error("database: {0}")]
    Db(String),
}

impl From<crate::sql::Error> for ImportError {
    fn from(e: crate::sql::Error) -> ImportError {
        ImportError::Db(e.to_string())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RosterRow {
    member_id: String,
    first_name: String,
    last_name: String,
    date_of_birth: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    service_date: String,
    description: String,
    code: String,
    quantity: u32,
    charge: Money,
    insurance_paid: Money,
    adjustment: Money,
    patient_responsibility: Money,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportBill {
    member_id: String,
    account_number: String,
    statement_number: String,
    kind: BillKind,
    provider: String,
    facility: String,
    service_date_from: String,
    service_date_to: String,
    statement_date: String,
    due_date: String,
    total_charges: Money,
    insurance_paid: Money,
    adjustments: Money,
    /// Paid at the provider's office or by another party before the plan sent the bill.
    #[serde(default)]
    other_payments: Money,
    /// The provider's billing office phone.
    #[serde(default)]
    billing_phone: Option<String>,
    line_items: Vec<ImportLine>,
}

/// What an import loaded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub members: usize,
    pub bills: usize,
}

fn invalid(file: &Path, location: impl Into<String>, problem: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        file: file.display().to_string(),
        location: location.into(),
        problem: problem.into(),
    }
}

fn read(path: &Path) -> Result<String, ImportError> {
    std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Validates both files completely, then writes them in one transaction.
pub fn import(
    db: &Db,
    roster: Option<&Path>,
    bills: Option<&Path>,
    now: DateTime<Utc>,
) -> Result<ImportSummary, ImportError> {
    let today = now.date_naive();
    let mut members = Vec::new();
    if let Some(path) = roster {
        let text = read(path)?;
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut seen = HashSet::new();
        for (i, row) in reader.deserialize::<RosterRow>().enumerate() {
            let line = format!("line {}", i + 2);
            let row = row.map_err(|e| invalid(path, &line, e.to_string()))?;
            let id = validate::member_id(&row.member_id).map_err(|e| invalid(path, &line, e.message))?;
            let first =
                validate::person_name(&row.first_name, "first name").map_err(|e| invalid(path, &line, e.message))?;
            let last =
                validate::person_name(&row.last_name, "last name").map_err(|e| invalid(path, &line, e.message))?;
            let dob =
                validate::date_of_birth(&row.date_of_birth, today).map_err(|e| invalid(path, &line, e.message))?;
            if !seen.insert(id.clone()) {
                return Err(invalid(path, &line, format!("member {id} appears twice")));
            }
            members.push((id, first, last, dob));
        }
    }
    let roster_ids: HashSet<String> = members.iter().map(|m| m.0.clone()).collect();

    let mut new_bills = Vec::new();
    if let Some(path) = bills {
        let text = read(path)?;
        let parsed: Vec<ImportBill> =
            serde_json::from_str(&text).map_err(|e| invalid(path, format!("line {}", e.line()), e.to_string()))?;
        let mut statements = HashSet::new();
        let mut rng = StdRng::from_entropy();
        for (i, b) in parsed.into_iter().enumerate() {
            let loc = format!("bill {} ({})", i + 1, b.statement_number);
            let bad = |problem: String| invalid(path, &loc, problem);
            let date = |s: &str| validate::iso_date(s).map_err(|e| bad(e.message));
            let member_id = validate::member_id(&b.member_id).map_err(|e| bad(e.message))?;
            let (from, to, statement, due) = (
                date(&b.service_date_from)?,
                date(&b.service_date_to)?,
                date(&b.statement_date)?,
                date(&b.due_date)?,
            );
            if due < statement || statement < to {
                return Err(bad("dates must run service period <= statement date <= due date".into()));
            }
            for (name, value) in [
                ("account_number", &b.account_number),
                ("statement_number", &b.statement_number),
                ("provider", &b.provider),
                ("facility", &b.facility),
            ] {
                if value.trim().is_empty() || value.chars().count() > 200 {
                    return Err(bad(format!("{name} must be 1 to 200 characters")));
                }
            }
            if !statements.insert(b.statement_number.clone()) {
                return Err(bad("statement number appears twice".into()));
            }
            let mut items = Vec::with_capacity(b.line_items.len());
            for l in &b.line_items {
                if l.code.trim().is_empty() || l.code.len() > 10 || l.description.trim().is_empty() {
                    return Err(bad("every line item needs a code (CPT/HCPCS) and a description".into()));
                }
                items.push(LineItem {
                    service_date: date(&l.service_date)?,
                    description: l.description.clone(),
                    code: l.code.clone(),
                    quantity: l.quantity,
                    charge: l.charge,
                    insurance_paid: l.insurance_paid,
                    adjustment: l.adjustment,
                    patient_responsibility: l.patient_responsibility,
                });
            }
            let charges = Charges {
                total_charges: b.total_charges,
                insurance_paid: b.insurance_paid,
                adjustments: b.adjustments,
            };
            let amount_due = charges.amount_due().map_err(|e| bad(e.to_string()))?;
            // Paid elsewhere must fit within the member's responsibility, so the bill adds up.
            charges
                .balances(b.other_payments, Money::ZERO, Money::ZERO)
                .map_err(|_| {
                    bad(format!(
                        "other_payments {} must be 0 to the amount due ({amount_due})",
                        b.other_payments
                    ))
                })?;
            let billing_phone = b
                .billing_phone
                .as_deref()
                .map(|p| validate::phone(p).map_err(|e| bad(format!("billing_phone: {}", e.message))))
                .transpose()?;
            check_line_items(&charges, from, to, &items).map_err(|e| bad(e.to_string()))?;
            new_bills.push(NewBill {
                id: random_id(&mut rng, "bil"),
                member_id,
                account_number: b.account_number,
                statement_number: b.statement_number,
                kind: b.kind,
                provider: b.provider,
                facility: b.facility,
                service_from: from,
                service_to: to,
                statement_date: statement,
                due_date: due,
                lines: items
                    .into_iter()
                    .map(|l| NewLine {
                        service_date: l.service_date,
                        code: l.code,
                        description: l.description,
                        quantity: l.quantity,
                        charge: l.charge.cents(),
                        insurance: l.insurance_paid.cents(),
                        adjustment: l.adjustment.cents(),
                    })
                    .collect(),
                other_payments: b.other_payments.cents(),
                billing_phone,
            });
        }
    }

    let bills_path = bills.unwrap_or(Path::new("bills"));
    db.with_writer(|conn| {
        let db_err = |e: crate::sql::Error| ImportError::Db(e.to_string());
        conn.transaction(|tx| {
            // Every member the file writes is locked first, in one order (see `store::lock_members`).
            crate::store::lock_members(
                tx,
                members.iter().map(|(id, ..)| id.as_str()).chain(new_bills.iter().map(|b| b.member_id.as_str())),
            )
            .map_err(|e| ImportError::Db(e.describe()))?;
            for (id, first, last, dob) in &members {
                tx.execute(
                    "INSERT INTO roster (member_id, first_name, last_name, date_of_birth) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(member_id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name, date_of_birth = excluded.date_of_birth",
                    params![id, first, last, dob.format("%Y-%m-%d").to_string()],
                )
                .map_err(db_err)?;
            }
            for bill in &new_bills {
                let on_roster = roster_ids.contains(&bill.member_id)
                    || tx
                        .query_row("SELECT 1 FROM roster WHERE member_id = ?1", [&bill.member_id], |_| Ok(()))
                        .optional()
                        .map_err(db_err)?
                        .is_some();
                if !on_roster {
                    return Err(invalid(bills_path, &bill.statement_number, format!("member {} is not on the roster", bill.member_id)));
                }
                let exists = tx
                    .query_row("SELECT 1 FROM bills WHERE statement_number = ?1", [&bill.statement_number], |_| Ok(()))
                    .optional()
                    .map_err(db_err)?
                    .is_some();
                if exists {
                    return Err(invalid(bills_path, &bill.statement_number, "a bill with this statement number already exists"));
                }
                insert_bill(tx, bill, now.timestamp_millis(), now).map_err(|e| ImportError::Db(e.describe()))?;
            }
            Ok(ImportSummary { members: members.len(), bills: new_bills.len() })
        })
        .and_then(|summary| {
            crate::store::refresh_statistics(conn, crate::store::BILL_TABLES).map_err(|e| ImportError::Db(e.describe()))?;
            Ok(summary)
        })
    })
}
