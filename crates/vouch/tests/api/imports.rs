//! Bulk imports (`POST /v3/session/imports/`): an uploaded CSV or a fetched NDJSON file becomes
//! decided sessions with their step results and a SYSTEM trail row; a re-run skips what it
//! imported; bad rows are listed with their field; a malformed file is refused naming its
//! first bad line, with nothing imported.

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use vouch_core::scopes::{Access, Scopes};

use crate::common::{file_server, new_app, new_key, status_json, TestServer};

async fn upload(
    t: &TestServer,
    key: &str,
    name: &str,
    file: &str,
    fields: &[(&str, &str)],
    idem: Option<&str>,
) -> (u16, Value) {
    let mut form = Form::new().part(
        "file",
        Part::text(file.to_string()).file_name(name.to_string()),
    );
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let mut req = t
        .client
        .post(format!("{}/v3/session/imports/", t.base))
        .header("x-api-key", key)
        .multipart(form);
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k);
    }
    status_json(req.send().await.unwrap()).await
}

/// The job once it is COMPLETED or FAILED.
async fn finished(t: &TestServer, id: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        let (s, j) = t.get(&format!("/v3/session/imports/{id}/")).await;
        assert_eq!(s, 200, "{j}");
        if j["status"] == "COMPLETED" || j["status"] == "FAILED" {
            return j;
        }
        last = j;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("import {id} did not finish: {last}");
}

async fn sessions_of(t: &TestServer, vendor_data: &str) -> Vec<Value> {
    let (s, page) = t
        .get(&format!("/v3/sessions/?vendor_data={vendor_data}"))
        .await;
    assert_eq!(s, 200, "{page}");
    page["results"].as_array().unwrap().clone()
}

const CSV: &str = "external_id,vendor_data,status,first_name,last_name,date_of_birth,nationality,aml_status,comment
A-1,cust-1,Approved,Ana,García,1990-05-17,esp,,checked by the old vendor
A-2,cust-2,Rejected,Jon,Smith,1985-01-02,GBR,Declined,
A-3,cust-3,Maybe,Eve,,17/05/1990,ESP,,
";

#[tokio::test]
async fn an_uploaded_csv_becomes_decided_sessions_and_a_rerun_skips_them() {
    let t = TestServer::start().await;
    let wf = t.workflow(&["OCR", "AML"]).await;
    let wf_id = wf["uuid"].as_str().unwrap();
    let (s, job) = upload(
        &t,
        &t.key,
        "customers.csv",
        CSV,
        &[("workflow_id", wf_id)],
        None,
    )
    .await;
    assert_eq!(s, 201, "{job}");
    assert_eq!(job["import_type"], "user_verification");
    assert_eq!(job["source_format"], "csv");
    assert_eq!(job["source_filename"], "customers.csv");
    assert_eq!(job["total_rows"], 3);
    let job = finished(&t, job["uuid"].as_str().unwrap()).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(
        (
            &job["processed_rows"],
            &job["created_count"],
            &job["skipped_count"],
            &job["failed_count"]
        ),
        (&json!(3), &json!(2), &json!(0), &json!(1)),
        "{job}"
    );
    assert!(
        job["completed_at"].is_string() && job["started_at"].is_string(),
        "{job}"
    );

    // The bad row, field by field, with its line and what it held.
    let (s, errors) = t
        .get(&format!(
            "/v3/session/imports/{}/errors/",
            job["uuid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, 200, "{errors}");
    assert_eq!(errors["count"], 2, "{errors}");
    let fields: Vec<&str> = errors["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["date_of_birth", "status"]);
    let e = &errors["results"][1];
    assert_eq!(
        (&e["row_number"], &e["line"]),
        (&json!(3), &json!(4)),
        "{e}"
    );
    assert_eq!(e["external_id"], "A-3");
    assert_eq!(e["raw_row"]["status"], "Maybe");
    assert!(
        e["error"].as_str().unwrap().contains("not a valid choice"),
        "{e}"
    );

    // An imported session: decided, its steps' results, one SYSTEM row on a verified trail.
    let found = sessions_of(&t, "cust-2").await;
    assert_eq!(found.len(), 1, "{found:?}");
    let sid = found[0]["session_id"].as_str().unwrap();
    let (s, d) = t.get(&format!("/v3/session/{sid}/decision/")).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["status"], "Declined", "{d}");
    assert_eq!(d["id_verifications"][0]["status"], "Declined", "{d}");
    assert_eq!(d["id_verifications"][0]["first_name"], "Jon", "{d}");
    assert_eq!(d["id_verifications"][0]["nationality"], "GBR", "{d}");
    assert_eq!(d["aml_screenings"][0]["status"], "Declined", "{d}");
    let reviews = d["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 1, "{d}");
    assert_eq!(reviews[0]["actor_type"], "SYSTEM", "{d}");
    assert_eq!(reviews[0]["activity_type"], "IMPORT", "{d}");
    assert_eq!(reviews[0]["new_status"], "Declined", "{d}");
    let id: vouch_core::SessionId = sid.parse().unwrap();
    let trail = t.store.reviews(id).await.unwrap();
    assert_eq!(vouch_core::review::verify_chain(&trail), Ok(()));
    let approved = sessions_of(&t, "cust-1").await;
    let (_, d1) = t
        .get(&format!(
            "/v3/session/{}/decision/",
            approved[0]["session_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(d1["status"], "Approved");
    assert_eq!(d1["reviews"][0]["comment"], "checked by the old vendor");
    // No step result for AML in that row: the array stays empty, never null.
    assert_eq!(d1["aml_screenings"], json!([]), "{d1}");
    // Imported history is recorded, not announced: no webhook event.
    let (_, log) = t.get(&format!("/v3/session/{sid}/webhooks/")).await;
    assert_eq!(log, json!([]), "{log}");
    // The list filters see the imported data.
    let (_, by_country) = t.get("/v3/sessions/?country=GBR").await;
    assert_eq!(by_country["count"], 1, "{by_country}");

    // The same file again: nothing duplicated, the same row fails again.
    let (s, again) = upload(
        &t,
        &t.key,
        "customers.csv",
        CSV,
        &[("workflow_id", wf_id)],
        None,
    )
    .await;
    assert_eq!(s, 201, "{again}");
    let again = finished(&t, again["uuid"].as_str().unwrap()).await;
    assert_eq!(
        (
            &again["created_count"],
            &again["skipped_count"],
            &again["failed_count"]
        ),
        (&json!(0), &json!(2), &json!(1)),
        "{again}"
    );
    assert_eq!(sessions_of(&t, "cust-1").await.len(), 1);

    // A deleted imported session takes its reference with it: importing it again recreates it.
    let (s, _) = t
        .call(Method::DELETE, &format!("/v3/session/{sid}/delete/"), None)
        .await;
    assert_eq!(s, 204);
    let (_, third) = upload(
        &t,
        &t.key,
        "customers.csv",
        CSV,
        &[("workflow_id", wf_id)],
        None,
    )
    .await;
    let third = finished(&t, third["uuid"].as_str().unwrap()).await;
    assert_eq!(
        (&third["created_count"], &third["skipped_count"]),
        (&json!(1), &json!(1)),
        "{third}"
    );
}

#[tokio::test]
async fn many_rows_import_in_runs_and_the_counters_add_up() {
    let t = TestServer::start_with(|c| c.imports.rows_per_run = 7).await;
    let wf = t.workflow(&["OCR"]).await;
    let mut csv = String::from("vendor_data,status,first_name\n");
    for i in 0..100 {
        // A quoted name across two lines: rows are not lines.
        let status = if i % 10 == 9 { "nope" } else { "Approved" };
        csv.push_str(&format!("u{i},{status},\"Name\n{i}\"\n"));
    }
    let (s, job) = upload(
        &t,
        &t.key,
        "many.csv",
        &csv,
        &[("workflow_id", wf["uuid"].as_str().unwrap())],
        None,
    )
    .await;
    assert_eq!(s, 201, "{job}");
    let job = finished(&t, job["uuid"].as_str().unwrap()).await;
    assert_eq!(
        (
            &job["processed_rows"],
            &job["created_count"],
            &job["failed_count"]
        ),
        (&json!(100), &json!(90), &json!(10)),
        "{job}"
    );
    let (_, errors) = t
        .get(&format!(
            "/v3/session/imports/{}/errors/?limit=3&offset=3",
            job["uuid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(errors["count"], 10);
    assert_eq!(errors["results"][0]["row_number"], 40, "{errors}");
    assert_eq!(errors["results"][0]["line"], 2 + 39 * 2, "{errors}");
    assert!(
        errors["next"].as_str().unwrap().contains("offset=6"),
        "{errors}"
    );
    let (_, page) = t.get("/v3/sessions/?status=Approved&limit=1").await;
    assert_eq!(page["count"], 90, "{page}");
}

#[tokio::test]
async fn a_malformed_file_is_refused_naming_its_first_bad_line_and_nothing_is_imported() {
    let t = TestServer::start().await;
    t.workflow(&["OCR"]).await;
    let cases = [
        (
            "vendor_data,frist_name,status\nu1,Ana,Approved\n",
            "line 1: unknown column \"frist_name\"",
        ),
        (
            "vendor_data,status\nu1,Approved\nu2,Approved,oops\n",
            "line 3: 3 fields where the header has 2 columns",
        ),
        (
            "first_name\nAna\n",
            "line 1: the required column \"vendor_data\" is missing",
        ),
        (
            "vendor_data,status\n",
            "line 2: the file has a header but no rows",
        ),
    ];
    for (file, message) in cases {
        let (s, b) = upload(&t, &t.key, "bad.csv", file, &[], None).await;
        assert_eq!(s, 400, "{file:?}: {b}");
        assert!(b["file"][0].as_str().unwrap().starts_with(message), "{b}");
    }
    let (s, b) = upload(
        &t,
        &t.key,
        "bad.ndjson",
        "{\"vendor_data\":\"u1\",\"status\":\"Approved\"}\nnot json\n",
        &[],
        None,
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["file"][0]
            .as_str()
            .unwrap()
            .starts_with("line 2: not valid JSON"),
        "{b}"
    );
    let (_, page) = t.get("/v3/sessions/").await;
    assert_eq!(page["count"], 0, "{page}");
}

#[tokio::test]
async fn a_file_at_source_file_url_is_fetched_checked_and_imported() {
    let t = TestServer::start_with(|c| c.allow_private_destinations = true).await;
    let wf = t.workflow(&["OCR"]).await;
    let base = file_server(
        "{\"vendor_data\":\"n1\",\"status\":\"Approved\",\"first_name\":\"Zoë\",\"provider\":\"veriff\",\"external_id\":\"v-1\"}\n\n{\"vendor_data\":\"n2\",\"status\":\"In Review\"}\n",
    )
    .await;
    let (s, job) = t
        .post(
            "/v3/session/imports/",
            json!({"source_file_url": format!("{base}/export/sessions.ndjson"), "workflow_id": wf["uuid"]}),
        )
        .await;
    assert_eq!(s, 201, "{job}");
    assert_eq!(
        (&job["source_format"], &job["source_filename"]),
        (&json!("ndjson"), &json!("sessions.ndjson"))
    );
    let job = finished(&t, job["uuid"].as_str().unwrap()).await;
    assert_eq!(
        (&job["status"], &job["total_rows"], &job["created_count"]),
        (&json!("COMPLETED"), &json!(2), &json!(2)),
        "{job}"
    );
    let n2 = sessions_of(&t, "n2").await;
    assert_eq!(n2[0]["status"], "In Review", "{n2:?}");

    // A malformed fetched file fails the job, naming the line; nothing imported.
    let bad = file_server(
        "{\"vendor_data\":\"m1\",\"status\":\"Approved\"}\n{\"vendor_data\":\"m2\",\"oops\":1}\n",
    )
    .await;
    let (s, job) = t
        .post(
            "/v3/session/imports/",
            json!({"source_file_url": format!("{bad}/x.ndjson"), "workflow_id": wf["uuid"]}),
        )
        .await;
    assert_eq!(s, 201, "{job}");
    let job = finished(&t, job["uuid"].as_str().unwrap()).await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert!(
        job["last_error"]
            .as_str()
            .unwrap()
            .starts_with("line 2: unknown field \"oops\""),
        "{job}"
    );
    assert_eq!(job["created_count"], 0);
    assert!(sessions_of(&t, "m1").await.is_empty());
}

#[tokio::test]
async fn requests_are_checked_scoped_to_their_application_and_idempotent() {
    let t = TestServer::start().await;
    let wf = t.workflow(&["OCR", "LIVENESS", "FACE_MATCH", "AML"]).await;
    // The address guard of webhooks: no loopback source without allow_private_destinations.
    let (s, b) = t
        .post(
            "/v3/session/imports/",
            json!({"source_file_url": "http://127.0.0.1:9/x.csv"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["source_file_url"][0]
            .as_str()
            .unwrap()
            .contains("not a public address"),
        "{b}"
    );
    let (s, b) = t
        .post(
            "/v3/session/imports/",
            json!({"import_type": "transactions"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["import_type"][0]
            .as_str()
            .unwrap()
            .contains("not supported"),
        "{b}"
    );
    assert!(b["file"][0].is_string(), "{b}");
    let (s, b) = upload(
        &t,
        &t.key,
        "a.csv",
        CSV,
        &[("workflow_id", "not-a-uuid")],
        None,
    )
    .await;
    assert_eq!(
        (s, b["workflow_id"][0].as_str()),
        (400, Some("Must be a valid UUID.")),
        "{b}"
    );
    let (s, b) = upload(&t, &t.key, "a.csv", CSV, &[("source_format", "xlsx")], None).await;
    assert_eq!(s, 400, "{b}");

    // The template: a CSV naming every column, itself an importable file.
    let r = t
        .request(
            Method::GET,
            "/v3/session/imports/template/",
            Some(&t.key),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let template = r.text().await.unwrap();
    assert!(
        template.starts_with("external_id,provider,vendor_data,status,"),
        "{template}"
    );
    let (s, job) = upload(
        &t,
        &t.key,
        "template.csv",
        &template,
        &[("workflow_id", wf["uuid"].as_str().unwrap())],
        None,
    )
    .await;
    assert_eq!(s, 201, "{job}");
    let job = finished(&t, job["uuid"].as_str().unwrap()).await;
    assert_eq!(job["created_count"], 1, "{job}");
    let (s, _) = t
        .get("/v3/session/imports/template/?import_type=status_rules")
        .await;
    assert_eq!(s, 400);

    // Idempotency-Key: the same upload again (a new multipart boundary) answers the same job.
    let wf_id = [("workflow_id", wf["uuid"].as_str().unwrap())];
    let (s1, a) = upload(&t, &t.key, "a.csv", CSV, &wf_id, Some("imp-1")).await;
    let (s2, b) = upload(&t, &t.key, "a.csv", CSV, &wf_id, Some("imp-1")).await;
    assert_eq!((s1, s2), (201, 201), "{a} {b}");
    assert_eq!(a["uuid"], b["uuid"]);
    let (s3, c) = upload(
        &t,
        &t.key,
        "a.csv",
        &CSV.replace("A-1", "A-9"),
        &wf_id,
        Some("imp-1"),
    )
    .await;
    assert_eq!(s3, 409, "{c}");

    // Another application sees none of it; a read-only key cannot import.
    let other = new_app(t.store.as_ref(), "other").await;
    let other_key = new_key(t.store.as_ref(), &other, Scopes::all(Access::Write), None).await;
    let r = t
        .request(
            Method::GET,
            &format!("/v3/session/imports/{}/", a["uuid"].as_str().unwrap()),
            Some(&other_key),
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = t
        .request(
            Method::GET,
            &format!(
                "/v3/session/imports/{}/errors/",
                a["uuid"].as_str().unwrap()
            ),
            Some(&other_key),
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    let reader = t.key_with(Scopes::all(Access::Read)).await;
    let (s, _) = upload(&t, &reader, "a.csv", CSV, &[], None).await;
    assert_eq!(s, 403);
    let r = t
        .request(
            Method::GET,
            &format!("/v3/session/imports/{}/", a["uuid"].as_str().unwrap()),
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
}
