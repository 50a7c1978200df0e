//! German (Deutsch): every sentence of the person's page.

use super::{Dir, Text};
use vouch_core::feature::Feature;

pub(super) const TEXT: Text = Text {
    code: "de",
    dir: Dir::Ltr,
    name: "Deutsch",
    title: "Identitätsprüfung",
    skip_to_content: "Zum Inhalt springen",
    start_heading: "Bestätigen Sie Ihre Identität für {brand}",
    start_intro: "Das dauert nur wenige Minuten. Halten Sie Ihr Ausweisdokument bereit.",
    steps_heading: "Ihre Schritte",
    todo: "Offen",
    done: "Erledigt",
    automatic: "Wird automatisch geprüft, sobald Sie fertig sind",
    not_available:
        "Auf dieser Seite nicht verfügbar: {brand} teilt Ihnen mit, wie Sie ihn abschließen",
    reason: "Warum er erneut verlangt wird:",
    resubmitted_heading: "Bitte wiederholen Sie einige Schritte für {brand}",
    resubmitted_intro: "Nur die folgenden Schritte sind nötig; alles andere bleibt erhalten.",
    in_review_heading: "Vielen Dank: Ihre Prüfung wird bearbeitet",
    in_review_body: "Sie müssen jetzt nichts weiter tun. {brand} teilt Ihnen das Ergebnis mit.",
    approved_heading: "Ihre Identität wurde bestätigt",
    approved_body: "Sie müssen nichts weiter tun.",
    declined_heading: "Wir konnten Ihre Identität nicht bestätigen",
    declined_body: "Bei Fragen wenden Sie sich bitte direkt an {brand}.",
    kyc_expired_heading: "Ihre Prüfung ist abgelaufen",
    kyc_expired_body: "Bitten Sie {brand} um einen neuen Prüfungslink.",
    back_to: "Zurück zu {brand}",
    expired_heading: "Dieser Link ist abgelaufen",
    abandoned_heading: "Diese Prüfung wurde nicht rechtzeitig abgeschlossen",
    deleted_heading: "Dieser Link ist nicht mehr gültig",
    ended_body: "Bitten Sie {brand} um einen neuen Prüfungslink.",
    unknown_heading: "Diesen Link gibt es nicht",
    unknown_body: "Prüfen Sie die Adresse oder bitten Sie den Absender um einen neuen Link.",
    language_label: "Sprache",
    language_submit: "Wechseln",
    email_label: "E-Mail-Adresse",
    send_code: "Code senden",
    code_label: "Code",
    code_hint: "Die 6 Ziffern, die wir Ihnen per E-Mail geschickt haben",
    verify_code: "Code prüfen",
    resend_code: "Neuen Code senden",
    code_sent: "Wir haben Ihnen einen Code geschickt. Er ist 5 Minuten gültig.",
    code_wrong: "Dieser Code stimmt nicht. Prüfen Sie ihn und versuchen Sie es erneut.",
    code_malformed: "Geben Sie die 6 Ziffern des Codes ein.",
    code_expired: "Dieser Code ist abgelaufen. Fordern Sie einen neuen an.",
    code_no_tries: "Zu viele falsche Codes. Fordern Sie einen neuen an.",
    code_no_more_sends: "Für diesen Schritt können keine Codes mehr gesendet werden. Wenden Sie sich an {brand}.",
    code_wait: "Einen neuen Code können Sie 30 Sekunden nach dem letzten anfordern.",
    email_invalid: "Geben Sie eine gültige E-Mail-Adresse ein.",
    code_send_failed: "Der Code konnte nicht gesendet werden. Versuchen Sie es gleich noch einmal.",
    email_unavailable: "Codes per E-Mail sind gerade nicht verfügbar. Wenden Sie sich an {brand}.",
    code_subject: "Ihr Code für {brand}",
    code_body: "Ihr Code lautet {code}. Er ist 5 Minuten gültig. Wenn Sie ihn nicht angefordert haben, können Sie diese E-Mail ignorieren.",
    feature_name,
};

fn feature_name(f: Feature) -> &'static str {
    vouch_core::email::feature_display_name(f, "de")
}
