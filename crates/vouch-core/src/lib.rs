//! vouch's domain, free of I/O: everything here is a pure function of its inputs, so every rule of
//! the API contract can be tested without a database, a clock or a network.

pub mod attempt;
pub mod capture;
pub mod change;
pub mod clock;
pub mod console;
pub mod contact;
pub mod corrections;
pub mod decision_view;
pub mod delivery;
pub mod email;
pub mod email_plan;
pub mod engine;
pub mod errors;
pub mod feature;
pub mod ids;
pub mod imports;
pub mod lifecycle;
pub mod media;
pub mod otp;
pub mod person;
pub mod preview;
pub mod progress;
pub mod ratelimit;
pub mod resubmission;
pub mod review;
pub mod sandbox;
pub mod scopes;
pub mod session;
pub mod sharing;
pub mod status;
pub mod steps;
pub mod time;
pub mod totp;
pub mod update_status;
pub mod webhook;
pub mod webhook_payload;
pub mod workflow;

pub use errors::{FieldErrors, Rejection};
pub use feature::{Feature, FeatureRef, WorkflowKind};
pub use ids::{
    AppId, DeliveryId, DestinationId, EngineJobId, EventId, KeyId, MediaId, SessionId, WorkflowId,
};
pub use status::{AttemptStatus, SessionStatus};
