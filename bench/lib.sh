# Shared by the benchmark scripts (sourced, not run).

# OpenBLAS picks its kernels at load; choose them like scripts/run.sh does.
ct=$(scripts/openblas-coretype.sh)
if [ -n "$ct" ] && [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    export OPENBLAS_CORETYPE=$ct
fi

# The load comes from one address: the gateway's per-address request
# limits (docs/security.md) would answer 429, so benchmarks turn them off.
export RATE_LOGIN_IP=0 RATE_LOGIN_USER=0 RATE_CHAT_IP=0 RATE_CHAT_USER=0 \
    LOGIN_FAIL_MAX=0

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# Requests/s and mean latency out of wrk's report.
rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }
lat() { sed -n 's/^ *Latency *\([0-9.]*[a-z]*\).*/\1/p'; }
# Resident memory of a process, MB.
rss() { awk '/VmRSS/ {print int($2/1024) " MB"}' "/proc/$1/status" 2>/dev/null; }

# A work folder for a run, removed with the store and every process started
# into $pids when the script exits.
bench_workdir() {
    work=$(mktemp -d "/tmp/bench-$1-XXXXXX")
    pids=()
    trap bench_cleanup EXIT
}
bench_cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/devstore.sh destroy "$work/store" >/dev/null 2>&1 || true
    rm -rf "$work"
}
