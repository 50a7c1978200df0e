//! The vouch server: configuration, CLI, HTTP API and use cases.

pub mod apikey;
pub mod batches;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod engines;
pub mod hosted;
pub mod http;
pub mod imports;
pub mod jobs;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod migrate_data;
pub mod ratelimit;
pub mod report;
pub mod server;
pub mod service;
pub mod state;
pub mod webhooks;
