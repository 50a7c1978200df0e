#!/usr/bin/env bash
# Runs vouch's whole test suite: formatting, lints and every test of the workspace.
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# The email tests talk to a real SMTP server (aiosmtpd), started by the tests themselves.
if ! python3 -c "import aiosmtpd" 2>/dev/null; then
    echo "==> installing aiosmtpd (SMTP server for the email tests)"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore aiosmtpd
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> cargo test"
cargo test --workspace --locked "$@"
