//! The Carebill reference billing API server.
//!
//! Start at [`app::start`]. Requests enter through [`routes`], are authenticated by [`auth`],
//! and reach the database through [`db`] and [`store`]. Domain rules come from
//! `carebill-billing`; wire types from `carebill-api`.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod app;
pub(crate) mod audit;
pub(crate) mod auth;
pub mod autopay;
pub(crate) mod clock;
pub mod config;
pub mod conversations;
pub(crate) mod cursor;
pub mod db;
pub mod error;
pub(crate) mod extract;
pub(crate) mod feed;
pub mod fhir;
pub(crate) mod ids;
pub mod import;
pub mod kiosk;
pub mod mail;
pub mod migrate_to;
pub(crate) mod migrations;
pub mod notifications;
pub(crate) mod page_cache;
pub mod payments;
pub mod pg_tls;
pub mod plans;
pub mod processor;
pub mod reminders;
pub(crate) mod routes;
pub mod scheduled;
pub mod scheduler;
pub mod secret;
pub mod seed;
pub(crate) mod serve;
/// What an uploaded file is, by its content (shared with the app: `carebill_billing::sniff`).
pub use carebill_billing::sniff;
pub mod sql;
pub mod staff;
pub mod staff_audit;
pub mod state;
pub mod store;

pub use app::{RunningServer, StartError, start, start_with};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::ServerConfig;
