//! French (français): every sentence and name an email in this language uses.

use super::{Language, Strings};
use crate::feature::Feature;
use crate::SessionStatus;

pub(in crate::email) const LANGUAGE: Language = Language {
    code: "fr",
    strings: Strings {
        greeting: "Bonjour,",
        approved_subject: "{brand} : votre identité a été vérifiée",
        approved_body: "Bonne nouvelle : votre identité a bien été vérifiée. \
            Vous n'avez rien d'autre à faire.",
        declined_subject: "{brand} : nous n'avons pas pu vérifier votre identité",
        declined_body: "Malheureusement, nous n'avons pas pu vérifier votre identité. \
            Pour toute question, veuillez contacter directement {brand}.",
        status_subject: "{brand} : le statut de votre vérification a changé",
        status_body: "Le statut de votre vérification d'identité est désormais : {status}. \
            Pour toute question, veuillez contacter {brand}.",
        resubmission_subject: "{brand} : veuillez refaire certaines étapes de votre vérification",
        resubmission_intro: "Nous avons besoin que vous refassiez certaines étapes de votre \
            vérification d'identité pour {brand}.",
        resubmission_steps_heading: "Étapes à refaire :",
        resubmission_link_intro: "Poursuivez votre vérification ici :",
        resubmission_button: "Poursuivre la vérification",
        resubmission_same_link: "Il s'agit du même lien que précédemment : \
            vous pouvez reprendre là où vous en étiez.",
        footer: "Envoyé au nom de {brand}.",
    },
    feature_name,
    status_name,
};

/// The person's name for a step.
fn feature_name(feature: Feature) -> &'static str {
    match feature {
        Feature::Ocr => "Pièce d'identité",
        Feature::Nfc => "Lecture de la puce du document",
        Feature::Liveness => "Vidéo selfie",
        Feature::FaceMatch => "Comparaison faciale",
        Feature::ProofOfAddress => "Justificatif de domicile",
        Feature::PhoneVerification => "Numéro de téléphone",
        Feature::EmailVerification => "Adresse e-mail",
        Feature::Aml => "Contrôle de conformité",
        Feature::DatabaseValidation => "Vérification des données",
        Feature::IpAnalysis => "Vérification de la connexion",
        Feature::Questionnaire => "Questionnaire",
        Feature::AgeEstimation => "Vérification de l'âge",
        Feature::FaceSearch => "Recherche faciale",
        Feature::DocumentAi => "Document",
        Feature::KybRegistry => "Registre du commerce",
        Feature::KybKeyPeople => "Personnes clés",
        Feature::KybDocuments => "Documents de l'entreprise",
    }
}

/// The person's name for a status; adjectives agree with "verification" where the language
/// has gender.
fn status_name(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::NotStarted => "Non commencée",
        SessionStatus::InProgress => "En cours",
        SessionStatus::InReview => "En cours d'examen",
        SessionStatus::Approved => "Approuvée",
        SessionStatus::Declined => "Refusée",
        SessionStatus::Resubmitted => "Nouvel envoi demandé",
        SessionStatus::Expired => "Expirée",
        SessionStatus::Abandoned => "Abandonnée",
        SessionStatus::KycExpired => "Vérification expirée",
        SessionStatus::AwaitingUser => "En attente d'une action de votre part",
    }
}
