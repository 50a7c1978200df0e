//! English: every sentence of the person's page.

use super::{Dir, Text};
use vouch_core::feature::Feature;

pub(super) const TEXT: Text = Text {
    code: "en",
    dir: Dir::Ltr,
    name: "English",
    title: "Identity verification",
    skip_to_content: "Skip to content",
    start_heading: "Verify your identity for {brand}",
    start_intro: "It takes a few minutes. Keep your identity document at hand.",
    steps_heading: "Your steps",
    todo: "To do",
    done: "Done",
    automatic: "Checked automatically once you have finished",
    not_available: "Not available on this page: {brand} will tell you how to complete it",
    reason: "Why it is asked again:",
    resubmitted_heading: "Please redo a few steps for {brand}",
    resubmitted_intro: "Only the steps below are needed; everything else is kept.",
    in_review_heading: "Thank you: your verification is being reviewed",
    in_review_body:
        "You do not need to do anything else now. {brand} will let you know the result.",
    approved_heading: "Your identity has been verified",
    approved_body: "You do not need to do anything else.",
    declined_heading: "We could not verify your identity",
    declined_body: "If you have any questions, contact {brand} directly.",
    kyc_expired_heading: "Your verification has expired",
    kyc_expired_body: "Ask {brand} for a new verification link.",
    back_to: "Return to {brand}",
    expired_heading: "This link has expired",
    abandoned_heading: "This verification was not finished in time",
    deleted_heading: "This link is no longer valid",
    ended_body: "Ask {brand} for a new verification link.",
    unknown_heading: "This link does not exist",
    unknown_body: "Check the address, or ask the service that sent it for a new link.",
    language_label: "Language",
    language_submit: "Change",
    email_label: "Email address",
    send_code: "Send me a code",
    code_label: "Code",
    code_hint: "The 6 digits we sent you by email",
    verify_code: "Check the code",
    resend_code: "Send a new code",
    code_sent: "We sent you a code. It is valid for 5 minutes.",
    code_wrong: "That code is not right. Check it and try again.",
    code_malformed: "Enter the 6 digits of the code.",
    code_expired: "This code has expired. Ask for a new one.",
    code_no_tries: "Too many wrong codes. Ask for a new one.",
    code_no_more_sends: "No more codes can be sent for this step. Contact {brand}.",
    code_wait: "You can ask for a new code 30 seconds after the last one.",
    email_invalid: "Enter a valid email address.",
    code_send_failed: "The code could not be sent. Try again in a moment.",
    email_unavailable: "Codes by email are not available right now. Contact {brand}.",
    code_subject: "Your code for {brand}",
    code_body: "Your code is {code}. It is valid for 5 minutes. If you did not ask for it, you can ignore this email.",
    feature_name,
};

fn feature_name(f: Feature) -> &'static str {
    vouch_core::email::feature_display_name(f, "en")
}
