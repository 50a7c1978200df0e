//! The sentence templates of every shipped language (API.md §6).
//!
//! Placeholders are `{brand}` and `{status}`; they are filled in one pass by `fill` in the parent
//! module, so a value that itself contains `{brand}` is never expanded again. Templates are plain
//! text: the HTML part escapes them like any other value.

/// Every sentence an email is built from, in one language.
pub(super) struct Strings {
    pub greeting: &'static str,
    pub approved_subject: &'static str,
    pub approved_body: &'static str,
    pub declined_subject: &'static str,
    pub declined_body: &'static str,
    pub status_subject: &'static str,
    pub status_body: &'static str,
    pub resubmission_subject: &'static str,
    pub resubmission_intro: &'static str,
    pub resubmission_steps_heading: &'static str,
    pub resubmission_link_intro: &'static str,
    pub resubmission_button: &'static str,
    pub resubmission_same_link: &'static str,
    pub footer: &'static str,
}

/// In the order of `LANGUAGES`.
pub(super) const STRINGS: [Strings; 6] = [EN, ES, FR, DE, PT, IT];

const EN: Strings = Strings {
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
    resubmission_intro: "We need you to redo some steps of your identity verification for {brand}.",
    resubmission_steps_heading: "Steps to redo:",
    resubmission_link_intro: "Continue your verification here:",
    resubmission_button: "Continue verification",
    resubmission_same_link: "This is the same link as before, \
        so you can pick up where you left off.",
    footer: "Sent on behalf of {brand}.",
};

const ES: Strings = Strings {
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
};

const FR: Strings = Strings {
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
};

const DE: Strings = Strings {
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
};

const PT: Strings = Strings {
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
};

const IT: Strings = Strings {
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
};
