#!/usr/bin/env bash
# The admin API held to its own OpenAPI document: schemathesis (every check,
# every phase) against the admin example, from the document the example
# serves at /admin/openapi.json.
#
#   scripts/schemathesis.sh                 # needs `st` (pip install schemathesis), or ST=path
#   MAX_EXAMPLES=200 SEED=$RANDOM scripts/schemathesis.sh   # a fixed seed by default, so CI is repeatable
#
# The example runs on a store in memory, its throttle opened wide
# (APIKEY_THROTTLE): schemathesis sends every request from one address,
# many of them without a key on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."
st=${ST:-st}
command -v "$st" >/dev/null || { echo "schemathesis.sh: no $st (pip install schemathesis, or set ST)" >&2; exit 1; }

cargo build --quiet --example admin
out=$(mktemp)
APIKEY_STORE=memory APIKEY_THROTTLE=1000000/1s PORT=0 target/debug/examples/admin >"$out" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 600); do grep -q '^admin key:' "$out" && break; sleep 0.1; done
addr=$(sed -n 's|^listening on http://\([^;]*\);.*|\1|p' "$out")
admin=$(sed -n 's|^admin key: ||p' "$out")
[ -n "$addr" ] && [ -n "$admin" ] || { echo "schemathesis.sh: the admin example did not start:" >&2; cat "$out" >&2; exit 1; }

"$st" --config-file tests/schemathesis/schemathesis.toml run "http://$addr/admin/openapi.json" \
  --header "Authorization: Api-Key $admin" \
  --checks all \
  --max-examples "${MAX_EXAMPLES:-100}" \
  --workers 1 \
  --seed "${SEED:-20261207}" \
  --no-color
