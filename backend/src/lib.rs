//! Consentry: privacy-aware event registration and badge scanning.
//!
//! One module per capability (`organisers`, `events`, `sponsors`, `registrations`, `consents`,
//! `badges`, `booths`, `rights`, `kiosks`, `scans`, `leads`, `exports`, `audit`, `retention`, `backup`),
//! each holding its routes, rules and queries; shared plumbing in a few small modules (`config`,
//! `error`, `extract`, `auth`, `clock`, `connections`, `crypto`, `db`, `http`, `keystore`, `mail`,
//! `metrics`, `rate_limit`, `validation`, `vault`). See docs/ARCHITECTURE.md.

pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod badges;
pub mod booths;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connections;
pub mod consents;
pub mod contact;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod disclosure;
pub mod error;
pub mod events;
pub mod exports;
pub mod extract;
pub mod http;
pub mod keystore;
pub mod kiosks;
#[cfg(test)]
mod layers;
pub mod leads;
pub mod mail;
pub mod metrics;
pub mod organisers;
pub mod problem;
pub mod rate_limit;
pub mod receipts;
pub mod registrations;
pub mod response;
pub mod retention;
pub mod rights;
pub mod scans;
pub mod schema;
pub mod sponsors;
pub mod state;
pub mod stats;
pub mod validation;
pub mod vault;
pub mod web;
