//! Who may do what, generated from the route table: every operation of `/openapi.json` that
//! takes a key, with the privilege its `security` names, tried with no key, a bad key, a
//! revoked and an expired one, each privilege level, the privilege on every other resource
//! but not its own, and another application's key on this application's ids.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};
use vouch_core::scopes::{Access, Resource, Scopes};

use crate::common::{new_app, new_key, status_json, TestServer};

/// One operation of the document: its method, its path template and the privileges it needs
/// (all of them).
struct Operation {
    method: Method,
    template: String,
    needs: Vec<(Resource, Access)>,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (template, methods) in doc["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let Some(security) = op["security"].as_array() else {
                continue;
            };
            // Operations a key is optional for (the person's page calls them with a token).
            if security
                .iter()
                .any(|s| s.as_object().is_some_and(|o| o.is_empty()))
            {
                continue;
            }
            let scopes = security[0]["api_key"].as_array().expect("api_key scheme");
            assert!(
                !scopes.is_empty(),
                "{method} {template} names no privilege: {security:?}"
            );
            let needs = scopes
                .iter()
                .map(|s| {
                    let (resource, access) = s.as_str().unwrap().split_once(':').unwrap();
                    let resource = match resource {
                        "sessions" => Resource::Sessions,
                        "decisions" => Resource::Decisions,
                        "webhooks" => Resource::Webhooks,
                        "workflows" => Resource::Workflows,
                        other => panic!("{template}: unknown resource {other}"),
                    };
                    (resource, Access::parse(access).unwrap())
                })
                .collect();
            ops.push(Operation {
                method: method.to_uppercase().parse().unwrap(),
                template: template.clone(),
                needs,
            });
        }
    }
    ops
}

/// The ids this application owns, to fill the templates with.
struct Ids {
    session: String,
    node: String,
    workflow: String,
    destination: String,
    delivery: String,
    webhook_attempt: String,
    import: String,
    batch: String,
}

impl Ids {
    fn path(&self, template: &str) -> String {
        let id = if template.starts_with("/v3/workflows/") {
            &self.workflow
        } else if template.starts_with("/v3/webhook/destinations/") {
            &self.destination
        } else if template.starts_with("/v3/session/imports/") {
            &self.import
        } else if template.starts_with("/v3/sessions/delete/") {
            &self.batch
        } else {
            &self.session
        };
        template
            .replace("{id}", id)
            .replace("{node_id}", &self.node)
            .replace("{delivery}", &self.delivery)
            .replace("{uuid}", &self.webhook_attempt)
    }
}

async fn fixtures(t: &TestServer) -> Ids {
    let (session, _) = t.session(&["OCR"]).await;
    let (_, wf) = t
        .post(
            "/v3/workflows/",
            json!({"workflow_label": "matrix", "features": [{"feature": "OCR"}]}),
        )
        .await;
    let (s, dest) = t
        .post(
            "/v3/webhook/destinations/",
            json!({"label": "shop", "url": "https://receiver.example/hooks"}),
        )
        .await;
    assert_eq!(s, 201, "{dest}");
    let destination = dest["uuid"].as_str().unwrap().to_string();
    // A change, so that the destination has a delivery.
    let (s, b) = t.attempt(&session, "feature_ocr_1", "Approved").await;
    assert!(s < 300, "{b}");
    let mut delivery = uuid::Uuid::new_v4().to_string();
    for _ in 0..100 {
        let (_, list) = t
            .get(&format!(
                "/v3/webhook/destinations/{destination}/deliveries/"
            ))
            .await;
        if let Some(d) = list["results"][0]["uuid"].as_str() {
            delivery = d.to_string();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, log) = t.get(&format!("/v3/session/{session}/webhooks/")).await;
    let webhook_attempt = log[0]["uuid"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let (s, import) = t
        .post(
            "/v3/session/imports/",
            json!({"source_file_url": "https://files.example/history.csv", "workflow_id": wf["uuid"]}),
        )
        .await;
    assert_eq!(s, 201, "{import}");
    let (s, batch) = t
        .post("/v3/sessions/delete/", json!({"session_numbers": [987654]}))
        .await;
    assert!(s < 300, "{batch}");
    let batch = batch["uuid"]
        .as_str()
        .or(batch["id"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    Ids {
        session,
        node: "feature_ocr_1".into(),
        workflow: wf["uuid"].as_str().unwrap().to_string(),
        destination,
        delivery,
        webhook_attempt,
        import: import["id"]
            .as_str()
            .or(import["uuid"].as_str())
            .unwrap()
            .to_string(),
        batch,
    }
}

/// Exactly these privileges.
fn only(needs: &[(Resource, Access)]) -> Scopes {
    let mut s = Scopes::all(Access::None);
    for (r, a) in needs {
        grant(&mut s, *r, *a);
    }
    s
}

fn grant(s: &mut Scopes, resource: Resource, access: Access) {
    match resource {
        Resource::Sessions => s.sessions = access,
        Resource::Decisions => s.decisions = access,
        Resource::Webhooks => s.webhooks = access,
        Resource::Workflows => s.workflows = access,
        Resource::Media => s.media = access,
    }
}

fn all_but(resource: Resource) -> Scopes {
    let mut s = Scopes::all(Access::Write);
    s.media = Access::Read;
    match resource {
        Resource::Sessions => s.sessions = Access::None,
        Resource::Decisions => s.decisions = Access::None,
        Resource::Webhooks => s.webhooks = Access::None,
        Resource::Workflows => s.workflows = Access::None,
        Resource::Media => s.media = Access::None,
    }
    s
}

const AUTH_CODES: [&str; 3] = ["not_authenticated", "invalid_api_key", "permission_denied"];

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_the_contract_says() {
    let t = TestServer::start().await;
    let ids = fixtures(&t).await;
    let (_, doc) = t.get("/openapi.json").await;
    let ops = operations(&doc);
    assert!(ops.len() >= 40, "only {} keyed operations found", ops.len());

    let revoked = t.key_with(Scopes::all(Access::Write)).await;
    let revoked_id = t
        .store
        .list_keys(t.app.id)
        .await
        .unwrap()
        .last()
        .unwrap()
        .id;
    t.store.revoke_key(revoked_id, Utc::now()).await.unwrap();
    let expired = new_key(
        t.store.as_ref(),
        &t.app,
        Scopes::all(Access::Write),
        Some(Utc::now() - Duration::seconds(1)),
    )
    .await;
    let nothing = t.key_with(Scopes::all(Access::None)).await;
    let other_app = new_app(t.store.as_ref(), "someone-else").await;
    let other = new_key(
        t.store.as_ref(),
        &other_app,
        Scopes::all(Access::Write),
        None,
    )
    .await;
    // Keys by their scopes, made once each.
    let mut keys: std::collections::HashMap<String, String> = Default::default();
    let mut key_for = async |s: Scopes| -> String {
        let name = format!("{s:?}");
        if let Some(k) = keys.get(&name) {
            return k.clone();
        }
        let k = t.key_with(s).await;
        keys.insert(name, k.clone());
        k
    };

    let body = |m: &Method| (*m != Method::GET && *m != Method::DELETE).then(|| json!({}));
    let send = |m: Method, path: String, key: Option<String>| {
        let b = body(&m);
        let t = &t;
        async move {
            let (s, b) = status_json(t.request(m, &path, key.as_deref(), b).await).await;
            (s, b)
        }
    };
    let mut checked = 0;
    // Refusals first: none of them may change anything.
    for op in &ops {
        let path = ids.path(&op.template);
        let what = format!("{} {}", op.method, op.template);
        let (s, b) = send(op.method.clone(), path.clone(), None).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (403, Some("not_authenticated")),
            "{what}, no key: {b}"
        );
        for (name, key) in [
            ("a bad key", "vk_live_not-a-key".to_string()),
            ("a revoked key", revoked.clone()),
            ("an expired key", expired.clone()),
        ] {
            let (s, b) = send(op.method.clone(), path.clone(), Some(key)).await;
            assert_eq!(
                (s, b["code"].as_str()),
                (401, Some("invalid_api_key")),
                "{what}, {name}: {b}"
            );
        }
        let denied = |s: u16, b: &Value, who: &str| {
            assert_eq!(
                (s, b["code"].as_str()),
                (403, Some("permission_denied")),
                "{what}, {who}: {b}"
            );
        };
        let (s, b) = send(op.method.clone(), path.clone(), Some(nothing.clone())).await;
        denied(s, &b, "a key with no privilege");
        for (r, a) in &op.needs {
            let (s, b) = send(
                op.method.clone(),
                path.clone(),
                Some(key_for(all_but(*r)).await),
            )
            .await;
            denied(s, &b, &format!("every privilege but {r:?}"));
            if *a == Access::Write {
                let mut read_only = only(&op.needs);
                grant(&mut read_only, *r, Access::Read);
                let (s, b) = send(
                    op.method.clone(),
                    path.clone(),
                    Some(key_for(read_only).await),
                )
                .await;
                denied(s, &b, &format!("read where write on {r:?} is needed"));
            }
        }
        if op.template.contains('{') {
            // Another application's key on this application's ids: answered exactly as ids
            // that exist nowhere, `404` where there is no body to refuse first.
            let (s, b) = send(op.method.clone(), path.clone(), Some(other.clone())).await;
            let unknown = Ids {
                session: uuid::Uuid::new_v4().to_string(),
                workflow: uuid::Uuid::new_v4().to_string(),
                destination: uuid::Uuid::new_v4().to_string(),
                delivery: uuid::Uuid::new_v4().to_string(),
                webhook_attempt: uuid::Uuid::new_v4().to_string(),
                import: uuid::Uuid::new_v4().to_string(),
                batch: uuid::Uuid::new_v4().to_string(),
                node: ids.node.clone(),
            };
            let (us, ub) = send(
                op.method.clone(),
                unknown.path(&op.template),
                Some(other.clone()),
            )
            .await;
            assert_eq!(
                (s, &b),
                (us, &ub),
                "{what}: another application's ids answered unlike unknown ones"
            );
            if body(&op.method).is_none() {
                assert_eq!(
                    (s, b["code"].as_str()),
                    (404, Some("not_found")),
                    "{what}, another application's key on this application's ids: {b}"
                );
            }
        }
        checked += 1;
    }
    // Then the privilege itself lets the request through (whatever it then answers).
    for op in &ops {
        let path = ids.path(&op.template);
        let exactly = only(&op.needs);
        let upgraded = only(
            &op.needs
                .iter()
                .map(|(r, _)| (*r, Access::Write))
                .collect::<Vec<_>>(),
        );
        for scopes in [exactly, upgraded] {
            let key = key_for(scopes).await;
            let (s, b) = send(op.method.clone(), path.clone(), Some(key)).await;
            let code = b["code"].as_str().unwrap_or("");
            assert!(
                !AUTH_CODES.contains(&code) && s != 401,
                "{} {} with {scopes:?}: {s} {b}",
                op.method,
                op.template,
            );
        }
    }
    eprintln!("{checked} keyed operations checked against 9 kinds of caller");
}
