//! Spanish (español): every sentence and name an email in this language uses.

use super::{Language, Strings};
use crate::feature::Feature;
use crate::SessionStatus;

pub(in crate::email) const LANGUAGE: Language = Language {
    code: "es",
    strings: Strings {
        greeting: "Hola:",
        approved_subject: "{brand}: su identidad ha sido verificada",
        approved_body: "Buenas noticias: su identidad se ha verificado correctamente. \
            No necesita hacer nada más.",
        declined_subject: "{brand}: no hemos podido verificar su identidad",
        declined_body: "Lamentablemente, no hemos podido verificar su identidad. \
            Si tiene alguna pregunta, póngase en contacto directamente con {brand}.",
        status_subject: "{brand}: el estado de su verificación ha cambiado",
        status_body: "El estado de su verificación de identidad ha cambiado a: {status}. \
            Si tiene alguna pregunta, póngase en contacto con {brand}.",
        resubmission_subject: "{brand}: repita algunos pasos de su verificación",
        resubmission_intro: "Necesitamos que repita algunos pasos de su verificación de identidad \
            para {brand}.",
        resubmission_steps_heading: "Pasos que debe repetir:",
        resubmission_link_intro: "Continúe su verificación aquí:",
        resubmission_button: "Continuar la verificación",
        resubmission_same_link: "Es el mismo enlace que la vez anterior, \
            así que puede continuar donde lo dejó.",
        footer: "Enviado en nombre de {brand}.",
    },
    feature_name,
    status_name,
};

/// The person's name for a step.
fn feature_name(feature: Feature) -> &'static str {
    match feature {
        Feature::Ocr => "Documento de identidad",
        Feature::Nfc => "Lectura del chip del documento",
        Feature::Liveness => "Vídeo selfie",
        Feature::FaceMatch => "Comparación facial",
        Feature::ProofOfAddress => "Comprobante de domicilio",
        Feature::PhoneVerification => "Número de teléfono",
        Feature::EmailVerification => "Correo electrónico",
        Feature::Aml => "Control de listas",
        Feature::DatabaseValidation => "Verificación de datos",
        Feature::IpAnalysis => "Verificación de la conexión",
        Feature::Questionnaire => "Cuestionario",
        Feature::AgeEstimation => "Verificación de edad",
        Feature::FaceSearch => "Búsqueda facial",
        Feature::DocumentAi => "Documento",
        Feature::KybRegistry => "Registro mercantil",
        Feature::KybKeyPeople => "Personas clave",
        Feature::KybDocuments => "Documentos de la empresa",
    }
}

/// The person's name for a status; adjectives agree with "verification" where the language
/// has gender.
fn status_name(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::NotStarted => "No iniciada",
        SessionStatus::InProgress => "En curso",
        SessionStatus::InReview => "En revisión",
        SessionStatus::Approved => "Aprobada",
        SessionStatus::Declined => "Rechazada",
        SessionStatus::Resubmitted => "Reenvío solicitado",
        SessionStatus::Expired => "Caducada",
        SessionStatus::Abandoned => "Abandonada",
        SessionStatus::KycExpired => "Verificación caducada",
        SessionStatus::AwaitingUser => "Pendiente de una acción suya",
    }
}
