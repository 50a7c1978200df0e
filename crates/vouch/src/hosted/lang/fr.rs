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
    email_label: "Adresse e-mail",
    send_code: "M’envoyer un code",
    code_label: "Code",
    code_hint: "Les 6 chiffres que nous vous avons envoyés par e-mail",
    verify_code: "Vérifier le code",
    resend_code: "Envoyer un nouveau code",
    code_sent: "Nous vous avons envoyé un code. Il est valable 5 minutes.",
    code_wrong: "Ce code n’est pas le bon. Vérifiez-le et réessayez.",
    code_malformed: "Saisissez les 6 chiffres du code.",
    code_expired: "Ce code a expiré. Demandez-en un nouveau.",
    code_no_tries: "Trop de codes erronés. Demandez-en un nouveau.",
    code_no_more_sends: "Plus aucun code ne peut être envoyé pour cette étape. Contactez {brand}.",
    code_wait: "Vous pouvez demander un nouveau code 30 secondes après le précédent.",
    email_invalid: "Saisissez une adresse e-mail valide.",
    code_send_failed: "Le code n’a pas pu être envoyé. Réessayez dans un instant.",
    email_unavailable: "Les codes par e-mail ne sont pas disponibles pour le moment. Contactez {brand}.",
    code_subject: "Votre code pour {brand}",
    code_body: "Votre code est {code}. Il est valable 5 minutes. Si vous ne l’avez pas demandé, ignorez cet e-mail.",
    phone_label: "Numéro de téléphone (avec l’indicatif du pays, p. ex. +33…)",
    code_hint_sms: "Les 6 chiffres que nous vous avons envoyés par SMS",
    phone_invalid: "Saisissez un numéro de téléphone valide avec l’indicatif du pays, p. ex. +33 6 12 34 56 78.",
    sms_unavailable: "Les codes par SMS ne sont pas disponibles pour le moment. Contactez {brand}.",
    sms_body: "{brand} : votre code est {code}. Il est valable 5 minutes.",
    feature_name,
};

fn feature_name(f: Feature) -> &'static str {
    vouch_core::email::feature_display_name(f, "fr")
}
