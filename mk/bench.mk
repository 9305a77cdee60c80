# Benchmarks: `make bench` runs every bench-* target; figures are reported
# as ratios to a baseline measured in the same run (docs/performance.md).
BENCH_BIN := $(BUILD)/bench

$(BENCH_BIN)/civetweb_bare: bench/baseline/civetweb_bare.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

EXTRA_TARGETS += $(BENCH_BIN)/civetweb_bare

.PHONY: bench-auth
bench: bench-auth
bench-auth: build-all
	@BIN_DIR=$(BIN) BENCH_BIN=$(BENCH_BIN) bench/auth.sh

$(BENCH_BIN)/store_bench: bench/store/store_bench.c $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

EXTRA_TARGETS += $(BENCH_BIN)/store_bench

# The local store's cost per request-path operation at 1k/10k/100k docs.
.PHONY: bench-store
bench: bench-store
bench-store: $(BENCH_BIN)/store_bench build/tools/devstore
	@d=$$(mktemp -d /tmp/bench-store-XXXXXX); \
	uri=$$(scripts/devstore.sh start $$d/store | sed -n 's/^MONGO_URI=//p'); \
	$(BENCH_BIN)/store_bench $$uri $(STORE_OPS); rc=$$?; \
	scripts/devstore.sh destroy $$d/store >/dev/null; rm -rf $$d; exit $$rc

.PHONY: bench-chat
bench: bench-chat
bench-chat: build-all
	@BIN_DIR=$(BIN) BENCH_BIN=$(BENCH_BIN) bench/chat.sh

# The chat path with and without the metrics daemon listening.
.PHONY: bench-reporting
bench: bench-reporting
bench-reporting: build-all
	@REPORTING=1 BIN_DIR=$(BIN) BENCH_BIN=$(BENCH_BIN) bench/chat.sh 1000

.PHONY: bench-llm
bench: bench-llm
bench-llm: build-all
	@BIN_DIR=$(BIN) BENCH_BIN=$(BENCH_BIN) bench/llm.sh

.PHONY: bench-hitl
bench: bench-hitl
bench-hitl: build-all
	@BIN_DIR=$(BIN) bench/hitl.sh
