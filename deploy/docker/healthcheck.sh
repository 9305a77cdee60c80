#!/bin/bash
# healthcheck [SERVICE] [--live] - exit 0 when this container's service is
# doing its job, 1 (with a line saying why) when not. SERVICE defaults to
# the program running as PID 1. Used by docker-compose.yml and by the
# Kubernetes exec probes (deploy/k8s); needs nothing but bash and awk.
#
#   gateway          GET /api/health on its own port answers 200: the store
#                    and every daemon are up (503 "degraded" otherwise).
#   gateway --live   the HTTP server answers at all (any status).
#   intent-agent, support-agent, escalation, metrics
#                    the daemon holds an established TCP connection to the
#                    bus port of each gateway its *_ADDR lists: it has
#                    loaded what it needs (models, knowledge, store) and
#                    dialed in, so every gateway can send it requests. The
#                    daemons have no HTTP port; this reads the kernel's
#                    socket table (/proc/net). metrics must also be
#                    listening on EVENTS_ADDR.
#   DAEMON --live    connected to at least one gateway.
set -uo pipefail

svc=${1:-}
if [ -z "$svc" ] || [ "$svc" = --live ]; then
    svc=$(tr '\0' '\n' </proc/1/cmdline | head -n 1)
    svc=${svc##*/}
fi
live=0
for a in "$@"; do [ "$a" = --live ] && live=1; done

# The port of a tcp:// bus URL, in the kernel's hex spelling.
port_hex() {
    case "$1" in
    tcp://*:[0-9]*) printf '%04X' "${1##*:}" ;;
    *) return 1 ;;
    esac
}

# A socket in /proc/net/tcp{,6} with this state (01 established, 0A listen)
# whose remote (field 3) or local (field 2) address ends in :PORT.
has_socket() { # state field port_hex
    awk -v st="$1" -v f="$2" -v p=":$3" \
        'FNR > 1 && $4 == st && substr($f, length($f) - 4) == p { ok = 1 }
         END { exit !ok }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# How many established connections go to remote port PORT_HEX.
connections() { # port_hex
    awk -v p=":$1" \
        'FNR > 1 && $4 == "01" && substr($3, length($3) - 4) == p { n++ }
         END { print n + 0 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# VAR is the gateway's bus address, or a comma-separated list of them (one
# per gateway; the daemon dials each). Ready: one established connection
# per address listed (counted per port, as gateways behind different names
# share one). --live: connected to at least one gateway.
bus_connected() { # VAR
    local url=${!1:-}
    local u hex have total=0 short=0
    local -a urls
    local -A want=()
    IFS=, read -ra urls <<<"$url"
    for u in "${urls[@]}"; do
        u=${u//[[:space:]]/}
        [ -n "$u" ] || continue
        if ! hex=$(port_hex "$u"); then
            echo "healthcheck: $1=$url: $u is not a tcp:// URL; cannot check" >&2
            return 1
        fi
        want[$hex]=$((${want[$hex]:-0} + 1))
    done
    if [ "${#want[@]}" -eq 0 ]; then
        echo "healthcheck: $1 is empty; cannot check" >&2
        return 1
    fi
    for hex in "${!want[@]}"; do
        have=$(connections "$hex")
        total=$((total + have))
        [ "$have" -ge "${want[$hex]}" ] || short=1
    done
    if [ "$live" = 1 ]; then
        [ "$total" -gt 0 ] && return 0
        echo "healthcheck: $svc is not connected to any gateway of $1=$url" >&2
        return 1
    fi
    [ "$short" = 0 ] && return 0
    echo "healthcheck: $svc is not connected to every gateway of $1=$url" >&2
    return 1
}

case "$svc" in
gateway)
    path=/api/health
    [ "$live" = 1 ] && path=/openapi.json
    if ! exec 3<>"/dev/tcp/127.0.0.1/${PORT:-8080}"; then
        echo "healthcheck: nothing listens on port ${PORT:-8080}" >&2
        exit 1
    fi
    printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" >&3
    read -r -t 5 _ code _ <&3 || code=
    exec 3<&-
    if [ "$live" = 1 ] && [ -n "$code" ]; then exit 0; fi
    [ "$code" = 200 ] && exit 0
    echo "healthcheck: GET $path answered ${code:-nothing}" >&2
    exit 1
    ;;
intent-agent) bus_connected INTENT_ADDR ;;
support-agent) bus_connected SUPPORT_ADDR ;;
escalation) bus_connected ESCALATION_ADDR ;;
metrics)
    bus_connected METRICS_ADDR || exit 1
    hex=$(port_hex "${EVENTS_ADDR:-}") || {
        echo "healthcheck: EVENTS_ADDR=${EVENTS_ADDR:-} is not a tcp:// URL" >&2
        exit 1
    }
    has_socket 0A 2 "$hex" || {
        echo "healthcheck: metrics does not listen on $EVENTS_ADDR" >&2
        exit 1
    }
    ;;
*)
    echo "healthcheck: unknown service '$svc'" >&2
    exit 1
    ;;
esac
