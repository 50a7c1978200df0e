//! Spanish (español): every sentence of the person's page.

use super::{Dir, Text};
use vouch_core::feature::Feature;

pub(super) const TEXT: Text = Text {
    code: "es",
    dir: Dir::Ltr,
    name: "Español",
    title: "Verificación de identidad",
    skip_to_content: "Saltar al contenido",
    start_heading: "Verifique su identidad para {brand}",
    start_intro: "Solo lleva unos minutos. Tenga a mano su documento de identidad.",
    steps_heading: "Sus pasos",
    todo: "Pendiente",
    done: "Hecho",
    automatic: "Se comprueba automáticamente cuando termine",
    not_available: "No disponible en esta página: {brand} le indicará cómo completarlo",
    reason: "Por qué se pide de nuevo:",
    resubmitted_heading: "Repita algunos pasos para {brand}",
    resubmitted_intro: "Solo hacen falta los pasos siguientes; todo lo demás se conserva.",
    in_review_heading: "Gracias: su verificación está en revisión",
    in_review_body: "No necesita hacer nada más por ahora. {brand} le comunicará el resultado.",
    approved_heading: "Su identidad ha sido verificada",
    approved_body: "No necesita hacer nada más.",
    declined_heading: "No hemos podido verificar su identidad",
    declined_body: "Si tiene alguna pregunta, póngase en contacto directamente con {brand}.",
    kyc_expired_heading: "Su verificación ha caducado",
    kyc_expired_body: "Pida a {brand} un nuevo enlace de verificación.",
    back_to: "Volver a {brand}",
    expired_heading: "Este enlace ha caducado",
    abandoned_heading: "Esta verificación no se terminó a tiempo",
    deleted_heading: "Este enlace ya no es válido",
    ended_body: "Pida a {brand} un nuevo enlace de verificación.",
    unknown_heading: "Este enlace no existe",
    unknown_body: "Compruebe la dirección o pida un nuevo enlace al servicio que se lo envió.",
    language_label: "Idioma",
    language_submit: "Cambiar",
    feature_name,
};

fn feature_name(f: Feature) -> &'static str {
    vouch_core::email::feature_display_name(f, "es")
}
