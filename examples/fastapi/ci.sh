#!/usr/bin/env bash
# Runs the FastAPI example's tests against a real Latch.
# Usage, from anywhere: bash examples/fastapi/ci.sh [pytest arguments]
# LATCH_BIN names a Latch binary; unset, Latch is built with cargo first.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# shellcheck source=../../.ci/clients.sh
source "$repo/.ci/clients.sh"
latch_bin "$repo"
venv="$here/.venv"
python_venv "$venv" "$here/requirements.txt"

cd "$here"
"$venv/bin/python" -m pytest "$@"
