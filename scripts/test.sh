#!/usr/bin/env bash
# Runs vouch's whole test suite: formatting, lints and every test of the workspace, schemathesis
# against a running server, then the HTTP suites (api, webhooks, mail, clients) a second time on
# PostgreSQL. The store conformance suite runs on both backends in the first pass already.
#
# PostgreSQL: VOUCH_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test). Each test
# works in a schema of its own (vouch_test_*); schemas left by earlier runs are dropped first.
# Without a reachable PostgreSQL the PostgreSQL parts are skipped with a message, except under
# CI=true, where that is a failure.
#
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

export VOUCH_TEST_POSTGRES_URL="${VOUCH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

# The email tests talk to a real SMTP server (aiosmtpd), started by the tests themselves.
if ! python3 -c "import aiosmtpd" 2>/dev/null; then
    echo "==> installing aiosmtpd (SMTP server for the email tests)"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore aiosmtpd
fi

# Didit's real clients against vouch (tests/clients): the Python SDK from PyPI, the MCP server
# from npm (pinned in crates/vouch/tests/clients/package-lock.json).
if ! python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('didit-sdk') != '0.4.0')" 2>/dev/null; then
    echo "==> installing didit-sdk 0.4.0 (Didit's Python SDK, for the client tests)"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore didit-sdk==0.4.0
fi
if [ ! -d crates/vouch/tests/clients/node_modules/@didit-protocol/mcp-server ]; then
    echo "==> installing Didit's MCP server and the MCP client (npm ci)"
    npm ci --prefix crates/vouch/tests/clients --no-audit --no-fund --loglevel=error
fi

# The browser tests drive Debian's Chromium through playwright-core, and embed the page with
# Didit's own web SDK (npm, pinned in crates/vouch/tests/browser/package-lock.json).
if [ ! -x /usr/bin/chromium ]; then
    echo "==> installing Chromium (browser tests of the person's page)"
    if [ "$(id -u)" = 0 ]; then apt=(apt-get); else apt=(sudo apt-get); fi
    "${apt[@]}" update -qq && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq chromium chromium-driver >/dev/null
fi
# The report tests read the PDFs back with poppler (pdftotext, pdfimages).
if ! command -v pdftotext >/dev/null || ! command -v pdfimages >/dev/null; then
    echo "==> installing poppler-utils (reading the PDF reports back)"
    if [ "$(id -u)" = 0 ]; then apt=(apt-get); else apt=(sudo apt-get); fi
    "${apt[@]}" update -qq && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq poppler-utils >/dev/null
fi
if [ ! -d crates/vouch/tests/browser/node_modules/playwright-core ] \
    || [ ! -d crates/vouch/tests/browser/node_modules/@didit-protocol/sdk-web ]; then
    echo "==> installing playwright-core, axe-core and Didit's web SDK (npm ci)"
    npm ci --prefix crates/vouch/tests/browser --no-audit --no-fund --loglevel=error
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> clearing test schemas left in PostgreSQL by earlier runs"
postgres=yes
if ! cargo run --quiet --locked -p vouch-store --example drop_test_schemas -- "$VOUCH_TEST_POSTGRES_URL"; then
    if [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ]; then
        echo "CI=true and PostgreSQL at $VOUCH_TEST_POSTGRES_URL is unreachable" >&2
        exit 1
    fi
    echo "==> no PostgreSQL at $VOUCH_TEST_POSTGRES_URL: skipping the PostgreSQL tests"
    postgres=no
fi

echo "==> cargo test (SQLite; store conformance on SQLite and PostgreSQL)"
cargo test --workspace --locked "$@"

# schemathesis (PyPI, pinned in the script) against a running vouch on SQLite: every phase
# (examples, coverage, fuzzing, stateful) and every check, zero failures allowed. One seed, so
# that a run is reproducible and what lands is what was tested; VOUCH_FUZZ_SEED=random hunts.
echo "==> schemathesis: requests generated from /openapi.json against a running vouch"
seed=(--seed "${VOUCH_FUZZ_SEED:-20261203}")
[ "${VOUCH_FUZZ_SEED:-}" = random ] && seed=()
bash scripts/fuzz-openapi.sh "${VOUCH_FUZZ_EXAMPLES:-25}" "${seed[@]}"

if [ "$postgres" = yes ]; then
    echo "==> cargo test: the HTTP suites and Didit's clients on PostgreSQL"
    VOUCH_TEST_BACKEND=postgres cargo test --locked -p vouch --test api --test webhooks --test mail --test clients "$@"
fi
