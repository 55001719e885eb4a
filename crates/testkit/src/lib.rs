//! Test support shared by every test crate (server, client, shell, end to end):
//!
//! - [`server`]: a real billing server in process on a loopback port, in a temp dir, in demo mode
//!   (`TestServer::builder()`), and the demo member's credentials;
//! - [`proxy`]: a TCP proxy that injects faults between a client and the server;
//! - [`logs`]: every log line of the test binary, for the secrets canaries;
//! - [`canary`]: looking for secrets and health data in files and logs;
//! - [`files`]: a tiny file server (a stand-in for an update server);
//! - [`samples`]: small real PDF, PNG and JPEG files, and files an upload must refuse;
//! - [`postgres`]: a throwaway PostgreSQL 15 cluster on a Unix socket in a temp dir;
//! - [`smtp`]: a mail relay on a loopback port that keeps what it receives.

#![forbid(unsafe_code)]

pub mod canary;
pub mod files;
pub mod logs;
pub mod postgres;
pub mod proxy;
pub mod samples;
pub mod server;
pub mod smtp;
