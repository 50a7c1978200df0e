//! `ConsoleStore` for SQLite: the shared statements on the writer and the read pool.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use vouch_core::console::Failures;
use vouch_core::session::Session;
use vouch_core::{AppId, SessionId};

use super::driver::{ready, Lite};
use super::SqliteStore;
use crate::console::{
    Claim, ConsoleEvent, ConsoleLogin, ConsoleStore, ConsoleUser, DeskState, ReviewDeskStore,
    Staged, UserChange,
};
use crate::queries::console as q;
use crate::queries::review_desk as d;
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

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool> {
        self.writer
            .write(move |c| ready(q::use_totp_step(&Lite(c), user_id, step)))
            .await
    }
}

#[async_trait]
impl ReviewDeskStore for SqliteStore {
    async fn claim_session(&self, claim: Claim, take_over: bool) -> StoreResult<Claim> {
        self.writer
            .write(move |c| ready(d::claim_session(&Lite(c), &claim, take_over)))
            .await
    }

    async fn release_claim(&self, session_id: SessionId, user_id: Option<Uuid>) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(d::release(&Lite(c), session_id, user_id)))
            .await
    }

    async fn claims(&self, ids: Vec<SessionId>, now: DateTime<Utc>) -> StoreResult<Vec<Claim>> {
        self.readers
            .read(move |c| ready(d::claims(&Lite(c), &ids, now)))
            .await
    }

    async fn next_unclaimed(
        &self,
        apps: Vec<AppId>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionId>> {
        self.readers
            .read(move |c| ready(d::next_unclaimed(&Lite(c), &apps, now)))
            .await
    }

    async fn stage_decision(&self, staged: Staged) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(d::stage(&Lite(c), &staged)))
            .await
    }

    async fn staged_decisions(&self, ids: Vec<SessionId>) -> StoreResult<Vec<Staged>> {
        self.readers
            .read(move |c| ready(d::staged_list(&Lite(c), &ids)))
            .await
    }

    async fn reject_staged(&self, id: SessionId, by: String, note: String) -> StoreResult<bool> {
        self.writer
            .write(move |c| ready(d::reject(&Lite(c), id, &by, &note)))
            .await
    }

    async fn drop_staged(&self, id: SessionId) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(d::drop_staged(&Lite(c), id)))
            .await
    }

    async fn four_eyes(&self, app: AppId) -> StoreResult<bool> {
        self.readers
            .read(move |c| ready(d::four_eyes(&Lite(c), app)))
            .await
    }

    async fn set_four_eyes(&self, app: AppId, on: bool) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(d::set_four_eyes(&Lite(c), app, on)))
            .await
    }

    async fn console_session(&self, id: SessionId) -> StoreResult<Option<Session>> {
        self.readers
            .read(move |c| ready(crate::queries::sessions::find_any_app(&Lite(c), id)))
            .await
    }

    async fn console_session_desk(
        &self,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Session, DeskState)>> {
        self.readers
            .read(move |c| ready(d::session_with_desk(&Lite(c), id, now)))
            .await
    }
}
