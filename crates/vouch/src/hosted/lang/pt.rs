//! Portuguese (português): every sentence of the person's page.

use super::{Dir, Text};
use vouch_core::feature::Feature;

pub(super) const TEXT: Text = Text {
    code: "pt",
    dir: Dir::Ltr,
    name: "Português",
    title: "Verificação de identidade",
    skip_to_content: "Ir para o conteúdo",
    start_heading: "Verifique a sua identidade para {brand}",
    start_intro: "Demora apenas alguns minutos. Tenha o seu documento de identidade à mão.",
    steps_heading: "Os seus passos",
    todo: "Por fazer",
    done: "Concluído",
    automatic: "Verificado automaticamente quando terminar",
    not_available: "Não disponível nesta página: {brand} indicará como o concluir",
    reason: "Porque é pedido novamente:",
    resubmitted_heading: "Repita alguns passos para {brand}",
    resubmitted_intro: "Só são necessários os passos abaixo; todo o resto é mantido.",
    in_review_heading: "Obrigado: a sua verificação está em análise",
    in_review_body: "Não precisa de fazer mais nada por agora. {brand} informará o resultado.",
    approved_heading: "A sua identidade foi verificada",
    approved_body: "Não precisa de fazer mais nada.",
    declined_heading: "Não foi possível verificar a sua identidade",
    declined_body: "Se tiver alguma dúvida, contacte diretamente {brand}.",
    kyc_expired_heading: "A sua verificação expirou",
    kyc_expired_body: "Peça a {brand} um novo link de verificação.",
    back_to: "Voltar a {brand}",
    expired_heading: "Este link expirou",
    abandoned_heading: "Esta verificação não foi concluída a tempo",
    deleted_heading: "Este link já não é válido",
    ended_body: "Peça a {brand} um novo link de verificação.",
    unknown_heading: "Este link não existe",
    unknown_body: "Verifique o endereço ou peça um novo link ao serviço que o enviou.",
    language_label: "Idioma",
    language_submit: "Mudar",
    feature_name,
};

fn feature_name(f: Feature) -> &'static str {
    vouch_core::email::feature_display_name(f, "pt")
}
