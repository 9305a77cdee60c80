# `make retrieval-eval`: hit@1 / hit@3 of the support agent's retrieval on
# tests/data/retrieval_eval.jsonl, BM25 alone beside the hybrid, what the
# built-in reply does with the shipped thresholds, and threshold sweeps.
#   make retrieval-eval TUNE=--tune            cross-validated weight search
#   make retrieval-eval EVAL_ARGS=--verbose    the misses, one per line
RETRIEVAL_EVAL := $(BUILD)/tools/retrieval-eval
EXTRA_TARGETS += $(RETRIEVAL_EVAL)

$(OBJ)/tools/retrieval-eval/%.o: CPPFLAGS += -Iservices/support-agent

$(RETRIEVAL_EVAL): $(OBJ)/tools/retrieval-eval/main.o $(support-agent_LIB) \
		$(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: retrieval-eval
retrieval-eval: $(RETRIEVAL_EVAL) $(MODEL_DIR)/model.safetensors
	$(RETRIEVAL_EVAL) data/knowledge/kb.json tests/data/retrieval_eval.jsonl \
		$(MODEL_DIR) $(TUNE) $(EVAL_ARGS)
