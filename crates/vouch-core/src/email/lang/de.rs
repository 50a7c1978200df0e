//! German (Deutsch): every sentence and name an email in this language uses.

use super::{Language, Strings};
use crate::feature::Feature;
use crate::SessionStatus;

pub(in crate::email) const LANGUAGE: Language = Language {
    code: "de",
    strings: Strings {
        greeting: "Guten Tag,",
        approved_subject: "{brand}: Ihre Identität wurde verifiziert",
        approved_body: "Gute Nachrichten: Ihre Identität wurde erfolgreich verifiziert. \
            Sie müssen nichts weiter tun.",
        declined_subject: "{brand}: Ihre Identität konnte nicht verifiziert werden",
        declined_body: "Leider konnten wir Ihre Identität nicht verifizieren. \
            Bei Fragen wenden Sie sich bitte direkt an {brand}.",
        status_subject: "{brand}: Der Status Ihrer Verifizierung hat sich geändert",
        status_body: "Der Status Ihrer Identitätsprüfung lautet jetzt: {status}. \
            Bei Fragen wenden Sie sich bitte an {brand}.",
        resubmission_subject: "{brand}: Bitte wiederholen Sie einige Schritte Ihrer Verifizierung",
        resubmission_intro: "Wir müssen Sie bitten, einige Schritte Ihrer Identitätsprüfung \
            für {brand} zu wiederholen.",
        resubmission_steps_heading: "Zu wiederholende Schritte:",
        resubmission_link_intro: "Hier setzen Sie Ihre Verifizierung fort:",
        resubmission_button: "Verifizierung fortsetzen",
        resubmission_same_link: "Es ist derselbe Link wie zuvor, \
            Sie können also dort weitermachen, wo Sie aufgehört haben.",
        footer: "Gesendet im Auftrag von {brand}.",
    },
    feature_name,
    status_name,
};

/// The person's name for a step.
fn feature_name(feature: Feature) -> &'static str {
    match feature {
        Feature::Ocr => "Ausweisdokument",
        Feature::Nfc => "Scan des Dokumentenchips",
        Feature::Liveness => "Selfie-Video",
        Feature::FaceMatch => "Gesichtsabgleich",
        Feature::ProofOfAddress => "Adressnachweis",
        Feature::PhoneVerification => "Telefonnummer",
        Feature::EmailVerification => "E-Mail-Adresse",
        Feature::Aml => "Compliance-Prüfung",
        Feature::DatabaseValidation => "Datenabgleich",
        Feature::IpAnalysis => "Verbindungsprüfung",
        Feature::Questionnaire => "Fragebogen",
        Feature::AgeEstimation => "Altersprüfung",
        Feature::FaceSearch => "Gesichtssuche",
        Feature::DocumentAi => "Dokument",
        Feature::KybRegistry => "Handelsregister",
        Feature::KybKeyPeople => "Schlüsselpersonen",
        Feature::KybDocuments => "Unternehmensdokumente",
    }
}

/// The person's name for a status; adjectives agree with "verification" where the language
/// has gender.
fn status_name(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::NotStarted => "Nicht begonnen",
        SessionStatus::InProgress => "In Bearbeitung",
        SessionStatus::InReview => "In Prüfung",
        SessionStatus::Approved => "Genehmigt",
        SessionStatus::Declined => "Abgelehnt",
        SessionStatus::Resubmitted => "Erneute Einreichung angefordert",
        SessionStatus::Expired => "Abgelaufen",
        SessionStatus::Abandoned => "Abgebrochen",
        SessionStatus::KycExpired => "Verifizierung abgelaufen",
        SessionStatus::AwaitingUser => "Wartet auf Ihre Aktion",
    }
}
