//! `ConsoleStore` for SQLite: the shared statements on the writer and the read pool.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vouch_core::console::Failures;

use super::driver::{ready, Lite};
use super::SqliteStore;
use crate::console::{ConsoleEvent, ConsoleLogin, ConsoleStore, ConsoleUser, UserChange};
use crate::queries::console as q;
use crate::StoreResult;

#[async_trait]
impl ConsoleStore for SqliteStore {
    async fn create_console_user(&self, user: ConsoleUser, event: ConsoleEvent) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(q::create_user(&Lite(c), &user, &event)))
            .await
    }

    async fn console_users(&self) -> StoreResult<Vec<ConsoleUser>> {
        self.readers.read(|c| ready(q::users(&Lite(c)))).await
    }

    async fn console_user(&self, email: String) -> StoreResult<Option<ConsoleUser>> {
        self.readers
            .read(move |c| ready(q::user_by_email(&Lite(c), &email)))
            .await
    }

    async fn update_console_user(
        &self,
        email: String,
        change: UserChange,
        events: Vec<ConsoleEvent>,
    ) -> StoreResult<Option<ConsoleUser>> {
        self.writer
            .write(move |c| ready(q::update_user(&Lite(c), &email, change, &events)))
            .await
    }

    async fn start_console_login(
        &self,
        login: ConsoleLogin,
        event: ConsoleEvent,
    ) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(q::start_login(&Lite(c), &login, &event)))
            .await
    }

    async fn console_login(
        &self,
        token_hash: Vec<u8>,
        idle_since: DateTime<Utc>,
        absolute_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(ConsoleLogin, ConsoleUser)>> {
        let hash = token_hash.clone();
        let found = self
            .readers
            .read(move |c| ready(q::live_login(&Lite(c), &hash, idle_since, absolute_since)))
            .await?;
        if found.as_ref().is_some_and(|(l, _)| q::stale_use(l, now)) {
            self.writer
                .write(move |c| ready(q::touch_login(&Lite(c), &token_hash, now)))
                .await?;
        }
        Ok(found)
    }

    async fn end_console_login(
        &self,
        token_hash: Vec<u8>,
        everywhere: bool,
        event: ConsoleEvent,
    ) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(q::end_login(&Lite(c), &token_hash, everywhere, &event)))
            .await
    }

    async fn record_console_event(&self, event: ConsoleEvent) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(q::record(&Lite(c), &event)))
            .await
    }

    async fn console_failures(
        &self,
        email: String,
        address: String,
        since: DateTime<Utc>,
    ) -> StoreResult<Failures> {
        self.readers
            .read(move |c| ready(q::failures(&Lite(c), &email, &address, since)))
            .await
    }

    async fn console_events(&self, limit: i64) -> StoreResult<Vec<ConsoleEvent>> {
        self.readers
            .read(move |c| ready(q::events(&Lite(c), limit)))
            .await
    }
}
