use super::*;

fn brand(name: &str) -> Branding {
    Branding {
        brand_name: name.to_string(),
    }
}

fn resubmission(link: &str, steps: &[(Feature, &str)]) -> EmailModel {
    EmailModel::Resubmission {
        link: link.to_string(),
        steps: steps
            .iter()
            .map(|(feature, reason)| StepLine {
                feature: *feature,
                reason: reason.to_string(),
            })
            .collect(),
    }
}

/// Every model shape worth checking: every status, a resubmission with every feature.
fn all_models() -> Vec<EmailModel> {
    let mut models: Vec<EmailModel> = SessionStatus::ALL
        .into_iter()
        .map(|status| EmailModel::Decision { status })
        .collect();
    let steps: Vec<(Feature, &str)> = Feature::ALL.into_iter().map(|f| (f, "why")).collect();
    models.push(resubmission("https://verify.example.com/s/1", &steps));
    models.push(resubmission("https://verify.example.com/s/1", &[]));
    models
}

#[test]
fn resolve_language_cases() {
    let cases = [
        ("", "en"),
        ("en", "en"),
        ("ES", "es"),
        ("es", "es"),
        ("es-MX", "es"),
        ("pt_BR", "pt"),
        ("PT-br", "pt"),
        ("fr", "fr"),
        ("de-CH", "de"),
        ("it", "it"),
        (" it ", "it"),
        ("zz", "en"),
        ("english", "en"),
        ("-es", "en"),
        ("e", "en"),
        ("zh-Hant-TW", "en"),
    ];
    for (requested, expected) in cases {
        assert_eq!(resolve_language(requested), expected, "{requested:?}");
    }
    for lang in LANGUAGES {
        assert_eq!(resolve_language(lang), lang);
        assert_eq!(resolve_language(&lang.to_uppercase()), lang);
    }
}

#[test]
fn escape_html_escapes_the_five_characters() {
    assert_eq!(
        escape_html(r#"<a href="x">Tom & Jerry's</a>"#),
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#x27;s&lt;/a&gt;"
    );
    assert_eq!(escape_html("plain é ü 日本"), "plain é ü 日本");
    assert_eq!(escape_html("&amp;"), "&amp;amp;");
    assert_eq!(escape_html(""), "");
}

#[test]
fn fill_is_one_pass_and_keeps_unknown_placeholders() {
    assert_eq!(
        fill(
            "{brand}: {status} {other} {",
            &[("brand", "{status}"), ("status", "X")]
        ),
        "{status}: X {other} {"
    );
    assert_eq!(
        fill("no placeholders", &[("brand", "B")]),
        "no placeholders"
    );
}

#[test]
fn every_feature_has_a_distinct_name_in_every_language() {
    for lang in LANGUAGES {
        let mut seen = std::collections::BTreeSet::new();
        for feature in Feature::ALL {
            let name = feature_display_name(feature, lang);
            assert!(!name.trim().is_empty(), "{lang} {feature:?}");
            assert!(seen.insert(name), "{lang}: {name} used twice");
        }
    }
    assert_eq!(
        feature_display_name(Feature::Ocr, "en"),
        "Identity document"
    );
    assert_eq!(
        feature_display_name(Feature::Ocr, "zz"),
        "Identity document"
    );
    assert_eq!(
        feature_display_name(Feature::ProofOfAddress, "es-MX"),
        "Comprobante de domicilio"
    );
}

#[test]
fn every_status_has_a_name_in_every_language() {
    for status in SessionStatus::ALL {
        for name in ALL.iter().map(|l| (l.status_name)(status)) {
            assert!(!name.trim().is_empty(), "{status:?}");
        }
    }
}

#[test]
fn every_language_has_every_sentence() {
    for (lang, s) in ALL.iter().map(|l| (l.code, &l.strings)) {
        let sentences = [
            s.greeting,
            s.approved_subject,
            s.approved_body,
            s.declined_subject,
            s.declined_body,
            s.status_subject,
            s.status_body,
            s.resubmission_subject,
            s.resubmission_intro,
            s.resubmission_steps_heading,
            s.resubmission_link_intro,
            s.resubmission_button,
            s.resubmission_same_link,
            s.footer,
        ];
        for sentence in sentences {
            assert!(!sentence.trim().is_empty(), "{lang}");
            assert!(
                !sentence.contains(['\r', '\n', '<', '&']),
                "{lang}: {sentence}"
            );
        }
        assert!(s.footer.contains("{brand}"), "{lang}");
        assert!(s.status_body.contains("{status}"), "{lang}");
        for subject in [
            s.approved_subject,
            s.declined_subject,
            s.status_subject,
            s.resubmission_subject,
        ] {
            assert!(subject.contains("{brand}"), "{lang}: {subject}");
        }
    }
}

#[test]
fn languages_differ() {
    let model = EmailModel::Decision {
        status: SessionStatus::Approved,
    };
    let subjects: std::collections::BTreeSet<String> = LANGUAGES
        .iter()
        .map(|lang| render(&model, lang, &brand("B")).subject)
        .collect();
    assert_eq!(subjects.len(), LANGUAGES.len());
}

#[test]
fn approved_and_declined_notices() {
    let approved = render(
        &EmailModel::Decision {
            status: SessionStatus::Approved,
        },
        "en",
        &brand("Acme Bank"),
    );
    assert_eq!(approved.language, "en");
    assert_eq!(
        approved.subject,
        "Acme Bank: your identity has been verified"
    );
    assert!(approved.text.contains("verified successfully"));
    assert!(approved.text.ends_with("Sent on behalf of Acme Bank.\n"));
    assert!(approved.html.contains("Sent on behalf of Acme Bank."));

    let declined = render(
        &EmailModel::Decision {
            status: SessionStatus::Declined,
        },
        "de",
        &brand("Acme Bank"),
    );
    assert_eq!(declined.language, "de");
    assert!(declined.subject.contains("nicht verifiziert"));
    assert!(declined
        .text
        .contains("wenden Sie sich bitte direkt an Acme Bank"));
}

#[test]
fn other_statuses_render_a_neutral_notice() {
    let content = render(
        &EmailModel::Decision {
            status: SessionStatus::InReview,
        },
        "en",
        &brand("Acme"),
    );
    assert_eq!(
        content.subject,
        "Acme: your verification status has changed"
    );
    assert!(content.text.contains("has changed to: In review."));
    let fr = render(
        &EmailModel::Decision {
            status: SessionStatus::Abandoned,
        },
        "fr",
        &brand("Acme"),
    );
    assert!(fr.text.contains("est désormais : Abandonnée."));
}

#[test]
fn subjects_never_hold_control_characters() {
    let hostile = brand("Evil\r\nBcc: victim@example.com\u{0}\t\u{85}\u{2028}x");
    for lang in LANGUAGES {
        for model in all_models() {
            let content = render(&model, lang, &hostile);
            assert!(
                !content
                    .subject
                    .chars()
                    .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'),
                "{lang}: {:?}",
                content.subject
            );
            assert!(content.subject.contains("Evil  Bcc: victim@example.com"));
        }
    }
    let content = render(
        &EmailModel::Decision {
            status: SessionStatus::Approved,
        },
        "en",
        &brand("A\r\nB"),
    );
    assert_eq!(content.subject, "A  B: your identity has been verified");
    // In the text body the brand stays on one line.
    assert!(content.text.contains("Sent on behalf of A B."));
}

#[test]
fn hostile_reason_is_escaped_in_html_and_kept_in_text() {
    let reason = "<script>alert(\"x\")</script> it's\r\nbad & wrong\nagain ✓ ñ";
    let model = resubmission(
        "https://verify.example.com/s/1?a=1&b=\"2\"",
        &[(Feature::Ocr, reason)],
    );
    let content = render(&model, "en", &brand("<b>Brand</b> & 'Co'"));
    assert!(!content.html.contains("<script>"));
    assert!(!content.html.contains("<b>"));
    assert!(content.html.contains(
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; it&#x27;s bad &amp; wrong again ✓ ñ"
    ));
    assert!(content
        .html
        .contains("&lt;b&gt;Brand&lt;/b&gt; &amp; &#x27;Co&#x27;"));
    assert!(content
        .html
        .contains("<a href=\"https://verify.example.com/s/1?a=1&amp;b=&quot;2&quot;\""));
    // Text: as-is, except the line breaks of the single-line step entry.
    assert!(content.text.contains(
        "\n- Identity document: <script>alert(\"x\")</script> it's bad & wrong again ✓ ñ\n"
    ));
    assert!(content
        .text
        .contains("\nhttps://verify.example.com/s/1?a=1&b=\"2\"\n"));
    assert!(content.subject.contains("<b>Brand</b> & 'Co'"));
}

#[test]
fn resubmission_lists_steps_in_order_with_link() {
    let model = resubmission(
        "https://verify.example.com/session/abc123",
        &[
            (Feature::Ocr, "Photo was blurry"),
            (Feature::ProofOfAddress, "Document older than 3 months"),
            (Feature::PhoneVerification, "  "),
        ],
    );
    let content = render(&model, "es-MX", &brand("Acme"));
    assert_eq!(content.language, "es");
    let expected = "Pasos que debe repetir:\n\
        - Documento de identidad: Photo was blurry\n\
        - Comprobante de domicilio: Document older than 3 months\n\
        - Número de teléfono\n";
    assert!(content.text.contains(expected), "{}", content.text);
    assert!(content
        .text
        .contains("Continúe su verificación aquí:\nhttps://verify.example.com/session/abc123\n"));
    assert!(content
        .html
        .contains("<a href=\"https://verify.example.com/session/abc123\""));
    assert!(content
        .html
        .contains("<li><strong>Número de teléfono</strong></li>"));
}

#[test]
fn resubmission_without_steps_has_no_list() {
    let content = render(&resubmission("https://x.example/s", &[]), "en", &brand("A"));
    assert!(!content.html.contains("<ul"));
    assert!(!content.text.contains("Steps to redo"));
    assert!(content.text.contains("https://x.example/s"));
}

#[test]
fn html_is_a_balanced_self_contained_document() {
    for lang in LANGUAGES {
        for model in all_models() {
            let html = render(&model, lang, &brand("B")).html;
            assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\""));
            assert!(html.ends_with("</html>\n"));
            for tag in [
                "html", "head", "title", "body", "div", "p", "a", "ul", "li", "strong",
            ] {
                let opened = html.matches(&format!("<{tag}>")).count()
                    + html.matches(&format!("<{tag} ")).count();
                let closed = html.matches(&format!("</{tag}>")).count();
                assert_eq!(opened, closed, "{lang} <{tag}>");
            }
            assert!(!html.contains("{brand}") && !html.contains("{status}"));
            assert!(!html.contains("src=") && !html.contains("<script"));
        }
    }
}

#[test]
fn rendering_is_deterministic() {
    let hostile = brand("Acme \u{1F600} <&>");
    for lang in LANGUAGES.iter().chain(["zz", "es-MX", ""].iter()) {
        for model in all_models() {
            let a = render(&model, lang, &hostile);
            // Fresh copies of every input: the output depends on values only.
            let owned_lang = String::from(*lang);
            let b = render(&model.clone(), &owned_lang, &hostile.clone());
            assert_eq!(a, b);
        }
    }
}

#[test]
fn unsupported_language_renders_exactly_as_english() {
    for model in all_models() {
        let en = render(&model, "en", &brand("Acme Bank"));
        for other in ["zz", "english", "", "xx-YY"] {
            let content = render(&model, other, &brand("Acme Bank"));
            assert_eq!(content.language, "en");
            assert_eq!(content, en);
        }
    }
}
