//! Demo data: a deterministic roster, accounts and two years of realistic bills.
//!
//! Dates are laid out relative to the business date at seeding time, so a fresh demo always has
//! bills that are overdue, due soon, partially paid and paid. Everything else (names, amounts,
//! codes, ids) comes from a fixed seed and is the same on every machine.

use crate::sql::{Connection, params};
use carebill_api::types::{AccountType, BankAccountDetails, CardDetails, SyncEntity, SyncOp, TokenRequest};
use carebill_billing::{BillKind, Money};
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::auth::password::hash_blocking;
use crate::config::ServerConfig;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{confirmation_number, random_id};
use crate::processor::PaymentProcessor;
use crate::store::bills::{NewBill, NewLine};
use crate::store::{ms, touch};

pub const DEMO_EMAIL: &str = "demo@carebill.example";
pub const DEMO_PASSWORD: &str = "correct horse battery staple";
pub const DEMO_MEMBER_ID: &str = "M200000001";
/// On the roster, without an account: for trying registration.
pub const UNREGISTERED_MEMBER_ID: &str = "M200000002";
/// The demo member's dependent, the patient on one of their bills.
pub const DEMO_DEPENDENT: &str = "Riley Lee";
pub const SECOND_EMAIL: &str = "taylor.nguyen@carebill.example";
/// The demo's enrolled kiosk credential (demo servers only; real kiosks get a random one).
pub const DEMO_KIOSK_CREDENTIAL: &str = "kdc_demo-front-desk";

struct Person {
    member_id: &'static str,
    first: &'static str,
    last: &'static str,
    dob: &'static str,
    email: Option<&'static str>,
}

const PEOPLE: &[Person] = &[
    Person {
        member_id: DEMO_MEMBER_ID,
        first: "Jordan",
        last: "Lee",
        dob: "1979-09-23",
        email: Some(DEMO_EMAIL),
    },
    Person {
        member_id: UNREGISTERED_MEMBER_ID,
        first: "Alex",
        last: "Rivera",
        dob: "1985-04-12",
        email: None,
    },
    Person {
        member_id: "M200000003",
        first: "Taylor",
        last: "Nguyen",
        dob: "1992-01-30",
        email: Some(SECOND_EMAIL),
    },
    Person {
        member_id: "M200000004",
        first: "Samuel",
        last: "Okafor",
        dob: "1968-07-08",
        email: None,
    },
    Person {
        member_id: "M200000005",
        first: "María José",
        last: "Fernández",
        dob: "2001-11-19",
        email: None,
    },
    Person {
        member_id: "M200000006",
        first: "Chris",
        last: "Halvorsen",
        dob: "1955-02-14",
        email: None,
    },
];

struct Procedure {
    code: &'static str,
    description: &'static str,
    unit_cents: i64,
    max_quantity: u32,
}

const fn p(code: &'static str, description: &'static str, unit_cents: i64, max_quantity: u32) -> Procedure {
    Procedure {
        code,
        description,
        unit_cents,
        max_quantity,
    }
}

const PROFESSIONAL: &[Procedure] = &[
    p("99203", "Office visit, new patient, low complexity", 24_000, 1),
    p("99213", "Office visit, established patient, low complexity", 18_000, 1),
    p(
        "99214",
        "Office visit, established patient, moderate complexity",
        26_500,
        1,
    ),
    p("99395", "Preventive visit, established patient, 18-39 years", 29_000, 1),
    p("93000", "Electrocardiogram with interpretation and report", 12_500, 1),
    p("71046", "Chest X-ray, 2 views", 21_000, 1),
    p("73030", "X-ray of shoulder, 2 or more views", 19_500, 1),
    p("97110", "Therapeutic exercise, each 15 minutes", 9_500, 4),
    p("97140", "Manual therapy, each 15 minutes", 9_000, 3),
    p("90471", "Immunization administration, first vaccine", 4_000, 1),
    p("90686", "Influenza vaccine, quadrivalent, preservative free", 5_500, 1),
    p("12002", "Simple repair of superficial wound, 2.6 to 7.5 cm", 38_000, 1),
    p("11102", "Tangential biopsy of skin, single lesion", 31_000, 1),
    p("87880", "Rapid strep test, antigen detection", 3_500, 1),
    p("20610", "Injection into a major joint (knee or shoulder)", 27_500, 1),
];

const HOSPITAL: &[Procedure] = &[
    p("99284", "Emergency department visit, high severity", 240_000, 1),
    p("99283", "Emergency department visit, moderate severity", 145_000, 1),
    p("80053", "Comprehensive metabolic panel", 9_500, 1),
    p("85025", "Complete blood count with automated differential", 4_500, 1),
    p("36415", "Routine venipuncture", 2_500, 1),
    p("81003", "Urinalysis, automated, without microscopy", 2_000, 1),
    p("70450", "CT scan of head or brain without contrast", 140_000, 1),
    p("74177", "CT scan of abdomen and pelvis with contrast", 260_000, 1),
    p("73721", "MRI of knee without contrast", 180_000, 1),
    p("76700", "Ultrasound of abdomen, complete", 45_000, 1),
    p("29881", "Knee arthroscopy with meniscectomy", 450_000, 1),
    p("45378", "Colonoscopy, diagnostic", 220_000, 1),
    p("J7030", "Infusion, normal saline solution, 1000 cc", 8_500, 2),
    p("J1885", "Injection, ketorolac tromethamine, per 15 mg", 6_000, 2),
    p("G0378", "Hospital observation service, per hour", 15_000, 24),
    p("96374", "IV push, single or initial drug", 32_000, 1),
];

struct Provider {
    name: &'static str,
    facility: &'static str,
    prefix: &'static str,
    /// The provider's billing office (fictional 555 numbers).
    billing_phone: &'static str,
}

const HOSPITALS: &[Provider] = &[
    Provider {
        name: "Mercy Valley Hospital",
        facility: "Mercy Valley Hospital, Main Campus",
        prefix: "MVH",
        billing_phone: "1-800-555-0110",
    },
    Provider {
        name: "Bayside Regional Medical Center",
        facility: "Bayside Regional Medical Center",
        prefix: "BRM",
        billing_phone: "1-800-555-0111",
    },
    Provider {
        name: "Northgate Imaging Center",
        facility: "Northgate Imaging Center, Suite 200",
        prefix: "NIC",
        billing_phone: "1-800-555-0112",
    },
    Provider {
        name: "Lakeside Surgery Center",
        facility: "Lakeside Surgery Center",
        prefix: "LSC",
        billing_phone: "1-800-555-0113",
    },
];

const PRACTICES: &[Provider] = &[
    Provider {
        name: "Bayside Medical Group",
        facility: "Bayside Medical Group, Harbor Clinic",
        prefix: "BMG",
        billing_phone: "1-800-555-0120",
    },
    Provider {
        name: "Cedar Ridge Orthopedics",
        facility: "Cedar Ridge Orthopedics, Building B",
        prefix: "CRO",
        billing_phone: "1-800-555-0121",
    },
    Provider {
        name: "Summit Family Practice",
        facility: "Summit Family Practice",
        prefix: "SFP",
        billing_phone: "1-800-555-0122",
    },
    Provider {
        name: "Golden Gate Dermatology",
        facility: "Golden Gate Dermatology",
        prefix: "GGD",
        billing_phone: "1-800-555-0123",
    },
    Provider {
        name: "Emergency Physicians of the Valley",
        facility: "Mercy Valley Hospital, Emergency Department",
        prefix: "EPV",
        billing_phone: "1-800-555-0124",
    },
];

/// What the seed decides for one bill's payments.
#[derive(Clone, Copy)]
enum Plan {
    Open,
    Partial,
    Paid,
}

fn pct(cents: i64, percent: i64) -> i64 {
    Money::from_cents(cents).mul_ratio(percent, 100).map_or(0, Money::cents)
}

fn days_before(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).unwrap_or(d)
}

fn days_after(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).unwrap_or(d)
}

/// One realistic bill whose statement is `age_days` before `today`.
pub fn make_bill(rng: &mut StdRng, member_id: &str, statement_seq: u64, today: NaiveDate, age_days: u64) -> NewBill {
    let kind = if rng.gen_bool(0.45) {
        BillKind::Hospital
    } else {
        BillKind::Professional
    };
    let (providers, procedures) = match kind {
        BillKind::Hospital => (HOSPITALS, HOSPITAL),
        BillKind::Professional => (PRACTICES, PROFESSIONAL),
    };
    let provider = &providers[rng.gen_range(0..providers.len())];
    let statement_date = days_before(today, age_days);
    let service_to = days_before(statement_date, rng.gen_range(7..=35));
    let stay = if kind == BillKind::Hospital && rng.gen_bool(0.3) {
        rng.gen_range(1..=4)
    } else {
        0
    };
    let service_from = days_before(service_to, stay);
    let due_date = days_after(statement_date, 30);
    loop {
        let count = rng.gen_range(1..=5usize).min(procedures.len());
        let mut lines = Vec::with_capacity(count);
        for i in 0..count {
            let proc = &procedures[rng.gen_range(0..procedures.len())];
            let quantity = rng.gen_range(1..=proc.max_quantity);
            let charge = proc.unit_cents * i64::from(quantity);
            let adjustment = pct(charge, rng.gen_range(20..=55));
            let allowed = charge - adjustment;
            // Some services are not covered, or fall under the deductible.
            let covered = if rng.gen_bool(0.12) { 0 } else { rng.gen_range(55..=90) };
            let insurance = pct(allowed, covered);
            let service_date = if i == 0 {
                service_from
            } else {
                days_after(service_from, rng.gen_range(0..=stay))
            };
            lines.push(NewLine {
                service_date,
                code: proc.code.to_string(),
                description: proc.description.to_string(),
                quantity,
                charge,
                insurance,
                adjustment,
            });
        }
        let bill = NewBill {
            id: random_id(rng, "bil"),
            member_id: member_id.to_string(),
            account_number: format!("{}-{:07}", provider.prefix, rng.gen_range(1_000_000..9_999_999)),
            statement_number: format!("{}{}{:06}", provider.prefix, statement_date.format("%y"), statement_seq),
            kind,
            provider: provider.name.to_string(),
            facility: provider.facility.to_string(),
            service_from,
            service_to,
            statement_date,
            due_date,
            lines,
            other_payments: 0,
            billing_phone: Some(provider.billing_phone.to_string()),
            claim_number: None,
            patient_name: None,
        };
        if bill.amount_due_cents() >= 500 {
            return bill;
        }
    }
}

/// Records a settled historical payment against one bill.
fn insert_settled_payment(
    tx: &Connection,
    rng: &mut StdRng,
    bill: &NewBill,
    cents: i64,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let id = random_id(rng, "pay");
    let paid_on = days_after(bill.statement_date, rng.gen_range(3..=25)).min(days_before(today, 3));
    let created = paid_on
        .and_hms_opt(17, rng.gen_range(0..59), 0)
        .unwrap_or_default()
        .and_utc();
    let by_card = rng.gen_bool(0.7);
    let (method_type, brand, last4) = if by_card {
        ("card", "visa", "4242")
    } else {
        ("bank_account", "Carebill Test Bank", "6789")
    };
    let settled = if by_card {
        created
    } else {
        created + chrono::Duration::days(2)
    };
    tx.prepare_cached(
        "INSERT INTO payments (id, member_id, status, amount_cents, confirmation_number, method_type, method_brand, method_last4, created_at, settled_at)
         VALUES (?1, ?2, 'succeeded', ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![id, bill.member_id, cents, confirmation_number(rng), method_type, brand, last4, ms(created), ms(settled)])?;
    tx.prepare_cached("INSERT INTO payment_allocations (payment_id, bill_id, amount_cents) VALUES (?1, ?2, ?3)")?
        .execute(params![id, bill.id, cents])?;
    tx.prepare_cached("UPDATE bills SET settled_cents = settled_cents + ?2 WHERE id = ?1")?
        .execute(params![bill.id, cents])?;
    touch(tx, &bill.member_id, SyncEntity::Payment, &id, SyncOp::Upsert, now)?;
    touch(tx, &bill.member_id, SyncEntity::Bill, &bill.id, SyncOp::Upsert, now)
}

/// Demo: issues a new bill (statement today) to a roster member and returns it as the app sees it.
pub fn issue_bill(
    tx: &Connection,
    member_id: &str,
    today: NaiveDate,
    issued_at: i64,
    now: DateTime<Utc>,
) -> ApiResult<carebill_api::types::BillDetail> {
    if crate::store::accounts::roster_entry(tx, member_id)?.is_none() {
        return Err(ApiError::validation("/member_id", "No such member on the roster."));
    }
    crate::store::lock_member(tx, member_id)?;
    let seq = tx.query_row("SELECT COUNT(*) FROM bills", [], |r| r.get::<_, i64>(0))? as u64 + 1;
    // Fresh randomness: ids drawn from a seed made of the time and a count could repeat.
    let mut rng = StdRng::from_entropy();
    let bill = make_bill(&mut rng, member_id, seq, today, 0);
    crate::store::bills::insert_bill(tx, &bill, issued_at, now)?;
    crate::store::bill_detail(tx, member_id, &bill.id)?.ok_or_else(|| ApiError::internal("bill vanished"))
}

/// Adds bills to a member with a realistic spread of ages and payment states. The first four
/// are always: overdue and unpaid, due soon and partly paid, paid, and newly issued.
pub fn add_bills(
    tx: &Connection,
    rng: &mut StdRng,
    member_id: &str,
    count: usize,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> ApiResult<Vec<String>> {
    crate::store::lock_member(tx, member_id)?;
    let mut seq: u64 = tx.query_row("SELECT COUNT(*) FROM bills", [], |r| r.get::<_, i64>(0))? as u64;
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let (age, plan) = match i {
            0 => (48, Plan::Open),
            1 => (22, Plan::Partial),
            2 => (rng.gen_range(90..=200), Plan::Paid),
            3 => (4, Plan::Open),
            _ => {
                let age = rng.gen_range(3..=720u64);
                let overdue_for = age.saturating_sub(30);
                let roll = rng.gen_range(0..100);
                let plan = if overdue_for > 60 {
                    if roll < 80 {
                        Plan::Paid
                    } else if roll < 90 {
                        Plan::Partial
                    } else {
                        Plan::Open
                    }
                } else if overdue_for > 0 {
                    if roll < 40 {
                        Plan::Paid
                    } else if roll < 60 {
                        Plan::Partial
                    } else {
                        Plan::Open
                    }
                } else if roll < 15 {
                    Plan::Partial
                } else {
                    Plan::Open
                };
                (age, plan)
            }
        };
        seq += 1;
        let mut bill = make_bill(rng, member_id, seq, today, age);
        if i == 1 {
            // A copay paid at the provider's office, as the plan's records show it.
            bill.other_payments = 2_500.min(bill.amount_due_cents() / 4);
        }
        if i == 5 && member_id == DEMO_MEMBER_ID {
            // The demo subscriber also pays for a dependent's care.
            bill.patient_name = Some(DEMO_DEPENDENT.to_string());
        }
        let issued_at = bill
            .statement_date
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp_millis();
        crate::store::bills::insert_bill(tx, &bill, issued_at, now)?;
        let due = bill.amount_due_cents() - bill.other_payments;
        match plan {
            Plan::Open => {}
            Plan::Paid => insert_settled_payment(tx, rng, &bill, due, today, now)?,
            Plan::Partial => {
                let part = (pct(due, rng.gen_range(25..=60)) / 100).max(1) * 100;
                if part < due {
                    insert_settled_payment(tx, rng, &bill, part, today, now)?;
                }
            }
        }
        ids.push(bill.id);
    }
    Ok(ids)
}

/// The plan's claims behind a member's bills, as an EOB import would leave them: each bill's
/// claim (the plan paid the insurance amount; the member owes a deductible part and
/// coinsurance), with the plan-year deductible and out-of-pocket figures. The bills carry their
/// claim numbers ("Matches your claim"), except that one bill's claim (the first after the first
/// that owes $40.00 or more) says $20.00 less than the bill ("Differs by $20.00") and the fourth
/// bill has no claim number, so its claim is only "Probably this claim".
fn add_claims(
    tx: &Connection,
    member_id: &str,
    patient: &str,
    bill_ids: &[String],
    now: DateTime<Utc>,
) -> ApiResult<()> {
    use carebill_api::types::{BenefitBalance, Claim, ClaimAmount, ClaimDetail, ClaimKind, ClaimLine};
    let mut rng = StdRng::from_entropy();
    let amount = |category: &str, cents: i64| ClaimAmount {
        category: category.into(),
        amount: Money::from_cents(cents),
    };
    let (mut deductible_used, mut oop_used) = (0i64, 0i64);
    let mut bills = Vec::with_capacity(bill_ids.len());
    for id in bill_ids {
        if let Some(bill) = crate::store::bill_detail(tx, member_id, id)? {
            bills.push(bill);
        }
    }
    // The bill whose claim says $20.00 less: the first after the first that owes $40.00 or more.
    let differs = bills
        .iter()
        .enumerate()
        .skip(1)
        .find(|(i, b)| *i != 3 && b.bill.amount_due.cents() >= 4_000)
        .map(|(i, _)| i);
    for (i, bill) in bills.iter().enumerate() {
        let bill_id = &bill.bill.id;
        let b = &bill.bill;
        let claim_number = format!("CLM-{}", b.statement_number);
        let owed = b.amount_due.cents();
        let claim_owes = if Some(i) == differs { owed - 2_000 } else { owed };
        let (deductible, rest) = if claim_owes <= 5_000 {
            (0, claim_owes)
        } else {
            let d = (claim_owes * 2 / 5).min(150_000 - deductible_used).max(0);
            (d, claim_owes - d)
        };
        deductible_used += deductible;
        oop_used += claim_owes;
        let mut member_costs = Vec::new();
        if deductible > 0 {
            member_costs.push(amount("deductible", deductible));
        }
        if rest > 0 {
            member_costs.push(amount(if claim_owes <= 5_000 { "copay" } else { "coinsurance" }, rest));
        }
        let lines = bill
            .line_items
            .iter()
            .enumerate()
            .map(|(n, l)| ClaimLine {
                sequence: n as u32 + 1,
                service_date: Some(l.service_date),
                code: Some(l.code.clone()),
                code_system: Some("http://www.ama-assn.org/go/cpt".into()),
                display: Some(l.description.clone()),
                revenue_code: None,
                quantity: Some(l.quantity.to_string()),
                amounts: vec![
                    amount("submitted", l.charge.cents()),
                    amount("eligible", l.charge.cents() - l.adjustment.cents()),
                    amount("benefit", l.insurance_paid.cents()),
                    amount("memberliability", l.patient_responsibility.cents()),
                ],
            })
            .collect();
        let mut totals = vec![
            amount("submitted", b.total_charges.cents()),
            amount("eligible", b.total_charges.cents() - b.adjustments.cents()),
            amount("benefit", b.insurance_paid.cents()),
            amount("memberliability", claim_owes),
        ];
        totals.extend(member_costs.iter().cloned());
        let detail = ClaimDetail {
            claim: Claim {
                id: String::new(),
                claim_number: claim_number.clone(),
                kind: match b.kind {
                    BillKind::Hospital => ClaimKind::Outpatient,
                    BillKind::Professional => ClaimKind::Professional,
                },
                patient_name: patient.into(),
                service_date_from: Some(b.service_date_from),
                service_date_to: Some(b.service_date_to),
                provider: Some(b.provider.to_uppercase()),
                facility: Some(b.facility.clone()),
                outcome: Some("complete".into()),
                billed: Some(b.total_charges),
                allowed: Some(Money::from_cents(b.total_charges.cents() - b.adjustments.cents())),
                plan_paid: Some(b.insurance_paid),
                member_owes: Some(Money::from_cents(claim_owes)),
                member_costs,
            },
            lines,
            adjudications: Vec::new(),
            totals,
            benefit_balance: vec![
                BenefitBalance {
                    kind: "deductible".into(),
                    limit: Some(Money::from_cents(150_000)),
                    used: Some(Money::from_cents(deductible_used)),
                },
                BenefitBalance {
                    kind: "out_of_pocket".into(),
                    limit: Some(Money::from_cents(400_000)),
                    used: Some(Money::from_cents(oop_used.min(400_000))),
                },
            ],
        };
        let id = random_id(&mut rng, "clm");
        crate::store::claims::write(tx, member_id, &id, &detail, false, &[], now)?;
        if i != 3 {
            tx.execute(
                "UPDATE bills SET claim_number = ?1 WHERE id = ?2",
                params![claim_number, bill_id],
            )?;
        }
    }
    Ok(())
}

/// Saves a test Visa and the test bank account for a member, through the processor as the app
/// would (tokenize, attach), so they can really be charged.
fn save_demo_methods(
    tx: &Connection,
    processor: &dyn PaymentProcessor,
    member_id: &str,
    holder: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let requests = [
        TokenRequest::Card(CardDetails {
            number: "4242424242424242".into(),
            exp_month: 12,
            exp_year: today.year() + 4,
            cvc: "123".into(),
            postal_code: "94110".into(),
            holder_name: holder.into(),
        }),
        TokenRequest::BankAccount(BankAccountDetails {
            routing_number: "110000000".into(),
            account_number: "000123456789".into(),
            account_type: AccountType::Checking,
            holder_name: holder.into(),
        }),
    ];
    for request in &requests {
        let token = processor
            .tokenize(request, today, now)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let instrument = processor
            .attach(&token.token, member_id, now)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        crate::store::methods::save_method(tx, member_id, &instrument, now)?;
    }
    Ok(())
}

/// Seeds the roster, the demo accounts (with a saved card and bank account) and their bills,
/// unless the roster has members already.
pub fn seed_demo_if_empty(
    db: &Db,
    config: &ServerConfig,
    now: DateTime<Utc>,
    processor: &dyn PaymentProcessor,
) -> ApiResult<()> {
    let today = config.calendar.date_at(now);
    db.with_writer(|conn| {
        // Checked and seeded in one transaction under a lock, so servers starting together on
        // one PostgreSQL database seed it once (the others find the roster filled).
        conn.transaction(|tx| {
            crate::store::lock_once(tx, crate::store::OnceLock::DemoSeed)?;
            let members: i64 = tx.query_row("SELECT COUNT(*) FROM roster", [], |r| r.get(0))?;
            if members > 0 {
                return Ok(());
            }
            let password_hash = hash_blocking(DEMO_PASSWORD)?;
            let mut rng = StdRng::seed_from_u64(0xCA4E_B111);
            for person in PEOPLE {
                tx.execute(
                    "INSERT INTO roster (member_id, first_name, last_name, date_of_birth) VALUES (?1, ?2, ?3, ?4)",
                    params![person.member_id, person.first, person.last, person.dob],
                )?;
                if let Some(email) = person.email {
                    tx.execute(
                        "INSERT INTO accounts (member_id, email, password_hash, verified_at, created_at, password_changed_at)
                         VALUES (?1, ?2, ?3, ?4, ?4, ?4)",
                        params![person.member_id, email, password_hash, ms(now)],
                    )?;
                    save_demo_methods(tx, processor, person.member_id, &format!("{} {}", person.first, person.last), today, now)?;
                }
                let count = rng.gen_range(8..=20);
                let bills = add_bills(tx, &mut rng, person.member_id, count, today, now)?;
                if person.email.is_some() {
                    let name = format!("{} {}", person.first, person.last);
                    add_claims(tx, person.member_id, &name, &bills, now)?;
                }
            }
            crate::kiosk::enroll_with(tx, "Demo front desk", DEMO_KIOSK_CREDENTIAL, now)?;
            seed_demo_conversations(tx, now)?;
            Ok::<_, ApiError>(())
        })
    })
}

/// The demo's billing office staff (demo only: their passwords and authenticator key are in the
/// banner): an agent and a supervisor.
pub const DEMO_AGENT_EMAIL: &str = "dana@billing.carebill.example";
pub const DEMO_SUPERVISOR_EMAIL: &str = "morgan@billing.carebill.example";
pub const DEMO_STAFF_PASSWORD: &str = "lantern harbor kestrel";
/// The demo staff's TOTP key (20 bytes; the banner shows it in base32).
pub const DEMO_TOTP_KEY: &[u8; 20] = b"carebill-demo-totp!!";

/// Seeds the demo staff once (a later start finds the agent; a demo made by an earlier release
/// gets them on its next start).
pub fn seed_demo_staff(db: &Db, secret: &crate::secret::Secret, now: DateTime<Utc>) -> ApiResult<()> {
    if db
        .with_writer(|conn| crate::staff::get_by_email(conn, DEMO_AGENT_EMAIL))?
        .is_some()
    {
        return Ok(());
    }
    // Hashed once, before the transaction: argon2 must not hold the writer.
    let hash = crate::staff::hash_password(DEMO_STAFF_PASSWORD)?;
    db.with_writer(|conn| {
        conn.transaction(|tx| {
            crate::store::lock_once(tx, crate::store::OnceLock::DemoSeed)?;
            use crate::staff::Role;
            for (email, name, role) in [
                (DEMO_AGENT_EMAIL, "Dana", Role::Agent),
                (DEMO_SUPERVISOR_EMAIL, "Morgan", Role::Supervisor),
            ] {
                // Nothing when another server seeded them meanwhile.
                crate::staff::seed_enrolled(tx, secret, email, name, role, &hash, DEMO_TOTP_KEY, now)?;
            }
            Ok::<_, ApiError>(())
        })
    })
}

/// A few questions of the second demo member for the demo staff to answer (fresh demo data only).
fn seed_demo_conversations(tx: &Connection, now: DateTime<Utc>) -> ApiResult<()> {
    use carebill_api::types::{ConversationTopic, NewConversation};
    let asks = [
        (
            ConversationTopic::PaymentHelp,
            "Can I split what I owe into smaller payments? Money is tight this month.",
            26,
        ),
        (
            ConversationTopic::InsuranceShouldHavePaid,
            "My insurance card changed in March. Can you send my newer bills to the new plan?",
            5,
        ),
        (
            ConversationTopic::Other,
            "How do I get a copy of my statements for my tax preparer?",
            2,
        ),
    ];
    for (i, (topic, body, hours_ago)) in asks.into_iter().enumerate() {
        let req = NewConversation {
            topic,
            bill_id: None,
            line: None,
            body: body.to_string(),
            attachment_ids: Vec::new(),
        };
        let at = now - chrono::Duration::hours(hours_ago);
        crate::conversations::create(tx, "M200000003", &format!("demo-seed-{i}"), &req, at)?;
    }
    Ok(())
}

/// Two statements of the unregistered demo member with something to pay, for guest pay.
pub fn guest_statements(conn: &Connection) -> ApiResult<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT statement_number FROM bills
         WHERE member_id = ?1 AND total_charges_cents - insurance_paid_cents - adjustments_cents - settled_cents - other_payments_cents - pending_cents > 0
         ORDER BY due_date, id LIMIT 2",
    )?;
    let rows = stmt.query_map([UNREGISTERED_MEMBER_ID], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The email of the `n`th generated member (from 1) of [`add_members`].
pub fn generated_email(n: usize) -> String {
    format!("member-{n}@load.carebill.example")
}

/// Adds `count` generated members, numbered after those added before: each on the roster with an
/// account (password [`DEMO_PASSWORD`], email [`generated_email`]), a saved card and bank
/// account, and `bills` bills. For load tests and benchmarks that need many members paying at
/// once. Returns the new members' IDs.
pub fn add_members(
    db: &Db,
    processor: &dyn PaymentProcessor,
    count: usize,
    bills: usize,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> ApiResult<Vec<String>> {
    let password_hash = hash_blocking(DEMO_PASSWORD)?;
    db.with_writer(|conn| {
        conn.transaction(|tx| {
            let before: i64 = tx.query_row(
                "SELECT COUNT(*) FROM roster WHERE member_id LIKE 'M3%'",
                [],
                |r| r.get(0),
            )?;
            let mut rng = StdRng::seed_from_u64(0x10AD_0000 + before as u64);
            let mut added = Vec::with_capacity(count);
            for n in (before as usize + 1)..=(before as usize + count) {
                let member_id = format!("M3{n:08}");
                tx.execute(
                    "INSERT INTO roster (member_id, first_name, last_name, date_of_birth) VALUES (?1, 'Load', ?2, '1970-01-01')",
                    params![member_id, format!("Member{n}")],
                )?;
                tx.execute(
                    "INSERT INTO accounts (member_id, email, password_hash, verified_at, created_at, password_changed_at)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?4)",
                    params![member_id, generated_email(n), password_hash, ms(now)],
                )?;
                save_demo_methods(tx, processor, &member_id, &format!("Load Member{n}"), today, now)?;
                add_bills(tx, &mut rng, &member_id, bills, today, now)?;
                added.push(member_id);
            }
            Ok::<_, ApiError>(added)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use carebill_billing::bill::check_line_items;
    use carebill_billing::{Charges, LineItem};

    #[test]
    fn generated_bills_add_up_and_are_deterministic() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let mut a = StdRng::seed_from_u64(7);
        let mut b = StdRng::seed_from_u64(7);
        for i in 0..500 {
            let bill = make_bill(&mut a, "M1", i, today, 3 + i % 700);
            let twin = make_bill(&mut b, "M1", i, today, 3 + i % 700);
            assert_eq!(bill.id, twin.id);
            let m = Money::from_cents;
            let items: Vec<LineItem> = bill
                .lines
                .iter()
                .map(|l| LineItem {
                    service_date: l.service_date,
                    description: l.description.clone(),
                    code: l.code.clone(),
                    quantity: l.quantity,
                    charge: m(l.charge),
                    insurance_paid: m(l.insurance),
                    adjustment: m(l.adjustment),
                    patient_responsibility: m(l.charge - l.insurance - l.adjustment),
                })
                .collect();
            let charges = Charges {
                total_charges: items.iter().map(|i| i.charge).sum(),
                insurance_paid: items.iter().map(|i| i.insurance_paid).sum(),
                adjustments: items.iter().map(|i| i.adjustment).sum(),
            };
            check_line_items(&charges, bill.service_from, bill.service_to, &items).unwrap();
            assert!(bill.amount_due_cents() >= 500);
            assert!(bill.statement_date > bill.service_to && bill.due_date > bill.statement_date);
        }
    }
}
