//! English: every sentence and name an email in this language uses.

use super::{Language, Strings};
use crate::feature::Feature;
use crate::SessionStatus;

pub(in crate::email) const LANGUAGE: Language = Language {
    code: "en",
    strings: Strings {
        greeting: "Hello,",
        approved_subject: "{brand}: your identity has been verified",
        approved_body: "Good news: your identity has been verified successfully. \
            You don't need to do anything else.",
        declined_subject: "{brand}: we could not verify your identity",
        declined_body: "Unfortunately, we could not verify your identity. \
            If you have any questions, please contact {brand} directly.",
        status_subject: "{brand}: your verification status has changed",
        status_body: "The status of your identity verification has changed to: {status}. \
            If you have any questions, please contact {brand}.",
        resubmission_subject: "{brand}: please redo some steps of your verification",
        resubmission_intro:
            "We need you to redo some steps of your identity verification for {brand}.",
        resubmission_steps_heading: "Steps to redo:",
        resubmission_link_intro: "Continue your verification here:",
        resubmission_button: "Continue verification",
        resubmission_same_link: "This is the same link as before, \
            so you can pick up where you left off.",
        footer: "Sent on behalf of {brand}.",
    },
    feature_name,
    status_name,
};

/// The person's name for a step.
fn feature_name(feature: Feature) -> &'static str {
    match feature {
        Feature::Ocr => "Identity document",
        Feature::Nfc => "Document chip scan",
        Feature::Liveness => "Selfie video",
        Feature::FaceMatch => "Face match",
        Feature::ProofOfAddress => "Proof of address",
        Feature::PhoneVerification => "Phone number",
        Feature::EmailVerification => "Email address",
        Feature::Aml => "Screening",
        Feature::DatabaseValidation => "Data check",
        Feature::IpAnalysis => "Connection check",
        Feature::Questionnaire => "Questionnaire",
        Feature::AgeEstimation => "Age check",
        Feature::FaceSearch => "Face search",
        Feature::DocumentAi => "Document",
        Feature::KybRegistry => "Company registry",
        Feature::KybKeyPeople => "Key people",
        Feature::KybDocuments => "Company documents",
    }
}

/// The person's name for a status; adjectives agree with "verification" where the language
/// has gender.
fn status_name(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::NotStarted => "Not started",
        SessionStatus::InProgress => "In progress",
        SessionStatus::InReview => "In review",
        SessionStatus::Approved => "Approved",
        SessionStatus::Declined => "Declined",
        SessionStatus::Resubmitted => "Resubmission requested",
        SessionStatus::Expired => "Expired",
        SessionStatus::Abandoned => "Abandoned",
        SessionStatus::KycExpired => "Verification expired",
        SessionStatus::AwaitingUser => "Awaiting your action",
    }
}
