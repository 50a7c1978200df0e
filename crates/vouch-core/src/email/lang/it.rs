//! Italian (italiano): every sentence and name an email in this language uses.

use super::{Language, Strings};
use crate::feature::Feature;
use crate::SessionStatus;

pub(in crate::email) const LANGUAGE: Language = Language {
    code: "it",
    strings: Strings {
        greeting: "Buongiorno,",
        approved_subject: "{brand}: la sua identità è stata verificata",
        approved_body: "Buone notizie: la sua identità è stata verificata con successo. \
            Non deve fare nient'altro.",
        declined_subject: "{brand}: non è stato possibile verificare la sua identità",
        declined_body: "Purtroppo non è stato possibile verificare la sua identità. \
            Per qualsiasi domanda, contatti direttamente {brand}.",
        status_subject: "{brand}: lo stato della sua verifica è cambiato",
        status_body: "Lo stato della sua verifica dell'identità è ora: {status}. \
            Per qualsiasi domanda, contatti {brand}.",
        resubmission_subject: "{brand}: ripeta alcuni passaggi della sua verifica",
        resubmission_intro: "Abbiamo bisogno che ripeta alcuni passaggi della sua verifica \
            dell'identità per {brand}.",
        resubmission_steps_heading: "Passaggi da ripetere:",
        resubmission_link_intro: "Prosegua la verifica qui:",
        resubmission_button: "Prosegui la verifica",
        resubmission_same_link: "Si tratta dello stesso link di prima: \
            potrà riprendere la verifica dal punto in cui l'aveva lasciata.",
        footer: "Inviato per conto di {brand}.",
    },
    feature_name,
    status_name,
};

/// The person's name for a step.
fn feature_name(feature: Feature) -> &'static str {
    match feature {
        Feature::Ocr => "Documento d'identità",
        Feature::Nfc => "Lettura del chip del documento",
        Feature::Liveness => "Video selfie",
        Feature::FaceMatch => "Confronto del volto",
        Feature::ProofOfAddress => "Prova di residenza",
        Feature::PhoneVerification => "Numero di telefono",
        Feature::EmailVerification => "Indirizzo email",
        Feature::Aml => "Controllo di conformità",
        Feature::DatabaseValidation => "Verifica dei dati",
        Feature::IpAnalysis => "Verifica della connessione",
        Feature::Questionnaire => "Questionario",
        Feature::AgeEstimation => "Verifica dell'età",
        Feature::FaceSearch => "Ricerca del volto",
        Feature::DocumentAi => "Documento",
        Feature::KybRegistry => "Registro delle imprese",
        Feature::KybKeyPeople => "Persone chiave",
        Feature::KybDocuments => "Documenti aziendali",
    }
}

/// The person's name for a status; adjectives agree with "verification" where the language
/// has gender.
fn status_name(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::NotStarted => "Non iniziata",
        SessionStatus::InProgress => "In corso",
        SessionStatus::InReview => "In revisione",
        SessionStatus::Approved => "Approvata",
        SessionStatus::Declined => "Rifiutata",
        SessionStatus::Resubmitted => "Nuovo invio richiesto",
        SessionStatus::Expired => "Scaduta",
        SessionStatus::Abandoned => "Abbandonata",
        SessionStatus::KycExpired => "Verifica scaduta",
        SessionStatus::AwaitingUser => "In attesa di una sua azione",
    }
}
