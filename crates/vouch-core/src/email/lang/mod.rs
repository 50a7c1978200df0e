//! The shipped languages, one file each (API.md §6). Adding one is a file here and a line in
//! `ALL`; a language missing a sentence or a name does not compile.
//!
//! Placeholders are `{brand}` and `{status}`; they are filled in one pass by `fill` in the parent
//! module, so a value that itself contains `{brand}` is never expanded again. Templates are plain
//! text: the HTML part escapes them like any other value.

/// Every sentence an email is built from, in one language.
pub(in crate::email) struct Strings {
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

/// One language: its code, its sentences and the names of steps and statuses.
pub(in crate::email) struct Language {
    pub code: &'static str,
    pub strings: Strings,
    pub feature_name: fn(crate::feature::Feature) -> &'static str,
    pub status_name: fn(crate::SessionStatus) -> &'static str,
}

mod de;
mod en;
mod es;
mod fr;
mod it;
mod pt;

/// The registry; the first is the fallback for any language not listed.
pub(in crate::email) const ALL: [&Language; 6] = [
    &en::LANGUAGE,
    &es::LANGUAGE,
    &fr::LANGUAGE,
    &de::LANGUAGE,
    &pt::LANGUAGE,
    &it::LANGUAGE,
];
