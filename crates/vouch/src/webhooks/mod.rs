//! Webhook delivery: the dispatcher, the sender with its SSRF guard, and retry rules.

pub mod dispatcher;
pub mod listen;
pub mod send;
pub mod ssrf;
