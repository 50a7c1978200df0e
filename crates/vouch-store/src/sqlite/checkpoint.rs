//! Keeps the WAL small without making commits pay for it.
//!
//! A thread of its own runs PASSIVE checkpoints (they never block anyone) every 50 ms. Under
//! constant load that is not enough: a reader always holds a snapshot when the writer could
//! start the WAL over, so the file would grow without bound. Past `RESTART_AT` the thread asks the
//! writer (the only connection that can get the write lock between its own commits) to run a
//! RESTART checkpoint after its next commit: most frames are already copied, readers are short,
//! and the next commit then reuses the WAL from its start.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

const INTERVAL: Duration = Duration::from_millis(50);
/// WAL size past which the writer is asked to restart it.
const RESTART_AT: u64 = 64 * 1024 * 1024;

/// Set by the checkpoint thread, cleared by the writer once it restarted the WAL.
pub type RestartWanted = Arc<AtomicBool>;

/// Starts the checkpoint thread; it ends when the process does.
pub fn start(conn: Connection, db: PathBuf, restart: RestartWanted) -> std::io::Result<()> {
    let mut wal = db.into_os_string();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    std::thread::Builder::new()
        .name("vouch-sqlite-ckpt".into())
        .spawn(move || loop {
            std::thread::sleep(INTERVAL);
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
            if std::fs::metadata(&wal).is_ok_and(|m| m.len() > RESTART_AT) {
                restart.store(true, Ordering::Relaxed);
            }
        })?;
    Ok(())
}

/// Run by the writer between groups when asked: copies what is left and lets the next commit
/// start the WAL over.
pub fn restart_if_wanted(conn: &Connection, restart: &RestartWanted) {
    if restart.swap(false, Ordering::Relaxed) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL restart failed");
        }
    }
}
