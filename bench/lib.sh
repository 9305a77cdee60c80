# Shared by the benchmark scripts (sourced, not run, from the top folder).

# Where the suite and the benchmark programs were built (make sets both).
BIN_DIR=${BIN_DIR:-build/bin}
BENCH_BIN=${BENCH_BIN:-build/bench}

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

# ---- CPU accounting of a run (like pidstat, from /proc) --------------------
# "ticks switches" of a process, its reaped children and its live children
# (PostgreSQL's backends, uvicorn's workers): CPU ticks used, and context
# switches of all their threads (those of exited children are not counted).
tree_use() {
    local t=0 c=0 p v
    for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
        v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null |
            awk '{print $12+$13+$14+$15} END {if (NR == 0) print 0}')
        t=$((t + v))
        v=$(cat /proc/"$p"/task/*/status 2>/dev/null |
            awk '/ctxt_switches/ {s += $2} END {print s + 0}')
        c=$((c + v))
    done
    echo "$t $c"
}
group_use() { # PID...: summed "ticks switches"
    local t=0 c=0 p u
    for p in "$@"; do
        u=$(tree_use "$p")
        t=$((t + ${u% *}))
        c=$((c + ${u#* }))
    done
    echo "$t $c"
}
# Busy ticks of the whole machine, all cores.
busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat; }
# cpu_mark NAME=PID[ PID...] ...: remember where each group's counters stand.
# cpu_report REQUESTS: each group's CPU since the mark as % of one core, CPU
# µs and context switches per request, busiest first; groups under 2% are
# left out.
cpu_mark() {
    cpu_groups=("$@")
    cpu_before=()
    local g
    for g in "${cpu_groups[@]}"; do
        # shellcheck disable=SC2086
        cpu_before+=("$(group_use ${g#*=})")
    done
    cpu_busy0=$(busy_ticks)
    cpu_t0=$(date +%s.%N)
}
cpu_report() {
    local reqs=$1 hz i g u wall
    hz=$(getconf CLK_TCK)
    wall=$(echo "$(date +%s.%N) - $cpu_t0" | bc -l)
    for i in "${!cpu_groups[@]}"; do
        g=${cpu_groups[$i]}
        # shellcheck disable=SC2086
        u=$(group_use ${g#*=})
        echo "${g%%=*} $((${u% *} - ${cpu_before[i]% *})) $((${u#* } - ${cpu_before[i]#* }))"
    done | sort -k2,2nr | awk -v hz="$hz" -v wall="$wall" -v reqs="$reqs" \
        -v busy=$(($(busy_ticks) - cpu_busy0)) -v ncpu="$(nproc)" '
        { pct = $2 / hz / wall * 100
          if (pct >= 2 && reqs > 0) {
              out = out sprintf("%s%s %d%% (%d µs, %.1f cs)", sep, $1, pct,
                  $2 / hz / reqs * 1e6, $3 / reqs)
              sep = ", "
          } }
        END { printf "    CPU, %% of one core (per request: CPU µs, context switches): %s; whole machine %d%% of %d%%\n",
              out, busy / hz / wall * 100, ncpu * 100 }'
}
# Requests wrk completed, out of its report.
wrk_total() { sed -n 's/^ *\([0-9]*\) requests in.*/\1/p'; }
# What else the machine is doing: the load and top's three busiest processes.
machine_load() {
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg); busiest before the runs:"
    top -b -n1 -w 150 | sed -n '8,10p' | awk '{printf "    %s %s%% %s\n", $1, $9, $12}'
}

# Start the five services from $BIN_DIR (environment already exported),
# logging to $work/suite.log; pids in $pids and pid_of[service]. With
# --wait, return once /api/health on $PORT answers 200 (30 s at most).
declare -A pid_of
start_suite() {
    local s
    for s in metrics escalation intent-agent support-agent gateway; do
        "$BIN_DIR/$s" 2>>"$work/suite.log" &
        pids+=($!)
        pid_of[$s]=$!
    done
    [ "${1:-}" = --wait ] || return 0
    for _ in $(seq 1 150); do
        curl -fs "localhost:$PORT/api/health" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "bench: the suite did not become healthy (see $work/suite.log)" >&2
}
