//! `ConsoleStore` for PostgreSQL: the shared statements, each write in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use vouch_core::console::Failures;
use vouch_core::session::Session;
use vouch_core::{AppId, SessionId};

use super::driver::Pg;
use super::PgStore;
use crate::console::{
    Claim, ConsoleEvent, ConsoleLogin, ConsoleStore, ConsoleUser, DeskState, ReviewDeskStore,
    Staged, UserChange,
};
use crate::queries::console as q;
use crate::queries::review_desk as d;
use crate::StoreResult;

#[async_trait]
impl ConsoleStore for PgStore {
    async fn create_console_user(&self, user: ConsoleUser, event: ConsoleEvent) -> StoreResult<()> {
        in_tx!(self, tx => q::create_user(&Pg(&tx), &user, &event).await?);
        Ok(())
    }

    async fn console_users(&self) -> StoreResult<Vec<ConsoleUser>> {
        q::users(&Pg(&self.conn().await?)).await
    }

    async fn console_user(&self, email: String) -> StoreResult<Option<ConsoleUser>> {
        q::user_by_email(&Pg(&self.conn().await?), &email).await
    }

    async fn update_console_user(
        &self,
        email: String,
        change: UserChange,
        events: Vec<ConsoleEvent>,
    ) -> StoreResult<Option<ConsoleUser>> {
        Ok(in_tx!(self, tx => q::update_user(&Pg(&tx), &email, change, &events).await?))
    }

    async fn start_console_login(
        &self,
        login: ConsoleLogin,
        event: ConsoleEvent,
    ) -> StoreResult<()> {
        in_tx!(self, tx => q::start_login(&Pg(&tx), &login, &event).await?);
        Ok(())
    }

    async fn console_login(
        &self,
        token_hash: Vec<u8>,
        idle_since: DateTime<Utc>,
        absolute_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(ConsoleLogin, ConsoleUser)>> {
        let db = Pg(&self.conn().await?);
        let found = q::live_login(&db, &token_hash, idle_since, absolute_since).await?;
        if found.as_ref().is_some_and(|(l, _)| q::stale_use(l, now)) {
            q::touch_login(&db, &token_hash, now).await?;
        }
        Ok(found)
    }

    async fn end_console_login(
        &self,
        token_hash: Vec<u8>,
        everywhere: bool,
        event: ConsoleEvent,
    ) -> StoreResult<()> {
        in_tx!(self, tx => q::end_login(&Pg(&tx), &token_hash, everywhere, &event).await?);
        Ok(())
    }

    async fn record_console_event(&self, event: ConsoleEvent) -> StoreResult<()> {
        q::record(&Pg(&self.conn().await?), &event).await
    }

    async fn console_failures(
        &self,
        email: String,
        address: String,
        since: DateTime<Utc>,
    ) -> StoreResult<Failures> {
        q::failures(&Pg(&self.conn().await?), &email, &address, since).await
    }

    async fn console_events(&self, limit: i64) -> StoreResult<Vec<ConsoleEvent>> {
        q::events(&Pg(&self.conn().await?), limit).await
    }

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool> {
        q::use_totp_step(&Pg(&self.conn().await?), user_id, step).await
    }
}

#[async_trait]
impl ReviewDeskStore for PgStore {
    async fn claim_session(&self, claim: Claim, take_over: bool) -> StoreResult<Claim> {
        Ok(in_tx!(self, tx => d::claim_session(&Pg(&tx), &claim, take_over).await?))
    }

    async fn release_claim(&self, session_id: SessionId, user_id: Option<Uuid>) -> StoreResult<()> {
        d::release(&Pg(&self.conn().await?), session_id, user_id).await
    }

    async fn claims(&self, ids: Vec<SessionId>, now: DateTime<Utc>) -> StoreResult<Vec<Claim>> {
        d::claims(&Pg(&self.conn().await?), &ids, now).await
    }

    async fn next_unclaimed(
        &self,
        apps: Vec<AppId>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionId>> {
        d::next_unclaimed(&Pg(&self.conn().await?), &apps, now).await
    }

    async fn stage_decision(&self, staged: Staged) -> StoreResult<()> {
        d::stage(&Pg(&self.conn().await?), &staged).await
    }

    async fn staged_decisions(&self, ids: Vec<SessionId>) -> StoreResult<Vec<Staged>> {
        d::staged_list(&Pg(&self.conn().await?), &ids).await
    }

    async fn reject_staged(&self, id: SessionId, by: String, note: String) -> StoreResult<bool> {
        d::reject(&Pg(&self.conn().await?), id, &by, &note).await
    }

    async fn drop_staged(&self, id: SessionId) -> StoreResult<()> {
        d::drop_staged(&Pg(&self.conn().await?), id).await
    }

    async fn four_eyes(&self, app: AppId) -> StoreResult<bool> {
        d::four_eyes(&Pg(&self.conn().await?), app).await
    }

    async fn set_four_eyes(&self, app: AppId, on: bool) -> StoreResult<()> {
        d::set_four_eyes(&Pg(&self.conn().await?), app, on).await
    }

    async fn console_session(&self, id: SessionId) -> StoreResult<Option<Session>> {
        crate::queries::sessions::find_any_app(&Pg(&self.conn().await?), id).await
    }

    async fn console_session_desk(
        &self,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Session, DeskState)>> {
        d::session_with_desk(&Pg(&self.conn().await?), id, now).await
    }
}
