#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a bounded time, one after another.
# Usage, from anywhere: bash fuzz/run.sh [seconds per target] [target...]
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-180}"
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(access_token refresh_token login_form stored_hash)
fi

for target in "${targets[@]}"; do
  # New inputs go to corpus/ (ignored by git); the hand-made seeds/ are only read.
  mkdir -p "fuzz/corpus/$target"
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1
done
