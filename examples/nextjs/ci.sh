#!/usr/bin/env bash
# Build the Next.js example and run its end-to-end test against a real Latch
# in headless Chromium. Usage, from anywhere:
#   bash examples/nextjs/ci.sh                        # builds Latch with cargo
#   LATCH_BIN=/path/to/latch bash examples/nextjs/ci.sh
# Needs Node 20.9+ with npm; installs Debian's chromium when missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export NEXT_TELEMETRY_DISABLED=1

if [ ! -x /usr/bin/chromium ]; then
  echo "ci.sh: installing Debian's chromium" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

cd "$here"
npm ci --no-audit --no-fund --loglevel=error
npx --no-install next build

if [ -z "${LATCH_BIN:-}" ]; then
  (cd "$repo" && cargo build -p latch --bin latch)
  LATCH_BIN="$repo/target/debug/latch"
fi
export LATCH_BIN

node --test --test-reporter=spec test/e2e.test.js
