//! A small pool of read-only connections; reads run on tokio's blocking threads.

use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::{StoreError, StoreResult};

#[derive(Clone)]
pub struct ReadPool {
    conns: Arc<Mutex<Vec<Connection>>>,
    available: Arc<Semaphore>,
}

impl ReadPool {
    pub fn new(conns: Vec<Connection>) -> Self {
        let n = conns.len();
        Self {
            conns: Arc::new(Mutex::new(conns)),
            available: Arc::new(Semaphore::new(n)),
        }
    }

    /// Runs a short, indexed read on the calling thread when a connection is free at once:
    /// cheaper than a hand-off to a blocking thread for lookups of a few microseconds. Falls back
    /// to `read` when every connection is busy.
    pub async fn read_short<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        if let Ok(permit) = self.available.clone().try_acquire_owned() {
            let conn = self
                .conns
                .lock()
                .map_err(|_| StoreError::Internal("read pool poisoned".into()))?
                .pop();
            if let Some(conn) = conn {
                let lease = Lease {
                    conn: Some(conn),
                    pool: self.conns.clone(),
                    _permit: permit,
                };
                return match lease.conn.as_ref() {
                    Some(conn) => f(conn),
                    None => Err(StoreError::Internal("leased connection missing".into())),
                };
            }
        }
        self.read(f).await
    }

    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let permit = self
            .available
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the read pool is closed".into()))?;
        let conns = self.conns.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conns
                .lock()
                .map_err(|_| StoreError::Internal("read pool poisoned".into()))?
                .pop()
                .ok_or_else(|| StoreError::Internal("read pool empty".into()))?;
            // Returned to the pool on every exit, a panic included, before the permit.
            let lease = Lease {
                conn: Some(conn),
                pool: conns,
                _permit: permit,
            };
            match lease.conn.as_ref() {
                Some(conn) => f(conn),
                None => Err(StoreError::Internal("leased connection missing".into())),
            }
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }
}

/// A connection borrowed from the pool; dropping it gives the connection back.
struct Lease {
    conn: Option<Connection>,
    pool: Arc<Mutex<Vec<Connection>>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut pool)) = (self.conn.take(), self.pool.lock()) {
            pool.push(conn);
        }
    }
}
