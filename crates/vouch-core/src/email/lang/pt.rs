//! Portuguese (português): every sentence and name an email in this language uses.

use super::{Language, Strings};
use crate::feature::Feature;
use crate::SessionStatus;

pub(in crate::email) const LANGUAGE: Language = Language {
    code: "pt",
    strings: Strings {
        greeting: "Olá,",
        approved_subject: "{brand}: sua identidade foi verificada",
        approved_body: "Boas notícias: sua identidade foi verificada com sucesso. \
            Você não precisa fazer mais nada.",
        declined_subject: "{brand}: não foi possível verificar sua identidade",
        declined_body: "Infelizmente, não foi possível verificar sua identidade. \
            Em caso de dúvidas, entre em contato diretamente com {brand}.",
        status_subject: "{brand}: o status da sua verificação mudou",
        status_body: "O status da sua verificação de identidade mudou para: {status}. \
            Em caso de dúvidas, entre em contato com {brand}.",
        resubmission_subject: "{brand}: refaça algumas etapas da sua verificação",
        resubmission_intro: "Precisamos que você refaça algumas etapas da sua verificação \
            de identidade para {brand}.",
        resubmission_steps_heading: "Etapas a refazer:",
        resubmission_link_intro: "Continue sua verificação aqui:",
        resubmission_button: "Continuar verificação",
        resubmission_same_link: "Este é o mesmo link de antes, \
            então você pode continuar de onde parou.",
        footer: "Enviado em nome de {brand}.",
    },
    feature_name,
    status_name,
};

/// The person's name for a step.
fn feature_name(feature: Feature) -> &'static str {
    match feature {
        Feature::Ocr => "Documento de identidade",
        Feature::Nfc => "Leitura do chip do documento",
        Feature::Liveness => "Vídeo selfie",
        Feature::FaceMatch => "Comparação facial",
        Feature::ProofOfAddress => "Comprovante de endereço",
        Feature::PhoneVerification => "Número de telefone",
        Feature::EmailVerification => "Endereço de e-mail",
        Feature::Aml => "Triagem de conformidade",
        Feature::DatabaseValidation => "Verificação de dados",
        Feature::IpAnalysis => "Verificação da conexão",
        Feature::Questionnaire => "Questionário",
        Feature::AgeEstimation => "Verificação de idade",
        Feature::FaceSearch => "Busca facial",
        Feature::DocumentAi => "Documento",
        Feature::KybRegistry => "Registro empresarial",
        Feature::KybKeyPeople => "Pessoas-chave",
        Feature::KybDocuments => "Documentos da empresa",
    }
}

/// The person's name for a status; adjectives agree with "verification" where the language
/// has gender.
fn status_name(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::NotStarted => "Não iniciada",
        SessionStatus::InProgress => "Em andamento",
        SessionStatus::InReview => "Em análise",
        SessionStatus::Approved => "Aprovada",
        SessionStatus::Declined => "Recusada",
        SessionStatus::Resubmitted => "Reenvio solicitado",
        SessionStatus::Expired => "Expirada",
        SessionStatus::Abandoned => "Abandonada",
        SessionStatus::KycExpired => "Verificação expirada",
        SessionStatus::AwaitingUser => "Aguardando sua ação",
    }
}
