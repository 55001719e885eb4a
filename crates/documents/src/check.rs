//! Test helpers that read a PDF back as a reader would: its text through poppler's `pdftotext`,
//! and its structure through pypdf (`tests/check_pdf.py`). `cargo xtask test` installs both
//! (poppler-utils from Debian, pypdf in its Python environment, named by `CAREBILL_PYTHON`).
//! They panic when a tool is missing: a check that cannot run must not pass.

use std::path::Path;
use std::process::Command;

/// The PDF's text in the order it is written (`pdftotext -raw`): a table cell's lines stay
/// together.
pub fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg("-raw")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("pdftotext (poppler-utils; `cargo xtask test` installs it) did not run: {e}"));
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Panics unless the PDF is tagged, has its language (`en-US`, `es-US`) and title set and
/// shown, US Letter pages, and every font embedded.
pub fn assert_accessible_pdf(pdf: &Path, lang: &str) {
    let python = std::env::var("CAREBILL_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check_pdf.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(pdf)
        .arg(lang)
        .output()
        .unwrap_or_else(|e| panic!("{python} did not run: {e}"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !said.contains("No module named 'pypdf'"),
        "pypdf is missing from {python}: `cargo xtask test` installs it and sets CAREBILL_PYTHON"
    );
    assert!(out.status.success() && said.trim() == "ok", "{}: {said}", pdf.display());
}
