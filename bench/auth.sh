#!/usr/bin/env bash
# Logins/s (argon2id-bound) and authenticated GET /api/auth/me requests/s,
# beside a bare civetweb handler measured in the same run (wrk, loopback).
#   bench/auth.sh            (make bench-auth)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. bench/lib.sh
DUR=${DUR:-10}
CONN=${CONN:-64}
bench_workdir auth


uri=$(scripts/devstore.sh start "$work/store" | sed -n 's/^MONGO_URI=//p')
bare_port=$(free_port)
"$BENCH_BIN/civetweb_bare" "$bare_port" &
pids+=($!)
export VAR_DIR=$work/var PORT=$(free_port) MONGO_URI=$uri LOG_LEVEL=warn
export ADMIN_USERNAME=benchadmin ADMIN_PASSWORD=bench-password-1
start_suite --wait
sleep 0.5

token=$(curl -fs -XPOST "localhost:$PORT/api/auth/login" -H 'Content-Type: application/json' \
    -d '{"username":"benchadmin","password":"bench-password-1"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
cat >"$work/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"benchadmin","password":"bench-password-1"}'
LUA

bare=$(wrk -t2 -c"$CONN" -d"${DUR}s" "http://127.0.0.1:$bare_port/" | tee "$work/bare.txt" | rps)
me=$(wrk -t2 -c"$CONN" -d"${DUR}s" -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$PORT/api/auth/me" | tee "$work/me.txt" | rps)
login=$(wrk -t2 -c8 -d"${DUR}s" -s "$work/login.lua" \
    "http://127.0.0.1:$PORT/api/auth/login" | tee "$work/login.txt" | rps)
non2xx=$(grep -h 'Non-2xx' "$work/me.txt" "$work/login.txt" || true)

printf '\n%-42s %12s %10s %8s\n' "wrk -t2, ${DUR}s, loopback" "requests/s" "latency" "ratio"
printf '%-42s %12s %10s %8s\n' "bare civetweb JSON handler (-c$CONN)" "$bare" "$(lat <"$work/bare.txt")" "1.00"
printf '%-42s %12s %10s %8.3f\n' "GET /api/auth/me, JWT + store (-c$CONN)" "$me" "$(lat <"$work/me.txt")" "$(echo "$me / $bare" | bc -l)"
printf '%-42s %12s %10s %8.4f\n' "POST /api/auth/login, argon2id (-c8)" "$login" "$(lat <"$work/login.txt")" "$(echo "$login / $bare" | bc -l)"
[ -z "$non2xx" ] || echo "non-2xx: $non2xx"
