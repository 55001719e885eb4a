//! The documents a member keeps, made on this device from the encrypted copy, so they work
//! offline: a bill's statement, a payment's receipt and the yearly summary of payments
//! (`carebill-documents` writes them). Nothing is written to disk here: the shell saves the
//! bytes where the member chooses.

use carebill_api::types::Locale;
use carebill_billing::calendar::ZoneRules;
use carebill_documents::{Holder, YearlySummary, file_name, receipt, statement, summary};

use super::{Engine, Session};
use crate::cache;
use crate::error::{ClientCode, ClientError, ClientResult};

/// A document ready to save: a suggested file name and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentFile {
    pub file_name: String,
    /// `application/pdf` or `text/csv`.
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The yearly summary's two exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum SummaryFormat {
    Csv,
    Pdf,
}

fn pdf_failed(e: carebill_documents::Error) -> ClientError {
    ClientError::internal(e)
}

impl Engine {
    /// Who the documents are for, and the plan's name, from the session and the plan's facts
    /// this device holds.
    fn holder(&self, s: &Session) -> Holder {
        let plan_name = self
            .held_plan()
            .map_or_else(|| "Carebill".to_string(), |plan| plan.name);
        Holder {
            name: format!("{} {}", s.member.first_name, s.member.last_name),
            member_id: s.member.member_id.clone(),
            locale: s.member.locale,
            plan_name,
        }
    }

    /// The plan's time zone as data, from the plan's facts this device holds. Before the
    /// service first stated its offsets (a copy of the facts kept by an earlier release, or none
    /// at all), this computer's own time zone, under the plan's zone name.
    pub fn plan_zone(&self) -> ZoneRules {
        let plan = self.held_plan();
        if let Some(rules) = plan.as_ref().and_then(|p| p.zone_rules()) {
            return rules;
        }
        let name = plan.map_or_else(
            || carebill_billing::calendar::DEFAULT_PLAN_TIME_ZONE_NAME.to_string(),
            |p| p.time_zone,
        );
        ZoneRules::scan(&name, 2015, 2045, |instant| {
            use chrono::Offset;
            let offset = instant.with_timezone(&chrono::Local).offset().fix();
            (offset.local_minus_utc(), offset.to_string())
        })
    }

    /// A bill's statement as a PDF, from the copy.
    pub async fn statement_pdf(&self, bill_id: &str) -> ClientResult<DocumentFile> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        let id = bill_id.to_string();
        let detail = s
            .cache
            .run(move |c| cache::bill_detail(c, &id))
            .await?
            .ok_or_else(|| ClientError::server(carebill_api::ErrorCode::BillNotFound))?;
        let holder = self.holder(&s);
        let zone = self.plan_zone();
        let bytes = tokio::task::spawn_blocking(move || {
            statement::statement_pdf(&holder, &detail, &zone, f.business_date).map(|b| (b, detail))
        })
        .await
        .map_err(ClientError::internal)?
        .map_err(pdf_failed)?;
        let (bytes, detail) = bytes;
        Ok(DocumentFile {
            file_name: file_name(&[statement_word(s.member.locale), &detail.bill.statement_number], "pdf"),
            media_type: "application/pdf",
            bytes,
        })
    }

    /// A payment's receipt as a PDF, from the copy.
    pub async fn receipt_pdf(&self, payment_id: &str) -> ClientResult<DocumentFile> {
        let s = self.session().await?;
        let id = payment_id.to_string();
        let (payment, bills) = s
            .cache
            .run(move |c| {
                let Some(p) = cache::payment(c, &id)? else {
                    return Ok(None);
                };
                let bills = cache::bills_paid_by(c, std::slice::from_ref(&p))?;
                Ok(Some((p, bills)))
            })
            .await?
            .ok_or_else(|| ClientError::server(carebill_api::ErrorCode::PaymentNotFound))?;
        let holder = self.holder(&s);
        let zone = self.plan_zone();
        let name = file_name(&[receipt_word(s.member.locale), &payment.confirmation_number], "pdf");
        let bytes = tokio::task::spawn_blocking(move || receipt::receipt_pdf(&holder, &payment, &bills, &zone))
            .await
            .map_err(ClientError::internal)?
            .map_err(pdf_failed)?;
        Ok(DocumentFile {
            file_name: name,
            media_type: "application/pdf",
            bytes,
        })
    }

    /// A year's summary of payments from the copy; `None`: the current year in the plan's
    /// calendar.
    pub async fn yearly_summary(&self, year: Option<i32>) -> ClientResult<YearlySummary> {
        let s = self.session().await?;
        let f = self.freshness(&s).await?;
        let year = match year {
            Some(y) if !(2000..=2100).contains(&y) => return Err(ClientError::of(ClientCode::NoSuchYear).at("/year")),
            Some(y) => y,
            None => chrono::Datelike::year(&f.business_date),
        };
        let zone = self.plan_zone();
        s.cache
            .run(move |c| {
                let payments = cache::all_payments(c)?;
                let bills = cache::bills_paid_by(c, &payments)?;
                Ok(summary::yearly_summary(year, &payments, &bills, &zone))
            })
            .await
    }

    /// A year's summary as a CSV or a PDF.
    pub async fn yearly_summary_file(&self, year: i32, format: SummaryFormat) -> ClientResult<DocumentFile> {
        let figures = self.yearly_summary(Some(year)).await?;
        let s = self.session().await?;
        let holder = self.holder(&s);
        let word = summary_word(holder.locale);
        let year_text = year.to_string();
        tokio::task::spawn_blocking(move || match format {
            SummaryFormat::Csv => summary::summary_csv(holder.locale, &figures).map(|csv| DocumentFile {
                file_name: file_name(&[word, &year_text], "csv"),
                media_type: "text/csv",
                bytes: csv.into_bytes(),
            }),
            SummaryFormat::Pdf => summary::summary_pdf(&holder, &figures).map(|pdf| DocumentFile {
                file_name: file_name(&[word, &year_text], "pdf"),
                media_type: "application/pdf",
                bytes: pdf,
            }),
        })
        .await
        .map_err(ClientError::internal)?
        .map_err(pdf_failed)
    }
}

fn statement_word(l: Locale) -> &'static str {
    match l {
        Locale::En => "statement",
        Locale::Es => "estado-de-cuenta",
    }
}

fn receipt_word(l: Locale) -> &'static str {
    match l {
        Locale::En => "receipt",
        Locale::Es => "recibo",
    }
}

fn summary_word(l: Locale) -> &'static str {
    match l {
        Locale::En => "payments-summary",
        Locale::Es => "resumen-de-pagos",
    }
}
