#!/usr/bin/env bash
# What the gate costs, measured side by side on loopback (ROUNDS rounds, each
# running wrk on every path in turn, so all of them share the machine's noise):
#
#   1. through nginx: requests/s of a location guarded by auth_request and the
#      gate, over the same location unguarded (one backend: an nginx server
#      answering 200), the subrequest's whole cost;
#   2. the gate alone: verdicts/s for a valid key, over the quickstart's guarded
#      GET /whoami on the same SQLite store;
#   3. the p99 of a verdict at half the maximum rate: oha holding half the
#      gate's median verdicts/s from (2), open-loop with latency correction
#      (a late request counts from when it was due), and wrk's percentiles at
#      full load beside it.
#
#   scripts/gate-bench.sh                 # 5 rounds of 3 s per path
#   ROUNDS=9 SECS=5 scripts/gate-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
command -v oha >/dev/null || cargo install --locked oha
NGINX=${APIKEY_TEST_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
ROUNDS=${ROUNDS:-5} SECS=${SECS:-3} CONNS=${CONNS:-32}
cargo build -q --release -p api-key-cli
cargo build -q --release --example quickstart
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
store="sqlite:$work/keys.db"
api_key() { target/release/api-key --store "$store" "$@"; }
key=$(api_key create --name bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

# The gate, on its own port.
target/release/api-key --store "$store" gate --listen 127.0.0.1:3510 --for nginx \
  --trusted-proxy 127.0.0.1 >"$work/gate.out" 2>/dev/null &
pids+=($!)
# The quickstart on the same store.
APIKEY_STORE="$store" PORT=3511 target/release/examples/quickstart >"$work/quickstart.out" 2>/dev/null &
pids+=($!)
# nginx: a backend answering 200, and the guarded and unguarded locations in
# front of it; the guarded one as the README configures it.
locations=$(python3 - "$work" <<'EOF'
import re, sys
readme = open("README.md").read()
block = readme[readme.index("<!-- nginx-gate -->"):]
block = block[block.index("```nginx") + len("```nginx"):]
block = block[:block.index("```")]
print(block.replace("127.0.0.1:9000", "127.0.0.1:3510").replace("127.0.0.1:8080", "127.0.0.1:3513"))
EOF
)
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
error_log $work/error.log;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fastcgi; uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  server { listen 127.0.0.1:3513; location / { return 200 "ok"; } }
  server { listen 127.0.0.1:3514; location / { proxy_pass http://127.0.0.1:3513; } }
  server { listen 127.0.0.1:3512;
$locations
  }
}
EOF
"$NGINX" -p "$work" -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
for port in 3510 3511 3512 3514; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
sleep 1

rps() { # url [header]
  local args=(-t1 -c"$CONNS" -d"${SECS}s")
  [ $# -gt 1 ] && args+=(-H "$2")
  local report
  report=$(wrk "${args[@]}" "$1")
  if grep -q 'Non-2xx' <<<"$report"; then echo "non-2xx answers on $1" >&2; exit 1; fi
  awk '/Requests\/sec/ {print $2}' <<<"$report"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
auth="Authorization: Api-Key $key"
through=() gate=() gate_rps=()
for round in $(seq "$ROUNDS"); do
  open=$(rps http://127.0.0.1:3514/) guarded=$(rps http://127.0.0.1:3512/x "$auth")
  verdicts=$(rps http://127.0.0.1:3510/ "$auth") whoami=$(rps http://127.0.0.1:3511/whoami "$auth")
  r1=$(echo "$guarded / $open" | bc -l) r2=$(echo "$verdicts / $whoami" | bc -l)
  through+=("$r1") gate+=("$r2") gate_rps+=("$verdicts")
  printf 'round %d: nginx unguarded %8.0f, guarded %8.0f req/s (%.3f);  gate %8.0f verdicts/s, quickstart /whoami %8.0f req/s (%.3f)\n' \
    "$round" "$open" "$guarded" "$r1" "$verdicts" "$whoami" "$r2"
done
printf 'median of paired ratios: nginx guarded/unguarded %.3f; gate verdicts / quickstart /whoami %.3f\n' \
  "$(median "${through[@]}")" "$(median "${gate[@]}")"
half=$(printf '%.0f' "$(echo "$(median "${gate_rps[@]}") / 2" | bc -l)")
oha -z "$((SECS * 2))s" -c "$CONNS" -q "$half" --latency-correction --no-tui --output-format json \
  -H "$auth" http://127.0.0.1:3510/ >"$work/oha.json"
python3 - "$work/oha.json" "$half" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
codes = report.get("statusCodeDistribution", {})
if set(codes) != {"200"}:
    sys.exit(f"answers other than 200 at half rate: {codes}")
p = report["latencyPercentiles"]
print(f"the gate at half its maximum rate ({sys.argv[2]} verdicts/s asked, "
      f"{report['summary']['requestsPerSec']:.0f} held): "
      f"p50 {p['p50'] * 1e3:.3f} ms, p99 {p['p99'] * 1e3:.3f} ms, p99.9 {p['p99.9'] * 1e3:.3f} ms")
EOF
echo "the gate alone at full load (wrk -c$CONNS):"
wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -H "$auth" http://127.0.0.1:3510/ | sed -n '/Latency Distribution/,/99%/p'
