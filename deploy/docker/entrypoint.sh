#!/bin/sh
# The image's entry point: `entrypoint SERVICE [ARGS...]` runs one of the
# five services (gateway, intent-agent, support-agent, escalation, metrics)
# as PID 1, so it gets SIGTERM itself and finishes its requests in flight.
# Anything else is run as given (a shell, `healthcheck`, `gateway --help`).
set -eu

# Debian's OpenBLAS does not know the newest CPUs; pick its kernels for
# them, as scripts/run.sh does (scripts/openblas-coretype.sh).
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    ct=$(/app/sbin/openblas-coretype)
    if [ -n "$ct" ]; then
        export OPENBLAS_CORETYPE="$ct"
    fi
fi

case "${1:-}" in
gateway | intent-agent | support-agent | escalation | metrics)
    svc=$1
    shift
    exec "/app/bin/$svc" "$@"
    ;;
"")
    echo "usage: SERVICE [ARGS...]: gateway, intent-agent, support-agent, escalation or metrics" >&2
    exit 64
    ;;
*)
    exec "$@"
    ;;
esac
