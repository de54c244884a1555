#!/usr/bin/env bash
# Builds Latch and the bench in release mode, then runs the bench.
# Usage: bench/run.sh [--quick] [--json FILE] [--postgres URL] [--scale] [--only SCENARIO]...
# Honours CARGO_TARGET_DIR (builds and runs from there; default target/).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "wrk not found: installing it with apt-get" >&2
        apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    else
        echo "wrk (the HTTP load generator) is needed: sudo apt-get install wrk (Debian/Ubuntu)," >&2
        echo "brew install wrk (macOS), or build it from https://github.com/wg/wrk" >&2
        exit 1
    fi
fi

cargo build --release -p latch -p latch-bench
exec "${CARGO_TARGET_DIR:-target}/release/latch-bench" "$@"
