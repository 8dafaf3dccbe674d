#!/usr/bin/env bash
# Throughput of the quickstart's guarded GET /whoami against its open GET /health,
# measured side by side: ROUNDS rounds, each running wrk on both paths in turn,
# so both see the same machine noise. Prints each round and the medians.
#
#   scripts/wrk-quickstart.sh            # 7 rounds of 3 s per path
#   ROUNDS=11 SECS=5 scripts/wrk-quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
ROUNDS=${ROUNDS:-7} SECS=${SECS:-3} CONNS=${CONNS:-32} PORT=${PORT:-3400}
cargo build -q --release --example quickstart
out=$(mktemp)
PORT=$PORT target/release/examples/quickstart >"$out" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 50); do grep -q 'Api-Key' "$out" 2>/dev/null && break; sleep 0.1; done
key=$(sed -n 's/^    \([A-Za-z0-9]\{8\}\.[A-Za-z0-9]\{32\}\)$/\1/p' "$out")
[ -n "$key" ] || { echo "the quickstart printed no key"; exit 1; }

rps() { # path [header]
  local args=(-t1 -c"$CONNS" -d"${SECS}s")
  [ $# -gt 1 ] && args+=(-H "$2")
  local report
  report=$(wrk "${args[@]}" "http://127.0.0.1:$PORT$1")
  if grep -q 'Non-2xx' <<<"$report"; then echo "non-2xx answers on $1" >&2; exit 1; fi
  awk '/Requests\/sec/ {print $2}' <<<"$report"
}
health=() whoami=() ratios=()
for round in $(seq "$ROUNDS"); do
  h=$(rps /health) w=$(rps /whoami "Authorization: Api-Key $key")
  r=$(echo "$w / $h" | bc -l)
  health+=("$h") whoami+=("$w") ratios+=("$r")
  printf 'round %d: /health %9.0f req/s   /whoami %9.0f req/s   ratio %.3f\n' "$round" "$h" "$w" "$r"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mh=$(median "${health[@]}") mw=$(median "${whoami[@]}")
printf 'median: /health %.0f req/s, /whoami %.0f req/s; median of the paired ratios %.3f\n' "$mh" "$mw" "$(median "${ratios[@]}")"
