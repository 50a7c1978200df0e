#!/usr/bin/env bash
# Drives a real vouch with schemathesis, generating requests from vouch's own OpenAPI document:
# server errors, answers that break the document, undocumented status codes, and schema-valid
# requests the server refuses (rules the document cannot state, such as date_to >= date_from,
# are reported too). Usage: scripts/fuzz-openapi.sh [MAX_EXAMPLES]   (default 50)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
examples="${1:-50}"
venv="${SCHEMATHESIS_VENV:-$here/target/schemathesis-venv}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==4.*"
fi
cargo build --quiet -p vouch
bin="$here/target/debug/vouch"
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
export VOUCH_DATA_DIR="$work/data"
# One key sends every generated request: rate limits out of reach (they have their own tests).
for limit in PER_KEY SESSION_CREATE DECISION PDF UNAUTHENTICATED PERSON_PAGES; do
  export "VOUCH_RATE_LIMIT__$limit=1000000000"
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" apps create fuzz --json > /dev/null
key=$("$bin" keys create --app fuzz --sessions write --decisions write --workflows write --webhooks write --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
VOUCH_LISTEN="127.0.0.1:$port" VOUCH_PUBLIC_URL="http://127.0.0.1:$port" "$bin" serve > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/system/healthcheck" > /dev/null && break; sleep 0.1; done
# A default workflow, so that a session can be created without naming one.
curl -sf -X POST "http://127.0.0.1:$port/v3/workflows/" -H "x-api-key: $key" -H 'content-type: application/json' \
  -d '{"workflow_label": "default", "is_default": true, "features": [{"feature": "OCR"}, {"feature": "LIVENESS"}]}' > /dev/null
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" -H "x-api-key: $key" \
  --max-examples "$examples" --phases examples,coverage,fuzzing,stateful \
  -c not_a_server_error,positive_data_acceptance,status_code_conformance,response_schema_conformance \
  ${SCHEMATHESIS_ARGS:-}
