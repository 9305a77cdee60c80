#!/usr/bin/env bash
# POST /api/chat requests/s in built-in mode (no LLM) with STORED messages
# already in the store, beside a bare civetweb handler in the same run.
#   bench/chat.sh [STORED...]      (make bench-chat; default 1000 100000)
# REPORTING=1 also measures the chat path again with the metrics daemon
# stopped: the cost of reporting events and spans (make bench-reporting).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. bench/lib.sh
DUR=${DUR:-10}
CONN=${CONN:-32}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 100000)



printf '%-44s %12s %10s %8s\n' "wrk -t2 -c$CONN, ${DUR}s, loopback" "requests/s" "latency" "ratio"
for n in "${sizes[@]}"; do
    work=$(mktemp -d /tmp/bench-chat-XXXXXX)
    pids=()
    uri=$(scripts/devstore.sh start "$work/store" 2>/dev/null | sed -n 's/^MONGO_URI=//p')
    "$BENCH_BIN/store_bench" "$uri" --fill support "$n"
    bare_port=$(free_port)
    "$BENCH_BIN/civetweb_bare" "$bare_port" & pids+=($!)
    export VAR_DIR=$work/var PORT=$(free_port) MONGO_URI=$uri MONGO_DB=support LOG_LEVEL=warn
    export ADMIN_USERNAME=benchadmin ADMIN_PASSWORD=bench-password-1
    start_suite --wait
    metrics_pid=${pid_of[metrics]}
    curl -fs -XPOST "localhost:$PORT/api/chat" -H 'Content-Type: application/json' \
        -d '{"message":"hello"}' >/dev/null
    bare=$(wrk -t2 -c"$CONN" -d"${DUR}s" "http://127.0.0.1:$bare_port/" | tee "$work/bare.txt" | rps)
    chat=$(wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/chat.lua \
        "http://127.0.0.1:$PORT/api/chat" | tee "$work/chat.txt" | rps)
    printf '%-44s %12s %10s %8s\n' "bare civetweb handler" "$bare" "$(lat <"$work/bare.txt")" "1.00"
    printf '%-44s %12s %10s %8.4f\n' "POST /api/chat, $n messages stored" "$chat" \
        "$(lat <"$work/chat.txt")" "$(echo "$chat / $bare" | bc -l)"
    grep -h 'Non-2xx\|Socket errors' "$work/chat.txt" || true
    if [ "${REPORTING:-0}" = 1 ]; then
        kill -TERM "$metrics_pid"; wait "$metrics_pid" 2>/dev/null || true
        sleep 1
        off=$(wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/chat.lua \
            "http://127.0.0.1:$PORT/api/chat" | tee "$work/off.txt" | rps)
        printf '%-44s %12s %10s %8.4f\n' "  the same, metrics daemon stopped" "$off" \
            "$(lat <"$work/off.txt")" "$(echo "$off / $bare" | bc -l)"
        printf '%-44s %12s\n' "  reporting cost (1 - on/off)" \
            "$(echo "scale=3; (1 - $chat / $off) * 100" | bc -l)%"
        grep -h 'Non-2xx\|Socket errors' "$work/off.txt" || true
    fi
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/devstore.sh destroy "$work/store" >/dev/null 2>&1 || true
    rm -rf "$work"
done
