//! The person's page in each shipped language, one file each. Adding a language is a file here
//! and a line in `ALL`; a language missing a sentence does not compile. `{brand}` is the only
//! placeholder; the templates escape every value.

use vouch_core::feature::Feature;

mod ar;
mod de;
mod en;
mod es;
mod fr;
mod it;
mod pt;

/// Writing direction of a language (`dir` on `<html>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Ltr,
    Rtl,
}

impl Dir {
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::Ltr => "ltr",
            Dir::Rtl => "rtl",
        }
    }
}

/// Every sentence of the page in one language.
pub struct Text {
    pub code: &'static str,
    pub dir: Dir,
    /// The language's own name, for the language menu.
    pub name: &'static str,
    pub title: &'static str,
    pub skip_to_content: &'static str,
    pub start_heading: &'static str,
    pub start_intro: &'static str,
    pub steps_heading: &'static str,
    pub todo: &'static str,
    pub done: &'static str,
    pub automatic: &'static str,
    pub not_available: &'static str,
    pub reason: &'static str,
    pub resubmitted_heading: &'static str,
    pub resubmitted_intro: &'static str,
    pub in_review_heading: &'static str,
    pub in_review_body: &'static str,
    pub approved_heading: &'static str,
    pub approved_body: &'static str,
    pub declined_heading: &'static str,
    pub declined_body: &'static str,
    pub kyc_expired_heading: &'static str,
    pub kyc_expired_body: &'static str,
    pub back_to: &'static str,
    pub expired_heading: &'static str,
    pub abandoned_heading: &'static str,
    pub deleted_heading: &'static str,
    pub ended_body: &'static str,
    pub unknown_heading: &'static str,
    pub unknown_body: &'static str,
    pub language_label: &'static str,
    pub language_submit: &'static str,
    // The email code step, and the email that carries the code (`{code}` in its body).
    pub email_label: &'static str,
    pub send_code: &'static str,
    pub code_label: &'static str,
    pub code_hint: &'static str,
    pub verify_code: &'static str,
    pub resend_code: &'static str,
    pub code_sent: &'static str,
    pub code_wrong: &'static str,
    pub code_malformed: &'static str,
    pub code_expired: &'static str,
    pub code_no_tries: &'static str,
    pub code_no_more_sends: &'static str,
    pub code_wait: &'static str,
    pub email_invalid: &'static str,
    pub code_send_failed: &'static str,
    pub email_unavailable: &'static str,
    pub code_subject: &'static str,
    pub code_body: &'static str,
    // The phone code step and its text message (`{code}` in `sms_body`).
    pub phone_label: &'static str,
    pub code_hint_sms: &'static str,
    pub phone_invalid: &'static str,
    pub sms_unavailable: &'static str,
    pub sms_body: &'static str,
    /// The capture steps (document, selfie, proof of address).
    pub c: Capture,
    /// The person's name for a step.
    pub feature_name: fn(Feature) -> &'static str,
}

/// The capture steps' sentences. The size limit in `file_hint` is the default one.
pub struct Capture {
    pub checking: &'static str,
    pub checking_note: &'static str,
    pub document_type_label: &'static str,
    pub country_label: &'static str,
    pub doc_passport: &'static str,
    pub doc_id_card: &'static str,
    pub doc_driving_licence: &'static str,
    pub doc_residence_permit: &'static str,
    pub front_label: &'static str,
    pub back_label: &'static str,
    pub back_hint: &'static str,
    pub selfie_label: &'static str,
    pub selfie_hint: &'static str,
    pub poa_label: &'static str,
    pub poa_hint: &'static str,
    pub file_hint: &'static str,
    pub send_files: &'static str,
    pub submitted: &'static str,
    pub media_empty: &'static str,
    pub media_too_large: &'static str,
    pub media_unsupported: &'static str,
    pub media_wrong_kind: &'static str,
    pub media_damaged: &'static str,
    pub media_too_many_pixels: &'static str,
    pub media_too_small: &'static str,
    pub document_type_missing: &'static str,
    pub country_missing: &'static str,
    pub back_needed: &'static str,
    pub media_unavailable: &'static str,
    pub stale: &'static str,
    // The camera, when the page has script (`assets/hosted.js` reads these from the form).
    pub camera_open: &'static str,
    pub camera_view: &'static str,
    pub camera_take: &'static str,
    pub camera_switch: &'static str,
    pub camera_cancel: &'static str,
    pub camera_preview: &'static str,
    pub camera_refused: &'static str,
    pub camera_taken: &'static str,
    pub camera_dark: &'static str,
    pub camera_small: &'static str,
    pub camera_again: &'static str,
    /// A session's forms over their limit (`429`).
    pub too_many_heading: &'static str,
    pub too_many_body: &'static str,
}

impl Capture {
    /// A document type's name (ICAO 9303 code).
    pub fn document(&self, code: &str) -> &'static str {
        match code {
            "P" => self.doc_passport,
            "ID" => self.doc_id_card,
            "DL" => self.doc_driving_licence,
            _ => self.doc_residence_permit,
        }
    }
}

/// The registry; the first is the fallback.
pub const ALL: [&Text; 7] = [
    &en::TEXT,
    &es::TEXT,
    &fr::TEXT,
    &de::TEXT,
    &pt::TEXT,
    &it::TEXT,
    &ar::TEXT,
];

/// The language of a code (`es`, `es-MX`, `ES`), if shipped.
pub fn find(code: &str) -> Option<&'static Text> {
    let primary = code.split(['-', '_']).next()?.trim();
    ALL.iter()
        .copied()
        .find(|t| t.code.eq_ignore_ascii_case(primary))
}

/// The page's language: `?lang=`, then the session's `language`, then the first shipped
/// language of `Accept-Language` (by its `q` weights), then English.
pub fn choose(
    query: Option<&str>,
    session: Option<&str>,
    accept_language: Option<&str>,
) -> &'static Text {
    query
        .and_then(find)
        .or_else(|| session.and_then(find))
        .or_else(|| accept_language.and_then(from_accept_language))
        .unwrap_or(ALL[0])
}

fn from_accept_language(header: &str) -> Option<&'static Text> {
    let mut offered: Vec<(f32, usize, &str)> = header
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut it = part.split(';');
            let tag = it.next()?.trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            (!tag.is_empty() && q > 0.0).then_some((q, i, tag))
        })
        .collect();
    // Highest weight first; equal weights keep the header's order.
    offered.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    offered.into_iter().find_map(|(_, _, tag)| find(tag))
}

/// A sentence of the page with the application's name filled in. The name is set apart
/// (`<bdi>`) so that a Latin name inside Arabic text, or the reverse, keeps its own direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrase {
    before: String,
    brand: Option<String>,
    after: String,
}

impl Phrase {
    /// `template` with its `{brand}` (if any) filled.
    pub fn fill(template: &str, brand: &str) -> Phrase {
        match template.split_once("{brand}") {
            Some((before, after)) => Phrase {
                before: before.into(),
                brand: Some(brand.into()),
                after: after.into(),
            },
            None => Phrase::plain(template),
        }
    }

    pub fn plain(text: &str) -> Phrase {
        Phrase {
            before: text.into(),
            brand: None,
            after: String::new(),
        }
    }

    /// Plain text (for `<title>`).
    pub fn text(&self) -> String {
        format!(
            "{}{}{}",
            self.before,
            self.brand.as_deref().unwrap_or(""),
            self.after
        )
    }

    /// Escaped HTML, the name in `<bdi>`.
    pub fn html(&self) -> String {
        let esc = vouch_core::email::escape_html;
        match &self.brand {
            Some(b) => format!(
                "{}<bdi>{}</bdi>{}",
                esc(&self.before),
                esc(b),
                esc(&self.after)
            ),
            None => esc(&self.before),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_wins_then_the_session_then_the_browser_then_english() {
        assert_eq!(choose(Some("fr"), Some("de"), Some("es")).code, "fr");
        assert_eq!(choose(Some("xx"), Some("de"), Some("es")).code, "de");
        assert_eq!(choose(None, Some("zz"), Some("es-MX,es;q=0.9")).code, "es");
        assert_eq!(
            choose(None, None, Some("ja, en;q=0.1, pt;q=0.5")).code,
            "pt"
        );
        assert_eq!(choose(None, None, Some("ar;q=0, de")).code, "de");
        assert_eq!(choose(None, None, Some("ja")).code, "en");
        assert_eq!(choose(None, None, None).code, "en");
        assert_eq!(choose(Some("AR"), None, None).dir, Dir::Rtl);
        assert_eq!(choose(Some("pt-BR"), None, None).code, "pt");
    }

    #[test]
    fn every_language_names_every_step_and_fills_the_brand() {
        let mut codes: Vec<&str> = ALL.iter().map(|t| t.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len(), "each language once");
        for t in ALL {
            for f in Feature::ALL {
                assert!(!(t.feature_name)(f).is_empty(), "{} {f:?}", t.code);
            }
            assert!(t.start_heading.contains("{brand}"), "{}", t.code);
            let p = Phrase::fill(t.start_heading, "<Acme & Co>");
            assert_eq!(p.text().matches("<Acme & Co>").count(), 1);
            assert!(
                p.html().contains("<bdi>&lt;Acme &amp; Co&gt;</bdi>"),
                "{}",
                p.html()
            );
        }
    }
}
