//! Emails to the end user (API.md §6): the decision notice and the resubmission request, rendered
//! as a subject, a plain-text part and a small self-contained HTML part, in every shipped language.
//!
//! Pure and deterministic: the same inputs give byte-identical output, which the previews of §6
//! rely on. Values that come from outside (brand name, reasons, link) are treated as hostile:
//! control characters never reach a subject line, and every value is escaped in the HTML part.

mod lang;
#[cfg(test)]
mod tests;

use crate::feature::Feature;
use crate::SessionStatus;
use lang::{Strings, ALL};

/// Languages with templates. Any other requested language falls back to English silently.
/// Made from the registry in `email/lang/mod.rs`.
pub const LANGUAGES: [&str; ALL.len()] = {
    let mut codes = [""; ALL.len()];
    let mut i = 0;
    while i < codes.len() {
        codes[i] = ALL[i].code;
        i += 1;
    }
    codes
};

/// The template language for a request: exact match (case-insensitive) or the primary subtag
/// ("es-MX" -> "es", "pt_BR" -> "pt"), else "en".
pub fn resolve_language(requested: &str) -> &'static str {
    LANGUAGES[language_index(requested)]
}

/// The index in `LANGUAGES` (and in every per-language table) of the language for a request.
fn language_index(requested: &str) -> usize {
    let requested = requested.trim();
    let find = |tag: &str| LANGUAGES.iter().position(|l| l.eq_ignore_ascii_case(tag));
    find(requested)
        .or_else(|| requested.split(['-', '_']).next().and_then(find))
        .unwrap_or(0)
}

/// The end-user name of a step in the template language for `requested_language`.
pub fn feature_display_name(feature: Feature, requested_language: &str) -> &'static str {
    (ALL[language_index(requested_language)].feature_name)(feature)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    /// E.g. the application's name, shown in the subject, the body and the footer.
    pub brand_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLine {
    pub feature: Feature,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailModel {
    /// The Approved or Declined notice; any other status renders a neutral "your verification
    /// status changed to X" notice.
    Decision { status: SessionStatus },
    /// Resubmission request: the session link and one localized line per reopened step with its
    /// reason.
    Resubmission { link: String, steps: Vec<StepLine> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailContent {
    pub language: &'static str,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders `model` in the template language for `requested_language` (see `resolve_language`).
pub fn render(model: &EmailModel, requested_language: &str, branding: &Branding) -> EmailContent {
    let index = language_index(requested_language);
    let ctx = Ctx {
        index,
        language: LANGUAGES[index],
        s: &ALL[index].strings,
        brand: &branding.brand_name,
    };
    match model {
        EmailModel::Decision { status } => ctx.decision(*status),
        EmailModel::Resubmission { link, steps } => ctx.resubmission(link, steps),
    }
}

/// HTML-escapes & < > " ' (as &amp; &lt; &gt; &quot; &#x27;).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// `s` with every CR, LF and CRLF replaced by one space: for values shown on a single line.
fn single_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push(' ');
            }
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// `s` with every control character (and the Unicode line and paragraph separators) replaced by
/// a space: a subject line can then never be split, whatever the value holds.
fn without_controls(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// A value for the HTML part: on one line, without control characters, escaped.
fn html_value(s: &str) -> String {
    escape_html(&without_controls(&single_line(s)))
}

/// Fills the `{name}` placeholders of `template` in one pass: a value is never scanned for
/// placeholders itself, and an unknown `{...}` is kept as written.
fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let hit = after.find('}').and_then(|close| {
            let name = &after[..close];
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (close, *value))
        });
        match hit {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One template filled three ways: for the subject, the text part and the HTML part.
struct Filled {
    subject: String,
    text: String,
    html: String,
}

const P_STYLE: &str = "margin:0 0 16px 0;font-size:16px;line-height:1.5;";
const LINK_COLOR: &str = "#1d4ed8";

struct Ctx<'a> {
    index: usize,
    language: &'static str,
    s: &'static Strings,
    brand: &'a str,
}

impl Ctx<'_> {
    /// Fills `template` with the brand and the given extra values, once per output part.
    fn fill(&self, template: &str, extra: &[(&str, &str)]) -> Filled {
        let with = |f: &dyn Fn(&str) -> String, t: &str| {
            let owned: Vec<(&str, String)> = std::iter::once(("brand", f(self.brand)))
                .chain(extra.iter().map(|(k, v)| (*k, f(v))))
                .collect();
            let vars: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
            fill(t, &vars)
        };
        Filled {
            subject: with(&without_controls, template),
            text: with(&single_line, template),
            html: with(&html_value, &escape_html(template)),
        }
    }

    fn decision(&self, status: SessionStatus) -> EmailContent {
        let s = self.s;
        let (subject, body) = match status {
            SessionStatus::Approved => (s.approved_subject, s.approved_body),
            SessionStatus::Declined => (s.declined_subject, s.declined_body),
            _ => (s.status_subject, s.status_body),
        };
        let vars = [("status", (ALL[self.index].status_name)(status))];
        let subject = self.fill(subject, &vars).subject;
        let body = self.fill(body, &vars);
        let text = self.text_document(&[body.text]);
        let html = self.html_document(&subject, &paragraph(&body.html));
        EmailContent {
            language: self.language,
            subject,
            text,
            html,
        }
    }

    fn resubmission(&self, link: &str, steps: &[StepLine]) -> EmailContent {
        let s = self.s;
        let subject = self.fill(s.resubmission_subject, &[]).subject;
        let intro = self.fill(s.resubmission_intro, &[]);
        let heading = self.fill(s.resubmission_steps_heading, &[]);
        let link_intro = self.fill(s.resubmission_link_intro, &[]);
        let button = self.fill(s.resubmission_button, &[]);
        let same_link = self.fill(s.resubmission_same_link, &[]);

        // Text: each step on its own line, the link on its own line.
        let mut text_paragraphs = vec![intro.text];
        if !steps.is_empty() {
            let mut list = heading.text;
            for step in steps {
                list.push_str("\n- ");
                list.push_str(&self.step_entry_text(step));
            }
            text_paragraphs.push(list);
        }
        text_paragraphs.push(format!("{}\n{}", link_intro.text, single_line(link)));
        text_paragraphs.push(same_link.text);
        let text = self.text_document(&text_paragraphs);

        // HTML: the same content, every interpolated value escaped.
        let href = html_value(link);
        let mut body = paragraph(&intro.html);
        if !steps.is_empty() {
            body.push_str(&paragraph(&format!("<strong>{}</strong>", heading.html)));
            body.push_str(
                "<ul style=\"margin:0 0 16px 0;padding-left:24px;font-size:16px;line-height:1.5;\">\n",
            );
            for step in steps {
                let name = html_value((ALL[self.index].feature_name)(step.feature));
                let entry = if step.reason.trim().is_empty() {
                    format!("<strong>{name}</strong>")
                } else {
                    format!("<strong>{name}</strong>: {}", html_value(&step.reason))
                };
                body.push_str(&format!("<li>{entry}</li>\n"));
            }
            body.push_str("</ul>\n");
        }
        body.push_str(&format!(
            "<p style=\"margin:24px 0;\"><a href=\"{href}\" style=\"display:inline-block;\
             padding:12px 24px;background-color:{LINK_COLOR};color:#ffffff;text-decoration:none;\
             border-radius:6px;font-size:16px;font-weight:bold;\">{}</a></p>\n",
            button.html
        ));
        body.push_str(&paragraph(&format!(
            "{}<br>\n<a href=\"{href}\" style=\"color:{LINK_COLOR};word-break:break-all;\">{href}</a>",
            link_intro.html
        )));
        body.push_str(&paragraph(&same_link.html));
        let html = self.html_document(&subject, &body);
        EmailContent {
            language: self.language,
            subject,
            text,
            html,
        }
    }

    /// The text entry of a step: "<localized step name>: <reason>" on one line, or the name alone
    /// when there is no reason.
    fn step_entry_text(&self, step: &StepLine) -> String {
        let name = (ALL[self.index].feature_name)(step.feature);
        if step.reason.trim().is_empty() {
            name.to_string()
        } else {
            format!("{name}: {}", single_line(&step.reason))
        }
    }

    /// Greeting, paragraphs and footer, separated by blank lines, ending with a newline.
    fn text_document(&self, paragraphs: &[String]) -> String {
        let mut out = String::from(self.s.greeting);
        for p in paragraphs {
            out.push_str("\n\n");
            out.push_str(p);
        }
        out.push_str("\n\n");
        out.push_str(&self.fill(self.s.footer, &[]).text);
        out.push('\n');
        out
    }

    /// A complete HTML document around `body` (already escaped HTML), with greeting and footer.
    fn html_document(&self, subject: &str, body: &str) -> String {
        let footer = self.fill(self.s.footer, &[]).html;
        format!(
            "<!DOCTYPE html>\n\
             <html lang=\"{lang}\">\n\
             <head>\n\
             <meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n\
             </head>\n\
             <body style=\"margin:0;padding:24px;background-color:#f4f5f7;\
             font-family:Arial,Helvetica,sans-serif;color:#1f2933;\">\n\
             <div style=\"max-width:560px;margin:0 auto;padding:32px;background-color:#ffffff;\
             border-radius:8px;\">\n\
             {greeting}\
             {body}\
             <p style=\"margin:32px 0 0 0;font-size:12px;line-height:1.5;color:#6b7280;\">\
             {footer}</p>\n\
             </div>\n\
             </body>\n\
             </html>\n",
            lang = escape_html(self.language),
            title = escape_html(subject),
            greeting = paragraph(&escape_html(self.s.greeting)),
        )
    }
}

/// A styled paragraph around already-escaped HTML.
fn paragraph(inner_html: &str) -> String {
    format!("<p style=\"{P_STYLE}\">{inner_html}</p>\n")
}
