//! Test doubles shared by the model crate's integration tests.

pub mod fake_hub;
