#!/usr/bin/env bash
# Review queue: claim and approve requests/s, and one notice fanned out to
# STREAMS open server-sent event streams.
#   bench/hitl.sh      (make bench-hitl; ITEMS=300 STREAMS=500)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. bench/lib.sh
ITEMS=${ITEMS:-300}
STREAMS=${STREAMS:-500}
bench_workdir hitl
uri=$(scripts/devstore.sh start "$work/store" 2>/dev/null | sed -n 's/^MONGO_URI=//p')
export VAR_DIR=$work/var PORT=$(free_port) MONGO_URI=$uri LOG_LEVEL=warn
export ADMIN_USERNAME=benchadmin ADMIN_PASSWORD=bench-password-1
export HTTP_THREADS=$((STREAMS + 64))
start_suite --wait
login() {
    curl -fs -XPOST "localhost:$PORT/api/auth/login" -H 'Content-Type: application/json' \
        -d "{\"username\":\"$1\",\"password\":\"$2\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
admin=$(login benchadmin bench-password-1)
curl -fs -XPOST "localhost:$PORT/api/admin/users" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $admin" \
    -d '{"username":"benchagent","password":"bench-password-1","role":"agent"}' >/dev/null
agent=$(login benchagent bench-password-1)
python3 bench/hitl_client.py "http://127.0.0.1:$PORT" "$admin" "$agent" "$ITEMS" "$STREAMS"
