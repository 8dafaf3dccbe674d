#!/usr/bin/env bash
# Runs every cargo-fuzz target briefly (15 s each by default, FUZZ_SECONDS
# to change), so that they keep building and stay clean: a crash fails.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-15}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo +nightly fuzz build -O -s none
for target in $(cargo +nightly fuzz list); do
  if cargo +nightly fuzz run -O -s none "$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -o 'number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz: $target clean after $runs inputs in ${seconds}s"
  else
    tail -n 40 "$log"
    echo "fuzz: $target crashed; its input is in fuzz/artifacts/$target/"
    exit 1
  fi
done
