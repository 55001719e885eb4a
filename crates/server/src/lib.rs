//! The Carebill reference billing API server.
//!
//! Start at [`app::start`]. Requests enter through [`routes`], are authenticated by [`auth`],
//! and reach the database through [`db`] and [`store`]. Domain rules come from
//! `carebill-billing`; wire types from `carebill-api`.

#![forbid(unsafe_code)]

pub mod app;
pub mod audit;
pub mod auth;
pub mod autopay;
pub mod clock;
pub mod config;
pub mod cursor;
pub mod db;
pub mod error;
pub mod extract;
pub mod ids;
pub mod import;
pub mod kiosk;
pub mod mail;
pub mod migrations;
pub mod page_cache;
pub mod payments;
pub mod processor;
pub mod routes;
pub mod scheduler;
pub mod secret;
pub mod seed;
pub mod serve;
pub mod state;
pub mod store;

pub use app::{RunningServer, StartError, start, start_with};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::ServerConfig;
