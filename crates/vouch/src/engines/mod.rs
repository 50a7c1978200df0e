//! The engine runner: the third queue of the shared job runner (`jobs`). Each job is a step
//! the person submitted (or an automatic step that follows them); its engine's result is
//! recorded on the session through the same core function as `POST …/attempts/`, with the
//! job's id as the attempt's id, so a job run twice (a crash after the result, before the job
//! was marked done) records its result once.

mod http;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use vouch_core::engine::{self, Engine};
use vouch_core::sandbox;
use vouch_core::steps::record_attempt;
use vouch_core::{EngineJobId, Rejection};
use vouch_store::{EngineJob, EngineOutcome, EngineResult, SandboxPlan, Store, StoreResult};

use crate::config::Config;
use crate::jobs::{self, Limits, Queue};
use crate::service::{modify, Failure};

struct Engines {
    store: Arc<dyn Store>,
    http: Option<http::HttpEngine>,
}

/// Waits before each retry of a job whose result could not be had (the outside engine failed)
/// or recorded (the database was unavailable). After the last, an outside engine's step goes to
/// a reviewer with a warning saying why; a job that cannot be recorded is failed.
const RETRY_SCHEDULE: [Duration; 6] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(3600),
];

/// Records the engine's result on the session, once: `given` (an outside engine's), else the
/// built-in engine's. A sandbox result follows the session's plan (an armed outcome, its
/// scenario, a magic `vendor_data`); an armed outcome is used once.
async fn apply(
    store: &dyn Store,
    job: &EngineJob,
    given: Option<vouch_core::steps::NewResult>,
) -> Result<(), Failure> {
    let plan = if job.engine == Engine::Sandbox {
        store.sandbox_plan(job.session_id).await?
    } else {
        SandboxPlan::default()
    };
    let armed = plan.arms.get(&job.node_id).cloned();
    let attempt_id = job.id.uuid();
    let (engine, node_id, feature, input) = (
        job.engine,
        job.node_id.clone(),
        job.feature,
        job.input.clone(),
    );
    let scenario = plan.scenario.clone();
    modify(store, job.app_id, job.session_id, None, move |state| {
        if state.attempts.iter().any(|a| a.id == attempt_id) {
            return Ok((None, ()));
        }
        let scenario =
            sandbox::scenario_for(scenario.as_deref(), state.session.vendor_data.as_deref());
        let result = match given {
            Some(r) => r,
            None => engine::result(engine, &node_id, feature, &input, armed.as_ref(), scenario),
        };
        let change = record_attempt(state, &result, attempt_id, crate::clock::now())?;
        Ok((Some(change), ()))
    })
    .await?;
    if plan.arms.contains_key(&job.node_id) {
        store
            .arm_sandbox(job.session_id, job.node_id.clone(), None)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl Queue for Engines {
    type Job = EngineJob;
    type Outcome = EngineResult;
    type Id = EngineJobId;
    type Lane = ();

    fn name(&self) -> &'static str {
        "engines"
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        _skip_lanes: Vec<()>,
    ) -> StoreResult<Vec<EngineJob>> {
        self.store.claim_engine_jobs(now, lease_until, limit).await
    }

    fn id(&self, job: &EngineJob) -> EngineJobId {
        job.id
    }

    async fn run(&self, job: EngineJob) -> EngineResult {
        let attempts = job.attempts + 1;
        let given = match (job.engine, &self.http) {
            (Engine::Http, None) => Some(engine::unavailable(
                &job.node_id,
                job.feature,
                "no engines.http_url is configured",
            )),
            (Engine::Http, Some(h)) => match h.ask(&job).await {
                Ok(http::Reply::Result(r)) => Some(r),
                Ok(http::Reply::Later) => {
                    return EngineResult {
                        id: job.id,
                        attempts,
                        outcome: EngineOutcome::Done,
                    }
                }
                Err(e) => match RETRY_SCHEDULE.get(job.attempts as usize) {
                    Some(wait) => {
                        tracing::warn!(job = %job.id, error = %e, "the http engine failed; retrying");
                        return EngineResult {
                            id: job.id,
                            attempts,
                            outcome: EngineOutcome::Retry {
                                at: crate::clock::now()
                                    + chrono::Duration::from_std(*wait).unwrap_or_default(),
                                error: e,
                            },
                        };
                    }
                    None => Some(engine::unavailable(&job.node_id, job.feature, &e)),
                },
            },
            _ => None,
        };
        let outcome = match apply(&*self.store, &job, given).await {
            Ok(()) => EngineOutcome::Done,
            // The session is gone (deleted) or no longer takes results for the step: nothing
            // to record, ever.
            Err(Failure::Rejected(r)) => {
                if r != Rejection::NotFound {
                    tracing::warn!(job = %job.id, rejection = ?r, "an engine result was refused");
                }
                EngineOutcome::Done
            }
            Err(Failure::Store(e)) => match RETRY_SCHEDULE.get(job.attempts as usize) {
                Some(wait) => EngineOutcome::Retry {
                    at: crate::clock::now() + chrono::Duration::from_std(*wait).unwrap_or_default(),
                    error: e.to_string(),
                },
                None => EngineOutcome::Failed {
                    error: e.to_string(),
                },
            },
        };
        EngineResult {
            id: job.id,
            attempts,
            outcome,
        }
    }

    async fn record(&self, results: Vec<EngineResult>) -> StoreResult<()> {
        self.store
            .record_engine_results(results, crate::clock::now())
            .await
    }

    async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.store.next_engine_due().await
    }

    async fn release(&self, ids: Vec<EngineJobId>) -> StoreResult<usize> {
        self.store.release_engine_jobs(ids).await
    }

    async fn release_at_start(&self) -> StoreResult<usize> {
        self.store.release_engine_leases_at_start().await
    }

    fn wake(&self) -> Arc<Notify> {
        self.store.engine_signal()
    }
}

pub fn spawn(
    store: Arc<dyn Store>,
    cfg: &Config,
    media: Arc<crate::media::Media>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let limits = Limits {
        batch: 64,
        max_in_flight: 64,
        per_lane: 1,
        lease: Duration::from_secs(60),
        poll: Duration::from_secs(1),
        grace: cfg.workers.shutdown_grace,
    };
    let queue = Engines {
        store,
        http: http::HttpEngine::from_config(cfg, media)?,
    };
    Ok(jobs::spawn(Arc::new(queue), limits, stop))
}
