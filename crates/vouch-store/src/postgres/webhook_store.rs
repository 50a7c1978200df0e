//! `WebhookStore` and `EmailStore` for PostgreSQL.

use std::sync::Arc;
use vouch_core::{AppId, DeliveryId, DestinationId, SessionId};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::driver::Pg;
use super::PgStore;
use crate::emails::*;
use crate::model::{EmailJob, Page};
use crate::queries::{destinations, emails, queue, webhooks};
use crate::webhooks::*;
use crate::StoreResult;

#[async_trait]
impl WebhookStore for PgStore {
    async fn create_destination(&self, d: Destination) -> StoreResult<Destination> {
        destinations::insert(&Pg(&self.conn().await?), &d).await?;
        Ok(d)
    }

    async fn list_destinations(
        &self,
        app_id: AppId,
        page: Page,
    ) -> StoreResult<(Vec<Destination>, i64)> {
        destinations::list(&Pg(&self.conn().await?), app_id, page).await
    }

    async fn get_destination(
        &self,
        app_id: AppId,
        id: DestinationId,
    ) -> StoreResult<Option<Destination>> {
        destinations::find(&Pg(&self.conn().await?), app_id, id).await
    }

    async fn update_destination(
        &self,
        app_id: AppId,
        id: DestinationId,
        update: DestinationUpdate,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Destination>> {
        Ok(in_tx!(self, tx => destinations::update(&Pg(&tx), app_id, id, update, now).await?))
    }

    async fn delete_destination(
        &self,
        app_id: AppId,
        id: DestinationId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        Ok(in_tx!(self, tx => destinations::delete(&Pg(&tx), app_id, id, now).await?))
    }

    async fn fan_out(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<usize> {
        Ok(in_tx!(self, tx => webhooks::fan_out(&Pg(&tx), now, limit).await?))
    }

    async fn claim_deliveries(&self, q: ClaimQuery) -> StoreResult<Vec<ClaimedDelivery>> {
        Ok(in_tx!(self, tx => webhooks::claim(&Pg(&tx), &q).await?))
    }

    async fn record_attempts(
        &self,
        results: Vec<AttemptResult>,
        disable_after: chrono::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, tx => webhooks::record(&Pg(&tx), &results, disable_after, now).await?);
        Ok(())
    }

    async fn release_leases_at_start(&self) -> StoreResult<usize> {
        // Other nodes may hold these leases: they run out by themselves.
        Ok(0)
    }

    async fn release_deliveries(&self, ids: Vec<DeliveryId>) -> StoreResult<usize> {
        queue::release(&Pg(&self.conn().await?), &queue::WEBHOOK_DELIVERIES, &ids).await
    }

    async fn next_delivery_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        queue::next_due(&Pg(&self.conn().await?), &queue::WEBHOOK_DELIVERIES).await
    }

    async fn list_deliveries(
        &self,
        app_id: AppId,
        destination_id: DestinationId,
        page: Page,
    ) -> StoreResult<(Vec<DeliveryRecord>, i64)> {
        webhooks::list_deliveries(&Pg(&self.conn().await?), app_id, destination_id, page).await
    }

    async fn get_delivery(
        &self,
        app_id: AppId,
        destination_id: DestinationId,
        delivery_id: DeliveryId,
    ) -> StoreResult<Option<(DeliveryRecord, Vec<AttemptLog>)>> {
        webhooks::get_delivery(
            &Pg(&self.conn().await?),
            app_id,
            destination_id,
            delivery_id,
        )
        .await
    }

    async fn resend_delivery(
        &self,
        app_id: AppId,
        destination_id: DestinationId,
        delivery_id: DeliveryId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DeliveryRecord>> {
        let r = in_tx!(self, tx => webhooks::resend(&Pg(&tx), app_id, destination_id, delivery_id, now).await?);
        if r.is_some() {
            self.wake(true, false);
        }
        Ok(r)
    }

    async fn session_webhook_attempts(
        &self,
        app_id: AppId,
        session_id: SessionId,
        page: Page,
    ) -> StoreResult<(Vec<AttemptLog>, i64)> {
        webhooks::session_attempts(&Pg(&self.conn().await?), app_id, session_id, page).await
    }

    async fn session_webhook_attempt(
        &self,
        app_id: AppId,
        session_id: SessionId,
        attempt_id: uuid::Uuid,
    ) -> StoreResult<Option<AttemptLog>> {
        webhooks::session_attempt(&Pg(&self.conn().await?), app_id, session_id, attempt_id).await
    }

    fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        self.shared.signal.clone()
    }
}

#[async_trait]
impl EmailStore for PgStore {
    async fn claim_email_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<EmailJob>> {
        Ok(in_tx!(self, tx => emails::claim(&Pg(&tx), now, lease_until, limit).await?))
    }

    async fn record_email_results(
        &self,
        results: Vec<EmailResult>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tx!(self, tx => emails::record(&Pg(&tx), &results, now).await?);
        Ok(())
    }

    async fn next_email_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        queue::next_due(&Pg(&self.conn().await?), &queue::EMAIL_JOBS).await
    }

    async fn release_email_leases_at_start(&self) -> StoreResult<usize> {
        Ok(0)
    }

    async fn release_email_jobs(&self, ids: Vec<Uuid>) -> StoreResult<usize> {
        queue::release(&Pg(&self.conn().await?), &queue::EMAIL_JOBS, &ids).await
    }

    fn email_signal(&self) -> Arc<tokio::sync::Notify> {
        self.shared.mail_signal.clone()
    }
}
