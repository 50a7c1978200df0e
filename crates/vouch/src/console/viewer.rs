//! The captured media viewer: the latest file of each step's slot, with URLs signed for the
//! console, zoom, a quarter-turn rotation and the document's front beside the selfie, all from
//! the page's URL (no script).

use vouch_store::SessionBundle;

use crate::state::AppState;

/// One captured file, as the viewer shows it.
pub struct Shot {
    pub label: String,
    pub url: String,
    pub is_image: bool,
    pub width: i64,
    pub height: i64,
}

/// The viewer's state, from the URL: zoom (1–3), a quarter-turn rotation, and whether the
/// document's front and the selfie are shown side by side.
pub struct Viewer {
    pub zoom: u8,
    pub rotate: u16,
    pub compare: Option<(Shot, Shot)>,
    pub shots: Vec<Shot>,
}

impl Viewer {
    /// The page's URL with one of the viewer's settings changed.
    pub fn link(&self, zoom: u8, rotate: u16) -> String {
        format!("?zoom={zoom}&rotate={rotate}#media-heading")
    }

    pub fn zoom_in(&self) -> String {
        self.link((self.zoom + 1).min(3), self.rotate)
    }

    pub fn zoom_out(&self) -> String {
        self.link(self.zoom.saturating_sub(1).max(1), self.rotate)
    }

    pub fn turn(&self) -> String {
        self.link(self.zoom, (self.rotate + 90) % 360)
    }
}

/// The session's captured files, with URLs signed for the viewer.
pub fn viewer(state: &AppState, b: &SessionBundle, zoom: u8, rotate: u16) -> Viewer {
    use vouch_core::engine::Slot;
    let now = crate::clock::now();
    let shot = |m: &vouch_store::MediaRecord| {
        let step = b.workflow.spec.node(&m.node_id).map_or_else(
            || m.node_id.clone(),
            |n| n.label.clone().unwrap_or_else(|| n.feature.name().into()),
        );
        Shot {
            label: format!("{step}: {}", m.slot.as_str()),
            url: state
                .media
                .url("", m.id, crate::media::Variant::Display, now),
            is_image: m.media_type != vouch_core::media::MediaType::Pdf,
            width: m.width,
            height: m.height,
        }
    };
    // The latest file of each slot of each step.
    let mut latest: Vec<&vouch_store::MediaRecord> = Vec::new();
    for m in &b.media {
        latest.retain(|l| !(l.node_id == m.node_id && l.slot == m.slot));
        latest.push(m);
    }
    let find = |slot: Slot| {
        latest
            .iter()
            .rev()
            .find(|m| m.slot == slot)
            .map(|m| shot(m))
    };
    let compare = find(Slot::Front).zip(find(Slot::Selfie));
    Viewer {
        zoom: zoom.clamp(1, 3),
        rotate: rotate % 360 / 90 * 90,
        compare,
        shots: latest.into_iter().map(shot).collect(),
    }
}
