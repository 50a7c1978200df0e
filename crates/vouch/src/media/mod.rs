//! Captured files at rest: each session has a random key of its own, kept in the database only
//! wrapped (encrypted) by the master key; every file is sealed with XChaCha20-Poly1305 under
//! its session's key, bound to its id and variant, and stored in `Blobs`. Deleting a session
//! deletes its key in the erasure's transaction (crypto-shredding: no copy of its files can be
//! read again, backups included) and then its files.
//!
//! Files leave only through short-lived signed URLs (`/media/{id}/{variant}`), keyed by a
//! secret derived from the master key, so every node that shares the master key signs and
//! checks the same URLs.

pub mod blobs;
pub mod urls;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use vouch_core::{MediaId, SessionId};
use vouch_store::{Store, StoreResult};

use crate::config::Config;
use blobs::{Blobs, FsBlobs};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;
/// Starts every sealed file: the format's version.
const MAGIC: &[u8] = b"VMF1";

/// Which copy of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// As uploaded, for engines.
    Original,
    /// Without metadata, for people.
    Display,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Original => "original",
            Variant::Display => "display",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "original" => Some(Variant::Original),
            "display" => Some(Variant::Display),
            _ => None,
        }
    }
}

/// A session's unwrapped file key, held only while a request needs it.
pub struct SessionKey(chacha20poly1305::Key);

pub struct Media {
    master: XChaCha20Poly1305,
    url_key: Vec<u8>,
    blobs: Arc<dyn Blobs>,
    pub limits: vouch_core::media::Limits,
    pub url_ttl: Duration,
}

fn blob_key(session_id: SessionId, id: MediaId, v: Variant) -> String {
    format!("{session_id}/{id}.{}", v.as_str())
}

fn aad(id: MediaId, v: Variant) -> Vec<u8> {
    format!("vouch media {id} {}", v.as_str()).into_bytes()
}

fn seal(cipher: &XChaCha20Poly1305, aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; 24];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .expect("encryption of a bounded buffer");
    let mut out = Vec::with_capacity(MAGIC.len() + 24 + sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

fn open(cipher: &XChaCha20Poly1305, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let rest = sealed.strip_prefix(MAGIC)?;
    if rest.len() < 24 {
        return None;
    }
    let (nonce, body) = rest.split_at(24);
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad })
        .ok()
}

/// 32 bytes from a configured key: 64 hex digits or base64.
fn parse_master(text: &str) -> anyhow::Result<[u8; 32]> {
    let t = text.trim();
    let bytes = hex::decode(t)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .ok_or_else(|| anyhow::anyhow!("the media master key must be 64 hex digits or base64"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("the media master key must be 32 bytes"))
}

impl Media {
    /// The master key from `media.master_key_file` or `media.master_key`; without either, one
    /// generated once and kept in the database (shared by every node, but kept beside what it
    /// protects: a warning says so).
    pub async fn from_config(cfg: &Config, store: &dyn Store) -> anyhow::Result<Self> {
        let m = &cfg.media;
        let text = match (&m.master_key_file, &m.master_key) {
            (Some(f), _) => crate::config::read_secret("media.master_key_file", f)?,
            (None, Some(k)) => k.clone(),
            (None, None) => {
                tracing::warn!(
                    "no media.master_key_file configured: captured files are encrypted with a key kept in the database; set one to keep the key apart from the data"
                );
                let mut fresh = [0u8; 32];
                rand::rng().fill_bytes(&mut fresh);
                store.secret("media_master_key", hex::encode(fresh)).await?
            }
        };
        let master = parse_master(&text)?;
        let dir = m.dir.clone().unwrap_or_else(|| cfg.data_dir.join("media"));
        let blobs = FsBlobs::new(dir.clone())
            .map_err(|e| anyhow::anyhow!("configuration: media.dir {}: {e}", dir.display()))?;
        Ok(Self::new(master, Arc::new(blobs), m))
    }

    pub fn new(master: [u8; 32], blobs: Arc<dyn Blobs>, cfg: &crate::config::MediaConfig) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&master).expect("any key length");
        mac.update(b"vouch media url signing");
        Self {
            master: XChaCha20Poly1305::new(&master.into()),
            url_key: mac.finalize().into_bytes().to_vec(),
            blobs,
            limits: vouch_core::media::Limits {
                max_bytes: cfg.max_bytes,
                ..Default::default()
            },
            url_ttl: cfg.url_ttl,
        }
    }

    fn unwrap_key(&self, session_id: SessionId, wrapped: &str) -> Option<SessionKey> {
        let sealed = B64.decode(wrapped).ok()?;
        let aad = format!("vouch media key {session_id}");
        let key = open(&self.master, aad.as_bytes(), &sealed)?;
        Some(SessionKey(*chacha20poly1305::Key::from_slice(
            key.get(..32)?,
        )))
    }

    /// The session's key, made and stored (wrapped) with its first file.
    pub async fn session_key(
        &self,
        store: &dyn Store,
        session_id: SessionId,
    ) -> StoreResult<SessionKey> {
        let fresh = XChaCha20Poly1305::generate_key(&mut chacha20poly1305::aead::OsRng);
        let aad = format!("vouch media key {session_id}");
        let wrapped = B64.encode(seal(&self.master, aad.as_bytes(), &fresh));
        let stored = store
            .media_key(session_id, wrapped, crate::clock::now())
            .await?;
        self.unwrap_key(session_id, &stored).ok_or_else(|| {
            vouch_store::StoreError::Internal(
                "a session's media key does not open with this master key".into(),
            )
        })
    }

    /// Seals and stores both copies of a file.
    pub async fn put(
        &self,
        key: &SessionKey,
        session_id: SessionId,
        id: MediaId,
        original: axum::body::Bytes,
        display: Vec<u8>,
    ) -> std::io::Result<()> {
        let cipher = XChaCha20Poly1305::new(&key.0);
        let display = axum::body::Bytes::from(display);
        // One copy at a time, so that an upload holds at most one sealed copy; sealing
        // megabytes is work, done off the request threads.
        for (v, plain) in [(Variant::Original, original), (Variant::Display, display)] {
            let cipher = cipher.clone();
            let sealed = tokio::task::spawn_blocking(move || seal(&cipher, &aad(id, v), &plain))
                .await
                .map_err(std::io::Error::other)?;
            self.blobs.put(&blob_key(session_id, id, v), sealed).await?;
        }
        Ok(())
    }

    /// A stored file opened with its session's wrapped key; `None` when it is not there or
    /// does not open.
    pub async fn read(
        &self,
        session_id: SessionId,
        id: MediaId,
        v: Variant,
        wrapped: &str,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let Some(key) = self.unwrap_key(session_id, wrapped) else {
            return Ok(None);
        };
        let Some(sealed) = self.blobs.get(&blob_key(session_id, id, v)).await? else {
            return Ok(None);
        };
        Ok(open(&XChaCha20Poly1305::new(&key.0), &aad(id, v), &sealed))
    }

    /// Removes a session's files (its key is already gone with the erasure).
    pub async fn erase(&self, session_id: SessionId) {
        if let Err(e) = self.blobs.delete_all(&session_id.to_string()).await {
            tracing::warn!(session = %session_id, error = %e, "could not remove an erased session's files; without their key they cannot be read");
        }
    }

    /// Drops a file that was stored but not recorded (its submission was refused).
    pub async fn discard(&self, session_id: SessionId, id: MediaId) {
        for v in [Variant::Original, Variant::Display] {
            let _ = self.blobs.delete(&blob_key(session_id, id, v)).await;
        }
    }

    fn signature(&self, id: MediaId, v: Variant, expires: i64) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.url_key).expect("any key length");
        mac.update(format!("{id}/{}/{expires}", v.as_str()).as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A URL to a file that works until `now + url_ttl`.
    pub fn url(&self, base: &str, id: MediaId, v: Variant, now: DateTime<Utc>) -> String {
        let expires = now.timestamp() + self.url_ttl.as_secs() as i64;
        format!(
            "{base}/media/{id}/{}?expires={expires}&signature={}",
            v.as_str(),
            self.signature(id, v, expires)
        )
    }

    /// Whether a URL's signature is this server's and it has not expired.
    pub fn url_is_valid(
        &self,
        id: MediaId,
        v: Variant,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> bool {
        use subtle::ConstantTimeEq;
        let want = self.signature(id, v, expires);
        expires >= now.timestamp() && bool::from(want.as_bytes().ct_eq(signature.as_bytes()))
    }
}

#[cfg(test)]
mod tests;
