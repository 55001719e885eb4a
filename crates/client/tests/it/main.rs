//! Client engine tests against a real billing server on loopback.

mod claims;
mod documents;
mod faults;
mod harness;
mod kiosk;
mod messages;
mod notices;
mod offline;
mod payments;
mod plans;
mod security;
mod sessions;
mod sync;
mod upgrade;
