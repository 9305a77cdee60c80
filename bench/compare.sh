#!/usr/bin/env bash
# One run, one store pre-filled with MESSAGES messages, the same wrk load
# (-t2 -cCONN, DUR s, loopback) against:
#   a. the bare civetweb JSON handler (bench/baseline/civetweb_bare.c)
#   c. the one-hop floor: civetweb + one nng REQ/REP round trip with the
#      suite's protobuf envelopes, nothing checked (bench/baseline/bus_floor.c),
#      sent the same request as b (path, query, bearer token), unread
#      and the same floor with one habit of common/bus.c's bus_call each:
#      a context and aio opened per call; a completion callback waited on
#   c'. the same round trip made through the suite's bus library
#      (common/bus.c), still checking nothing
#   b. GET /api/monitoring/traces?limit=1 as the bench admin: the gateway
#      checks the JWT and asks the metrics daemon once, answered from memory
#   e. a seed-equivalent FastAPI app (bench/seed/app.py, uvicorn, 2 workers):
#      keyword intent, canned answer, history read + 2 inserts through Motor
#   d. POST /api/chat in built-in mode, guest chats
# and reports b/c (target >= 0.80), b/c' and c'/c (what the gateway's own
# work and the bus library each cost) and d/e (target >= 3), with each
# server's CPU during its run.
# Then PAIRS back-to-back runs of c and b give the median b/c (the floor's
# rate swings between runs here).
#   bench/compare.sh            (make bench-compare; DUR=10 CONN=32 MESSAGES=10000
#                                PAIRS=5 PAIR_DUR=5)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. bench/lib.sh
SEED_VENV=${SEED_VENV:-build/seed-venv}
DUR=${DUR:-10}
CONN=${CONN:-32}
MESSAGES=${MESSAGES:-10000}
PAIRS=${PAIRS:-5}
PAIR_DUR=${PAIR_DUR:-5}
pairs_seen=
bench_workdir compare

uri=$(scripts/devstore.sh start "$work/store" 2>/dev/null | sed -n 's/^MONGO_URI=//p')
"$BENCH_BIN/store_bench" "$uri" --fill support "$MESSAGES" >/dev/null
store_pids="$(cat "$work/store/devstore.pid") $(head -n 1 "$work/store/pg/data/postmaster.pid")"

bare_port=$(free_port)
"$BENCH_BIN/civetweb_bare" "$bare_port" &
pids+=($!)
bare_pid=$!
# floor NAME MODE [ENV=VALUE...]: an HTTP side and a REP side of bus_floor,
# started with the environment given; port in port_of[NAME], pids in
# floor_pids[NAME] ("http rep").
declare -A port_of floor_pids
floor() {
    local name=$1 mode=$2 h
    shift 2
    port_of[$name]=$(free_port)
    env "$@" "$BENCH_BIN/bus_floor" "${mode}http" "${port_of[$name]}" "ipc://$work/$name.ipc" &
    pids+=($!)
    h=$!
    "$BENCH_BIN/bus_floor" "${mode}rep" "ipc://$work/$name.ipc" &
    pids+=($!)
    floor_pids[$name]="$h $!"
}
floor floor ""
floor percall "" FLOOR_PER_CALL=1
floor callback "" FLOOR_CALLBACK=1
floor buslib bus-

export VAR_DIR=$work/var PORT=$(free_port) MONGO_URI=$uri MONGO_DB=support LOG_LEVEL=warn
export ADMIN_USERNAME=benchadmin ADMIN_PASSWORD=bench-password-1
start_suite
seed_port=$(free_port)
"$SEED_VENV/bin/uvicorn" --app-dir bench/seed app:app --host 127.0.0.1 \
    --port "$seed_port" --workers 2 --no-access-log --log-level warning \
    2>>"$work/seed.log" &
pids+=($!)
seed_pid=$!

wait_ok() {
    for _ in $(seq 1 150); do
        curl -fs "$1" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "compare: $1 did not answer" >&2
    return 1
}
wait_ok "localhost:$PORT/api/health"
wait_ok "127.0.0.1:$seed_port/api/health"
for f in "${!port_of[@]}"; do wait_ok "127.0.0.1:${port_of[$f]}/"; done
token=$(curl -fs -XPOST "localhost:$PORT/api/auth/login" -H 'Content-Type: application/json' \
    -d '{"username":"benchadmin","password":"bench-password-1"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
hop_path="/api/monitoring/traces?limit=1"
hop_url="http://127.0.0.1:$PORT$hop_path"
# The floors get the very request b sends (path, query, bearer token): the
# bytes civetweb parses are the same, so b/c is what the gateway's own work
# costs, not the length of a token.
auth=(-H "Authorization: Bearer $token")
curl -fs "${auth[@]}" "$hop_url" >/dev/null

machine_load

suite="gateway=${pid_of[gateway]} metrics=${pid_of[metrics]}"
suite+=" intent-agent=${pid_of[intent-agent]} support-agent=${pid_of[support-agent]}"
suite+=" escalation=${pid_of[escalation]}"
groups=("bare=$bare_pid")
for f in floor percall callback buslib; do
    set -- ${floor_pids[$f]}
    groups+=("$f-http=$1" "$f-rep=$2")
done
groups+=($suite "seed-uvicorn=$seed_pid" "store=${store_pids// /,}")
groups=("${groups[@]//,/ }")

# run NAME URL [wrk args...]: a 1 s warm-up, then the measured run.
declare -A rate
run() {
    local name=$1 url=$2
    shift 2
    wrk -t2 -c"$CONN" -d1s "$@" "$url" >/dev/null
    cpu_mark "${groups[@]}"
    wrk -t2 -c"$CONN" -d"${DUR}s" "$@" "$url" >"$work/$name.txt"
    rate[$name]=$(rps <"$work/$name.txt")
    cpu_report "$(wrk_total <"$work/$name.txt")" >"$work/$name.cpu"
}
run bare "http://127.0.0.1:$bare_port/"
for f in floor percall callback buslib; do
    run "$f" "http://127.0.0.1:${port_of[$f]}$hop_path" "${auth[@]}"
done
run hop "$hop_url" "${auth[@]}"
# The FastAPI app before the chats: its history query scans `messages`
# (FerretDB v1 serves it with no index), which the chats would grow.
run fastapi "http://127.0.0.1:$seed_port/api/chat" -s bench/chat.lua
run chat "http://127.0.0.1:$PORT/api/chat" -s bench/chat.lua

# The floor's rate swings from one run to the next on these machines (two
# modes, ~16,000 and ~21,000 requests/s): PAIRS more back-to-back runs of c
# and b, PAIR_DUR s each, alternating which goes first, give b/c per pair
# and the median of those.
declare -A prate
ratios=()
for i in $(seq 1 "$PAIRS"); do
    order=(floor hop)
    [ $((i % 2)) = 1 ] || order=(hop floor)
    for n in "${order[@]}"; do
        if [ "$n" = floor ]; then
            wrk -t2 -c"$CONN" -d"${PAIR_DUR}s" "${auth[@]}" \
                "http://127.0.0.1:${port_of[floor]}$hop_path" >"$work/pair.txt"
        else
            wrk -t2 -c"$CONN" -d"${PAIR_DUR}s" "${auth[@]}" "$hop_url" >"$work/pair.txt"
        fi
        prate[$n]=$(rps <"$work/pair.txt")
    done
    ratios+=("$(printf '%.3f' "$(echo "${prate[hop]} / ${prate[floor]}" | bc -l)")")
    pairs_seen+="${prate[floor]%.*}/${prate[hop]%.*} "
done

row() { # label name ratio-to
    printf '%-52s %10s %9s %8.4f\n' "$1" "${rate[$2]}" "$(lat <"$work/$2.txt")" \
        "$(echo "${rate[$2]} / ${rate[bare]}" | bc -l)"
    grep -h 'Non-2xx\|Socket errors' "$work/$2.txt" | sed 's/^/    /' || true
    cat "$work/$2.cpu"
}
printf '\n%-52s %10s %9s %8s\n' "wrk -t2 -c$CONN, ${DUR}s, loopback, $MESSAGES messages stored" \
    "requests/s" "latency" "to bare"
row "a. bare civetweb JSON handler" bare
row "c. floor: civetweb + 1 nng REQ/REP hop (protobuf)" floor
row "   c with a context and an aio per call" percall
row "   c waiting through a completion callback" callback
row "c'. the same hop through common/bus.c" buslib
row "b. GET /api/monitoring/traces (JWT + 1 hop)" hop
row "e. seed-equivalent FastAPI chat (2 workers, Motor)" fastapi
row "d. POST /api/chat, built-in mode" chat
printf '\n%-44s %8.3f   (target >= 0.80)\n' "one hop, gateway / floor (b/c)" \
    "$(echo "${rate[hop]} / ${rate[floor]}" | bc -l)"
printf '%-44s %8.3f\n' "one hop, gateway / bus-library floor (b/c')" \
    "$(echo "${rate[hop]} / ${rate[buslib]}" | bc -l)"
printf '%-44s %8.3f\n' "bus library / raw nng floor (c'/c)" \
    "$(echo "${rate[buslib]} / ${rate[floor]}" | bc -l)"
if [ "$PAIRS" -gt 0 ]; then
    median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 }
        END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    printf '%-44s %8.3f   (%s pairs of %s s, c/b: %s; b/c: %s)\n' \
        "one hop b/c, median of back-to-back pairs" "$median" "$PAIRS" \
        "$PAIR_DUR" "${pairs_seen% }" "${ratios[*]}"
fi
printf '%-44s %8.3f   (target >= 3)\n' "chat, suite / FastAPI (d/e)" \
    "$(echo "${rate[chat]} / ${rate[fastapi]}" | bc -l)"
grep -h ERROR "$work/suite.log" | sed "s/^[0-9T:.Z-]* //" | sort | uniq -c | sort -rn | head -n 5 || true
[ ! -s "$work/seed.log" ] || { echo "seed app log:"; tail -n 5 "$work/seed.log"; }
