//! French (français): every sentence of the person's page.

use super::{Dir, Text};
use vouch_core::feature::Feature;

pub(super) const TEXT: Text = Text {
    code: "fr",
    dir: Dir::Ltr,
    name: "Français",
    title: "Vérification d’identité",
    skip_to_content: "Aller au contenu",
    start_heading: "Vérifiez votre identité pour {brand}",
    start_intro: "Cela prend quelques minutes. Gardez votre pièce d’identité à portée de main.",
    steps_heading: "Vos étapes",
    todo: "À faire",
    done: "Terminé",
    automatic: "Vérifié automatiquement une fois que vous avez terminé",
    not_available: "Indisponible sur cette page : {brand} vous indiquera comment la réaliser",
    reason: "Pourquoi elle est demandée à nouveau :",
    resubmitted_heading: "Veuillez refaire quelques étapes pour {brand}",
    resubmitted_intro:
        "Seules les étapes ci-dessous sont nécessaires ; tout le reste est conservé.",
    in_review_heading: "Merci : votre vérification est en cours d’examen",
    in_review_body:
        "Vous n’avez rien d’autre à faire pour l’instant. {brand} vous communiquera le résultat.",
    approved_heading: "Votre identité a été vérifiée",
    approved_body: "Vous n’avez rien d’autre à faire.",
    declined_heading: "Nous n’avons pas pu vérifier votre identité",
    declined_body: "Pour toute question, contactez directement {brand}.",
    kyc_expired_heading: "Votre vérification a expiré",
    kyc_expired_body: "Demandez à {brand} un nouveau lien de vérification.",
    back_to: "Revenir à {brand}",
    expired_heading: "Ce lien a expiré",
    abandoned_heading: "Cette vérification n’a pas été terminée à temps",
    deleted_heading: "Ce lien n’est plus valide",
    ended_body: "Demandez à {brand} un nouveau lien de vérification.",
    unknown_heading: "Ce lien n’existe pas",
    unknown_body: "Vérifiez l’adresse ou demandez un nouveau lien au service qui vous l’a envoyé.",
    language_label: "Langue",
    language_submit: "Changer",
    feature_name,
};

fn feature_name(f: Feature) -> &'static str {
    vouch_core::email::feature_display_name(f, "fr")
}
