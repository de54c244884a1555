#!/usr/bin/env bash
# Runs the FastAPI example's tests against a real Latch.
# Usage, from anywhere: bash examples/fastapi/ci.sh [pytest arguments]
# LATCH_BIN names a Latch binary; unset, Latch is built with cargo first.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if [[ -z "${LATCH_BIN:-}" ]]; then
  echo "ci: building Latch (cargo build -p latch --bin latch)"
  (cd "$repo" && cargo build -p latch --bin latch)
  LATCH_BIN="$repo/target/debug/latch"
elif [[ -f "$LATCH_BIN" && "$LATCH_BIN" != /* ]]; then
  LATCH_BIN="$PWD/$LATCH_BIN"  # the tests run from $here
fi
export LATCH_BIN

venv="$here/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  echo "ci: creating $venv"
  if ! python3 -m venv "$venv"; then
    # Debian's python3 has no ensurepip without the python3-venv package:
    # make the venv without pip and install into it with the system's pip.
    rm -rf "$venv"
    python3 -m venv --without-pip "$venv"
  fi
fi
if "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  pip=("$venv/bin/python" -m pip)
else
  pip=(python3 -m pip --python "$venv/bin/python")
fi
"${pip[@]}" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

cd "$here"
"$venv/bin/python" -m pytest "$@"
