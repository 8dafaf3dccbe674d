#!/usr/bin/env bash
# What recording last use costs under load: two quickstart servers, one with
# last-use tracking (the default) and one without (APIKEY_LAST_USE=off), each
# with its own key, and wrk on the guarded GET /whoami of each in turn, ROUNDS
# rounds (the order swapped every round), so both see the same machine noise.
# Prints each round, then the median of the paired ratios on/off (target: at
# least 0.97).
#
#   scripts/wrk-last-use.sh              # 9 rounds of 3 s per server
#   ROUNDS=15 SECS=5 scripts/wrk-last-use.sh
#   APIKEY_STORE=sqlite:/tmp/wrk.db scripts/wrk-last-use.sh   # both on one SQLite file
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
ROUNDS=${ROUNDS:-9} SECS=${SECS:-3} CONNS=${CONNS:-32} PORT=${PORT:-3410}
cargo build -q --release --example quickstart
dir=$(mktemp -d)
servers=()
trap 'kill "${servers[@]}" 2>/dev/null; rm -rf "$dir"' EXIT
start() { # name port tracking
  PORT=$2 APIKEY_LAST_USE=$3 target/release/examples/quickstart >"$dir/$1" 2>/dev/null &
  servers+=($!)
}
key_of() { # name
  for _ in $(seq 100); do grep -q 'last use of keys' "$dir/$1" 2>/dev/null && break; sleep 0.1; done
  sed -n 's/^    \([A-Za-z0-9]\{8\}\.[A-Za-z0-9]\{32\}\)$/\1/p' "$dir/$1"
}
start on "$PORT" on
start off "$((PORT + 1))" off
on_key=$(key_of on) off_key=$(key_of off)
if [ -z "$on_key" ] || [ -z "$off_key" ]; then
  echo "a quickstart printed no key (a store that holds keys already: use a fresh one)"; exit 1
fi

rps() { # port key
  local report
  report=$(wrk -t1 -c"$CONNS" -d"${SECS}s" -H "Authorization: Api-Key $2" "http://127.0.0.1:$1/whoami")
  if grep -q 'Non-2xx' <<<"$report"; then echo "non-2xx answers on port $1" >&2; exit 1; fi
  awk '/Requests\/sec/ {print $2}' <<<"$report"
}
ons=() offs=() ratios=()
for round in $(seq "$ROUNDS"); do
  if (( round % 2 )); then
    on=$(rps "$PORT" "$on_key") off=$(rps "$((PORT + 1))" "$off_key")
  else
    off=$(rps "$((PORT + 1))" "$off_key") on=$(rps "$PORT" "$on_key")
  fi
  r=$(echo "$on / $off" | bc -l)
  ons+=("$on") offs+=("$off") ratios+=("$r")
  printf 'round %d: tracking on %9.0f req/s   off %9.0f req/s   ratio %.3f\n' "$round" "$on" "$off" "$r"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf 'median: on %.0f req/s, off %.0f req/s; median of the paired ratios on/off %.3f\n' \
  "$(median "${ons[@]}")" "$(median "${offs[@]}")" "$(median "${ratios[@]}")"
