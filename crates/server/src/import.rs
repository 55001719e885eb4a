//! `carebill-server import`: loads a health plan's roster and bills, all or nothing.
//!
//! Roster: CSV with the header `member_id,first_name,last_name,date_of_birth`. Existing members
//! are updated. Bills: a JSON array of bills in the API's shape (money as strings, dates as
//! `YYYY-MM-DD`) without the derived fields, each with its line items, and optionally
//! `other_payments` (paid at the provider's office or by another party; at most the amount due)
//! and `billing_phone` (the provider's billing office), and `patient_name` when the care was for
//! someone else than the member (a dependent). Every row is checked
//! (formats, that line items add up to the bill, that the member is on the roster, that
//! statement numbers are new) before anything is written; then everything is written in one
//! transaction. A bill may name its `claim_number`.
//!
//! Claims: FHIR R4 files (`--fhir`, Bundles or NDJSON, or directories of them: a Bulk Data export
//! writes one file per resource type) of CARIN Blue Button EOBs, read by [`crate::fhir`]. Each
//! claim goes to the roster member whose member ID is the patient's member number (`MB`);
//! claims of patients not on the roster are skipped and counted (`strict` refuses them). The
//! same claim number again updates the claim; `cancelled` and replaced claims leave the member's
//! view. Roster, bills and claims are one transaction: the whole import is written, or nothing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::sql::{OptionalExtension, params};
use carebill_api::types::{BenefitBalance, Claim, ClaimAmount, ClaimDetail, ClaimLine};
use carebill_billing::bill::check_line_items;
use carebill_billing::claims::{MEMBER_COST_CATEGORIES, is_claim_number};
use carebill_billing::validate::MemberIdRule;
use carebill_billing::{BillKind, Charges, LineItem, Money, validate};
use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Deserialize;

use crate::db::Db;
use crate::fhir;
use crate::ids::random_id;
use crate::store::bills::{NewBill, NewLine, insert_bill};
use crate::store::claims::{self, Written};

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
    #[error("{0}")]
    Fhir(#[from] fhir::FhirError),
    #[error("{count} claims are for patients not on the roster (member numbers {examples}); --strict refuses them")]
    NotOnRoster { count: usize, examples: String },
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
    /// The plan's claim this bill is for.
    #[serde(default)]
    claim_number: Option<String>,
    /// Who the care was for, when not the member (a dependent).
    #[serde(default)]
    patient_name: Option<String>,
    line_items: Vec<ImportLine>,
}

/// What an import reads.
#[derive(Debug, Default, Clone)]
pub struct Sources<'a> {
    pub roster: Option<&'a Path>,
    pub bills: Option<&'a Path>,
    /// FHIR files or directories of them, read as one set.
    pub fhir: &'a [PathBuf],
    /// Claims of patients not on the roster refuse the import instead of being skipped.
    pub strict: bool,
}

/// What an import loaded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub members: usize,
    pub bills: usize,
    /// Claims new to the plan's records.
    pub claims_added: usize,
    /// Claims already known, updated.
    pub claims_updated: usize,
    /// Claims stored but not shown: cancelled or replaced by an adjusted claim.
    pub claims_hidden: usize,
    /// Claims of patients not on the roster, not loaded.
    pub claims_skipped: usize,
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

/// Validates every file completely, then writes them in one transaction.
pub fn import(
    db: &Db,
    sources: &Sources<'_>,
    rule: &MemberIdRule,
    now: DateTime<Utc>,
) -> Result<ImportSummary, ImportError> {
    let Sources { roster, bills, .. } = *sources;
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
            let id = rule
                .check(&row.member_id)
                .map_err(|e| invalid(path, &line, e.message))?;
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
            let member_id = rule.check(&b.member_id).map_err(|e| bad(e.message))?;
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
            if let Some(n) = &b.claim_number
                && !is_claim_number(n.trim())
            {
                return Err(bad(
                    "claim_number must be 1 to 64 characters of letters, digits, - . _ /".into(),
                ));
            }
            let billing_phone = b
                .billing_phone
                .as_deref()
                .map(|p| validate::phone(p).map_err(|e| bad(format!("billing_phone: {}", e.message))))
                .transpose()?;
            let patient_name = match b.patient_name.as_deref().map(str::trim) {
                None => None,
                Some(name) if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) => {
                    return Err(bad(
                        "patient_name must be 1 to 200 characters with no control characters".into(),
                    ));
                }
                Some(name) => Some(name.to_string()),
            };
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
                claim_number: b.claim_number.map(|n| n.trim().to_string()),
                patient_name,
            });
        }
    }
    let claim_set = read_claims(sources.fhir)?;
    let claim_members: Vec<String> = claim_set
        .iter()
        .filter_map(|c| rule.check(&c.member_number).ok())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();

    let bills_path = bills.unwrap_or(Path::new("bills"));
    db.with_writer(|conn| {
        let db_err = |e: crate::sql::Error| ImportError::Db(e.to_string());
        conn.transaction(|tx| {
            // Every member the file writes is locked first, in one order (see `store::lock_members`).
            let replaced: Vec<&str> = claim_set.iter().flat_map(|c| c.replaces.iter().map(String::as_str)).collect();
            let replaced_members = claims::members_of(tx, &replaced).map_err(|e| ImportError::Db(e.describe()))?;
            crate::store::lock_members(
                tx,
                members
                    .iter()
                    .map(|(id, ..)| id.as_str())
                    .chain(new_bills.iter().map(|b| b.member_id.as_str()))
                    .chain(claim_members.iter().map(String::as_str))
                    .chain(replaced_members.iter().map(String::as_str)),
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
            let mut summary = ImportSummary { members: members.len(), bills: new_bills.len(), ..ImportSummary::default() };
            write_claims(tx, &claim_set, sources.strict, rule, now, &mut summary)?;
            Ok(summary)
        })
        .and_then(|summary| {
            crate::store::refresh_statistics(conn, crate::store::BILL_TABLES).map_err(|e| ImportError::Db(e.describe()))?;
            Ok(summary)
        })
    })
}

/// Every FHIR file named (directories: their `.json` and `.ndjson` files, by name), read as one
/// set; the first problem refuses it all.
fn read_claims(paths: &[PathBuf]) -> Result<Vec<fhir::Claim>, ImportError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| ImportError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .and_then(|e| e.to_str())
                            .is_some_and(|e| e.eq_ignore_ascii_case("json") || e.eq_ignore_ascii_case("ndjson"))
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut reader = fhir::Reader::new();
    for file in &files {
        let text = read(file)?;
        reader.add_file(&file.display().to_string(), &text)?;
    }
    let set = reader.read()?;
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for c in &set.claims {
        let at = |path: &str, message: String| fhir::FhirError {
            file: c.file.clone(),
            resource: Some(format!("ExplanationOfBenefit/{}", c.resource_id)),
            path: path.into(),
            message,
        };
        if let Some(first) = seen.insert(&c.identifier, &c.resource_id) {
            return Err(at(
                "identifier",
                format!(
                    "claim {} appears twice (also ExplanationOfBenefit/{first})",
                    c.identifier
                ),
            )
            .into());
        }
        if !is_claim_number(c.identifier.trim()) {
            return Err(at(
                "identifier",
                format!(
                    "{:?} is not a claim number (1 to 64 letters, digits, - . _ /)",
                    c.identifier
                ),
            )
            .into());
        }
        if c.billable_from.is_none() && c.lines.iter().all(|l| l.service_date.is_none()) {
            return Err(at(
                "billablePeriod.start",
                "no service date (billablePeriod.start or item.servicedDate)".into(),
            )
            .into());
        }
    }
    Ok(set.claims)
}

/// A claim as members read it, from what its EOB states.
pub fn claim_view(c: &fhir::Claim, patient_name: &str) -> ClaimDetail {
    let amounts = |list: &[fhir::Amount]| -> Vec<ClaimAmount> {
        list.iter()
            .map(|a| ClaimAmount {
                category: a.category.clone(),
                amount: a.amount,
            })
            .collect()
    };
    let first_line = c.lines.iter().filter_map(|l| l.service_date).min();
    let last_line = c.lines.iter().filter_map(|l| l.service_date).max();
    let from = c.billable_from.or(first_line);
    ClaimDetail {
        claim: Claim {
            id: String::new(),
            claim_number: c.identifier.clone(),
            kind: c.kind,
            patient_name: patient_name.to_string(),
            service_date_from: from,
            service_date_to: c.billable_to.or(last_line).or(from),
            provider: c.provider.clone(),
            facility: c.facility.clone(),
            outcome: c.outcome.clone(),
            billed: c.total("submitted"),
            allowed: c.total("eligible"),
            plan_paid: c.total("benefit"),
            member_owes: c.total("memberliability"),
            member_costs: MEMBER_COST_CATEGORIES
                .iter()
                .filter_map(|cat| {
                    c.total(cat).filter(|m| !m.is_zero()).map(|amount| ClaimAmount {
                        category: (*cat).to_string(),
                        amount,
                    })
                })
                .collect(),
        },
        lines: c
            .lines
            .iter()
            .map(|l| ClaimLine {
                sequence: l.sequence,
                service_date: l.service_date,
                code: l.code.clone(),
                code_system: l.code_system.clone(),
                display: l.display.clone(),
                revenue_code: l.revenue_code.clone(),
                quantity: l.quantity.clone(),
                amounts: amounts(&l.adjudications),
            })
            .collect(),
        adjudications: amounts(&c.adjudications),
        totals: amounts(&c.totals),
        benefit_balance: c
            .benefit_balance
            .iter()
            .map(|(kind, limit, used)| BenefitBalance {
                kind: kind.clone(),
                limit: *limit,
                used: *used,
            })
            .collect(),
    }
}

fn write_claims(
    tx: &crate::sql::Connection,
    set: &[fhir::Claim],
    strict: bool,
    rule: &MemberIdRule,
    now: DateTime<Utc>,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let db_err = |e: crate::error::ApiError| ImportError::Db(e.describe());
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    let mut skipped = Vec::new();
    let mut rng = StdRng::from_entropy();
    let mut roster = tx
        .prepare_cached("SELECT first_name, last_name FROM roster WHERE member_id = ?1")
        .map_err(|e| ImportError::Db(e.to_string()))?;
    for c in set {
        let member = rule.check(&c.member_number).ok();
        let name = match &member {
            None => None,
            Some(m) => match names.get(m) {
                Some(n) => n.clone(),
                None => {
                    let n = roster
                        .query_row([m], |r| {
                            Ok(format!("{} {}", r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                        })
                        .optional()
                        .map_err(|e| ImportError::Db(e.to_string()))?;
                    names.insert(m.clone(), n.clone());
                    n
                }
            },
        };
        let (Some(member), Some(name)) = (member, name) else {
            skipped.push(c.member_number.clone());
            continue;
        };
        let view = claim_view(c, &name);
        let id = random_id(&mut rng, "clm");
        match claims::write(tx, &member, &id, &view, c.cancelled, &c.replaces, now).map_err(db_err)? {
            Written::Added => summary.claims_added += 1,
            Written::Updated => summary.claims_updated += 1,
            Written::Hidden => summary.claims_hidden += 1,
        }
    }
    summary.claims_skipped = skipped.len();
    if strict && !skipped.is_empty() {
        skipped.sort();
        skipped.dedup();
        let mut examples = skipped.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        if skipped.len() > 5 {
            examples.push_str(", ...");
        }
        return Err(ImportError::NotOnRoster {
            count: summary.claims_skipped,
            examples,
        });
    }
    Ok(())
}
