#!/usr/bin/env bash
# The Apollo Client 4 app against a fresh server: `synapse-gql serve` on a free loopback
# port (embedded PostgreSQL in a temporary data directory unless SYNAPSE_DATABASE_URL is
# set), the mock model slowed so that answers stream and can be stopped.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules ] || npm ci --no-audit --no-fund --silent

data_dir="$(mktemp -d)"
port="$(../.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
SYNAPSE_DATA_DIR="$data_dir" SYNAPSE_MOCK_TOKENS_PER_SECOND=200 SYNAPSE_LOG_LEVEL=warning \
  ../.venv/bin/synapse-gql serve --host 127.0.0.1 --port "$port" >"$data_dir/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$data_dir"
}
trap cleanup EXIT

for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$data_dir/server.log"; exit 1; }
  sleep 0.5
done
node chat.mjs "http://127.0.0.1:$port/graphql" || { tail -50 "$data_dir/server.log"; exit 1; }
