//! Badge tokens live in the `consentry-badge` crate, shared with the kiosk client so that server
//! and kiosk apply one verification rule.

pub use consentry_badge::*;
