//! Webhooks end to end: real deliveries to a real receiver on loopback.

#[path = "../common/mod.rs"]
mod common;
mod concurrency;
mod delivery;
mod destinations;
mod misbehaving;
mod receiver;
mod session_log;
mod tools;
