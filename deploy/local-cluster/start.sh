#!/usr/bin/env bash
# A local Switchboard cluster on loopback: one redis-server, N nodes, HAProxy.
# Usage: deploy/local-cluster/start.sh [nodes=3]
# Env: LB_PORT (8080), STATS_PORT (8404), NODE_BASE_PORT (8101), REDIS_PORT (16379),
#      JWT_SECRET / API_KEYS (random dev values when unset), SWITCHBOARD_CONFIG.
# Ctrl-C stops everything this script started (by PID) and removes its temp dir.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NODES="${1:-3}"
LB_PORT="${LB_PORT:-8080}"
STATS_PORT="${STATS_PORT:-8404}"
NODE_BASE_PORT="${NODE_BASE_PORT:-8101}"
REDIS_PORT="${REDIS_PORT:-16379}"
BUN="${BUN:-$ROOT/node_modules/.bin/bun}"
[ -x "$BUN" ] || BUN="$(command -v bun)"

command -v redis-server >/dev/null || { echo "redis-server not found: install it with \`apt-get install -y redis-server\`" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "haproxy not found: install it with \`apt-get install -y haproxy\`" >&2; exit 1; }
[ "$REDIS_PORT" != 6379 ] || { echo "refusing REDIS_PORT=6379 (the system Redis)" >&2; exit 1; }

RUN="$(mktemp -d -t sb-local-cluster-XXXXXX)"
PIDS=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping (pids ${PIDS[*]:-none})"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # url, seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for $1" >&2; exit 1; }
    sleep 0.2
  done
}

export JWT_SECRET="${JWT_SECRET:-$(head -c 32 /dev/urandom | base64 | tr -d '=+/')-local-cluster}"
export API_KEYS="${API_KEYS:-local-$(head -c 12 /dev/urandom | base64 | tr -d '=+/')}"

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN" --save "" --appendonly yes --appendfsync everysec \
  --daemonize no --logfile "$RUN/redis.log" &
PIDS+=($!)
REDIS_PID=$!
declare -A NAME_OF=([$REDIS_PID]=redis)
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.1; done

SERVERS=""
NODE_PIDS=""
for i in $(seq 1 "$NODES"); do
  port=$((NODE_BASE_PORT + i - 1))
  mkdir -p "$RUN/node$i"
  env NODE_ENV="${NODE_ENV:-development}" HOST=127.0.0.1 PORT="$port" NODE_ID="node$i" DATA_DIR="$RUN/node$i" \
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT" "$BUN" "$ROOT/src/main.ts" >"$RUN/node$i.log" 2>&1 &
  PIDS+=($!)
  NAME_OF[$!]="node$i"
  NODE_PIDS+="node$i=$! "
  SERVERS+="    server node$i 127.0.0.1:$port"$'\n'
done
for i in $(seq 1 "$NODES"); do wait_for "http://127.0.0.1:$((NODE_BASE_PORT + i - 1))/health/ready" 20; done

sed -e "s|@LB_BIND@|127.0.0.1:$LB_PORT|" -e "s|@STATS_BIND@|127.0.0.1:$STATS_PORT|" "$HERE/haproxy.cfg.template" |
  awk -v servers="$SERVERS" '{ if ($0 == "@SERVERS@") printf "%s", servers; else print }' >"$RUN/haproxy.cfg"
haproxy -c -q -f "$RUN/haproxy.cfg"
haproxy -db -f "$RUN/haproxy.cfg" >"$RUN/haproxy.log" 2>&1 &
PIDS+=($!)
NAME_OF[$!]=haproxy
wait_for "http://127.0.0.1:$LB_PORT/health/ready" 10

cat <<INFO

Switchboard local cluster is up ($NODES nodes behind HAProxy, Redis on 127.0.0.1:$REDIS_PORT)
  WebSocket   ws://127.0.0.1:$LB_PORT/v1/ws
  HTTP API    http://127.0.0.1:$LB_PORT/v1/publish   (Authorization: Bearer $API_KEYS)
  Health      http://127.0.0.1:$LB_PORT/health/ready
  HAProxy     http://127.0.0.1:$STATS_PORT/stats
  Nodes       $(for i in $(seq 1 "$NODES"); do printf 'http://127.0.0.1:%s ' $((NODE_BASE_PORT + i - 1)); done)
  PIDs        $NODE_PIDS
  JWT_SECRET  $JWT_SECRET
  Logs        $RUN/*.log
Ctrl-C stops everything.
INFO
# A node that dies (the failover check: kill -9 one) leaves the others serving behind
# HAProxy; the cluster is stopped only when Redis or HAProxy goes, or the last node does.
live_nodes=$NODES
while :; do
  exited=""
  wait -n -p exited "${PIDS[@]}" || true
  [ -n "$exited" ] || continue
  name="${NAME_OF[$exited]:-pid $exited}"
  rest=()
  for pid in "${PIDS[@]}"; do [ "$pid" = "$exited" ] || rest+=("$pid"); done
  PIDS=("${rest[@]}")
  case "$name" in
    node*)
      live_nodes=$((live_nodes - 1))
      echo "$name (pid $exited) exited; $live_nodes node(s) still serving (log: $RUN/$name.log)" >&2
      [ "$live_nodes" -gt 0 ] || { echo "no node left; stopping" >&2; exit 1; }
      ;;
    *)
      echo "$name (pid $exited) exited; stopping the cluster (log: $RUN/$name.log)" >&2
      exit 1
      ;;
  esac
done
