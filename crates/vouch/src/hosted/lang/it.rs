//! Italian (italiano): every sentence of the person's page.

use super::{Dir, Text};
use vouch_core::feature::Feature;

pub(super) const TEXT: Text = Text {
    code: "it",
    dir: Dir::Ltr,
    name: "Italiano",
    title: "Verifica dell’identità",
    skip_to_content: "Vai al contenuto",
    start_heading: "Verifica la tua identità per {brand}",
    start_intro: "Bastano pochi minuti. Tieni a portata di mano il tuo documento d’identità.",
    steps_heading: "I tuoi passaggi",
    todo: "Da fare",
    done: "Fatto",
    automatic: "Controllato automaticamente quando avrai finito",
    not_available: "Non disponibile in questa pagina: {brand} ti dirà come completarlo",
    reason: "Perché viene richiesto di nuovo:",
    resubmitted_heading: "Ripeti alcuni passaggi per {brand}",
    resubmitted_intro: "Servono solo i passaggi qui sotto; tutto il resto viene conservato.",
    in_review_heading: "Grazie: la tua verifica è in revisione",
    in_review_body: "Per ora non devi fare altro. {brand} ti comunicherà il risultato.",
    approved_heading: "La tua identità è stata verificata",
    approved_body: "Non devi fare altro.",
    declined_heading: "Non è stato possibile verificare la tua identità",
    declined_body: "Per qualsiasi domanda, contatta direttamente {brand}.",
    kyc_expired_heading: "La tua verifica è scaduta",
    kyc_expired_body: "Chiedi a {brand} un nuovo link di verifica.",
    back_to: "Torna a {brand}",
    expired_heading: "Questo link è scaduto",
    abandoned_heading: "Questa verifica non è stata completata in tempo",
    deleted_heading: "Questo link non è più valido",
    ended_body: "Chiedi a {brand} un nuovo link di verifica.",
    unknown_heading: "Questo link non esiste",
    unknown_body: "Controlla l’indirizzo o chiedi un nuovo link al servizio che te l’ha inviato.",
    language_label: "Lingua",
    language_submit: "Cambia",
    feature_name,
};

fn feature_name(f: Feature) -> &'static str {
    vouch_core::email::feature_display_name(f, "it")
}
