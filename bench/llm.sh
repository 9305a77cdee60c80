#!/usr/bin/env bash
# 512 concurrent chats against a fake OpenAI-compatible LLM that answers in
# 1 s: chats/s, latency percentiles, errors, gateway and agent RSS.
#   bench/llm.sh            (make bench-llm; CONN=512 DELAY=1 DUR=20 WARM=5)
# wrk opens all CONN connections at once, so the run starts with CONN chats
# arriving together and none finishing before the model's DELAY: wrk's own
# rate counts that start-up wave. The steady rate is also printed: answers
# a second from WARM s after the start to the last whole second.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. bench/lib.sh
CONN=${CONN:-512}
DELAY=${DELAY:-1}
DUR=${DUR:-20}
WARM=${WARM:-5}
bench_workdir llm

uri=$(scripts/devstore.sh start "$work/store" 2>/dev/null | sed -n 's/^MONGO_URI=//p')
store_pids="$(cat "$work/store/devstore.pid") $(head -n 1 "$work/store/pg/data/postmaster.pid")"
python3 tests/fake_llm/server.py --port 0 --delay "$DELAY" >"$work/llm.port" &
pids+=($!)
llm_pid=$!
for _ in $(seq 1 50); do [ -s "$work/llm.port" ] && break; sleep 0.1; done
llm_port=$(sed -n 's/^PORT //p' "$work/llm.port")
export VAR_DIR=$work/var PORT=$(free_port) MONGO_URI=$uri LOG_LEVEL=warn
export LLM_BASE_URL=http://127.0.0.1:$llm_port/v1 LLM_MODEL=fake
export HTTP_THREADS=$((CONN + 64)) SUPPORT_TIMEOUT_MS=30000
start_suite --wait

cat >"$work/chat.lua" <<'LUA'
local msgs = {"where is my order?", "how long does a refund take?",
  "my card was charged twice", "the app crashes on login",
  "do you ship to Norway?", "how do I reset my password?"}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/api/chat", {["Content-Type"] = "application/json"},
    '{"message":"' .. msgs[(i % #msgs) + 1] .. '"}')
end
-- 200s answered per wall-clock second, per thread; summed in done().
local threads = {}
setup = function(t) table.insert(threads, t) end
init = function() started = os.time(); ok_at = {} end
response = function(status)
  if status == 200 then
    local s = os.time()
    ok_at[s] = (ok_at[s] or 0) + 1
  end
end
done = function()
  local from, last, per = nil, nil, {}
  for _, t in ipairs(threads) do
    local st = t:get("started")
    from = (from == nil or st < from) and st or from
    for s, n in pairs(t:get("ok_at")) do
      per[s] = (per[s] or 0) + n
      last = (last == nil or s > last) and s or last
    end
  end
  from = from + WARM
  local n = 0
  for s = from, last - 1 do n = n + (per[s] or 0) end
  if last - from > 0 then
    io.write(string.format("steady chats/s (seconds %d to %d of the run): %.1f\n",
      WARM, WARM + last - from, n / (last - from)))
  end
end
LUA
sed -i "1i WARM = $WARM" "$work/chat.lua"
# The machine's speed today: the bare civetweb handler, same run.
bare_port=$(free_port)
"$BENCH_BIN/civetweb_bare" "$bare_port" &
pids+=($!)
sleep 0.3
echo "bare civetweb handler (wrk -t2 -c64 5 s): $(wrk -t2 -c64 -d5s \
    "http://127.0.0.1:$bare_port/" | rps) requests/s"
kill -TERM "${pids[-1]}" 2>/dev/null || true
echo "gateway RSS idle: $(rss "${pid_of[gateway]}")"
cpu_mark "gateway=${pid_of[gateway]}" "intent-agent=${pid_of[intent-agent]}" \
    "support-agent=${pid_of[support-agent]}" "escalation=${pid_of[escalation]}" \
    "metrics=${pid_of[metrics]}" "fake-llm=$llm_pid" "store=$store_pids"
wrk -t2 -c"$CONN" -d"${DUR}s" --timeout 30s --latency -s "$work/chat.lua" \
    "http://127.0.0.1:$PORT/api/chat" | tee "$work/wrk.txt" |
    grep -E 'Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx|Socket errors|steady'
cpu_report "$(wrk_total <"$work/wrk.txt")"
echo "gateway RSS under load (after): $(rss "${pid_of[gateway]}")"
echo "support-agent RSS: $(rss "${pid_of[support-agent]}"), intent-agent RSS: $(rss "${pid_of[intent-agent]}")"
echo "ERROR log lines: $(grep -c ERROR "$work/suite.log" || true)"
