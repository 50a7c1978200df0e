//! `WebhookStore` for SQLite: writes through the group-committing writer, reads from the pool.

use std::sync::Arc;
use vouch_core::{AppId, DeliveryId, DestinationId, SessionId};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::driver::{ready, Lite};
use super::SqliteStore;
use crate::model::Page;
use crate::queries::{destinations, queue, webhooks};
use crate::webhooks::*;
use crate::StoreResult;

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_destination(&self, d: Destination) -> StoreResult<Destination> {
        self.writer
            .write(move |c| ready(destinations::insert(&Lite(c), &d)).map(|_| d))
            .await
    }

    async fn list_destinations(
        &self,
        app_id: AppId,
        page: Page,
    ) -> StoreResult<(Vec<Destination>, i64)> {
        self.readers
            .read(move |c| ready(destinations::list(&Lite(c), app_id, page)))
            .await
    }

    async fn get_destination(
        &self,
        app_id: AppId,
        id: DestinationId,
    ) -> StoreResult<Option<Destination>> {
        self.readers
            .read(move |c| ready(destinations::find(&Lite(c), app_id, id)))
            .await
    }

    async fn update_destination(
        &self,
        app_id: AppId,
        id: DestinationId,
        update: DestinationUpdate,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Destination>> {
        self.writer
            .write(move |c| ready(destinations::update(&Lite(c), app_id, id, update, now)))
            .await
    }

    async fn delete_destination(
        &self,
        app_id: AppId,
        id: DestinationId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.writer
            .write(move |c| ready(destinations::delete(&Lite(c), app_id, id, now)))
            .await
    }

    async fn fan_out(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<usize> {
        self.writer
            .write(move |c| ready(webhooks::fan_out(&Lite(c), now, limit)))
            .await
    }

    async fn claim_deliveries(&self, q: ClaimQuery) -> StoreResult<Vec<ClaimedDelivery>> {
        self.writer
            .write(move |c| ready(webhooks::claim(&Lite(c), &q)))
            .await
    }

    async fn record_attempts(
        &self,
        results: Vec<AttemptResult>,
        disable_after: chrono::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.writer
            .write(move |c| ready(webhooks::record(&Lite(c), &results, disable_after, now)))
            .await
    }

    async fn release_leases_at_start(&self) -> StoreResult<usize> {
        self.writer
            .write(|c| ready(queue::release_all(&Lite(c), &queue::WEBHOOK_DELIVERIES)))
            .await
    }

    async fn release_deliveries(&self, ids: Vec<DeliveryId>) -> StoreResult<usize> {
        self.writer
            .write(move |c| ready(queue::release(&Lite(c), &queue::WEBHOOK_DELIVERIES, &ids)))
            .await
    }

    async fn next_delivery_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.readers
            .read(|c| ready(queue::next_due(&Lite(c), &queue::WEBHOOK_DELIVERIES)))
            .await
    }

    async fn list_deliveries(
        &self,
        app_id: AppId,
        destination_id: DestinationId,
        page: Page,
    ) -> StoreResult<(Vec<DeliveryRecord>, i64)> {
        self.readers
            .read(move |c| {
                ready(webhooks::list_deliveries(
                    &Lite(c),
                    app_id,
                    destination_id,
                    page,
                ))
            })
            .await
    }

    async fn get_delivery(
        &self,
        app_id: AppId,
        destination_id: DestinationId,
        delivery_id: DeliveryId,
    ) -> StoreResult<Option<(DeliveryRecord, Vec<AttemptLog>)>> {
        self.readers
            .read(move |c| {
                ready(webhooks::get_delivery(
                    &Lite(c),
                    app_id,
                    destination_id,
                    delivery_id,
                ))
            })
            .await
    }

    async fn resend_delivery(
        &self,
        app_id: AppId,
        destination_id: DestinationId,
        delivery_id: DeliveryId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DeliveryRecord>> {
        let r = self
            .writer
            .write(move |c| {
                ready(webhooks::resend(
                    &Lite(c),
                    app_id,
                    destination_id,
                    delivery_id,
                    now,
                ))
            })
            .await?;
        if r.is_some() {
            self.signal.notify_one();
        }
        Ok(r)
    }

    async fn session_webhook_attempts(
        &self,
        app_id: AppId,
        session_id: SessionId,
        page: Page,
    ) -> StoreResult<(Vec<AttemptLog>, i64)> {
        self.readers
            .read(move |c| {
                ready(webhooks::session_attempts(
                    &Lite(c),
                    app_id,
                    session_id,
                    page,
                ))
            })
            .await
    }

    async fn session_webhook_attempt(
        &self,
        app_id: AppId,
        session_id: SessionId,
        attempt_id: uuid::Uuid,
    ) -> StoreResult<Option<AttemptLog>> {
        self.readers
            .read(move |c| {
                ready(webhooks::session_attempt(
                    &Lite(c),
                    app_id,
                    session_id,
                    attempt_id,
                ))
            })
            .await
    }

    fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        self.signal.clone()
    }
}
