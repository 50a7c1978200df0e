//! Emails end to end against a real SMTP server (aiosmtpd on loopback, see smtp_sink.py).

#[path = "../common/mod.rs"]
mod common;
mod console;
#[path = "../support/console.rs"]
#[allow(dead_code)]
mod console_support;
mod misbehaving;
mod person_codes;
mod preview;
mod sending;
mod sink;
