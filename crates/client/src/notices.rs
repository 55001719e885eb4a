//! Desktop notices: what the app tells the member about on this device, decided by the app from
//! the copy after each sync, once per device and event.
//!
//! - **Once.** Every event has a key (`due_soon:B-1`, `payment_failed:P-9:returned`,
//!   `message_reply:M-4`). A key is written to the copy's `desktop_notices` the first time it is
//!   decided and never decided again, whatever syncs, restarts or upgrades follow.
//! - **No flood on a new copy.** The first decision on a copy (a first sign-in, or a copy from a
//!   release before notices) records what is already true as `baseline`, shown nowhere: the member
//!   is told about what happens from then on, as the server's reminders start with their first run.
//! - **The member's switches.** A kind whose desktop switch is off is decided as `off`: shown
//!   nowhere, and turning the switch on later announces nothing old.
//! - **Nothing to do, nothing said.** Due and overdue notices skip a bill already paid, fully
//!   processing, being paid from this device, on a payment plan, paid by a scheduled payment, about
//!   to be charged by autopay, or under review (a question about it is open), as the server's
//!   reminders do.
//! - **What a notification may say.** The words are made here, in the member's language, when
//!   they are shown. A notification on the screen (which others may see, locked or not) names no
//!   provider and no message text: amounts, dates and what to do. The list in the app, behind
//!   sign-in, adds the provider.
//!
//! Pure: the copy's facts in, keys and words out. The engine reads and writes the copy.

use std::collections::HashSet;

use carebill_api::types::{
    Bill, Conversation, ConversationStatus, Locale, MessageAuthor, NotificationPreferences, Payment, PaymentMethod,
    PaymentMethodSummary, PaymentPlan, PaymentPlanStatus, PaymentSource, PaymentStatus, ScheduledPayment,
    ScheduledStatus, UpcomingCharge, UpcomingStatus,
};
use carebill_billing::Money;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The days counted (due soon, overdue, how late a missed one may come, how far ahead a charge's
/// card is checked) are the server's reminders' own.
pub use carebill_billing::reminders::{ATTENTION_AHEAD_DAYS, CATCH_UP_DAYS, DUE_SOON_DAYS, OVERDUE_DAYS};
/// More fresh notices than this at once become one notification on the screen ("You have 5 new
/// notifications"); the list in the app has each.
pub const SCREEN_AT_ONCE: usize = 3;

/// What a notice is about: one of the member's notification switches.
pub use carebill_api::types::NoticeKind;

/// What the words of a notice are made from, kept with it in the copy (so the list reads in the
/// language of the moment) and where opening it leads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "about", rename_all = "snake_case")]
pub enum NoticeFacts {
    Bill {
        bill_id: String,
        provider: String,
        amount: Money,
        due_date: NaiveDate,
    },
    Method {
        method_id: String,
        /// The card or bank account as the copy had it; absent when it is no longer on file. Its
        /// words ("Visa ending in 4242") are made in the language of the moment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<PaymentMethodSummary>,
        /// Notices decided by the first release with notices kept the method's words in the
        /// language of that day: read (they are still listed), never written.
        #[serde(default, rename = "method", skip_serializing)]
        label: Option<String>,
        /// The day of the charge it will not work for.
        charge_date: NaiveDate,
        amount: Money,
        /// The card or account is no longer on file (removed, or returned as closed).
        missing: bool,
    },
    Payment {
        payment_id: String,
        amount: Money,
        returned: bool,
        /// Who started it: autopay, a plan's instalment, a scheduled payment, the member.
        source: PaymentSource,
    },
    Reply {
        conversation_id: String,
        reference: String,
    },
}

/// An event the copy shows, with its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub key: String,
    pub kind: NoticeKind,
    pub facts: NoticeFacts,
}

/// Where opening a notice leads in the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "screen", rename_all = "snake_case")]
pub enum NoticeTarget {
    Bill { bill_id: String },
    Receipt { payment_id: String },
    Conversation { conversation_id: String },
    Methods,
}

/// A notice as the app lists it (and the shell shows it on the screen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DesktopNotice {
    pub key: String,
    pub kind: NoticeKind,
    pub title: String,
    /// The words in the app's list (they name the provider).
    pub body: String,
    /// The words on the screen, where others may see them: no provider, no message text.
    pub screen_body: String,
    pub target: NoticeTarget,
    pub decided_at: DateTime<Utc>,
    pub read: bool,
}

/// The app's list of notices: the newest first, and how many are unread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NoticeList {
    pub notices: Vec<DesktopNotice>,
    pub unread: u32,
}

/// Everything in the copy the decisions read.
#[derive(Debug, Clone, Default)]
pub struct CopyFacts {
    pub bills: Vec<Bill>,
    /// Bills a payment from this device is paying now (the outbox).
    pub in_flight: HashSet<String>,
    pub autopay: Option<(String, Vec<UpcomingCharge>)>,
    pub plans: Vec<PaymentPlan>,
    pub scheduled: Vec<ScheduledPayment>,
    pub methods: Vec<PaymentMethod>,
    pub payments: Vec<Payment>,
    /// Every conversation with how many of its messages were seen on this device.
    pub conversations: Vec<(Conversation, i64)>,
}

impl CopyFacts {
    /// A bill the member has nothing to do about: paid, fully processing, being paid, on a plan,
    /// paid by a scheduled payment, about to be charged by autopay, or under review.
    fn covered(&self, bill: &Bill) -> bool {
        !bill.payable.is_positive()
            || bill.payment_plan_id.is_some()
            || self.in_flight.contains(&bill.id)
            || self.autopay.as_ref().is_some_and(|(_, upcoming)| {
                upcoming
                    .iter()
                    .any(|u| u.bill_id == bill.id && u.status == UpcomingStatus::Scheduled)
            })
            || self
                .scheduled
                .iter()
                .any(|s| s.status == ScheduledStatus::Scheduled && s.allocations.iter().any(|a| a.bill_id == bill.id))
            || bill.open_conversation_id.is_some()
            || self
                .conversations
                .iter()
                .any(|(c, _)| c.bill_id.as_deref() == Some(&bill.id) && c.status != ConversationStatus::Closed)
    }

    /// The scheduled charges of the next [`ATTENTION_AHEAD_DAYS`] days: (method, date, amount).
    fn charges_ahead(&self, today: NaiveDate) -> Vec<(String, NaiveDate, Money)> {
        let soon = |d: NaiveDate| {
            let days = (d - today).num_days();
            (0..=i64::from(ATTENTION_AHEAD_DAYS)).contains(&days)
        };
        let mut out = Vec::new();
        if let Some((method, upcoming)) = &self.autopay {
            for u in upcoming {
                if u.status == UpcomingStatus::Scheduled && soon(u.charge_date) {
                    out.push((method.clone(), u.charge_date, u.amount));
                }
            }
        }
        for p in &self.plans {
            if p.status != PaymentPlanStatus::Active {
                continue;
            }
            if let Some(next) = p.schedule.iter().find(|s| s.charge_date >= today)
                && soon(next.charge_date)
            {
                out.push((p.payment_method_id.clone(), next.charge_date, next.amount));
            }
        }
        for s in &self.scheduled {
            if s.status == ScheduledStatus::Scheduled && soon(s.pay_on) {
                out.push((s.payment_method_id.clone(), s.pay_on, s.amount));
            }
        }
        out.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        out
    }
}

/// The last day a saved card works (`None` for a bank account).
fn card_good_through(m: &PaymentMethod) -> Option<NaiveDate> {
    carebill_billing::reminders::card_good_through(m.exp_month?, m.exp_year?)
}

/// Every event the copy shows today, with its key. The same copy and day give the same keys.
pub fn candidates(f: &CopyFacts, today: NaiveDate) -> Vec<Candidate> {
    let mut out = Vec::new();
    for bill in &f.bills {
        let facts = || NoticeFacts::Bill {
            bill_id: bill.id.clone(),
            provider: bill.provider.clone(),
            amount: bill.payable,
            due_date: bill.due_date,
        };
        if bill.payable.is_positive() {
            out.push(Candidate {
                key: format!("new_bill:{}", bill.id),
                kind: NoticeKind::NewBill,
                facts: facts(),
            });
        }
        if f.covered(bill) {
            continue;
        }
        let days_left = (bill.due_date - today).num_days();
        if (0..=i64::from(DUE_SOON_DAYS)).contains(&days_left) {
            out.push(Candidate {
                key: format!("due_soon:{}:{}", bill.id, bill.due_date),
                kind: NoticeKind::DueSoon,
                facts: facts(),
            });
        }
        if (i64::from(OVERDUE_DAYS)..=i64::from(OVERDUE_DAYS + CATCH_UP_DAYS)).contains(&-days_left) {
            out.push(Candidate {
                key: format!("overdue:{}:{}", bill.id, bill.due_date),
                kind: NoticeKind::Overdue,
                facts: facts(),
            });
        }
    }
    let mut told = HashSet::new();
    for (method_id, date, amount) in f.charges_ahead(today) {
        let method = f.methods.iter().find(|m| m.id == method_id);
        let expired = method.and_then(card_good_through).is_some_and(|through| date > through);
        if method.is_some() && !expired {
            continue;
        }
        // One notice per card or account and charge day, however many charges fall on it.
        if !told.insert((method_id.clone(), date)) {
            continue;
        }
        out.push(Candidate {
            key: format!("method_attention:{method_id}:{date}"),
            kind: NoticeKind::MethodAttention,
            facts: NoticeFacts::Method {
                method_id,
                summary: method.map(PaymentMethod::summary),
                label: None,
                charge_date: date,
                amount,
                missing: method.is_none(),
            },
        });
    }
    for p in &f.payments {
        // A payment the member made here and was declined was said on the screen at once.
        let tell = match p.status {
            PaymentStatus::Returned => true,
            PaymentStatus::Failed => p.source != PaymentSource::Member,
            _ => false,
        };
        if tell {
            out.push(Candidate {
                key: format!("payment_failed:{}:{}", p.id, p.status.as_str()),
                kind: NoticeKind::PaymentFailed,
                facts: NoticeFacts::Payment {
                    payment_id: p.id.clone(),
                    amount: p.amount,
                    returned: p.status == PaymentStatus::Returned,
                    source: p.source,
                },
            });
        }
    }
    for (c, seen) in &f.conversations {
        for m in c.messages.iter().skip(usize::try_from(*seen).unwrap_or(0)) {
            if m.author == MessageAuthor::Staff {
                out.push(Candidate {
                    key: format!("message_reply:{}", m.id),
                    kind: NoticeKind::MessageReply,
                    facts: NoticeFacts::Reply {
                        conversation_id: c.id.clone(),
                        reference: c.reference.clone(),
                    },
                });
            }
        }
    }
    out
}

/// How a method notice names the card or account: from its summary, or the words an older
/// release kept, or as no longer on file.
fn method_words(summary: Option<&PaymentMethodSummary>, label: Option<&str>, l: Locale) -> String {
    match (summary, label) {
        (Some(s), _) => s.label(l),
        (None, Some(label)) => label.to_string(),
        (None, None) => tr(
            l,
            "a card or bank account no longer on file",
            "una tarjeta o cuenta que ya no está registrada",
        )
        .into(),
    }
}

fn tr<'a>(l: Locale, en: &'a str, es: &'a str) -> &'a str {
    match l {
        Locale::En => en,
        Locale::Es => es,
    }
}

/// A notice's words in a language: the title, the list's body and the screen's body.
pub fn words(kind: NoticeKind, facts: &NoticeFacts, l: Locale) -> (String, String, String) {
    let date = |d: NaiveDate| l.date(d);
    match (kind, facts) {
        (
            NoticeKind::NewBill,
            NoticeFacts::Bill {
                provider,
                amount,
                due_date,
                ..
            },
        ) => {
            let title = tr(l, "New bill", "Factura nueva").to_string();
            let (amount, due) = (amount.display_usd(), date(*due_date));
            match l {
                Locale::En => (
                    title,
                    format!("{provider}: {amount}, due {due}."),
                    format!("A new bill of {amount} is due {due}."),
                ),
                Locale::Es => (
                    title,
                    format!("{provider}: {amount}, vence el {due}."),
                    format!("Tiene una factura nueva de {amount} que vence el {due}."),
                ),
            }
        }
        (
            NoticeKind::DueSoon,
            NoticeFacts::Bill {
                provider,
                amount,
                due_date,
                ..
            },
        ) => {
            let title = tr(l, "Bill due soon", "Factura por vencer").to_string();
            let (amount, due) = (amount.display_usd(), date(*due_date));
            match l {
                Locale::En => (
                    title,
                    format!("{provider}: {amount} is due {due}."),
                    format!("{amount} is due {due}."),
                ),
                Locale::Es => (
                    title,
                    format!("{provider}: {amount} vence el {due}."),
                    format!("{amount} vence el {due}."),
                ),
            }
        }
        (
            NoticeKind::Overdue,
            NoticeFacts::Bill {
                provider,
                amount,
                due_date,
                ..
            },
        ) => {
            let title = tr(l, "Bill past due", "Factura vencida").to_string();
            let (amount, due) = (amount.display_usd(), date(*due_date));
            match l {
                Locale::En => (
                    title,
                    format!("{provider}: {amount} was due {due}. Pay it or set up a payment plan."),
                    format!("{amount} was due {due}. Pay it or set up a payment plan."),
                ),
                Locale::Es => (
                    title,
                    format!("{provider}: {amount} venció el {due}. Páguela o establezca un plan de pagos."),
                    format!("{amount} venció el {due}. Páguela o establezca un plan de pagos."),
                ),
            }
        }
        (
            NoticeKind::MethodAttention,
            NoticeFacts::Method {
                summary,
                label,
                charge_date,
                amount,
                missing,
                ..
            },
        ) => {
            let title = tr(l, "Update your payment method", "Actualice su método de pago").to_string();
            let method = method_words(summary.as_ref(), label.as_deref(), l);
            let (amount, day) = (amount.display_usd(), date(*charge_date));
            let body = match (l, missing) {
                (Locale::En, false) => format!(
                    "{method} expires before the {amount} charge on {day}. Add a new card or choose another method."
                ),
                (Locale::En, true) => {
                    format!("The {amount} charge on {day} is set to {method}. Choose a card or bank account for it.")
                }
                (Locale::Es, false) => format!(
                    "{method} vence antes del cargo de {amount} del {day}. Agregue una tarjeta nueva o elija otro método."
                ),
                (Locale::Es, true) => format!(
                    "El cargo de {amount} del {day} está asignado a {method}. Elija una tarjeta o cuenta bancaria para él."
                ),
            };
            (title, body.clone(), body)
        }
        (
            NoticeKind::PaymentFailed,
            NoticeFacts::Payment {
                amount,
                returned,
                source,
                ..
            },
        ) => {
            let amount = amount.display_usd();
            let who = match (l, source) {
                (Locale::En, PaymentSource::Autopay) => "Your autopay payment",
                (Locale::En, PaymentSource::PaymentPlan) => "Your payment plan's payment",
                (Locale::En, PaymentSource::Scheduled) => "Your scheduled payment",
                (Locale::En, _) => "Your payment",
                (Locale::Es, PaymentSource::Autopay) => "Su pago automático",
                (Locale::Es, PaymentSource::PaymentPlan) => "El pago de su plan de pagos",
                (Locale::Es, PaymentSource::Scheduled) => "Su pago programado",
                (Locale::Es, _) => "Su pago",
            };
            let (title, body) = match (l, returned) {
                (Locale::En, true) => (
                    "Bank payment returned",
                    format!("{who} of {amount} was returned by your bank. The bill is unpaid again: see what to do."),
                ),
                (Locale::En, false) => (
                    "Payment did not go through",
                    format!("{who} of {amount} was declined. Nothing was charged: see what to do."),
                ),
                (Locale::Es, true) => (
                    "Pago bancario devuelto",
                    format!(
                        "{who} de {amount} fue devuelto por su banco. La factura vuelve a estar pendiente: vea qué hacer."
                    ),
                ),
                (Locale::Es, false) => (
                    "El pago no se realizó",
                    format!("{who} de {amount} fue rechazado. No se cobró nada: vea qué hacer."),
                ),
            };
            (title.into(), body.clone(), body)
        }
        (NoticeKind::MessageReply, NoticeFacts::Reply { reference, .. }) => {
            let title = tr(l, "The billing office replied", "La oficina de facturación respondió").to_string();
            let (body, screen) = match l {
                Locale::En => (
                    format!("A new reply to your question {reference}."),
                    "You have a new reply to your question.".to_string(),
                ),
                Locale::Es => (
                    format!("Hay una respuesta nueva a su pregunta {reference}."),
                    "Tiene una respuesta nueva a su pregunta.".to_string(),
                ),
            };
            (title, body, screen)
        }
        // A kind kept with facts of another kind (not written by this release): say little.
        _ => {
            let title = tr(l, "Carebill", "Carebill").to_string();
            let body = tr(l, "Something in your account changed.", "Algo cambió en su cuenta.").to_string();
            (title, body.clone(), body)
        }
    }
}

/// Where opening a notice leads.
pub fn target(facts: &NoticeFacts) -> NoticeTarget {
    match facts {
        NoticeFacts::Bill { bill_id, .. } => NoticeTarget::Bill {
            bill_id: bill_id.clone(),
        },
        NoticeFacts::Method { .. } => NoticeTarget::Methods,
        NoticeFacts::Payment { payment_id, .. } => NoticeTarget::Receipt {
            payment_id: payment_id.clone(),
        },
        NoticeFacts::Reply { conversation_id, .. } => NoticeTarget::Conversation {
            conversation_id: conversation_id.clone(),
        },
    }
}

/// The one notification on the screen for many fresh notices at once.
pub fn many_words(count: usize, l: Locale) -> (String, String) {
    match l {
        Locale::En => (
            "Carebill".into(),
            format!("You have {count} new notifications. Open Carebill to see them."),
        ),
        Locale::Es => (
            "Carebill".into(),
            format!("Tiene {count} notificaciones nuevas. Abra Carebill para verlas."),
        ),
    }
}

/// The state a decided notice is kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// True before the copy's first decision: shown nowhere.
    Baseline,
    /// The member's desktop switch for its kind was off.
    Off,
    /// Shown (or offered to the screen) and in the list, not yet opened.
    Unread,
}

impl Decided {
    pub fn as_str(self) -> &'static str {
        match self {
            Decided::Baseline => "baseline",
            Decided::Off => "off",
            Decided::Unread => "unread",
        }
    }
}

/// How a fresh candidate is decided: the copy's first decision records, later ones announce
/// what the member's switch allows.
pub fn decide(kind: NoticeKind, first: bool, prefs: &NotificationPreferences) -> Decided {
    if first {
        Decided::Baseline
    } else if prefs.channels(kind).desktop {
        Decided::Unread
    } else {
        Decided::Off
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carebill_api::types::{Message, PaymentMethodSummary, PaymentMethodType};
    use carebill_billing::BillKind;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn bill(id: &str, due: &str, payable: &str) -> Bill {
        let payable = Money::parse(payable).unwrap();
        serde_json::from_value(serde_json::json!({
            "id": id, "account_number": "A-1", "statement_number": "S-1", "kind": BillKind::Professional,
            "provider": "Valley Orthopedics", "facility": "Main St", "service_date_from": "2026-10-01",
            "service_date_to": "2026-10-01", "statement_date": "2026-11-01", "due_date": due,
            "total_charges": payable, "insurance_paid": "0.00", "adjustments": "0.00",
            "amount_due": payable, "payments_made": "0.00", "other_payments": "0.00", "balance": payable,
            "pending_amount": "0.00", "payable": payable,
            "status": if payable.is_positive() { "open" } else { "paid" },
        }))
        .unwrap()
    }

    fn keys(f: &CopyFacts, today: &str) -> Vec<String> {
        candidates(f, day(today)).into_iter().map(|c| c.key).collect()
    }

    #[test]
    fn a_bill_is_new_then_due_soon_then_overdue_and_nothing_once_covered_or_paid() {
        let mut f = CopyFacts {
            bills: vec![bill("B-1", "2026-12-10", "120.00"), bill("B-2", "2026-12-10", "0.00")],
            ..CopyFacts::default()
        };
        assert_eq!(keys(&f, "2026-12-01"), ["new_bill:B-1"]);
        assert_eq!(keys(&f, "2026-12-03"), ["new_bill:B-1", "due_soon:B-1:2026-12-10"]);
        assert_eq!(keys(&f, "2026-12-10"), ["new_bill:B-1", "due_soon:B-1:2026-12-10"]);
        assert_eq!(keys(&f, "2026-12-11"), ["new_bill:B-1", "overdue:B-1:2026-12-10"]);
        assert_eq!(keys(&f, "2026-12-17"), ["new_bill:B-1", "overdue:B-1:2026-12-10"]);
        assert_eq!(
            keys(&f, "2026-12-18"),
            ["new_bill:B-1"],
            "a week late is not news any more"
        );

        // Being paid from this device, on autopay, under review: nothing to do, nothing said.
        f.in_flight.insert("B-1".into());
        assert_eq!(keys(&f, "2026-12-11"), ["new_bill:B-1"]);
        f.in_flight.clear();
        f.autopay = Some((
            "pm_1".into(),
            vec![UpcomingCharge {
                bill_id: "B-1".into(),
                charge_date: day("2026-12-08"),
                amount: Money::parse("120.00").unwrap(),
                status: UpcomingStatus::Scheduled,
                skip_deadline: day("2026-12-07"),
                can_skip: true,
            }],
        ));
        assert_eq!(
            keys(&f, "2026-12-03"),
            ["new_bill:B-1", "method_attention:pm_1:2026-12-08"]
        );
        f.methods.push(card("pm_1", 12, 2030));
        assert_eq!(keys(&f, "2026-12-03"), ["new_bill:B-1"]);
    }

    fn card(id: &str, month: u32, year: i32) -> PaymentMethod {
        serde_json::from_value(serde_json::json!({
            "id": id, "type": "card", "brand": "visa", "funding": "credit", "last4": "4242",
            "exp_month": month, "exp_year": year, "holder_name": "Pat", "created_at": "2026-01-01T00:00:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn a_card_that_expires_before_a_charge_needs_attention_once_per_day() {
        let f = CopyFacts {
            autopay: Some((
                "pm_1".into(),
                ["B-1", "B-2"]
                    .iter()
                    .map(|b| UpcomingCharge {
                        bill_id: (*b).into(),
                        charge_date: day("2027-01-04"),
                        amount: Money::parse("50.00").unwrap(),
                        status: UpcomingStatus::Scheduled,
                        skip_deadline: day("2027-01-03"),
                        can_skip: true,
                    })
                    .collect(),
            )),
            methods: vec![card("pm_1", 12, 2026)],
            ..CopyFacts::default()
        };
        // Good through Dec 31: the Jan 4 charge will not work. Eleven days ahead is not checked yet.
        assert!(keys(&f, "2026-12-24").is_empty());
        assert_eq!(keys(&f, "2026-12-25"), ["method_attention:pm_1:2027-01-04"]);
        let c = &candidates(&f, day("2026-12-25"))[0];
        let (_, body, _) = words(c.kind, &c.facts, Locale::En);
        assert_eq!(
            body,
            "Visa ending 4242 expires before the $50.00 charge on Jan 4, 2027. Add a new card or choose another method."
        );
        assert_eq!(card_good_through(&card("x", 2, 2028)), Some(day("2028-02-29")));

        // The copy keeps the card, not words: the list reads in the language of the moment.
        let kept: NoticeFacts = serde_json::from_str(&serde_json::to_string(&c.facts).unwrap()).unwrap();
        assert!(!serde_json::to_string(&kept).unwrap().contains("ending"));
        let (_, body, _) = words(c.kind, &kept, Locale::Es);
        assert!(body.starts_with("Visa que termina en 4242 vence antes"), "{body}");
        // A notice kept by the first release with notices (its words fixed that day) still reads.
        let old: NoticeFacts = serde_json::from_value(serde_json::json!({
            "about": "method", "method_id": "pm_1", "method": "Visa ending 4242",
            "charge_date": "2027-01-04", "amount": "50.00", "missing": false,
        }))
        .unwrap();
        let (_, body, _) = words(NoticeKind::MethodAttention, &old, Locale::En);
        assert!(body.starts_with("Visa ending 4242 expires before"), "{body}");
    }

    #[test]
    fn failed_payments_returns_and_replies_have_their_own_keys() {
        let payment = |id: &str, status: &str, source: &str| -> Payment {
            serde_json::from_value(serde_json::json!({
                "id": id, "status": status, "amount": "75.00", "allocations": [],
                "confirmation_number": "CB-1", "payment_method": PaymentMethodSummary {
                    kind: PaymentMethodType::BankAccount, brand: "Chase".into(), last4: "6789".into(), funding: None },
                "created_at": "2026-12-01T15:00:00Z", "source": source,
            }))
            .unwrap()
        };
        let reply = |id: &str, author: MessageAuthor| -> Message {
            serde_json::from_value(serde_json::json!({
                "id": id, "author": author, "body": "Your claim was reprocessed; see the new bill.",
                "sent_at": "2026-12-01T15:00:00Z", "attachments": [],
            }))
            .unwrap()
        };
        let conversation: Conversation = serde_json::from_value(serde_json::json!({
            "id": "C-1", "reference": "Q-1001", "topic": "other", "status": "answered",
            "created_at": "2026-12-01T15:00:00Z", "updated_at": "2026-12-01T15:00:00Z",
            "messages": [reply("M-1", MessageAuthor::Member), reply("M-2", MessageAuthor::Staff), reply("M-3", MessageAuthor::Staff)],
        }))
        .unwrap();
        let f = CopyFacts {
            payments: vec![
                payment("P-1", "returned", "member"),
                payment("P-2", "failed", "member"),
                payment("P-3", "failed", "autopay"),
                payment("P-4", "succeeded", "autopay"),
            ],
            conversations: vec![(conversation, 2)],
            ..CopyFacts::default()
        };
        assert_eq!(
            keys(&f, "2026-12-01"),
            [
                "payment_failed:P-1:returned",
                "payment_failed:P-3:failed",
                "message_reply:M-3"
            ]
        );
        let all = candidates(&f, day("2026-12-01"));
        let (title, body, screen) = words(all[2].kind, &all[2].facts, Locale::Es);
        assert_eq!(title, "La oficina de facturación respondió");
        assert!(body.contains("Q-1001"));
        assert!(!screen.contains("reprocessed") && !screen.contains("Q-1001"));
    }

    #[test]
    fn the_screen_never_names_the_provider_and_the_list_does() {
        let f = CopyFacts {
            bills: vec![bill("B-1", "2026-12-10", "1234.50")],
            ..CopyFacts::default()
        };
        for l in [Locale::En, Locale::Es] {
            for c in candidates(&f, day("2026-12-11")) {
                let (_, body, screen) = words(c.kind, &c.facts, l);
                assert!(
                    body.contains("Valley Orthopedics") && body.contains("$1,234.50"),
                    "{body}"
                );
                assert!(!screen.contains("Valley") && screen.contains("$1,234.50"), "{screen}");
            }
        }
    }

    #[test]
    fn the_first_decision_is_a_baseline_and_a_switched_off_kind_is_off() {
        let mut prefs = NotificationPreferences::default();
        assert_eq!(decide(NoticeKind::NewBill, true, &prefs), Decided::Baseline);
        assert_eq!(decide(NoticeKind::NewBill, false, &prefs), Decided::Unread);
        prefs.new_bill.desktop = false;
        assert_eq!(decide(NoticeKind::NewBill, false, &prefs), Decided::Off);
        assert_eq!(decide(NoticeKind::DueSoon, false, &prefs), Decided::Unread);
        for k in [
            "new_bill",
            "due_soon",
            "overdue",
            "method_attention",
            "payment_failed",
            "message_reply",
        ] {
            assert_eq!(NoticeKind::parse(k).unwrap().as_str(), k);
        }
        assert_eq!(NoticeKind::parse("nope"), None);
    }
}
