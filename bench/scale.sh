#!/usr/bin/env bash
# POST /api/chat (built-in mode, guest chats) with 1, 2 and 4 instances of
# each of intent-agent and support-agent, one gateway, one store pre-filled
# with MESSAGES messages, wrk -t2 -cCONN for DUR s per configuration; the
# resident memory of every process idle and right after each load, and the
# CPU each process group used during each run.
#   bench/scale.sh [COUNTS...]  (make bench-scale; default 1 2 4;
#                                DUR=10 CONN=32 MESSAGES=10000)
# A further instance is the same binary started again with the same
# environment: it dials the gateway, which spreads requests over all of them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. bench/lib.sh
DUR=${DUR:-10}
CONN=${CONN:-32}
MESSAGES=${MESSAGES:-10000}
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2 4)
bench_workdir scale

uri=$(scripts/devstore.sh start "$work/store" 2>/dev/null | sed -n 's/^MONGO_URI=//p')
"$BENCH_BIN/store_bench" "$uri" --fill support "$MESSAGES" >/dev/null
store_pids="$(cat "$work/store/devstore.pid") $(head -n 1 "$work/store/pg/data/postmaster.pid")"
export VAR_DIR=$work/var PORT=$(free_port) MONGO_URI=$uri MONGO_DB=support LOG_LEVEL=warn
export ADMIN_USERNAME=benchadmin ADMIN_PASSWORD=bench-password-1

declare -A pid_of
intent=()
support=()
for s in metrics escalation gateway; do
    "$BIN_DIR/$s" 2>>"$work/suite.log" &
    pids+=($!)
    pid_of[$s]=$!
done
# start_agents N: start instances until there are N of each agent.
start_agents() {
    while [ ${#intent[@]} -lt "$1" ]; do
        INSTANCE=intent-agent-$((${#intent[@]} + 1)) "$BIN_DIR/intent-agent" 2>>"$work/suite.log" &
        pids+=($!)
        intent+=($!)
        INSTANCE=support-agent-$((${#support[@]} + 1)) "$BIN_DIR/support-agent" 2>>"$work/suite.log" &
        pids+=($!)
        support+=($!)
    done
    # The gateway counts an instance once it has dialled in (after loading
    # its models).
    for _ in $(seq 1 300); do
        if curl -s "localhost:$PORT/api/health" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)["dependencies"]
sys.exit(0 if d["intent-agent"]["instances"] == int(sys.argv[1])
         and d["support-agent"]["instances"] == int(sys.argv[1]) else 1)' "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    echo "scale: the gateway did not see $1 instances of each agent" >&2
    return 1
}

machine_load

rss_list() { # the RSS of each pid, "a/b/c MB"
    local out="" p
    for p in "$@"; do out+="${out:+/}$(rss "$p" | cut -d' ' -f1)"; done
    echo "$out MB"
}

# Every process's RSS but the store's, one line.
rss_all() {
    echo "gateway $(rss "${pid_of[gateway]}"); intent-agent $(rss_list "${intent[@]}");" \
        "support-agent $(rss_list "${support[@]}"); metrics $(rss "${pid_of[metrics]}");" \
        "escalation $(rss "${pid_of[escalation]}")"
}

declare -A rate idle after
for n in "${counts[@]}"; do
    start_agents "$n"
    sleep 1
    idle[$n]=$(rss_all)
    wrk -t2 -c"$CONN" -d1s -s bench/chat.lua "http://127.0.0.1:$PORT/api/chat" >/dev/null
    cpu_mark "gateway=${pid_of[gateway]}" "intent-agent=${intent[*]}" \
        "support-agent=${support[*]}" "metrics=${pid_of[metrics]}" \
        "escalation=${pid_of[escalation]}" "store=$store_pids"
    wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/chat.lua \
        "http://127.0.0.1:$PORT/api/chat" >"$work/wrk-$n.txt"
    cpu_report "$(wrk_total <"$work/wrk-$n.txt")" >"$work/cpu-$n.txt"
    after[$n]=$(rss_all)
    rate[$n]=$(rps <"$work/wrk-$n.txt")
done

first=${counts[0]}
printf '\n%-44s %10s %9s %8s\n' "POST /api/chat, wrk -t2 -c$CONN, ${DUR}s" "requests/s" "latency" "to ${first}x"
for n in "${counts[@]}"; do
    printf '%-44s %10s %9s %8.3f\n' "$n instance(s) of each agent" "${rate[$n]}" \
        "$(lat <"$work/wrk-$n.txt")" "$(echo "${rate[$n]} / ${rate[$first]}" | bc -l)"
    grep -h 'Non-2xx\|Socket errors' "$work/wrk-$n.txt" | sed 's/^/    /' || true
    cat "$work/cpu-$n.txt"
    echo "    RSS idle:  ${idle[$n]}"
    echo "    RSS after: ${after[$n]}"
done
echo "($(nproc) cores)"
grep -h ERROR "$work/suite.log" | sed "s/^[0-9T:.Z-]* //" | sort | uniq -c | sort -rn | head -n 5 || true
