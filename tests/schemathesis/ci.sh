#!/usr/bin/env bash
# Fuzzes a real Latch from its own /openapi.json with schemathesis: every
# operation, authenticated as a superuser (hooks.py), a bounded number of
# generated requests each. Fails on any 5xx, and on any response the document
# does not describe (status, content type, headers, body schema).
#
# Usage, from anywhere: bash tests/schemathesis/ci.sh [st run arguments]
# LATCH_BIN names a Latch binary; unset, Latch is built with cargo first.
# SCHEMATHESIS_SEED (default fixed, so CI is reproducible) and
# SCHEMATHESIS_MAX_EXAMPLES (default 50 per operation and phase) tune the run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# shellcheck source=../../.ci/clients.sh
source "$repo/.ci/clients.sh"
latch_bin "$repo"
python_venv "$here/.venv" "$here/requirements.txt"
python="$here/.venv/bin/python"

work="$(mktemp -d)"
latch_pid=""
cleanup() {
  if [[ -n "$latch_pid" ]]; then
    kill "$latch_pid" 2>/dev/null || true
    wait "$latch_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export LATCH_URL="http://127.0.0.1:$port"
export LATCH_ADMIN_LOGIN="admin@example.com"
export LATCH_ADMIN_PASSWORD="a long and unguessable passphrase"
export LATCH_CLIENT_ID="schemathesis"
export LATCH_CLIENT_SECRET="a client secret of the schemathesis run"

# Rate limits off: the run sends hundreds of logins from one address, and what
# it checks is the document, not the budgets (tests/api/rate_limits.rs does).
export LATCH__DATA_DIR="$work/data"
export LATCH__HTTP__PORT="$port"
export LATCH__LOG__LEVEL="warn"
export LATCH__RATE_LIMIT__ENABLED="false"
export LATCH__INTROSPECTION__CLIENT_ID="$LATCH_CLIENT_ID"
export LATCH__INTROSPECTION__CLIENT_SECRET="$LATCH_CLIENT_SECRET"

echo "$LATCH_ADMIN_PASSWORD" | "$LATCH_BIN" create-superuser --email "$LATCH_ADMIN_LOGIN" >/dev/null
"$LATCH_BIN" serve >"$work/latch.log" 2>&1 &
latch_pid=$!
for _ in $(seq 1 100); do
  if "$python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$LATCH_URL/readyz" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

cd "$here"
status=0
# positive_data_acceptance is off: Latch's rules (password policy, username
# characters, page bounds, taken emails) refuse more than a schema can say, so
# a schema-valid request may rightly get 422 or 409.
SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$here" "$here/.venv/bin/st" run "$LATCH_URL/openapi.json" \
  --checks all \
  --exclude-checks positive_data_acceptance \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-50}" \
  --seed "${SCHEMATHESIS_SEED:-20261205}" \
  --workers 2 \
  --request-timeout 30 \
  --no-color \
  "$@" || status=$?

# A 5xx is logged at ERROR; actix's own line about an unparsable request
# (the client's fault, answered 400) is not one.
errors="$(grep ' ERROR ' "$work/latch.log" | grep -v 'request parse error' || true)"
if [[ -n "$errors" ]]; then
  echo "ci: Latch logged errors during the run:" >&2
  echo "$errors" | head -20 >&2
  status=1
fi
exit "$status"
