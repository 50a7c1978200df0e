#!/usr/bin/env python3
"""Builds the upgrade fixtures that `crates/vouch/tests/upgrade.rs` opens with the current code.

Run it with a binary of the *previous* release: it fills a fresh database through that binary's
HTTP API (KYC and KYB sessions, step results, approvals, declines, resubmissions, notes, an
email, a webhook destination, a deleted session), records every answer the new binary must give
the same way, and saves the database as that release wrote it:

    git worktree add /tmp/vouch-prev <previous commit>
    (cd /tmp/vouch-prev && cargo build -p vouch)
    scripts/make-upgrade-fixture.py /tmp/vouch-prev/target/debug/vouch \
        crates/vouch/tests/fixtures/upgrade [--postgres postgres://postgres@127.0.0.1:5432/test]

Writes `sqlite.db` + `sqlite.json`, and with --postgres `postgres.sql` (pg_dump of the schema
`vouch_upgrade_fixture`) + `postgres.json`. Only the Python standard library is used.
"""

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

PUBLIC_URL = "http://127.0.0.1:8080"
SCHEMA = "vouch_upgrade_fixture"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, data_dir, database_url=None):
        self.port = free_port()
        env = dict(os.environ)
        env.update(
            VOUCH_LISTEN=f"127.0.0.1:{self.port}",
            VOUCH_PUBLIC_URL=PUBLIC_URL,
            VOUCH_DATA_DIR=data_dir,
            VOUCH_ALLOW_PRIVATE_DESTINATIONS="true",
            VOUCH_LOG_FORMAT="json",
        )
        if database_url:
            env["VOUCH_DATABASE_URL"] = database_url
        self.proc = subprocess.Popen(
            [binary, "serve"], env=env, stdout=subprocess.PIPE, text=True
        )
        self.key = None
        deadline = time.time() + 60
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("vk_"):
                self.key = line
            if line.startswith("vouch listening"):
                break
            if time.time() > deadline:
                raise SystemExit("the server did not start")
        if not self.key:
            raise SystemExit("the server printed no key (is the database fresh?)")
        self.base = f"http://127.0.0.1:{self.port}"

    def call(self, method, path, body=None, want=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("x-api-key", self.key)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        answer = json.loads(raw) if raw else None
        if want is not None and status != want:
            raise SystemExit(f"{method} {path}: {status} {answer}")
        return status, answer

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def fill(srv):
    """The scenario: answers the session ids it made, by name."""
    call = srv.call
    _, kyc = call(
        "POST",
        "/v3/workflows/",
        {
            "workflow_label": "Standard KYC",
            "is_default": True,
            "features": [
                {"feature": "OCR"},
                {"feature": "LIVENESS"},
                {"feature": "FACE_MATCH"},
                {"feature": "AML"},
            ],
        },
        201,
    )
    _, kyb = call(
        "POST",
        "/v3/workflows/",
        {
            "workflow_label": "Business",
            "features": [{"feature": "KYB_REGISTRY"}, {"feature": "KYB_DOCUMENTS"}],
        },
        201,
    )
    call(
        "POST",
        "/v3/webhook/destinations/",
        {"label": "nowhere", "url": "http://127.0.0.1:9/hook", "subscribed_events": ["status.updated"]},
        201,
    )
    nodes = {n["feature"]: n["node_id"] for n in kyc["nodes"]}
    kyb_nodes = {n["feature"]: n["node_id"] for n in kyb["nodes"]}

    def session(vendor, workflow=None, **extra):
        body = {
            "vendor_data": vendor,
            "callback": "https://example.com/done",
            "metadata": {"z": 1, "a": [1.50, 2e3, "é"], "n": None},
            **extra,
        }
        if workflow:
            body["workflow_id"] = workflow
        _, s = call("POST", "/v3/session/", body, 201)
        return s["session_id"]

    def attempt(sid, node, status, data=None):
        call(
            "POST",
            f"/v3/session/{sid}/attempts/",
            {"node_id": node, "status": status, "data": data or {}},
            201,
        )

    ocr = {
        "issuing_state": "ESP",
        "first_name": "Ana",
        "last_name": "García",
        "expiration_date": "2031-05-01",
        "document_number": "X1234567",
    }
    ids = {}
    ids["approved"] = s = session("user-approved")
    attempt(s, nodes["OCR"], "Approved", ocr)
    attempt(s, nodes["LIVENESS"], "Approved", {"score": 97.5})
    attempt(s, nodes["FACE_MATCH"], "Approved", {"score": 88.25})
    attempt(s, nodes["AML"], "Approved", {"hits": []})

    ids["declined"] = s = session("user-declined")
    attempt(s, nodes["OCR"], "Approved", ocr)
    attempt(s, nodes["LIVENESS"], "Approved")
    attempt(s, nodes["FACE_MATCH"], "In Review", {"score": 61.5})
    attempt(s, nodes["AML"], "Approved")
    call(
        "PATCH",
        f"/v3/session/{s}/update-status/",
        {"new_status": "Declined", "comment": "Face does not match", "send_email": True,
         "email_address": "bo@example.com", "email_language": "de"},
        200,
    )

    ids["resubmitted"] = s = session("user-resubmitted", language="fr")
    attempt(s, nodes["OCR"], "Declined", {"issuing_state": "FRA"})
    attempt(s, nodes["LIVENESS"], "Approved")
    attempt(s, nodes["FACE_MATCH"], "Approved")
    attempt(s, nodes["AML"], "Approved")
    call(
        "PATCH",
        f"/v3/session/{s}/update-status/",
        {"new_status": "Resubmitted", "comment": "Blurry document",
         "nodes_to_resubmit": [{"node_id": nodes["OCR"], "feature": "OCR", "reason": "blurry"}]},
        200,
    )
    call("POST", f"/v3/sessions/{s}/reviews/", {"comment": "Asked for a new photo"}, 201)

    ids["overturned"] = s = session("user-overturned")
    attempt(s, nodes["OCR"], "In Review", ocr)
    attempt(s, nodes["LIVENESS"], "Approved")
    attempt(s, nodes["FACE_MATCH"], "Approved")
    attempt(s, nodes["AML"], "Approved")
    call("PATCH", f"/v3/session/{s}/update-status/", {"new_status": "Approved"}, 200)
    call("PATCH", f"/v3/session/{s}/update-status/", {"new_status": "Declined",
                                                      "comment": "Second look"}, 200)

    ids["not_started"] = session("user-waiting", contact_details={"email": "cy@example.com"})

    ids["business"] = s = session("acme-ltd", workflow=kyb["uuid"])
    attempt(s, kyb_nodes["KYB_REGISTRY"], "Approved", {"company_name": "Acme Ltd"})
    attempt(s, kyb_nodes["KYB_DOCUMENTS"], "In Review")

    ids["deleted"] = s = session("user-deleted")
    attempt(s, nodes["OCR"], "Approved", ocr)
    call("DELETE", f"/v3/session/{s}/delete/", None, None)
    return ids


def record(srv, ids):
    """Everything the upgraded binary must answer the same way."""
    out = {"key": srv.key, "sessions": {}, "reviews": {}, "lists": {}}
    for name, sid in ids.items():
        status, decision = srv.call("GET", f"/v3/session/{sid}/decision/")
        out["sessions"][name] = {"id": sid, "status": status, "decision": decision}
        status, trail = srv.call("GET", f"/v3/sessions/{sid}/reviews/")
        out["reviews"][name] = {"status": status, "body": trail}
    for query in ["", "?session_kind=all", "?session_kind=business", "?status=Declined",
                  "?search=user-", "?country=ESP"]:
        _, body = srv.call("GET", f"/v3/sessions/{query}")
        out["lists"][query] = body
    return out


def sqlite_fixture(binary, out_dir):
    work = tempfile.mkdtemp(prefix="vouch-fixture-")
    srv = Server(binary, work)
    try:
        expected = record(srv, fill(srv))
    finally:
        srv.stop()
    src = sqlite3.connect(os.path.join(work, "vouch.db"))
    dst_path = os.path.join(out_dir, "sqlite.db")
    if os.path.exists(dst_path):
        os.remove(dst_path)
    dst = sqlite3.connect(dst_path)
    src.backup(dst)  # page for page, as the previous release wrote it
    dst.execute("PRAGMA journal_mode = DELETE")
    dst.close()
    src.close()
    with open(os.path.join(out_dir, "sqlite.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    shutil.rmtree(work)


def postgres_fixture(binary, out_dir, url):
    psql = ["psql", "-q", "-v", "ON_ERROR_STOP=1", url]
    subprocess.run(psql + ["-c", f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}"],
                   check=True)
    sep = "&" if "?" in url else "?"
    work = tempfile.mkdtemp(prefix="vouch-fixture-")
    srv = Server(binary, work, f"{url}{sep}options=-csearch_path%3D{SCHEMA}")
    try:
        expected = record(srv, fill(srv))
    finally:
        srv.stop()
    dump = subprocess.run(
        ["pg_dump", "--schema", SCHEMA, "--inserts", "--no-owner", "--no-privileges", url],
        check=True, capture_output=True, text=True,
    ).stdout
    # psql meta-commands (pg_dump's \restrict lines) are not SQL: a client library cannot run them.
    dump = "\n".join(l for l in dump.splitlines() if not l.startswith("\\")) + "\n"
    with open(os.path.join(out_dir, "postgres.sql"), "w") as f:
        f.write(dump)
    with open(os.path.join(out_dir, "postgres.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    subprocess.run(psql + ["-c", f"DROP SCHEMA {SCHEMA} CASCADE"], check=True)
    shutil.rmtree(work)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("binary")
    p.add_argument("out_dir")
    p.add_argument("--postgres", help="also build the PostgreSQL fixture in this database")
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    sqlite_fixture(a.binary, a.out_dir)
    if a.postgres:
        postgres_fixture(a.binary, a.out_dir, a.postgres)
    print(f"fixtures written to {a.out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
