//! Carebill's billing domain: exact money, bills and their balances, input rules, the business
//! calendar and the password policy. Pure: no IO, no clock, no randomness. Callers pass "today"
//! and "now" in.

#![forbid(unsafe_code)]

pub mod autopay;
pub mod bill;
pub mod calendar;
pub mod claims;
pub mod money;
pub mod password;
pub mod plans;
pub mod validate;

pub use bill::{Balances, BillError, BillKind, BillStatus, Charges, LineItem};
pub use calendar::BusinessCalendar;
pub use money::{Money, MoneyError};
pub use validate::Invalid;
