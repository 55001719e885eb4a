//! The documents a member keeps: a bill's statement and a payment's receipt as PDFs, and the
//! yearly summary of payments (figures, CSV and PDF). Everything an HSA or FSA administrator or
//! a tax preparer asks for, from values the caller already holds (the app's encrypted copy):
//! nothing here reads a file, a clock or the network.
//!
//! The PDFs are tagged (PDF/UA-1, checked by krilla's validator as they are written), US Letter,
//! in the member's language, with Carebill Sans (Liberation Sans cut to Latin text) embedded.

#[doc(hidden)]
pub mod check;
mod font;
mod layout;
pub mod receipt;
#[doc(hidden)]
pub mod sample;
pub mod statement;
pub mod summary;

use carebill_api::types::Locale;

pub use summary::{MonthTotal, ProviderTotal, SummaryRow, YearlySummary};

/// Why a document was not made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The PDF writer refused the document (a bug: every document is checked in the tests).
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
    #[error("the CSV could not be written: {0}")]
    Csv(String),
}

/// Who the documents are for, as the plan knows them.
#[derive(Debug, Clone)]
pub struct Holder {
    pub name: String,
    pub member_id: String,
    pub locale: Locale,
    /// The plan's name, in every document's footer.
    pub plan_name: String,
}

impl Holder {
    /// The member's name and ID, as every document opens.
    fn facts(&self) -> Vec<(String, String)> {
        let l = self.locale;
        vec![
            (tr(l, "Member", "Miembro").to_string(), self.name.clone()),
            (
                tr(l, "Member ID", "Número de identificación de miembro").to_string(),
                self.member_id.clone(),
            ),
        ]
    }

    /// Writes a document of this member's: their language, and the plan and title in every
    /// page's footer.
    fn pdf(&self, title: &str, blocks: &[layout::Block]) -> Result<Vec<u8>, Error> {
        let footer = format!("{}  ·  {title}", self.plan_name);
        layout::render(
            &layout::Meta {
                title,
                lang: lang(self.locale),
                footer: &footer,
                page_word: page_word(self.locale),
            },
            blocks,
        )
    }
}

/// A bill's service dates: one date, or "Mar 2, 2026 to Mar 6, 2026".
fn service_dates(l: Locale, from: chrono::NaiveDate, to: chrono::NaiveDate) -> String {
    if from == to {
        l.date(from)
    } else {
        format!("{} {} {}", l.date(from), tr(l, "to", "al"), l.date(to))
    }
}

/// A table's total row: "Total" spanning the columns left of the figures (empty cells join the
/// one before them), then the figures, right-aligned in the last columns.
fn total_row(l: Locale, columns: usize, figures: Vec<String>) -> Vec<String> {
    let mut row = vec![tr(l, "Total", "Total").to_string()];
    row.resize(columns.saturating_sub(figures.len()).max(1), String::new());
    row.extend(figures);
    row
}

/// One sentence in both languages.
fn tr<'a>(l: Locale, en: &'a str, es: &'a str) -> &'a str {
    match l {
        Locale::En => en,
        Locale::Es => es,
    }
}

/// The document language (BCP 47).
fn lang(l: Locale) -> &'static str {
    match l {
        Locale::En => "en-US",
        Locale::Es => "es-US",
    }
}

/// "Page" / "Página".
fn page_word(l: Locale) -> &'static str {
    tr(l, "Page", "Página")
}

/// A file name safe on every desktop system: letters, digits, `-` and `_` from `parts`.
pub fn file_name(parts: &[&str], extension: &str) -> String {
    let stem: String = parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-");
    let mut squeezed = String::with_capacity(stem.len());
    for c in stem.chars() {
        if !(c == '-' && squeezed.ends_with('-')) {
            squeezed.push(c);
        }
    }
    format!("{}.{extension}", squeezed.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_total_row_spans_the_columns_before_its_figures() {
        let row = total_row(Locale::Es, 5, vec!["$1.00".into()]);
        assert_eq!(row, ["Total", "", "", "", "$1.00"]);
        assert_eq!(
            total_row(Locale::En, 3, vec!["2".into(), "$1.00".into()]),
            ["Total", "2", "$1.00"]
        );
    }

    #[test]
    fn file_names_keep_only_safe_characters() {
        assert_eq!(
            file_name(&["statement", "BMG 2600/0004"], "pdf"),
            "statement-BMG-2600-0004.pdf"
        );
        assert_eq!(
            file_name(&["receipt", "CB-7K2M-9QXP"], "pdf"),
            "receipt-CB-7K2M-9QXP.pdf"
        );
        assert_eq!(file_name(&["../..", "x"], "csv"), "x.csv");
    }
}
