# The LLM client alone: 512 concurrent calls against the fake server that
# answers in 1 s (docs/llm.md). mk/bench.mk's bench-llm (the whole suite in
# LLM mode) keeps its recipe; this adds the client bench to it.
#   make bench-llm-client LLM_BENCH_ARGS='-n 1024 -d 0.5'
LLM_BENCH := $(BUILD)/bench/llm_bench
LLM_BENCH_ARGS ?= -n 512 -d 1.0 -r 2

$(LLM_BENCH): bench/llm/llm_bench.c $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

EXTRA_TARGETS += $(LLM_BENCH)

.PHONY: bench-llm bench-llm-client
bench: bench-llm
bench-llm: bench-llm-client
bench-llm-client: $(LLM_BENCH)
	@$(LLM_BENCH) $(LLM_BENCH_ARGS)
