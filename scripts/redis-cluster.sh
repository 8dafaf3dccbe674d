#!/usr/bin/env bash
# Starts a local Redis Cluster of three primaries on 127.0.0.1:7000-7002 (or
# the ports given), for the tests and the quickstart:
#
#   scripts/redis-cluster.sh            # then:
#   APIKEY_TEST_REDIS_CLUSTER_URL=redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 cargo test --all-features
#
# Nothing is kept on disk beyond the nodes' cluster files, under
# ${REDIS_CLUSTER_DIR:-/tmp/api-key-auth-redis-cluster}. Does nothing when
# the cluster already answers `cluster_state:ok`. `scripts/redis-cluster.sh stop` stops it.
set -euo pipefail
ports=("${@:-7000 7001 7002}")
read -r -a ports <<<"${ports[*]}"
dir=${REDIS_CLUSTER_DIR:-/tmp/api-key-auth-redis-cluster}

if [ "${ports[0]}" = stop ]; then
  for port in 7000 7001 7002; do redis-cli -p "$port" shutdown nosave 2>/dev/null || true; done
  exit 0
fi
if redis-cli -p "${ports[0]}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then
  echo "Redis Cluster already up on ports ${ports[*]}"
  exit 0
fi
nodes=()
for port in "${ports[@]}"; do
  mkdir -p "$dir/$port"
  if ! redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
    rm -f "$dir/$port/nodes.conf"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$dir/$port" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --save "" --appendonly no --logfile "$dir/$port/redis.log"
  fi
  nodes+=("127.0.0.1:$port")
done
for port in "${ports[@]}"; do
  for _ in $(seq 50); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
done
redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
for _ in $(seq 100); do
  ok=0
  for port in "${ports[@]}"; do
    redis-cli -p "$port" cluster info | grep -q '^cluster_state:ok' && ok=$((ok + 1))
  done
  [ "$ok" = "${#ports[@]}" ] && break
  sleep 0.1
done
redis-cli -p "${ports[0]}" cluster info | grep '^cluster_state'
