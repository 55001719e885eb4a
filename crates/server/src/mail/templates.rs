//! Every mail's words, in English and Spanish: subject and body from plain values, no database
//! and no sending (the callers look up the member, and their language, and enqueue). A leaf: it
//! imports nothing of the crate.
//!
//! The Spanish is written as a US health plan writes to its members: neutral, "usted", the
//! billing glossary of `ui/src/lib/i18n/glossary.md`, US money ("$1,298.40") and dates with the
//! month spelled out ("5 de diciembre de 2026").

use carebill_api::types::{Locale, Payment, PaymentMethodSummary, PaymentStatus, PlanInfo};
use carebill_billing::Money;
use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// A mail: subject and body.
pub struct Mail {
    pub subject: String,
    pub body: String,
}

/// One sentence in both languages: `tr(l, "English", "Español")`.
fn tr<'a>(l: Locale, en: &'a str, es: &'a str) -> &'a str {
    match l {
        Locale::En => en,
        Locale::Es => es,
    }
}

const DIAS: [&str; 7] = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"];

/// "Dec 5, 2026" or "5 de diciembre de 2026".
pub fn date(l: Locale, d: NaiveDate) -> String {
    l.date(d)
}

/// "Saturday, Dec 5, 2026" or "sábado, 5 de diciembre de 2026".
fn weekday_date(l: Locale, d: NaiveDate) -> String {
    match l {
        Locale::En => d.format("%A, %b %-d, %Y").to_string(),
        Locale::Es => format!("{}, {}", DIAS[d.weekday().num_days_from_monday() as usize], date(l, d)),
    }
}

fn day_of(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive()
}

/// What every mail ends with: who to call and when, and the plan's language-assistance notice.
pub fn footer(l: Locale, plan: &PlanInfo) -> String {
    let services = &plan.member_services;
    let hours = services.hours.get(l);
    let taglines: String = plan
        .language_assistance
        .iter()
        .map(|t| format!("{}\n", t.text))
        .collect();
    let ask = match l {
        Locale::En => format!(
            "Questions about a bill or a payment? Call {} member services at {} (TTY {}), {hours}.",
            plan.name, services.phone, services.tty
        ),
        Locale::Es => format!(
            "¿Tiene preguntas sobre una factura o un pago? Llame a Servicios para Miembros de {} al {} (TTY {}), {hours}.",
            plan.name, services.phone, services.tty
        ),
    };
    format!("\n--\n{ask}\n\n{taglines}")
}

/// "Visa ending 4242", "Chase Bank account ending 6789" (Spanish: "Visa que termina en 4242").
pub fn method_label(l: Locale, m: &PaymentMethodSummary) -> String {
    m.label(l)
}

/// A bill as a mail names it: "Bayside Medical Group, statement BMG26000004".
pub fn bill_label(l: Locale, provider: &str, statement: &str) -> String {
    format!("{provider}, {} {statement}", tr(l, "statement", "estado de cuenta"))
}

/// Why a card or bank declined a charge, by the API's decline code.
pub fn decline_reason(l: Locale, code: &str) -> &'static str {
    match (code, l) {
        ("insufficient_funds", Locale::En) => "The card or account does not have enough funds.",
        ("insufficient_funds", Locale::Es) => "La tarjeta o la cuenta no tiene fondos suficientes.",
        ("expired_card", Locale::En) => "The card has expired.",
        ("expired_card", Locale::Es) => "La tarjeta está vencida.",
        ("incorrect_cvc", Locale::En) => "The security code is not right.",
        ("incorrect_cvc", Locale::Es) => "El código de seguridad no es correcto.",
        (_, Locale::En) => "The card or bank declined the charge.",
        (_, Locale::Es) => "La tarjeta o el banco rechazó el cargo.",
    }
}

/// What an ACH return code means for the member.
pub fn ach_return_reason(l: Locale, code: &str) -> &'static str {
    match (code, l) {
        ("R01", Locale::En) => "Insufficient funds in the bank account.",
        ("R01", Locale::Es) => "No hay fondos suficientes en la cuenta bancaria.",
        ("R02", Locale::En) => "The bank account is closed.",
        ("R02", Locale::Es) => "La cuenta bancaria está cerrada.",
        ("R03", Locale::En) => "The bank could not find this account.",
        ("R03", Locale::Es) => "El banco no encontró esta cuenta.",
        ("R04", Locale::En) => "The account number is not valid.",
        ("R04", Locale::Es) => "El número de cuenta no es válido.",
        (_, Locale::En) => "The bank returned the payment.",
        (_, Locale::Es) => "El banco devolvió el pago.",
    }
}

/// A receipt's facts, one per line: confirmation number, amount, method, date and status.
pub fn receipt_summary(l: Locale, p: &Payment) -> String {
    let status = match p.status {
        PaymentStatus::Pending => tr(
            l,
            "Processing. Bank payments usually settle in 2 business days.",
            "En proceso. Los pagos bancarios suelen completarse en 2 días hábiles.",
        ),
        _ => tr(l, "Paid.", "Pagado."),
    };
    let (number, amount, with, on, state) = match l {
        Locale::En => ("Confirmation number", "Amount", "Paid with", "Date", "Status"),
        Locale::Es => ("Número de confirmación", "Cantidad", "Pagado con", "Fecha", "Estado"),
    };
    format!(
        "{number}: {}\n{amount}: {}\n{with}: {}\n{on}: {}\n{state}: {status}\n",
        p.confirmation_number,
        p.amount.display_usd(),
        method_label(l, &p.payment_method),
        date(l, day_of(p.created_at)),
    )
}

fn hello(l: Locale, first: &str) -> String {
    match l {
        Locale::En => format!("Hello {first},"),
        Locale::Es => format!("Hola, {first}:"),
    }
}

/// The member's receipt; `bills` are each bill's label and the amount paid on it.
pub fn receipt(l: Locale, first_name: &str, p: &Payment, bills: &[(String, Money)]) -> Mail {
    let lines: String = bills
        .iter()
        .map(|(label, amount)| format!("  {label}: {}\n", amount.display_usd()))
        .collect();
    let (subject, thanks, paid, keep) = match l {
        Locale::En => (
            "Carebill receipt",
            "Thank you. We received your payment.",
            "Bills paid:",
            "Keep this email for your records. You can also see this payment in Carebill under Payment history.",
        ),
        Locale::Es => (
            "Recibo de Carebill",
            "Gracias. Recibimos su pago.",
            "Facturas pagadas:",
            "Guarde este correo para sus registros. También puede ver este pago en Carebill, en Historial de pagos.",
        ),
    };
    Mail {
        subject: format!("{subject} {}", p.confirmation_number),
        body: format!(
            "{}\n\n{thanks}\n\n{}\n{paid}\n{lines}\n{keep}\n",
            hello(l, first_name),
            receipt_summary(l, p)
        ),
    }
}

/// The receipt a guest asks for at a kiosk: only what the confirmation screen showed.
pub fn guest_receipt(l: Locale, p: &Payment) -> Mail {
    Mail {
        subject: format!(
            "{} {}",
            tr(l, "Carebill receipt", "Recibo de Carebill"),
            p.confirmation_number
        ),
        body: format!(
            "{}\n\n{}\n{}\n",
            tr(l, "Thank you. We received your payment.", "Gracias. Recibimos su pago."),
            receipt_summary(l, p),
            tr(
                l,
                "Keep this email for your records.",
                "Guarde este correo para sus registros."
            ),
        ),
    }
}

/// Autopay's notice before a charge.
pub fn autopay_notice(
    l: Locale,
    first: &str,
    amount: Money,
    method: &PaymentMethodSummary,
    charge_date: NaiveDate,
    provider: &str,
    skip_deadline: NaiveDate,
) -> Mail {
    let (amount, method, on, by) = (
        amount.display_usd(),
        method_label(l, method),
        weekday_date(l, charge_date),
        weekday_date(l, skip_deadline),
    );
    let (subject, body) = match l {
        Locale::En => (
            "Carebill autopay: an upcoming charge",
            format!(
                "Autopay will charge {amount} to {method} on {on} for your bill from {provider}.\n\n\
                 To skip this charge, open Carebill, go to Autopay and choose Skip before the end of {by}."
            ),
        ),
        Locale::Es => (
            "Pago automático de Carebill: un cargo próximo",
            format!(
                "El pago automático cargará {amount} a {method} el {on} por su factura de {provider}.\n\n\
                 Para omitir este cargo, abra Carebill, vaya a Pago automático y elija Omitir antes del final del {by}."
            ),
        ),
    };
    Mail {
        subject: subject.into(),
        body: format!("{}\n\n{body}\n", hello(l, first)),
    }
}

/// A bill autopay did not charge because it is over the member's maximum.
pub fn autopay_over_limit(l: Locale, first: &str, provider: &str, payable: Money, max: Money) -> Mail {
    let (payable, max) = (payable.display_usd(), max.display_usd());
    let (subject, body) = match l {
        Locale::En => (
            "Carebill autopay did not charge a bill",
            format!(
                "Autopay did not charge your bill from {provider} because {payable} is more than your maximum of {max} per charge.\n\n\
                 Nothing was charged. Please pay this bill yourself in Carebill, or raise your autopay maximum."
            ),
        ),
        Locale::Es => (
            "El pago automático de Carebill no cobró una factura",
            format!(
                "El pago automático no cobró su factura de {provider} porque {payable} es más que su máximo de {max} por cargo.\n\n\
                 No se cobró nada. Pague esta factura usted mismo en Carebill o aumente su máximo de pago automático."
            ),
        ),
    };
    Mail {
        subject: subject.into(),
        body: format!("{}\n\n{body}\n", hello(l, first)),
    }
}

/// An autopay charge the card or bank declined (`code`: the API's decline code).
pub fn autopay_declined(l: Locale, first: &str, p: &Payment, provider: &str, code: &str) -> Mail {
    let (amount, method, reason) = (
        p.amount.display_usd(),
        method_label(l, &p.payment_method),
        decline_reason(l, code),
    );
    let (subject, body) = match l {
        Locale::En => (
            "Carebill autopay: a charge was declined",
            format!(
                "Autopay tried to charge {amount} to {method} for your bill from {provider}, and it was declined: {reason}\n\n\
                 The bill is still open and autopay will not try again. Please pay it in Carebill, and consider updating your autopay payment method."
            ),
        ),
        Locale::Es => (
            "Pago automático de Carebill: se rechazó un cargo",
            format!(
                "El pago automático intentó cargar {amount} a {method} por su factura de {provider}, y se rechazó: {reason}\n\n\
                 La factura sigue abierta y el pago automático no lo volverá a intentar. Páguela en Carebill y considere actualizar el método de pago automático."
            ),
        ),
    };
    Mail {
        subject: subject.into(),
        body: format!("{}\n\n{body}\n", hello(l, first)),
    }
}

/// The 6-digit code that confirms a registration's address.
pub fn confirmation_code(l: Locale, first_name: &str, code: &str) -> Mail {
    let (subject, body) = match l {
        Locale::En => (
            "Your Carebill confirmation code",
            format!(
                "Your Carebill confirmation code is {code}.\nIt expires in 15 minutes.\n\n\
                 If you did not create a Carebill account, you can ignore this message."
            ),
        ),
        Locale::Es => (
            "Su código de confirmación de Carebill",
            format!(
                "Su código de confirmación de Carebill es {code}.\nVence en 15 minutos.\n\n\
                 Si usted no creó una cuenta de Carebill, puede ignorar este mensaje."
            ),
        ),
    };
    Mail {
        subject: subject.into(),
        body: format!("{}\n\n{body}\n", hello(l, first_name)),
    }
}

/// To the owner of an address someone else tried to register with.
pub fn address_in_use(l: Locale) -> Mail {
    let (subject, body) = match l {
        Locale::En => (
            "Someone tried to register with your email address",
            "Hello,\n\nSomeone tried to create a Carebill account with this email address, which already \
             has an account. If it was you, sign in, or use \"Forgot password\" on the sign-in screen.\n\n\
             If it was not you, you can ignore this message: nothing changed.\n",
        ),
        Locale::Es => (
            "Alguien intentó registrarse con su correo electrónico",
            "Hola:\n\nAlguien intentó crear una cuenta de Carebill con este correo electrónico, que ya \
             tiene una cuenta. Si fue usted, inicie sesión o use \"¿Olvidó su contraseña?\" en la pantalla de inicio de sesión.\n\n\
             Si no fue usted, puede ignorar este mensaje: no se cambió nada.\n",
        ),
    };
    Mail {
        subject: subject.into(),
        body: body.into(),
    }
}

/// A password reset code (`code` as shown: `ABCD-EFGH`).
pub fn reset_code(l: Locale, first_name: &str, code: &str) -> Mail {
    let (subject, body) = match l {
        Locale::En => (
            "Your Carebill password reset code",
            format!(
                "Someone asked to reset the password of your Carebill account.\n\n\
                 Your reset code is {code}. It works once and expires in 30 minutes.\n\n\
                 If this was not you, ignore this message: your password has not changed."
            ),
        ),
        Locale::Es => (
            "Su código para restablecer la contraseña de Carebill",
            format!(
                "Alguien pidió restablecer la contraseña de su cuenta de Carebill.\n\n\
                 Su código es {code}. Funciona una sola vez y vence en 30 minutos.\n\n\
                 Si no fue usted, ignore este mensaje: su contraseña no ha cambiado."
            ),
        ),
    };
    Mail {
        subject: subject.into(),
        body: format!("{}\n\n{body}\n", hello(l, first_name)),
    }
}

/// After a password change or reset.
pub fn password_changed(l: Locale, first_name: &str) -> Mail {
    let (subject, body) = match l {
        Locale::En => (
            "Your Carebill password was changed",
            "The password of your Carebill account was just changed, and other devices were signed out.\n\n\
             If this was not you, reset your password now from the sign-in screen (\"Forgot password\") and call member services.",
        ),
        Locale::Es => (
            "Se cambió su contraseña de Carebill",
            "Se acaba de cambiar la contraseña de su cuenta de Carebill y se cerró la sesión en sus otros dispositivos.\n\n\
             Si no fue usted, restablezca su contraseña ahora desde la pantalla de inicio de sesión (\"¿Olvidó su contraseña?\") y llame a Servicios para Miembros.",
        ),
    };
    Mail {
        subject: subject.into(),
        body: format!("{}\n\n{body}\n", hello(l, first_name)),
    }
}

/// A bank payment the bank returned (`code`: the ACH return code).
pub fn payment_returned(l: Locale, first_name: &str, p: &Payment, code: &str) -> Mail {
    let (number, amount, reason) = (
        &p.confirmation_number,
        p.amount.display_usd(),
        ach_return_reason(l, code),
    );
    let (subject, body) = match l {
        Locale::En => (
            "Your Carebill bank payment was returned",
            format!(
                "Your bank returned the payment {number} of {amount} ({code}: {reason}).\n\n\
                 The bills it was paying are open again. Please pay them in Carebill with another payment method, \
                 or check with your bank first."
            ),
        ),
        Locale::Es => (
            "Su banco devolvió un pago de Carebill",
            format!(
                "Su banco devolvió el pago {number} de {amount} ({code}: {reason}).\n\n\
                 Las facturas que pagaba vuelven a estar abiertas. Páguelas en Carebill con otro método de pago \
                 o consulte primero con su banco."
            ),
        ),
    };
    Mail {
        subject: subject.into(),
        body: format!("{}\n\n{body}\n", hello(l, first_name)),
    }
}

/// One mail from a subject and body per language, after the greeting.
fn letter(l: Locale, first: &str, en: (&str, String), es: (&str, String)) -> Mail {
    let (subject, body) = match l {
        Locale::En => en,
        Locale::Es => es,
    };
    Mail {
        subject: subject.into(),
        body: format!("{}\n\n{body}\n", hello(l, first)),
    }
}

/// What a plan's mail says about it: its number, amount, day and method.
pub struct PlanFacts<'a> {
    pub number: &'a str,
    pub monthly: Money,
    pub method: &'a PaymentMethodSummary,
    /// The instalments still to come, with their dates and amounts.
    pub schedule: &'a [(NaiveDate, Money)],
    /// The bills' providers, oldest due date first.
    pub providers: &'a [String],
}

fn schedule_lines(l: Locale, schedule: &[(NaiveDate, Money)]) -> String {
    schedule
        .iter()
        .map(|(d, a)| format!("  {}  {}", date(l, *d), a.display_usd()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The confirmation of a new plan (or of new terms for one).
pub fn plan_confirmed(l: Locale, first: &str, plan: &PlanFacts<'_>, changed: bool) -> Mail {
    let (number, monthly, method, n) = (
        plan.number,
        plan.monthly.display_usd(),
        method_label(l, plan.method),
        plan.schedule.len(),
    );
    let (lines, providers) = (schedule_lines(l, plan.schedule), plan.providers.join(", "));
    letter(
        l,
        first,
        (
            if changed {
                "Carebill: your payment plan was changed"
            } else {
                "Carebill: your payment plan is set up"
            },
            format!(
                "Payment plan {number} pays your bills from {providers} in {n} monthly payments of up to {monthly}, charged to {method}:\n\n{lines}\n\n\
                 There is no interest and no fee. We will email you before each payment. You can pay extra, pause or cancel the plan in Carebill at any time."
            ),
        ),
        (
            if changed {
                "Carebill: se cambió su plan de pagos"
            } else {
                "Carebill: su plan de pagos está listo"
            },
            format!(
                "El plan de pagos {number} paga sus facturas de {providers} en {n} pagos mensuales de hasta {monthly}, cargados a {method}:\n\n{lines}\n\n\
                 No hay intereses ni cargos. Le enviaremos un correo electrónico antes de cada pago. Puede pagar más, pausar o cancelar el plan en Carebill en cualquier momento."
            ),
        ),
    )
}

/// The notice before an instalment.
pub fn instalment_notice(
    l: Locale,
    first: &str,
    number: &str,
    amount: Money,
    method: &PaymentMethodSummary,
    on: NaiveDate,
) -> Mail {
    let (amount, method, on) = (amount.display_usd(), method_label(l, method), weekday_date(l, on));
    letter(
        l,
        first,
        (
            "Carebill: your next payment plan payment",
            format!(
                "Payment plan {number} will charge {amount} to {method} on {on}.\n\n\
                 To pay with another card or account, pause the plan or pay it off, open Carebill and go to Payment plan."
            ),
        ),
        (
            "Carebill: su próximo pago del plan de pagos",
            format!(
                "El plan de pagos {number} cargará {amount} a {method} el {on}.\n\n\
                 Para pagar con otra tarjeta o cuenta, pausar el plan o liquidarlo, abra Carebill y vaya a Plan de pagos."
            ),
        ),
    )
}

/// An instalment was declined or returned: the plan is behind.
pub fn plan_behind(l: Locale, first: &str, number: &str, behind: Money, reason: &str, misses_left: u32) -> Mail {
    let behind = behind.display_usd();
    let (en_left, es_left) = match misses_left {
        0 => (
            "If the next payment is missed too, the plan will end.".to_string(),
            "Si también se pierde el próximo pago, el plan terminará.".to_string(),
        ),
        n => (
            format!(
                "The plan continues; it ends if {} more payments are missed without catching up.",
                n + 1
            ),
            format!(
                "El plan continúa; termina si se pierden {} pagos más sin ponerse al día.",
                n + 1
            ),
        ),
    };
    letter(
        l,
        first,
        (
            "Carebill: a payment plan payment did not go through",
            format!(
                "A payment of payment plan {number} did not go through: {reason}\n\n\
                 Your plan is behind by {behind}. Open Carebill, go to Payment plan and choose Pay now, and check the card or account the plan uses. {en_left}"
            ),
        ),
        (
            "Carebill: un pago del plan de pagos no se realizó",
            format!(
                "Un pago del plan de pagos {number} no se realizó: {reason}\n\n\
                 Su plan tiene un atraso de {behind}. Abra Carebill, vaya a Plan de pagos y elija Pagar ahora, y revise la tarjeta o cuenta que usa el plan. {es_left}"
            ),
        ),
    )
}

/// Why a plan stopped, worded for the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanEnd {
    /// Everything on it is paid.
    Completed,
    /// The member cancelled it.
    Cancelled,
    /// More payments were missed than the plan allows.
    Missed,
}

pub fn plan_ended(l: Locale, first: &str, number: &str, why: PlanEnd, balance: Money) -> Mail {
    let balance = balance.display_usd();
    let (en, es) = match why {
        PlanEnd::Completed => (
            (
                "Carebill: your payment plan is paid in full",
                format!("Payment plan {number} is paid in full. Thank you: nothing more will be charged."),
            ),
            (
                "Carebill: su plan de pagos está pagado",
                format!("El plan de pagos {number} está pagado por completo. Gracias: no se cobrará nada más."),
            ),
        ),
        PlanEnd::Cancelled => (
            (
                "Carebill: your payment plan was cancelled",
                format!(
                    "Payment plan {number} was cancelled and nothing more will be charged. {balance} is still owed on its bills: they are open again, with their own due dates."
                ),
            ),
            (
                "Carebill: se canceló su plan de pagos",
                format!(
                    "Se canceló el plan de pagos {number} y no se cobrará nada más. Todavía se deben {balance} en sus facturas: vuelven a estar abiertas, con sus propias fechas de vencimiento."
                ),
            ),
        ),
        PlanEnd::Missed => (
            (
                "Carebill: your payment plan has ended",
                format!(
                    "Payment plan {number} has ended because more payments were missed than the plan allows. Nothing more will be charged. \
                     {balance} is still owed on its bills: they are open again. You can pay them, or set up a new plan, in Carebill."
                ),
            ),
            (
                "Carebill: su plan de pagos terminó",
                format!(
                    "El plan de pagos {number} terminó porque se perdieron más pagos de los que el plan permite. No se cobrará nada más. \
                     Todavía se deben {balance} en sus facturas: vuelven a estar abiertas. Puede pagarlas, o crear un plan nuevo, en Carebill."
                ),
            ),
        ),
    };
    letter(l, first, en, es)
}

/// The plan's balance went up beyond what its agreed payment pays within the longest term.
pub fn plan_needs_authorization(l: Locale, first: &str, number: &str, balance: Money, monthly: Money) -> Mail {
    let (balance, monthly) = (balance.display_usd(), monthly.display_usd());
    letter(
        l,
        first,
        (
            "Carebill: your payment plan needs your approval",
            format!(
                "The amount owed on payment plan {number} went up to {balance}, and {monthly} a month no longer pays it within the plan's longest term. \
                 We will keep charging {monthly} a month and never more without your approval. Open Carebill and go to Payment plan to choose a new monthly amount."
            ),
        ),
        (
            "Carebill: su plan de pagos necesita su aprobación",
            format!(
                "La cantidad que se debe en el plan de pagos {number} subió a {balance}, y {monthly} al mes ya no la paga dentro del plazo más largo del plan. \
                 Seguiremos cobrando {monthly} al mes y nunca más sin su aprobación. Abra Carebill y vaya a Plan de pagos para elegir un nuevo pago mensual."
            ),
        ),
    )
}

/// The reminder the day before a scheduled payment.
pub fn scheduled_reminder(
    l: Locale,
    first: &str,
    amount: Money,
    method: &PaymentMethodSummary,
    on: NaiveDate,
    providers: &str,
) -> Mail {
    let (amount, method, on) = (amount.display_usd(), method_label(l, method), weekday_date(l, on));
    letter(
        l,
        first,
        (
            "Carebill: your scheduled payment is tomorrow",
            format!(
                "Your payment of {amount} for your bills from {providers} will be charged to {method} on {on}. \
                 If less is owed by then, only what is owed will be charged.\n\n\
                 You can still change or cancel it in Carebill until the end of today."
            ),
        ),
        (
            "Carebill: su pago programado es mañana",
            format!(
                "Su pago de {amount} por sus facturas de {providers} se cargará a {method} el {on}. \
                 Si para entonces se debe menos, solo se cobrará lo que se deba.\n\n\
                 Todavía puede cambiarlo o cancelarlo en Carebill hasta el final del día de hoy."
            ),
        ),
    )
}

/// A scheduled payment found nothing left to pay on its date.
pub fn scheduled_cancelled(l: Locale, first: &str, amount: Money, on: NaiveDate) -> Mail {
    let (amount, on) = (amount.display_usd(), date(l, on));
    letter(
        l,
        first,
        (
            "Carebill: your scheduled payment was not needed",
            format!(
                "Your payment of {amount} scheduled for {on} was cancelled because nothing was left to pay on its bills. Nothing was charged."
            ),
        ),
        (
            "Carebill: su pago programado no fue necesario",
            format!(
                "Se canceló su pago de {amount} programado para el {on} porque no quedaba nada por pagar en sus facturas. No se cobró nada."
            ),
        ),
    )
}

/// The billing office answered a member's question. The mail never carries the message: it may
/// hold health information, and mail is not a secure channel.
pub fn message_reply(l: Locale, first: &str, reference: &str) -> Mail {
    letter(
        l,
        first,
        (
            "Carebill: you have a reply",
            format!(
                "The billing office replied to your question {reference}. \
                 To read it, open Carebill and go to Messages. For your privacy, this email does not include the reply."
            ),
        ),
        (
            "Carebill: tiene una respuesta",
            format!(
                "La oficina de facturación respondió a su pregunta {reference}. \
                 Para leerla, abra Carebill y vaya a Mensajes. Por su privacidad, este correo no incluye la respuesta."
            ),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use carebill_api::types::{Allocation, PaymentMethodType, PaymentSource};

    #[test]
    fn card_brands_read_as_people_know_them() {
        let card = |brand: &str| PaymentMethodSummary {
            kind: PaymentMethodType::Card,
            brand: brand.into(),
            last4: "4242".into(),
            funding: None,
        };
        assert_eq!(method_label(Locale::En, &card("visa")), "Visa ending 4242");
        let hsa = PaymentMethodSummary {
            funding: Some(carebill_api::types::Funding::HsaFsa),
            ..card("visa")
        };
        assert_eq!(method_label(Locale::En, &hsa), "Visa HSA/FSA card ending 4242");
        assert_eq!(
            method_label(Locale::Es, &hsa),
            "tarjeta HSA/FSA Visa que termina en 4242"
        );
        assert_eq!(method_label(Locale::En, &card("amex")), "American Express ending 4242");
        assert_eq!(method_label(Locale::En, &card("Card")), "Card ending 4242");
        assert_eq!(method_label(Locale::Es, &card("visa")), "Visa que termina en 4242");
    }

    fn payment(status: PaymentStatus) -> Payment {
        Payment {
            id: "pay_1".into(),
            status,
            amount: Money::from_cents(129_840),
            allocations: vec![Allocation {
                bill_id: "bil_1".into(),
                amount: Money::from_cents(129_840),
            }],
            confirmation_number: "CB-7K2M-9QXP".into(),
            payment_method: PaymentMethodSummary {
                kind: PaymentMethodType::BankAccount,
                brand: "Carebill Test Bank".into(),
                last4: "6789".into(),
                funding: None,
            },
            created_at: "2026-12-05T18:00:00Z".parse().unwrap(),
            settled_at: None,
            failure: None,
            idempotency_key: None,
            source: PaymentSource::Member,
        }
    }

    /// Every mail in both languages: US money and dates, the glossary, no English left in the
    /// Spanish and no Spanish in the English.
    #[test]
    fn every_mail_is_written_in_english_and_in_spanish() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let p = payment(PaymentStatus::Pending);
        let bills = [(bill_label(Locale::Es, "Bayside Medical Group", "BMG26000004"), p.amount)];
        let all = |l: Locale| {
            vec![
                receipt(l, "Jordan", &p, &bills),
                guest_receipt(l, &p),
                autopay_notice(l, "Jordan", p.amount, &p.payment_method, d, "Bayside Medical Group", d),
                autopay_over_limit(
                    l,
                    "Jordan",
                    "Bayside Medical Group",
                    p.amount,
                    Money::from_cents(50_000),
                ),
                autopay_declined(l, "Jordan", &p, "Bayside Medical Group", "insufficient_funds"),
                confirmation_code(l, "Jordan", "123456"),
                address_in_use(l),
                reset_code(l, "Jordan", "ABCD-EFGH"),
                password_changed(l, "Jordan"),
                payment_returned(l, "Jordan", &p, "R01"),
            ]
        };
        let english_words = [
            "Hello",
            "Thank you",
            "Your ",
            "Autopay",
            " the ",
            "Amount",
            "Status",
            "Processing",
        ];
        let spanish_words = [
            "Hola",
            "Gracias",
            "Su ",
            "usted",
            "factura",
            "Cantidad",
            "Estado",
            "En proceso",
        ];
        for (en, es) in all(Locale::En).into_iter().zip(all(Locale::Es)) {
            for w in spanish_words {
                assert!(
                    !en.body.contains(w) && !en.subject.contains(w),
                    "{w:?} in English: {}",
                    en.body
                );
            }
            for w in english_words {
                assert!(
                    !es.body.contains(w) && !es.subject.contains(w),
                    "{w:?} in Spanish: {}",
                    es.body
                );
            }
        }
        let es = receipt(Locale::Es, "Jordan", &p, &bills);
        assert!(es.body.starts_with("Hola, Jordan:"));
        assert!(es.body.contains("Cantidad: $1,298.40"), "US money: {}", es.body);
        assert!(es.body.contains("Fecha: 5 de diciembre de 2026"));
        assert!(es.body.contains("Estado: En proceso."), "the glossary's Processing");
        let en = receipt(Locale::En, "Jordan", &p, &bills);
        assert!(en.body.contains("Date: Dec 5, 2026") && en.body.contains("Status: Processing."));
        let notice = autopay_notice(Locale::Es, "Jordan", p.amount, &p.payment_method, d, "X", d);
        assert!(
            notice.body.contains("el sábado, 5 de diciembre de 2026"),
            "{}",
            notice.body
        );
    }

    #[test]
    fn the_footer_gives_the_plans_phone_and_hours_in_the_mails_language() {
        use carebill_api::types::{LocalizedText, MemberServices, Tagline};
        let plan = PlanInfo {
            name: "Example Health Plan".into(),
            member_services: MemberServices {
                phone: "1-800-555-0100".into(),
                tty: "711".into(),
                hours: LocalizedText {
                    en: "weekdays, 8 a.m. to 6 p.m.".into(),
                    es: Some("de lunes a viernes, de 8 a.m. a 6 p.m.".into()),
                },
            },
            language_assistance: vec![Tagline {
                lang: "es".into(),
                text: "ATENCIÓN: Llame al 1-800-555-0100.".into(),
            }],
            payment_plans: Default::default(),
            member_id: Default::default(),
            time_zone: "America/Chicago".into(),
            utc_offsets: Vec::new(),
        };
        let en = footer(Locale::En, &plan);
        assert!(en.contains("Call Example Health Plan member services at 1-800-555-0100 (TTY 711), weekdays"));
        let es = footer(Locale::Es, &plan);
        assert!(es.contains(
            "Llame a Servicios para Miembros de Example Health Plan al 1-800-555-0100 (TTY 711), de lunes a viernes"
        ));
        assert!(
            en.contains("ATENCIÓN") && es.contains("ATENCIÓN"),
            "the taglines are in every mail"
        );
    }
}

/// A bill as a reminder names it: its provider, what is owed and when it is due. Never a service,
/// a code or a diagnosis: mail is not a secure channel.
pub struct BillFacts<'a> {
    pub provider: &'a str,
    pub owed: Money,
    pub due: NaiveDate,
}

/// A new bill arrived (members who get paper statements).
pub fn new_bill(l: Locale, first: &str, bill: &BillFacts<'_>) -> Mail {
    let (provider, owed, due) = (bill.provider, bill.owed.display_usd(), date(l, bill.due));
    letter(
        l,
        first,
        (
            "Carebill: you have a new bill",
            format!(
                "You have a new bill from {provider} for {owed}, due {due}.\n\n\
                 To see every line of it and pay, open Carebill and go to Bills."
            ),
        ),
        (
            "Carebill: tiene una factura nueva",
            format!(
                "Tiene una factura nueva de {provider} por {owed}, con vencimiento el {due}.\n\n\
                 Para ver cada línea y pagarla, abra Carebill y vaya a Facturas."
            ),
        ),
    )
}

/// A new statement is ready (paperless members: this mail is their statement's delivery).
pub fn new_statement(l: Locale, first: &str, bill: &BillFacts<'_>) -> Mail {
    let (provider, owed, due) = (bill.provider, bill.owed.display_usd(), date(l, bill.due));
    letter(
        l,
        first,
        (
            "Carebill: your new statement is ready",
            format!(
                "Your statement from {provider} is ready in Carebill: {owed}, due {due}. \
                 You chose paperless statements, so it will not come by mail.\n\n\
                 To read, download or pay it, open Carebill and go to Bills."
            ),
        ),
        (
            "Carebill: su nuevo estado de cuenta está listo",
            format!(
                "Su estado de cuenta de {provider} está listo en Carebill: {owed}, con vencimiento el {due}. \
                 Usted eligió estados de cuenta sin papel, así que no le llegará por correo postal.\n\n\
                 Para leerlo, descargarlo o pagarlo, abra Carebill y vaya a Facturas."
            ),
        ),
    )
}

/// A bill is due in a week.
pub fn due_soon(l: Locale, first: &str, bill: &BillFacts<'_>) -> Mail {
    let (provider, owed, due) = (bill.provider, bill.owed.display_usd(), weekday_date(l, bill.due));
    letter(
        l,
        first,
        (
            "Carebill: a bill is due in 7 days",
            format!(
                "Your bill from {provider} for {owed} is due on {due}.\n\n\
                 To pay it, or to set up a payment plan if you need more time, open Carebill and go to Bills."
            ),
        ),
        (
            "Carebill: una factura vence en 7 días",
            format!(
                "Su factura de {provider} por {owed} vence el {due}.\n\n\
                 Para pagarla, o para crear un plan de pagos si necesita más tiempo, abra Carebill y vaya a Facturas."
            ),
        ),
    )
}

/// A bill's due date has passed.
pub fn overdue(l: Locale, first: &str, bill: &BillFacts<'_>) -> Mail {
    let (provider, owed, due) = (bill.provider, bill.owed.display_usd(), date(l, bill.due));
    letter(
        l,
        first,
        (
            "Carebill: a bill is past due",
            format!(
                "Your bill from {provider} for {owed} was due on {due}.\n\n\
                 Please pay it in Carebill. If you cannot pay it all now, you can set up a payment plan there, \
                 or write to the billing office under Messages."
            ),
        ),
        (
            "Carebill: una factura está vencida",
            format!(
                "Su factura de {provider} por {owed} venció el {due}.\n\n\
                 Por favor, páguela en Carebill. Si no puede pagarla completa ahora, allí puede crear un plan de pagos \
                 o escribir a la oficina de facturación en Mensajes."
            ),
        ),
    )
}

/// What a scheduled charge is, for a mail about its payment method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduledCharge {
    Autopay,
    Instalment,
    ScheduledPayment,
}

/// Why a payment method needs attention before a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodProblem {
    /// The card's last valid month ends before the charge.
    CardExpires { month: u32, year: i32 },
    /// The bank returned an earlier payment from this account as closed, unknown or invalid.
    AccountReturned,
    /// The member removed the method.
    Removed,
}

/// A card or bank account will not work for a scheduled charge.
pub fn method_attention(
    l: Locale,
    first: &str,
    method: &PaymentMethodSummary,
    problem: MethodProblem,
    charge: ScheduledCharge,
    amount: Money,
    on: NaiveDate,
) -> Mail {
    let (method, amount, on) = (method_label(l, method), amount.display_usd(), weekday_date(l, on));
    let what = match (charge, l) {
        (ScheduledCharge::Autopay, Locale::En) => "autopay charge",
        (ScheduledCharge::Autopay, Locale::Es) => "cargo de pago automático",
        (ScheduledCharge::Instalment, Locale::En) => "payment plan instalment",
        (ScheduledCharge::Instalment, Locale::Es) => "cuota del plan de pagos",
        (ScheduledCharge::ScheduledPayment, Locale::En) => "scheduled payment",
        (ScheduledCharge::ScheduledPayment, Locale::Es) => "pago programado",
    };
    let where_ = match (charge, l) {
        (ScheduledCharge::Autopay, Locale::En) => "Autopay",
        (ScheduledCharge::Autopay, Locale::Es) => "Pago automático",
        (ScheduledCharge::Instalment, Locale::En) => "Payment plan",
        (ScheduledCharge::Instalment, Locale::Es) => "Plan de pagos",
        (ScheduledCharge::ScheduledPayment, Locale::En) => "Payment history",
        (ScheduledCharge::ScheduledPayment, Locale::Es) => "Historial de pagos",
    };
    let why = match (problem, l) {
        (MethodProblem::CardExpires { month, year }, Locale::En) => {
            format!("but the card expires at the end of {month:02}/{year}")
        }
        (MethodProblem::CardExpires { month, year }, Locale::Es) => {
            format!("pero la tarjeta vence al final de {month:02}/{year}")
        }
        (MethodProblem::AccountReturned, Locale::En) => {
            "but the bank returned an earlier payment from this account as closed or not valid".to_string()
        }
        (MethodProblem::AccountReturned, Locale::Es) => {
            "pero el banco devolvió un pago anterior de esta cuenta porque está cerrada o no es válida".to_string()
        }
        (MethodProblem::Removed, Locale::En) => "but it was removed from your account".to_string(),
        (MethodProblem::Removed, Locale::Es) => "pero se eliminó de su cuenta".to_string(),
    };
    letter(
        l,
        first,
        (
            "Carebill: update your payment method before your next charge",
            format!(
                "Your {what} of {amount} on {on} is set to use {method}, {why}.\n\n\
                 So that it does not fail, open Carebill, go to {where_} and choose another card or bank account."
            ),
        ),
        (
            "Carebill: actualice su método de pago antes de su próximo cargo",
            format!(
                "Su {what} de {amount} del {on} usará {method}, {why}.\n\n\
                 Para que no falle, abra Carebill, vaya a {where_} y elija otra tarjeta o cuenta bancaria."
            ),
        ),
    )
}
