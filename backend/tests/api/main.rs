//! The HTTP API tested against the real server on a real port (one test binary, several modules,
//! so the suite links once).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod attendee;
mod auth;
mod booth;

mod authorization;
mod deletion;
mod disclosure;
mod email_change;
mod events;
mod exports;
mod kiosks;
mod limits;
mod operations;
mod plumbing;
mod receipts;
mod registration;
mod retention;
mod rights;
mod scans;
mod smtp;
mod sponsors;
mod tenancy;
