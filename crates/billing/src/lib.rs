//! Carebill's billing domain: exact money, bills and their balances, input rules, the business
//! calendar, the days reminders count, the password policy, and what an attached file is by its content (`sniff`, checked
//! by the app before a message waits offline and by the server on upload). Pure: no IO, no clock, no randomness. Callers pass "today"
//! and "now" in.

#![forbid(unsafe_code)]

pub mod autopay;
pub mod bill;
pub mod calendar;
pub mod claims;
pub mod money;
pub mod password;
pub mod plans;
pub mod reminders;
pub mod sniff;
pub mod validate;

pub use bill::{Balances, BillError, BillKind, BillStatus, Charges, LineItem};
pub use calendar::BusinessCalendar;
pub use money::{Money, MoneyError};
pub use validate::Invalid;
