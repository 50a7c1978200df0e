//! The store conformance suite: every test runs on both backends — a real SQLite file in a
//! temporary directory, and a fresh schema of a real PostgreSQL — through `Arc<dyn Store>` only
//! (plus a direct connection where the test must look at, or tamper with, the stored rows).
//! PostgreSQL comes from `VOUCH_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); without one, those tests skip with a message,
//! except under `CI=true`, where they fail.

mod catalog;
mod changes;
mod decisions;
mod erasure;
mod fixtures;
mod idempotency;
mod imports;
mod lists;
mod media;
mod queues;
mod sessions;

conformance!(
    catalog::apps_are_created_listed_found_and_unique_by_name,
    catalog::keys_are_found_by_hash_prefix_and_revoked,
    catalog::workflow_versions_and_the_default,
    changes::stale_changes_write_nothing_and_current_ones_write_everything,
    changes::resubmit_info_is_stored_announced_and_cleared,
    changes::resubmission_boundary_survives_storage,
    changes::concurrent_changes_are_isolated_within_a_group,
    changes::a_refused_change_falls_alone_in_its_group,
    changes::a_change_is_planned_on_the_primary_key_without_statistics,
    decisions::core_decisions_are_written_whole,
    decisions::core_rejections_write_nothing,
    decisions::concurrent_decisions_each_see_the_previous_one,
    decisions::lifecycle_moves_are_decided_again_in_the_transaction,
    erasure::deleting_a_session_erases_personal_data_and_keeps_the_chain,
    erasure::review_rows_are_append_only_and_tampering_is_detected,
    idempotency::idempotent_creates_replay_and_conflict,
    idempotency::concurrent_idempotent_creates_write_once,
    idempotency::idempotent_changes_apply_once,
    imports::import_runs_keep_their_position_and_a_rerun_skips,
    imports::failed_runs_are_retried_then_fail_for_good,
    lists::list_sessions_filters_and_pages,
    lists::list_counts_from_tallies_match_the_sessions,
    media::captured_files_and_engine_jobs_are_written_claimed_and_erased,
    queues::deliveries_are_fanned_out_claimed_with_leases_and_recorded,
    queues::email_jobs_are_claimed_with_leases_and_recorded,
    sessions::session_numbers_are_per_application,
    sessions::unfinished_sessions_are_reused_by_vendor_data,
    sessions::business_sessions_are_stored_with_their_kind,
    sessions::sessions_need_a_published_workflow_of_their_application,
    sessions::a_link_names_its_session_even_once_deleted,
    sessions::one_time_codes_are_counted_replaced_and_erased,
);
