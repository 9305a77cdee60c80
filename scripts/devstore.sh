#!/usr/bin/env bash
# The local MongoDB-compatible store: PostgreSQL (Debian's) + FerretDB.
#
#   devstore.sh start DIR [PORT]   start (or reuse) the store kept in DIR;
#                                  prints MONGO_URI=... as its last line
#   devstore.sh stop DIR           stop FerretDB and PostgreSQL
#   devstore.sh status DIR         exit 0 when both are up
#   devstore.sh destroy DIR        stop, then delete the data (tests)
#   devstore.sh pg-stop DIR / pg-start DIR   only PostgreSQL (fault tests)
#
# PostgreSQL listens on a unix socket only (no TCP port). As root it runs as
# the postgres user; when that user cannot reach DIR (a home folder of mode
# 0700, say), the cluster lives in a folder of its own under /tmp, named
# after DIR, and the log says where.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,10p' "$0" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] || { echo "devstore: PostgreSQL is not installed (make deps)" >&2; exit 1; }
launcher=${DEVSTORE_BIN:-$top/build/tools/devstore}

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Where the cluster lives: DIR/pg, unless the postgres user cannot reach it.
pg_home() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "$dir/pg"
    elif runuser -u postgres -- test -x "$dir" 2>/dev/null; then
        echo "$dir/pg"
    else
        echo "/tmp/devstore-$(printf '%s' "$dir" | sha256sum | cut -c1-12)"
    fi
}

pg=$(pg_home)
sock=$pg/sock
data=$pg/data

pg_running() { [ -f "$data/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

pg_start() {
    if [ ! -f "$data/PG_VERSION" ]; then
        mkdir -p "$pg"
        [ "$(id -u)" -ne 0 ] || chown postgres "$pg"
        [ "$pg" = "$dir/pg" ] || echo "devstore: $dir is not reachable by the postgres user; cluster in $pg" >&2
        as_pg "$pgbin/initdb" -A trust -U postgres -E UTF8 -D "$data" >"$pg/initdb.log" 2>&1 ||
            { cat "$pg/initdb.log" >&2; exit 1; }
        fresh=1
    fi
    as_pg mkdir -p "$sock"
    if ! pg_running; then
        as_pg "$pgbin/pg_ctl" -w -D "$data" -l "$pg/postgresql.log" \
            -o "-c listen_addresses='' -c unix_socket_directories='$sock' -c fsync=off -c max_connections=200" \
            start >/dev/null || { tail -n 20 "$pg/postgresql.log" >&2; exit 1; }
    fi
    if [ "${fresh:-0}" = 1 ]; then
        as_pg "$pgbin/createdb" -h "$sock" -U postgres ferretdb
    fi
}

pg_stop() {
    if pg_running; then
        as_pg "$pgbin/pg_ctl" -w -D "$data" -m fast stop >/dev/null
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ferret_running() { [ -f "$dir/devstore.pid" ] && kill -0 "$(cat "$dir/devstore.pid")" 2>/dev/null; }

start() {
    local port=${1:-}
    pg_start
    if ferret_running; then
        echo "MONGO_URI=$(cat "$dir/mongo_uri")"
        return
    fi
    [ -x "$launcher" ] || { echo "devstore: $launcher is missing (make)" >&2; exit 1; }
    [ -n "$port" ] || port=$(free_port)
    "$launcher" -listen "127.0.0.1:$port" \
        -postgresql-url "postgres://postgres@/ferretdb?host=$sock" \
        >>"$dir/ferretdb.log" 2>&1 &
    echo $! >"$dir/devstore.pid"
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "mongodb://127.0.0.1:$port/" >"$dir/mongo_uri"
            echo "MONGO_URI=mongodb://127.0.0.1:$port/"
            return
        fi
        kill -0 "$(cat "$dir/devstore.pid")" 2>/dev/null ||
            { tail -n 20 "$dir/ferretdb.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "devstore: FerretDB did not start on port $port" >&2
    exit 1
}

stop() {
    if ferret_running; then
        local pid
        pid=$(cat "$dir/devstore.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/devstore.pid"
    pg_stop
}

case $cmd in
start) start "${3:-}" ;;
stop) stop ;;
status) pg_running && ferret_running ;;
destroy) stop; rm -rf "$pg" "$dir" ;;
pg-stop) pg_stop ;;
pg-start) pg_start ;;
*) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
