//! What the person's page captured, through the Store trait only: file records and their
//! session key written with the change that brings them, engine jobs claimed with leases and
//! recorded, the same job refused twice, and all of it gone (or dropped) with the erasure.

use vouch_core::engine::{Engine, NewEngineJob, NewMedia, Slot};
use vouch_core::media::MediaType;
use vouch_core::{EngineJobId, Feature, MediaId};
use vouch_store::{EngineOutcome, EngineResult, StoreError};

use crate::fixtures::*;

fn file(id: u128, node: &str, slot: Slot) -> NewMedia {
    NewMedia {
        id: MediaId::from_u128(id),
        node_id: node.into(),
        slot,
        media_type: MediaType::Jpeg,
        bytes: 3_000_000,
        width: 4000,
        height: 3000,
        sha256: "ab".repeat(32),
    }
}

fn job(id: u128, node: &str) -> NewEngineJob {
    NewEngineJob {
        id: EngineJobId::from_u128(id),
        node_id: node.into(),
        feature: Feature::Ocr,
        engine: Engine::Sandbox,
        input: json!({"media": {"front": MediaId::from_u128(1)}}),
    }
}

pub(crate) async fn captured_files_and_engine_jobs_are_written_claimed_and_erased(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let wf = make_workflow(s, app.id, &["OCR"], true, t(1)).await;
    let sess = create(s, new_session(app.id, Some(wf.id), Some("v"), t(10))).await;

    // One key per session: the first stored wins, a later fresh one is ignored.
    let k1 = s
        .media_key(sess.id, "wrapped-1".into(), t(11))
        .await
        .unwrap();
    let k2 = s
        .media_key(sess.id, "wrapped-2".into(), t(12))
        .await
        .unwrap();
    assert_eq!((k1.as_str(), k2.as_str()), ("wrapped-1", "wrapped-1"));

    apply(
        s,
        SessionChange {
            media: vec![file(1, "ocr", Slot::Front), file(2, "ocr", Slot::Back)],
            engine_jobs: vec![job(7, "ocr")],
            ..change(&sess, sess.version, t(20))
        },
        None,
    )
    .await
    .unwrap();
    let files = s.session_media(sess.id).await.unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!((files[0].slot, files[0].width), (Slot::Front, 4000));
    let (one, wrapped) = s.media(MediaId::from_u128(1)).await.unwrap().unwrap();
    assert_eq!((one.session_id, wrapped.as_str()), (sess.id, "wrapped-1"));
    assert_eq!(
        s.checking_steps(sess.id).await.unwrap(),
        vec!["ocr".to_string()]
    );
    assert_eq!(s.next_engine_due().await.unwrap(), Some(t(20)));

    // The same job again (a form sent twice): refused, nothing written.
    let current = session(s, &sess).await;
    let again = apply(
        s,
        SessionChange {
            media: vec![file(3, "ocr", Slot::Front)],
            engine_jobs: vec![job(7, "ocr")],
            ..change(&current, current.version, t(21))
        },
        None,
    )
    .await;
    assert!(
        matches!(again, Err(StoreError::VersionConflict)),
        "{again:?}"
    );
    assert_eq!(s.session_media(sess.id).await.unwrap().len(), 2);

    // Claimed once while leased; released, claimed again; a retry comes back at its time.
    let claimed = s.claim_engine_jobs(t(30), t(90), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].engine, claimed[0].feature),
        (Engine::Sandbox, Feature::Ocr)
    );
    assert_eq!(
        claimed[0].input["media"]["front"],
        json!(MediaId::from_u128(1))
    );
    assert!(s
        .claim_engine_jobs(t(31), t(90), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.release_engine_jobs(vec![claimed[0].id]).await.unwrap(), 1);
    let claimed = s.claim_engine_jobs(t(32), t(90), 10).await.unwrap();
    s.record_engine_results(
        vec![EngineResult {
            id: claimed[0].id,
            attempts: 1,
            outcome: EngineOutcome::Retry {
                at: t(100),
                error: "database unavailable".into(),
            },
        }],
        t(33),
    )
    .await
    .unwrap();
    assert!(s
        .claim_engine_jobs(t(99), t(150), 10)
        .await
        .unwrap()
        .is_empty());
    let claimed = s.claim_engine_jobs(t(100), t(150), 10).await.unwrap();
    assert_eq!(claimed[0].attempts, 1);
    s.record_engine_results(
        vec![EngineResult {
            id: claimed[0].id,
            attempts: 2,
            outcome: EngineOutcome::Done,
        }],
        t(101),
    )
    .await
    .unwrap();
    assert!(s.checking_steps(sess.id).await.unwrap().is_empty());
    assert_eq!(s.next_engine_due().await.unwrap(), None);

    // A pending job and the files go with the erasure; the key first of all.
    let current = session(s, &sess).await;
    apply(
        s,
        SessionChange {
            engine_jobs: vec![job(8, "ocr")],
            ..change(&current, current.version, t(110))
        },
        None,
    )
    .await
    .unwrap();
    assert!(s.delete_session(app.id, sess.id, t(120)).await.unwrap());
    assert!(s.media(MediaId::from_u128(1)).await.unwrap().is_none());
    assert!(s.session_media(sess.id).await.unwrap().is_empty());
    assert!(s.checking_steps(sess.id).await.unwrap().is_empty());
    assert!(s
        .claim_engine_jobs(t(130), t(190), 10)
        .await
        .unwrap()
        .is_empty());
    let raw = raw(&db);
    assert_eq!(
        raw.count(
            "SELECT COUNT(*) FROM media_keys WHERE session_id = ?1",
            &sess.id.to_string()
        ),
        0
    );
}
