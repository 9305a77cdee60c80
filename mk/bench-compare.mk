# The suite against its floors and against the seed's stack, and the agents
# scaled out (docs/performance.md). Included before mk/bench.mk, so the
# paths are spelled out here.
#   make bench-compare   bare civetweb, one-hop floor, one-hop gateway,
#                        POST /api/chat, a seed-equivalent FastAPI app
#   make bench-scale     chat with 1, 2, 4 instances of each agent
BUS_FLOOR := $(BUILD)/bench/bus_floor
SEED_VENV := build/seed-venv

$(BUS_FLOOR): bench/baseline/bus_floor.c $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

EXTRA_TARGETS += $(BUS_FLOOR)

# The seed's stack, pinned; installed only for the benchmark.
$(SEED_VENV)/.installed: bench/seed/requirements.txt
	@echo "  VENV    $(SEED_VENV)"
	$(Q)rm -rf $(SEED_VENV) && python3 -m venv $(SEED_VENV)
	$(Q)$(SEED_VENV)/bin/pip install -q -r $<
	@touch $@

.PHONY: bench-compare bench-scale
bench: bench-compare bench-scale
bench-compare: build-all $(SEED_VENV)/.installed
	@BIN_DIR=$(BIN) BENCH_BIN=$(BUILD)/bench SEED_VENV=$(SEED_VENV) \
		bench/compare.sh
bench-scale: build-all
	@BIN_DIR=$(BIN) BENCH_BIN=$(BUILD)/bench bench/scale.sh
