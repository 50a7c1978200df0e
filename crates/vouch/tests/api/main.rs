//! HTTP end-to-end tests: the real server on port 0 over a real SQLite file, or over a fresh
//! PostgreSQL schema with `VOUCH_TEST_BACKEND=postgres` (scripts/test.sh runs both).

#[path = "../common/mod.rs"]
mod common;
#[path = "../support/console.rs"]
#[allow(dead_code)]
mod console_support;

mod attempts;
mod auth;
mod batch_delete;
mod capture;
mod capture_refusals;
mod compat;
mod console;
mod console_desk;
mod console_sso;
mod corrections;
mod engine_http;
mod errors;
mod hosted;
mod hosted_phone;
mod hostile;
mod imports;
mod limits;
mod matrix;
mod metrics;
mod overload;
mod report;
mod resubmission;
mod sandbox;
mod sandbox_codes;
mod sessions;
mod sharing;
mod snapshots;
mod trail;
mod update_status;
mod workflows;
