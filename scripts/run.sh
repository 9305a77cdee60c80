#!/usr/bin/env bash
# Start the whole suite: the local store (unless MONGO_URI is set), the four
# daemons and the gateway. Ctrl-C stops everything cleanly.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BIN_DIR=${BIN_DIR:-build/bin}
export VAR_DIR=${VAR_DIR:-./var}
export PORT=${PORT:-8080}
mkdir -p "$VAR_DIR/run"

pids=()
store_started=0

stop_all() {
    trap - INT TERM EXIT
    echo "run: stopping the suite..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$store_started" = 1 ]; then
        scripts/devstore.sh stop "$VAR_DIR/store" || true
    fi
    echo "run: stopped."
    exit 0
}
trap stop_all INT TERM EXIT

if [ -z "${MONGO_URI:-}" ]; then
    echo "run: starting the local store (FerretDB over PostgreSQL) in $VAR_DIR/store"
    out=$(scripts/devstore.sh start "$VAR_DIR/store" "${DEVSTORE_PORT:-}")
    store_started=1
    MONGO_URI=$(printf '%s\n' "$out" | sed -n 's/^MONGO_URI=//p' | tail -n 1)
    export MONGO_URI
    echo "run: store at $MONGO_URI"
else
    echo "run: using the store at MONGO_URI"
fi

# Debian's OpenBLAS does not know the newest CPUs; pick its kernels for them.
ct=$(scripts/openblas-coretype.sh)
if [ -n "$ct" ] && [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    export OPENBLAS_CORETYPE=$ct
fi

for svc in metrics escalation intent-agent support-agent gateway; do
    "$BIN_DIR/$svc" &
    pids+=($!)
done

url="http://127.0.0.1:$PORT"
for _ in $(seq 1 300); do
    if curl -fsS "$url/api/health" >/dev/null 2>&1; then
        break
    fi
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || { echo "run: a service exited; see the log above" >&2; exit 1; }
    done
    sleep 0.2
done
cat <<MSG

  The suite is up:   $url
  Health:            $url/api/health
  API docs:          $url/docs
  Stop with Ctrl-C.

MSG
wait -n "${pids[@]}" || true
echo "run: a service exited; stopping the rest" >&2
