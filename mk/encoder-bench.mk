# The sentence encoder's benchmark: messages/s for batches of 1, 8 and 64,
# single-message latency and RSS (figures in docs/encoder.md), float32 beside
# int8 in the same run; with ENCODER_BENCH_TEXTS=file.jsonl also the cosine of
# int8 to float32 vectors over 400 of its texts.
ENCODER_BENCH := $(BUILD)/bench/encoder_bench

$(ENCODER_BENCH): bench/encoder/encoder_bench.c $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

EXTRA_TARGETS += $(ENCODER_BENCH)

.PHONY: bench-encoder
bench: bench-encoder
bench-encoder: $(ENCODER_BENCH) build/model/minilm/model.safetensors
	@$(ENCODER_BENCH) build/model/minilm $(or $(ENCODER_BENCH_SECONDS),3) \
		$(ENCODER_BENCH_TEXTS)
