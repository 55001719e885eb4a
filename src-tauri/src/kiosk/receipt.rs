//! The guest receipt: its text (confirmation number, amount, date; nothing about the care), as a
//! QR code, and printed without a dialog.

use carebill_api::types::{Locale, Payment, PlanInfo};
use serde::{Deserialize, Serialize};

/// What a guest receipt says, in the guest's language: confirmation number, amount and date (with
/// its year, US style, in the kiosk's time); no name, no care details. The printed one also says
/// who to call (`plan`); the QR code carries only the facts.
pub fn receipt_text(payment: &Payment, clinic: Option<&str>, plan: Option<&PlanInfo>, locale: Locale) -> String {
    let es = locale == Locale::Es;
    let mut text = String::new();
    if let Some(c) = clinic {
        text.push_str(c);
        text.push('\n');
    }
    let at = payment.created_at.with_timezone(&chrono::Local);
    let when = format!("{}, {}", locale.date(at.date_naive()), locale.time(at.time()));
    let (title, confirmation, amount, date) = if es {
        ("Recibo de pago de Carebill", "Confirmación", "Cantidad", "Fecha")
    } else {
        ("Carebill payment receipt", "Confirmation", "Amount", "Date")
    };
    text.push_str(&format!(
        "{title}\n{confirmation}: {}\n{amount}: {}\n{date}: {when}\n",
        payment.confirmation_number,
        payment.amount.display_usd(),
    ));
    if let Some(plan) = plan {
        let s = &plan.member_services;
        let hours = s.hours.get(locale);
        if es {
            text.push_str(&format!(
                "\nGuarde este número de confirmación. Puede necesitarlo si llama.\n\
                 ¿Preguntas? Llame a Servicios para Miembros de {} al {} (TTY {}), {hours}.\n",
                plan.name, s.phone, s.tty
            ));
        } else {
            text.push_str(&format!(
                "\nKeep this confirmation number for your records. You may need it if you call.\n\
                 Questions? Call {} member services at {} (TTY {}), {hours}.\n",
                plan.name, s.phone, s.tty
            ));
        }
        for t in &plan.language_assistance {
            text.push_str(&format!("{}\n", t.text));
        }
    }
    text
}

/// A QR code as an SVG path (one unit square per dark module) and its size in modules.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct QrCode {
    pub size: u32,
    pub path: String,
}

pub fn qr(text: &str) -> Result<QrCode, String> {
    let code = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).map_err(|e| format!("{e:?}"))?;
    let size = code.size();
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if code.get_module(x, y) {
                path.push_str(&format!("M{x} {y}h1v1h-1z"));
            }
        }
    }
    Ok(QrCode {
        size: size as u32,
        path,
    })
}

/// Sends a text receipt to the configured printer, with no dialog.
pub fn print(printer: &str, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut cmd = if cfg!(target_os = "windows") {
        let mut c = Command::new("powershell");
        c.args([
            "-NoProfile",
            "-NonInteractive",
            "-Command",
            "$input | Out-Printer -Name $env:CAREBILL_PRINTER",
        ])
        .env("CAREBILL_PRINTER", printer);
        c
    } else {
        let mut c = Command::new("lp");
        // With no file named, lp prints its standard input.
        c.args(["-d", printer, "-t", "Carebill receipt"]);
        c
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("The printer could not be reached: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "The printer refused the receipt: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_says_number_amount_and_date_and_nothing_about_the_care() {
        use carebill_api::types::*;
        let payment = Payment {
            id: "pay_1".into(),
            status: PaymentStatus::Succeeded,
            amount: carebill_billing::Money::from_cents(25102),
            allocations: vec![Allocation {
                bill_id: "bil_secret".into(),
                amount: carebill_billing::Money::from_cents(25102),
            }],
            confirmation_number: "CB-TM7R-RTV8".into(),
            payment_method: PaymentMethodSummary {
                kind: PaymentMethodType::Card,
                brand: "visa".into(),
                last4: "4242".into(),
                funding: None,
            },
            created_at: "2026-11-28T10:00:00Z".parse().unwrap(),
            settled_at: None,
            failure: None,
            idempotency_key: Some("guest:kiosk_1:cb-1".into()),
            source: PaymentSource::Guest,
        };
        let text = receipt_text(&payment, None, None, Locale::En);
        assert!(text.contains("CB-TM7R-RTV8") && text.contains("$251.02") && text.contains("Nov 28, 2026, "));
        assert!(
            text.contains(" AM\n") || text.contains(" PM\n"),
            "a 12-hour clock: {text}"
        );
        assert!(!text.contains("bil_secret") && !text.contains("kiosk_1"));
        assert!(!text.contains("member services"), "the QR code's text names no phone");
        let plan = PlanInfo {
            name: "Example Health Plan".into(),
            member_services: MemberServices {
                phone: "1-800-555-0100".into(),
                tty: "711".into(),
                hours: LocalizedText {
                    en: "weekdays, 8 a.m. to 6 p.m.".into(),
                    es: None,
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
        let printed = receipt_text(&payment, Some("Northside Clinic"), Some(&plan), Locale::En);
        assert!(printed.starts_with("Northside Clinic\n"));
        assert!(printed.contains("Call Example Health Plan member services at 1-800-555-0100 (TTY 711), weekdays"));
        assert!(printed.contains("ATENCIÓN"));

        // In Spanish: the same facts, the month spelled out, the plan's Spanish hours when it
        // has them (else its English ones, never nothing).
        let mut plan = plan;
        plan.member_services.hours.es = Some("de lunes a viernes, de 8 a. m. a 6 p. m.".into());
        let es = receipt_text(&payment, Some("Northside Clinic"), Some(&plan), Locale::Es);
        assert!(
            es.contains("Recibo de pago de Carebill\nConfirmación: CB-TM7R-RTV8\nCantidad: $251.02\n"),
            "{es}"
        );
        assert!(
            es.contains(" de noviembre de 2026, ") && (es.contains(" a. m.\n") || es.contains(" p. m.\n")),
            "{es}"
        );
        assert!(
            es.contains(
                "Llame a Servicios para Miembros de Example Health Plan al 1-800-555-0100 (TTY 711), de lunes a viernes"
            ),
            "{es}"
        );
        assert!(
            !es.contains("Confirmation:") && !es.contains("Call "),
            "nothing left in English: {es}"
        );
    }

    #[test]
    fn a_qr_code_is_square_and_not_empty() {
        let q = qr("Carebill payment receipt\nConfirmation: CB-7K2M-9XQ4\nAmount: $10.00\nDate: 2026-11-28\n").unwrap();
        assert!(q.size >= 21);
        assert!(q.path.starts_with('M'));
    }
}
