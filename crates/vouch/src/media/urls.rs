//! Signed URLs to a session's files in its decision, under the names Didit gives them: on
//! `id_verifications` `front_image` and `back_image` (and `portrait_image`, always null: vouch
//! does not crop portraits), on `liveness_checks` `reference_image`, on `face_matches`
//! `source_image` (the document) and `target_image` (the selfie), on `poa_verifications`
//! `poa_document`. A key without `media: read` sees every one of them as null. A session with
//! no captured file (its results posted by an engine of the integrator's) is left as its
//! engine reported it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use vouch_core::engine::Slot;
use vouch_core::workflow::WorkflowSpec;
use vouch_core::{Feature, MediaId};
use vouch_store::MediaRecord;

use super::{Media, Variant};

/// The fields a feature's entry carries, each with the node and slot its file comes from.
fn fields(
    spec: &WorkflowSpec,
    node_id: &str,
    feature: Feature,
) -> Vec<(&'static str, Option<(String, Slot)>)> {
    let first = |f: Feature| {
        spec.nodes
            .iter()
            .find(|n| n.feature == f)
            .map(|n| n.node_id.clone())
    };
    let own = Some(node_id.to_string());
    match feature {
        Feature::Ocr => vec![
            ("front_image", own.clone().map(|n| (n, Slot::Front))),
            ("back_image", own.map(|n| (n, Slot::Back))),
            ("portrait_image", None),
        ],
        Feature::Liveness => vec![("reference_image", own.map(|n| (n, Slot::Selfie)))],
        Feature::FaceMatch => {
            // Its own selfie when it took one, else the liveness step's.
            let selfie = first(Feature::Liveness).unwrap_or_else(|| node_id.to_string());
            vec![
                (
                    "source_image",
                    first(Feature::Ocr).map(|n| (n, Slot::Front)),
                ),
                ("target_image", Some((selfie, Slot::Selfie))),
            ]
        }
        Feature::ProofOfAddress => vec![("poa_document", own.map(|n| (n, Slot::Document)))],
        _ => Vec::new(),
    }
}

/// Adds the URL fields to every feature entry of `decision`.
pub fn attach(
    decision: &mut Value,
    spec: &WorkflowSpec,
    records: &[MediaRecord],
    readable: bool,
    media: &Media,
    base: &str,
    now: DateTime<Utc>,
) {
    // The latest file of each (node, slot); records come oldest first.
    let mut latest: HashMap<(&str, Slot), MediaId> = HashMap::new();
    for r in records {
        latest.insert((r.node_id.as_str(), r.slot), r.id);
    }
    for node in &spec.nodes {
        let wanted = fields(spec, &node.node_id, node.feature);
        if wanted.is_empty() {
            continue;
        }
        let Some(entries) = decision
            .get_mut(node.feature.decision_array())
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for entry in entries
            .iter_mut()
            .filter(|e| e["node_id"].as_str() == Some(node.node_id.as_str()))
        {
            for (field, source) in &wanted {
                let stored = source
                    .as_ref()
                    .and_then(|(n, slot)| latest.get(&(n.as_str(), *slot)));
                match stored {
                    Some(id) if readable => {
                        entry[*field] = Value::String(media.url(base, *id, Variant::Display, now));
                    }
                    Some(_) => entry[*field] = Value::Null,
                    // Nothing captured here: a URL an engine reported in its data stays, and
                    // a field vouch has no file for says so.
                    None if entry.get(*field).is_none() && !records.is_empty() => {
                        entry[*field] = Value::Null;
                    }
                    None => {}
                }
            }
        }
    }
}
