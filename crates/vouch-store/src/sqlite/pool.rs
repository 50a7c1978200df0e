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
            let result = f(&conn);
            if let Ok(mut guard) = conns.lock() {
                guard.push(conn);
            }
            drop(permit);
            result
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }
}
