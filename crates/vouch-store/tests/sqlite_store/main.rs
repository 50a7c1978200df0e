//! Integration tests of the SQLite backend: each test opens a real database file in a temporary
//! directory and drives it only through `Arc<dyn Store>` (plus a direct rusqlite connection where
//! the test must look at, or tamper with, the stored rows).

mod catalog;
mod changes;
mod erasure;
mod fixtures;
mod idempotency;
mod lists;
mod sessions;
