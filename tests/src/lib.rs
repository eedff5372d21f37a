//! Helpers live in the test files; this crate only hosts the end-to-end tests.
