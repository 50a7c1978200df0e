#![allow(unused_imports)]
use crate::changes::*;
use crate::fixtures::*;
use crate::idempotency::*;
use crate::sessions::*;
use vouch_core::AppId;
use vouch_core::{KeyId, WorkflowId};

// --- 1. applications ---------------------------------------------------------------------------

pub(crate) async fn apps_are_created_listed_found_and_unique_by_name(db: Db) {
    let s = &db.store;
    let alpha = make_app(s, "alpha", t(0)).await;
    let beta = s
        .create_app(App {
            id: AppId::random(),
            name: "beta".into(),
            mode: Environment::Sandbox,
            created_at: t(1),
        })
        .await
        .unwrap();

    assert_eq!(
        s.list_apps().await.unwrap(),
        vec![alpha.clone(), beta.clone()]
    );
    assert_eq!(s.find_app("alpha").await.unwrap(), Some(alpha.clone()));
    assert_eq!(s.find_app("beta").await.unwrap(), Some(beta.clone()));
    assert_eq!(
        s.find_app(&alpha.id.to_string()).await.unwrap(),
        Some(alpha.clone())
    );
    assert_eq!(
        s.find_app(&beta.id.to_string()).await.unwrap(),
        Some(beta.clone())
    );
    assert_eq!(s.find_app("gamma").await.unwrap(), None);
    assert_eq!(s.find_app(&Uuid::new_v4().to_string()).await.unwrap(), None);

    // An id match wins over an application that happens to be named like that id.
    let squatter = make_app(s, &beta.id.to_string(), t(2)).await;
    assert_eq!(
        s.find_app(&beta.id.to_string()).await.unwrap(),
        Some(beta.clone())
    );
    assert_eq!(
        s.find_app(&squatter.id.to_string()).await.unwrap(),
        Some(squatter.clone())
    );

    let dup = s
        .create_app(App {
            id: AppId::random(),
            name: "alpha".into(),
            mode: Environment::Sandbox,
            created_at: t(3),
        })
        .await;
    assert!(
        matches!(dup, Err(StoreError::Duplicate(_))),
        "expected Duplicate, got {dup:?}"
    );
    assert_eq!(s.list_apps().await.unwrap(), vec![alpha, beta, squatter]);
}

// --- 2. API keys -------------------------------------------------------------------------------

pub(crate) fn key(app_id: AppId, hash: [u8; 32], created: DateTime<Utc>) -> ApiKey {
    ApiKey {
        id: KeyId::random(),
        app_id,
        name: Some("ci".into()),
        key_hash: hash,
        prefix: "vch_live_".into(),
        last4: "abcd".into(),
        scopes: Scopes {
            sessions: Access::Write,
            decisions: Access::Read,
            webhooks: Access::None,
            workflows: Access::Write,
            media: Access::Read,
        },
        expires_at: Some(t(86_400)),
        revoked_at: None,
        created_at: created,
        rate_limit: None,
    }
}

pub(crate) async fn keys_are_found_by_hash_prefix_and_revoked(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;

    let mut h1 = [0u8; 32];
    for (i, b) in h1.iter_mut().enumerate() {
        *b = i as u8 + 1;
    }
    // Shares the first 7 bytes with h1 but not the 8th.
    let mut h2 = h1;
    h2[7] = 0x99;
    // Shares the first 8 bytes with h1 but differs later: must be found by the same prefix.
    let mut h3 = h1;
    h3[31] = 0x00;
    let h4 = [0xffu8; 32];

    let k1 = s.create_key(key(app.id, h1, t(1))).await.unwrap();
    let k2 = s.create_key(key(app.id, h2, t(2))).await.unwrap();
    let k3 = s.create_key(key(other.id, h3, t(3))).await.unwrap();
    let k4 = s
        .create_key(ApiKey {
            rate_limit: Some(5_000),
            ..key(other.id, h4, t(4))
        })
        .await
        .unwrap();

    assert_eq!(
        s.list_keys(app.id).await.unwrap(),
        vec![k1.clone(), k2.clone()]
    );
    assert_eq!(
        s.list_keys(other.id).await.unwrap(),
        vec![k3.clone(), k4.clone()]
    );

    let prefix = |h: &[u8; 32]| -> [u8; 8] { h[..8].try_into().unwrap() };

    let mut found = s.keys_by_hash_prefix(prefix(&h1)).await.unwrap();
    found.sort_by_key(|(k, _)| k.created_at);
    assert_eq!(
        found,
        vec![(k1.clone(), app.clone()), (k3.clone(), other.clone())]
    );
    assert_eq!(
        s.keys_by_hash_prefix(prefix(&h2)).await.unwrap(),
        vec![(k2.clone(), app.clone())]
    );
    assert_eq!(
        s.keys_by_hash_prefix(prefix(&h4)).await.unwrap(),
        vec![(k4.clone(), other.clone())]
    );
    assert!(s.keys_by_hash_prefix([0x42; 8]).await.unwrap().is_empty());

    assert!(s.revoke_key(k1.id, t(10)).await.unwrap());
    // Revoking again keeps the first revocation time.
    assert!(s.revoke_key(k1.id, t(20)).await.unwrap());
    assert!(!s.revoke_key(KeyId::random(), t(10)).await.unwrap());

    let keys = s.list_keys(app.id).await.unwrap();
    assert_eq!(keys[0].id, k1.id);
    assert_eq!(keys[0].revoked_at, Some(t(10)));
    assert_eq!(keys[1].revoked_at, None, "only the named key is revoked");
    let found = s.keys_by_hash_prefix(prefix(&h2)).await.unwrap();
    assert_eq!(found[0].0.revoked_at, None);
    let found = s.keys_by_hash_prefix(prefix(&h1)).await.unwrap();
    let k1_found = found.iter().find(|(k, _)| k.id == k1.id).unwrap();
    assert_eq!(k1_found.0.revoked_at, Some(t(10)));

    // A key's own rate limit: kept, changed, put back to the default.
    assert_eq!(
        s.keys_by_hash_prefix(prefix(&h4)).await.unwrap()[0]
            .0
            .rate_limit,
        Some(5_000)
    );
    assert!(s.set_key_rate_limit(k2.id, Some(42)).await.unwrap());
    assert_eq!(s.list_keys(app.id).await.unwrap()[1].rate_limit, Some(42));
    assert!(s.set_key_rate_limit(k2.id, None).await.unwrap());
    assert_eq!(s.list_keys(app.id).await.unwrap()[1].rate_limit, None);
    assert!(!s
        .set_key_rate_limit(KeyId::random(), Some(1))
        .await
        .unwrap());
}

// --- 3. workflows ------------------------------------------------------------------------------

pub(crate) async fn workflow_versions_and_the_default(db: Db) {
    let s = &db.store;
    let app = make_app(s, "alpha", t(0)).await;
    let other = make_app(s, "beta", t(0)).await;

    let a1 = make_workflow(s, app.id, &["OCR", "LIVENESS"], true, t(1)).await;
    assert_eq!(
        s.get_workflow(app.id, a1.id).await.unwrap(),
        Some(a1.clone())
    );
    assert_eq!(
        s.get_workflow(other.id, a1.id).await.unwrap(),
        None,
        "a workflow is scoped to its application"
    );
    assert_eq!(
        s.get_workflow_version(a1.id, 1).await.unwrap(),
        Some(a1.clone())
    );
    assert_eq!(s.get_workflow_version(a1.id, 2).await.unwrap(), None);

    // A new feature list writes version 2; version 1 stays readable.
    let v2_spec = spec(&["OCR", "FACE_MATCH", "AML"]);
    let a2 = s
        .update_workflow(WorkflowUpdate {
            settings: Default::default(),
            app_id: app.id,
            id: a1.id,
            label: Some("wf v2".into()),
            status: None,
            is_default: None,
            spec: Some(v2_spec.clone()),
            now: t(5),
        })
        .await
        .unwrap();
    assert_eq!(a2.version, 2);
    assert_eq!(a2.spec, v2_spec);
    assert_eq!(a2.label, "wf v2");
    assert_eq!(a2.created_at, t(5));
    assert_eq!(
        s.get_workflow(app.id, a1.id).await.unwrap(),
        Some(a2.clone())
    );
    assert_eq!(
        s.get_workflow_version(a1.id, 1).await.unwrap(),
        Some(a1.clone())
    );
    assert_eq!(
        s.get_workflow_version(a1.id, 2).await.unwrap(),
        Some(a2.clone())
    );
    let (listed, n) = s.list_workflows(app.id, all_page()).await.unwrap();
    assert_eq!(n, 1, "versions of one workflow count once");
    assert_eq!(listed, vec![a2.clone()]);

    // An update without a spec changes the current version in place.
    let a2b = s
        .update_workflow(WorkflowUpdate {
            settings: Default::default(),
            app_id: app.id,
            id: a1.id,
            label: Some("renamed".into()),
            status: None,
            is_default: None,
            spec: None,
            now: t(6),
        })
        .await
        .unwrap();
    assert_eq!(a2b.version, 2);
    assert_eq!(
        s.get_workflow(app.id, a1.id).await.unwrap().unwrap().label,
        "renamed"
    );
    assert_eq!(
        s.get_workflow_version(a1.id, 1)
            .await
            .unwrap()
            .unwrap()
            .label,
        "wf",
        "older versions are not touched"
    );

    // A newer default workflow takes the default away from the older one.
    let b = make_workflow(s, app.id, &["OCR"], true, t(10)).await;
    assert!(
        !s.get_workflow(app.id, a1.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(
        s.get_workflow(app.id, b.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );

    // A non-default workflow leaves it where it is.
    let c = make_workflow(s, app.id, &["LIVENESS"], false, t(20)).await;
    assert!(
        s.get_workflow(app.id, b.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(
        !s.get_workflow(app.id, c.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );

    // Sessions without a workflow use the default.
    let s1 = create(s, new_session(app.id, None, None, t(30))).await;
    assert_eq!((s1.workflow_id, s1.workflow_version), (b.id, 1));

    // Another application's default does not move this one's.
    let foreign = make_workflow(s, other.id, &["OCR"], true, t(31)).await;
    assert!(
        s.get_workflow(app.id, b.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(
        s.get_workflow(other.id, foreign.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );

    // Making A the default (in place) clears B.
    let a_default = s
        .update_workflow(WorkflowUpdate {
            settings: Default::default(),
            app_id: app.id,
            id: a1.id,
            label: None,
            status: None,
            is_default: Some(true),
            spec: None,
            now: t(40),
        })
        .await
        .unwrap();
    assert!(a_default.is_default);
    assert!(
        s.get_workflow(app.id, a1.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(
        !s.get_workflow(app.id, b.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(
        !s.get_workflow(app.id, c.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    let s2 = create(s, new_session(app.id, None, None, t(41))).await;
    assert_eq!((s2.workflow_id, s2.workflow_version), (a1.id, 2));

    let (all, n) = s.list_workflows(app.id, all_page()).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        all.iter()
            .filter(|w| w.is_default)
            .map(|w| w.id)
            .collect::<Vec<_>>(),
        vec![a1.id],
        "exactly one default"
    );

    let missing = s
        .update_workflow(WorkflowUpdate {
            settings: Default::default(),
            app_id: app.id,
            id: WorkflowId::random(),
            label: Some("x".into()),
            status: None,
            is_default: None,
            spec: None,
            now: t(50),
        })
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}
