#!/usr/bin/env bash
# Throughput of the quickstart's guarded GET /whoami against its open GET /health,
# measured side by side: ROUNDS rounds, each running wrk on both paths in turn,
# so both see the same machine noise. Prints each round and the medians.
#
#   scripts/wrk-quickstart.sh            # 7 rounds of 3 s per path, this checkout's build
#   ROUNDS=11 SECS=5 scripts/wrk-quickstart.sh
#   scripts/wrk-quickstart.sh /tmp/before-quickstart target/release/examples/quickstart
#
# Given quickstart binaries (two builds to compare), it starts each on a port of
# its own and measures all of them in every round, alternating which goes first,
# so an old and a new build share the machine's noise too.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
ROUNDS=${ROUNDS:-7} SECS=${SECS:-3} CONNS=${CONNS:-32} PORT=${PORT:-3400}
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
  cargo build -q --release --example quickstart
  bins=(target/release/examples/quickstart)
fi

servers=() outs=() keys=() ports=()
trap 'kill "${servers[@]}" 2>/dev/null; rm -f "${outs[@]}"' EXIT
for i in "${!bins[@]}"; do
  port=$((PORT + i)) out=$(mktemp)
  PORT=$port "${bins[$i]}" >"$out" 2>/dev/null &
  servers+=($!) outs+=("$out") ports+=("$port")
  for _ in $(seq 50); do grep -q 'Api-Key' "$out" 2>/dev/null && break; sleep 0.1; done
  key=$(sed -n 's/^    \([A-Za-z0-9]\{8\}\.[A-Za-z0-9]\{32\}\)$/\1/p' "$out")
  [ -n "$key" ] || { echo "${bins[$i]} printed no key"; exit 1; }
  keys+=("$key")
done

rps() { # port path [header]
  local args=(-t1 -c"$CONNS" -d"${SECS}s")
  [ $# -gt 2 ] && args+=(-H "$3")
  local report
  report=$(wrk "${args[@]}" "http://127.0.0.1:$1$2")
  if grep -q 'Non-2xx' <<<"$report"; then echo "non-2xx answers on $2" >&2; exit 1; fi
  awk '/Requests\/sec/ {print $2}' <<<"$report"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A health whoami ratios
n=${#bins[@]}
for round in $(seq "$ROUNDS"); do
  for k in $(seq 0 $((n - 1))); do
    i=$(((k + round) % n))
    h=$(rps "${ports[$i]}" /health) w=$(rps "${ports[$i]}" /whoami "Authorization: Api-Key ${keys[$i]}")
    r=$(echo "$w / $h" | bc -l)
    health[$i]+="$h " whoami[$i]+="$w " ratios[$i]+="$r "
    printf 'round %d %-40s /health %9.0f req/s   /whoami %9.0f req/s   ratio %.3f\n' \
      "$round" "${bins[$i]}" "$h" "$w" "$r"
  done
done
for i in "${!bins[@]}"; do
  # shellcheck disable=SC2086
  printf '%s: median /health %.0f req/s, /whoami %.0f req/s; median of the paired ratios %.3f\n' \
    "${bins[$i]}" "$(median ${health[$i]})" "$(median ${whoami[$i]})" "$(median ${ratios[$i]})"
done
