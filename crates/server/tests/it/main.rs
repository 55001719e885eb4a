//! Integration tests: the real server on 127.0.0.1:0, a temp data dir, a manual clock.

mod accounts;
mod autopay;
mod bills;
mod claims;
mod console;
mod conversations;
mod guest;
mod hardening;
mod harness;
mod input;
mod layers;
mod notifications;
mod operations;
mod payments;
mod plans;
mod postgres;
mod reminders;
mod sessions;
mod staff_audit;
mod sync;
