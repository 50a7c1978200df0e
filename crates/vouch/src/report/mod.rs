//! The session report (`GET /v3/session/{id}/generate-pdf/`): a PDF rendered by vouch itself —
//! the session's header, each step with its status, data and warnings and the images captured
//! for it, and the review trail with each row's hash and whether the chain verifies.

mod layout;

use chrono::{DateTime, Utc};
use krilla::image::Image;
use serde_json::Value;
use vouch_core::attempt::Attempt;
use vouch_core::media::MediaType;
use vouch_core::review::verify_chain;
use vouch_store::{MediaRecord, SessionBundle};

use layout::{Face, Layout};

/// A captured file to show, opened (its display copy, without metadata).
pub struct Picture {
    pub record: MediaRecord,
    pub bytes: Vec<u8>,
}

/// What the report says of captured files it does not show.
pub enum Pictures {
    Shown(Vec<Picture>),
    /// The key may not see media (`media: none`).
    Withheld,
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `data` as `key: value` lines, nested keys joined with dots.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Null => out.push((prefix.to_string(), "—".into())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

fn image(p: &Picture) -> Option<Image> {
    let data: krilla::Data = p.bytes.clone().into();
    match p.record.media_type {
        MediaType::Jpeg => Image::from_jpeg(data, true).ok(),
        MediaType::Png => Image::from_png(data, true).ok(),
        MediaType::Webp => Image::from_webp(data, true).ok(),
        MediaType::Pdf => None,
    }
}

/// Renders the report of `b` as of `now`.
pub fn render(
    b: &SessionBundle,
    pictures: &Pictures,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, String> {
    let s = &b.session;
    let mut l = Layout::new(format!("vouch report · session {}", s.id));
    l.text("Verification report", Face::Bold, 18.0, 0.0);
    l.text_in(&format!("Session {}", s.id), Face::Mono, 9.0, 0.0, 70);
    l.space(6.0);
    let workflow = format!(
        "{} ({}, version {})",
        b.workflow.label, s.workflow_id, s.workflow_version
    );
    let rows = [
        ("Status", s.status.as_str().to_string()),
        ("Session number", s.number.to_string()),
        ("Kind", s.kind.as_str().to_string()),
        ("Environment", b.environment.as_str().to_string()),
        ("Application", b.app_name.clone()),
        ("Workflow", workflow),
        (
            "Vendor data",
            s.vendor_data.clone().unwrap_or_else(|| "—".into()),
        ),
        ("Created", time(s.created_at)),
        ("Updated", time(s.updated_at)),
        ("Link expires", time(s.expires_at)),
        ("Report generated", time(now)),
    ];
    for (k, v) in rows {
        l.field(k, &v, 0.0);
    }
    if let Some(info) = &s.resubmit_info {
        for st in &info.steps {
            l.field(
                "Sent back",
                &format!("{} ({}): {}", st.node_id, st.feature.name(), st.reason),
                0.0,
            );
        }
        l.field("Sent back at", &time(info.requested_at), 0.0);
    }

    // Steps, in workflow order, each with its latest result.
    l.space(8.0);
    l.text("Steps", Face::Bold, 13.0, 0.0);
    l.rule();
    for (i, node) in b.workflow.spec.nodes.iter().enumerate() {
        let mut attempts: Vec<&Attempt> = b
            .attempts
            .iter()
            .filter(|a| a.node_id == node.node_id)
            .collect();
        attempts.sort_by_key(|a| a.seq);
        let latest = attempts.last();
        let status = latest.map_or("Not started", |a| a.status.as_str());
        l.space(4.0);
        l.text(
            &format!("{}. {} — {status}", i + 1, node.feature.name()),
            Face::Bold,
            10.5,
            0.0,
        );
        l.text_in(&node.node_id, Face::Mono, 8.0, 12.0, 90);
        let Some(a) = latest else { continue };
        l.field(
            "Recorded",
            &format!("{} by {}", time(a.created_at), a.actor_type.as_str()),
            12.0,
        );
        if attempts.len() > 1 {
            l.field("Earlier attempts", &(attempts.len() - 1).to_string(), 12.0);
        }
        let mut fields = Vec::new();
        flatten("", &a.data, &mut fields);
        for (k, v) in fields {
            l.field(&k, &v, 12.0);
        }
        for w in a.warnings.as_array().into_iter().flatten() {
            let text = |k: &str| w.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let line = format!(
                "Warning [{}] {}{}",
                text("risk"),
                text("short_description"),
                match text("long_description") {
                    d if d.is_empty() => String::new(),
                    d => format!(" — {d}"),
                }
            );
            l.text_in(&line, Face::Regular, 9.0, 12.0, 40);
        }
        match pictures {
            Pictures::Shown(all) => {
                let shown: Vec<(Image, String)> = all
                    .iter()
                    .filter(|p| p.record.node_id == node.node_id)
                    .filter_map(|p| {
                        image(p).map(|img| {
                            let r = &p.record;
                            (
                                img,
                                format!(
                                    "{} · {}×{} · {}",
                                    r.slot.as_str(),
                                    r.width,
                                    r.height,
                                    time(r.created_at)
                                ),
                            )
                        })
                    })
                    .collect();
                l.images(shown, 220.0, 150.0, 12.0);
            }
            Pictures::Withheld => {
                if b.media.iter().any(|m| m.node_id == node.node_id) {
                    l.text_in(
                        "Captured images withheld: the key may not read media.",
                        Face::Regular,
                        8.5,
                        12.0,
                        90,
                    );
                }
            }
        }
    }

    // The review trail and its hash chain.
    l.space(10.0);
    l.text("Review trail", Face::Bold, 13.0, 0.0);
    let chain = match verify_chain(&b.reviews) {
        Ok(()) => format!(
            "The hash chain of these {} rows verifies: no row was changed, removed or inserted.",
            b.reviews.len()
        ),
        Err(broken) => format!(
            "The hash chain does NOT verify: row {} ({}): {}.",
            broken.seq, broken.uuid, broken.reason
        ),
    };
    l.text_in(&chain, Face::Regular, 9.0, 0.0, 40);
    l.rule();
    for r in &b.reviews {
        let change = match (r.previous_status, r.new_status) {
            (Some(p), Some(n)) => format!("{} → {}", p.as_str(), n.as_str()),
            (None, Some(n)) => n.as_str().to_string(),
            _ => String::new(),
        };
        l.text(
            &format!(
                "#{}  {}  {}  {}",
                r.seq,
                time(r.created_at),
                r.activity_type.as_str(),
                change
            ),
            Face::Bold,
            9.0,
            0.0,
        );
        l.field(
            "By",
            &format!("{} {}", r.actor_type.as_str(), r.actor_display),
            12.0,
        );
        if let Some(c) = &r.comment {
            l.field("Comment", c, 12.0);
        }
        if r.redacted {
            l.field("Personal data", "erased", 12.0);
        }
        l.text_in(&format!("hash {}", r.hash), Face::Mono, 7.0, 12.0, 90);
        l.space(3.0);
    }
    if b.reviews.is_empty() {
        l.text_in("No review rows yet.", Face::Regular, 9.0, 0.0, 90);
    }
    l.finish(&format!("Verification report — session {}", s.id))
}
