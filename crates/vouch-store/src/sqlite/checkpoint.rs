//! Moves WAL frames into the database file on a thread of its own, so the writer's commits never
//! pay for checkpoints. PASSIVE checkpoints never block the writer or readers.

use std::time::Duration;

use rusqlite::Connection;

const INTERVAL: Duration = Duration::from_millis(250);

/// Starts the checkpoint thread; it ends when the process does.
pub fn start(conn: Connection) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("vouch-sqlite-ckpt".into())
        .spawn(move || loop {
            std::thread::sleep(INTERVAL);
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        })?;
    Ok(())
}
