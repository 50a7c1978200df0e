#!/usr/bin/env bash
# Drives a real vouch with schemathesis (every phase, every check) from vouch's own OpenAPI
# document; fails on any failure. The test command runs it; see scripts/fuzz-openapi.py for what
# it seeds and which rules beyond the document it allows.
# Usage: scripts/fuzz-openapi.sh [MAX_EXAMPLES] [schemathesis run options…]   (default 50)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
examples="${1:-50}"
shift || true
venv="${SCHEMATHESIS_VENV:-$here/target/schemathesis-venv}"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "version 4.32.5"; then
  echo "==> installing schemathesis 4.32.5 (PyPI) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi
cargo build --quiet --locked -p vouch
exec python3 "$here/scripts/fuzz-openapi.py" "$here/target/debug/vouch" "$venv/bin/schemathesis" "$examples" "$@"
