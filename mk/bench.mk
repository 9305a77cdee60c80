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
