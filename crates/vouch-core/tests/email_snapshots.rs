//! Snapshots of every email in every shipped language (API.md §6): the Approved and Declined
//! notices and a two-step resubmission request. Review a changed snapshot as a change of what
//! end users receive.

use vouch_core::email::{render, Branding, EmailContent, EmailModel, StepLine, LANGUAGES};
use vouch_core::{Feature, SessionStatus};

fn brand() -> Branding {
    Branding {
        brand_name: "Acme Bank".to_string(),
    }
}

fn decision(status: SessionStatus) -> EmailModel {
    EmailModel::Decision { status }
}

fn resubmission() -> EmailModel {
    EmailModel::Resubmission {
        link: "https://verify.example.com/session/abc123".to_string(),
        steps: vec![
            StepLine {
                feature: Feature::Ocr,
                reason: "Photo was blurry".to_string(),
            },
            StepLine {
                feature: Feature::ProofOfAddress,
                reason: "Document is older than 3 months".to_string(),
            },
        ],
    }
}

/// The whole email as one string: language, subject, text and HTML with clear separators.
fn as_one_string(content: &EmailContent) -> String {
    format!(
        "language: {}\n\
         ===== subject =====\n{}\n\
         ===== text =====\n{}\
         ===== html =====\n{}",
        content.language, content.subject, content.text, content.html
    )
}

#[test]
fn approved_notice() {
    for lang in LANGUAGES {
        let content = render(&decision(SessionStatus::Approved), lang, &brand());
        assert_eq!(content.language, lang);
        insta::assert_snapshot!(format!("{lang}_approved"), as_one_string(&content));
    }
}

#[test]
fn declined_notice() {
    for lang in LANGUAGES {
        let content = render(&decision(SessionStatus::Declined), lang, &brand());
        assert_eq!(content.language, lang);
        insta::assert_snapshot!(format!("{lang}_declined"), as_one_string(&content));
    }
}

#[test]
fn resubmission_request() {
    for lang in LANGUAGES {
        let content = render(&resubmission(), lang, &brand());
        assert_eq!(content.language, lang);
        insta::assert_snapshot!(format!("{lang}_resubmission"), as_one_string(&content));
    }
}

#[test]
fn unsupported_language_is_english() {
    for model in [
        decision(SessionStatus::Approved),
        decision(SessionStatus::Declined),
        resubmission(),
    ] {
        let en = render(&model, "en", &brand());
        let zz = render(&model, "zz", &brand());
        assert_eq!(zz.language, "en");
        assert_eq!(zz, en);
        assert_eq!(as_one_string(&zz), as_one_string(&en));
    }
}
