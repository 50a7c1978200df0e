//! Emails to the person: the SMTP transport and the mailer worker.

pub mod mailer;
pub mod smtp;
