#!/usr/bin/env bash
# The local MongoDB-compatible store: Debian's PostgreSQL + FerretDB v1.24.2
# (build/tools/devstore). docs/store.md has the layout and the figures.
#
#   devstore.sh start DIR [PORT]  start (or reuse) the store kept in DIR; FerretDB
#                                 on 127.0.0.1:PORT (default: the last port if
#                                 free, else a free one); the last line of
#                                 stdout is MONGO_URI=mongodb://127.0.0.1:PORT/
#   devstore.sh stop DIR          stop FerretDB, then PostgreSQL (idempotent)
#   devstore.sh status DIR        exit 0 when both are up and answer a ping
#   devstore.sh destroy DIR       stop, then delete the cluster, the logs and DIR
#                                 when nothing else is in it (tests)
#   devstore.sh pg-stop DIR       stop only PostgreSQL (fault tests)
#   devstore.sh pg-start DIR      start only PostgreSQL
#
# PostgreSQL listens on a unix socket only (no TCP port). As root it runs as
# the postgres user; when that user cannot reach DIR (a home folder of mode
# 0700, say), the cluster lives in /tmp/devstore-<hash of DIR> and DIR/pg
# is a symbolic link to it. Logs: DIR/devstore.log (this script),
# DIR/ferretdb.log, DIR/postgresql.log.
# Environment: DEVSTORE_BIN (launcher), DEVSTORE_PG_BIN (PostgreSQL's bin/).
set -euo pipefail

usage() {
    sed -n '5,14p' "$0" >&2
    exit 2
}

top=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || usage
case $cmd in
start | pg-start)
    case ${3:-0} in '' | *[!0-9]*) usage ;; esac
    mkdir -p "$dir"
    ;;
stop | status | destroy | pg-stop) ;;
*) usage ;;
esac
dir=$(realpath -m -- "$dir")

pgbin=${DEVSTORE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
launcher=${DEVSTORE_BIN:-$top/build/tools/devstore}
root=0
[ "$(id -u)" -ne 0 ] || root=1
hash=$(printf '%s' "$dir" | sha256sum | cut -c1-12)

# info: DIR/devstore.log only; warn: there and on stderr.
info() {
    if [ -d "$dir" ]; then
        printf '%s %s\n' "$(date '+%F %T')" "$*" >>"$dir/devstore.log" 2>/dev/null || true
    fi
}
warn() {
    echo "devstore: $*" >&2
    info "$*"
}
die() {
    warn "$*"
    exit 1
}

# Serialise commands on one DIR. Fd 9 holds the lock: no child keeps it
# (9>&- on every long-lived one), else a lock would outlive this script.
lock() {
    [ -d "$dir" ] || return 0
    exec 9>"$dir/.lock"
    flock -w 120 9 || die "another devstore.sh holds $dir/.lock"
}

# Run a PostgreSQL tool as its owner: the postgres user when we are root.
as_pg() {
    if [ "$root" = 1 ]; then
        (cd / && runuser -u postgres -- "$@" 9>&-)
    else
        "$@" 9>&-
    fi
}

# Where the cluster lives: DIR/pg, or /tmp/devstore-HASH when the postgres
# user cannot reach DIR (then DIR/pg is a link to it, so restarts find it).
if [ -L "$dir/pg" ]; then
    pg=$(readlink "$dir/pg")
elif [ "$root" = 0 ] || [ -d "$dir/pg" ] ||
    { [ -d "$dir" ] && runuser -u postgres -- test -x "$dir" 2>/dev/null; }; then
    pg=$dir/pg
else
    pg=/tmp/devstore-$hash
fi
data=$pg/data
# A unix socket path must fit in 107 bytes: a long DIR gets a short one.
sock=$pg/sock
[ ${#sock} -le 90 ] || sock=/tmp/devstore-$hash.s
pg_log=$pg/postgresql.log
pid_file=$dir/devstore.pid
uri_file=$dir/mongo_uri

pg_running() {
    [ -f "$data/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# A directory owned by whoever runs PostgreSQL, mode 0700.
pg_mkdir() {
    mkdir -p "$1"
    chmod 700 "$1"
    [ "$root" = 0 ] || chown postgres: "$1"
}

pg_start() {
    [ -x "$pgbin/initdb" ] || die "PostgreSQL is not installed (make deps)"
    if [ "$root" = 1 ] && ! id postgres >/dev/null 2>&1; then
        die "no postgres user to run PostgreSQL as (make deps)"
    fi
    if [ "$pg" != "$dir/pg" ] && [ ! -L "$dir/pg" ]; then
        ln -sfn "$pg" "$dir/pg"
        warn "the postgres user cannot reach $dir; cluster in $pg ($dir/pg links to it)"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        pg_mkdir "$pg"
        as_pg "$pgbin/initdb" --no-sync -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
            -D "$data" >"$pg/initdb.log" 2>&1 ||
            { cat "$pg/initdb.log" >&2; die "initdb failed ($pg/initdb.log)"; }
        info "new PostgreSQL cluster in $data"
    fi
    ln -sfn "pg/postgresql.log" "$dir/postgresql.log" 2>/dev/null || true
    pg_mkdir "$sock"
    if ! pg_running; then
        as_pg "$pgbin/pg_ctl" -w -t 60 -D "$data" -l "$pg_log" \
            -o "-c listen_addresses='' -c unix_socket_directories='$sock' \
-c max_connections=200 -c synchronous_commit=off" \
            start >/dev/null || { tail -n 20 "$pg_log" >&2; die "PostgreSQL did not start ($pg_log)"; }
        info "PostgreSQL up, socket in $sock"
    fi
    local have
    have=$(as_pg "$pgbin/psql" -h "$sock" -U postgres -d postgres -Atqc \
        "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'") ||
        die "PostgreSQL does not answer on $sock"
    if [ "$have" != 1 ]; then
        as_pg "$pgbin/createdb" -h "$sock" -U postgres ferretdb || die "createdb failed"
    fi
}

pg_stop() {
    if pg_running; then
        as_pg "$pgbin/pg_ctl" -w -t 60 -D "$data" -m fast stop >/dev/null ||
            as_pg "$pgbin/pg_ctl" -w -D "$data" -m immediate stop >/dev/null
        info "PostgreSQL stopped"
    fi
}

# The pid in DIR/devstore.pid, when it is still our launcher.
ferret_pid() {
    local pid
    [ -f "$pid_file" ] || return 1
    pid=$(cat "$pid_file")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-uri-file $uri_file" || return 1
    echo "$pid"
}

# One MongoDB command (ping) over the wire: FerretDB up and PostgreSQL behind it.
ping_store() {
    local port=$1
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$port" <<'PY'
import socket, struct, sys
doc = b"\x10ping\x00" + struct.pack("<i", 1) + b"\x02$db\x00" + \
    struct.pack("<i", 6) + b"admin\x00" + b"\x00"
doc = struct.pack("<i", len(doc) + 4) + doc
body = struct.pack("<I", 0) + b"\x00" + doc
msg = struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(msg)
    reply = b""
    while len(reply) < 16 or len(reply) < struct.unpack("<i", reply[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit(1)
        reply += chunk
except OSError:
    sys.exit(1)
ok = b"\x01ok\x00" + struct.pack("<d", 1.0)
sys.exit(0 if ok in reply else 1)
PY
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    fi
}

uri_port() {
    [ ! -f "$uri_file" ] || sed -n 's|^mongodb://127\.0\.0\.1:\([0-9]*\)/$|\1|p' "$uri_file"
}

# Start the launcher on port $1 (0: a free one); returns 1 when it exits.
ferret_launch() {
    local port=$1 pid
    rm -f "$uri_file"
    "$launcher" -listen "127.0.0.1:$port" -uri-file "$uri_file" \
        -postgresql-url "postgres://postgres@/ferretdb?host=$sock" \
        </dev/null >>"$dir/ferretdb.log" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$pid_file"
    for _ in $(seq 1 200); do
        if [ -s "$uri_file" ] && ping_store "$(uri_port)"; then
            info "FerretDB up on $(cat "$uri_file") (pid $pid)"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pid_file"
            return 1
        fi
        sleep 0.05
    done
    kill -TERM "$pid" 2>/dev/null || true
    die "FerretDB did not answer within 10 s ($dir/ferretdb.log)"
}

ferret_start() {
    local port=${1:-} pid last
    if pid=$(ferret_pid); then
        if [ -n "$port" ] && [ "$port" != "$(uri_port)" ]; then
            warn "FerretDB already runs (pid $pid) on $(cat "$uri_file"); port $port ignored"
        fi
        return 0
    fi
    [ -x "$launcher" ] || die "$launcher is missing (make)"
    # Keep the log of a long-lived store (var/store) bounded.
    if [ "$(stat -c %s "$dir/ferretdb.log" 2>/dev/null || echo 0)" -gt 10485760 ]; then
        mv -f "$dir/ferretdb.log" "$dir/ferretdb.log.old"
    fi
    if [ -n "$port" ]; then
        ferret_launch "$port" && return 0
    else
        # No port asked for: the last one again if it is free, else any.
        last=$(uri_port)
        if [ -n "$last" ] && ferret_launch "$last"; then return 0; fi
        ferret_launch 0 && return 0
    fi
    tail -n 5 "$dir/ferretdb.log" >&2
    die "FerretDB exited ($dir/ferretdb.log)"
}

ferret_stop() {
    local pid
    if pid=$(ferret_pid); then
        kill -TERM "$pid" 2>/dev/null || true
        # FerretDB gives connected clients a few seconds to leave.
        for _ in $(seq 1 200); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            warn "FerretDB (pid $pid) did not stop within 10 s: killed"
        else
            info "FerretDB stopped"
        fi
    fi
    rm -f "$pid_file"
}

case $cmd in
start)
    lock
    pg_start
    ferret_start "${3:-}"
    echo "MONGO_URI=$(cat "$uri_file")"
    ;;
stop)
    lock
    ferret_stop
    pg_stop
    ;;
status)
    ok=0
    if pg_running; then echo "postgresql: up ($data)"; else echo "postgresql: down"; ok=1; fi
    if ! ferret_pid >/dev/null; then
        echo "ferretdb: down"
        ok=1
    elif ping_store "$(uri_port)"; then
        echo "ferretdb: up ($(cat "$uri_file"))"
    else
        echo "ferretdb: running but not answering a ping ($(cat "$uri_file"))"
        ok=1
    fi
    exit $ok
    ;;
destroy)
    lock
    ferret_stop
    pg_stop
    # Only what this script made: DIR itself goes only when that empties it.
    rm -rf "$pg" "$sock"
    rm -f "$dir/pg" "$dir/postgresql.log" "$dir/ferretdb.log" "$dir/ferretdb.log.old" \
        "$dir/devstore.log" "$pid_file" "$uri_file" "$dir/.lock"
    rmdir "$dir" 2>/dev/null || true
    ;;
pg-stop)
    lock
    pg_stop
    ;;
pg-start)
    lock
    pg_start
    ;;
esac
