//! Checks while typing: the rules live in Rust only (`carebill_client::validate`), one line each.

use carebill_client::validate::{self, CardCheck};

use super::Result;

/// The password rules the server applies (length, common list, repeats, sequences, identifiers).
#[tauri::command]
#[specta::specta]
pub fn validate_password(password: String, email: Option<String>, member_id: Option<String>) -> Result<()> {
    validate::password(&password, email.as_deref(), member_id.as_deref())
}

#[tauri::command]
#[specta::specta]
pub fn validate_email(email: String) -> Result<String> {
    validate::email(&email)
}

#[tauri::command]
#[specta::specta]
pub fn validate_member_id(state: tauri::State<'_, crate::AppState>, member_id: String) -> Result<String> {
    validate::member_id(&member_id, &state.engine.member_id_rule())
}

#[tauri::command]
#[specta::specta]
pub fn validate_name(name: String, which: String) -> Result<String> {
    validate::name(&name, &which)
}

/// A date of birth from its three fields; answers `YYYY-MM-DD`.
#[tauri::command]
#[specta::specta]
pub fn validate_date_of_birth(day: String, month: String, year: String) -> Result<String> {
    validate::date_of_birth(&day, &month, &year, chrono::Local::now().date_naive())
}

/// An amount for one bill: more than 0, at most two decimals, at most what can be paid; answers
/// it with two decimals ("125.50").
#[tauri::command]
#[specta::specta]
pub fn validate_amount(amount: String, payable: String) -> Result<String> {
    validate::amount(&amount, &payable).map(|m| m.to_string())
}

/// Recognises the brand as the number is typed; with `complete`, checks the whole number.
#[tauri::command]
#[specta::specta]
pub fn validate_card_number(number: String, complete: bool) -> Result<CardCheck> {
    validate::card_number(&number, complete)
}

#[tauri::command]
#[specta::specta]
pub fn validate_card_expiry(month: u32, year: i32) -> Result<()> {
    validate::card_expiry(month, year, chrono::Local::now().date_naive())
}

#[tauri::command]
#[specta::specta]
pub fn validate_card_cvc(cvc: String, number: String) -> Result<()> {
    validate::card_cvc(&cvc, &number)
}

#[tauri::command]
#[specta::specta]
pub fn validate_postal_code(postal_code: String) -> Result<()> {
    validate::postal_code(&postal_code)
}

#[tauri::command]
#[specta::specta]
pub fn validate_routing_number(routing_number: String) -> Result<()> {
    validate::routing_number(&routing_number)
}

/// The account number, typed twice.
#[tauri::command]
#[specta::specta]
pub fn validate_account_number(account_number: String, confirmation: Option<String>) -> Result<()> {
    validate::account_number(&account_number, confirmation.as_deref())
}
