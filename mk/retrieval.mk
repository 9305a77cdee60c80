# `make retrieval-eval`: hit@1 / hit@3 of the support agent's retrieval on
# the messages of RETRIEVAL_SETS, scored as one set (one file alone:
# RETRIEVAL_SETS=tests/data/retrieval_eval_2.jsonl), BM25 alone beside the
# hybrid, what the built-in reply does with the shipped thresholds, and
# threshold sweeps.
#   make retrieval-eval TUNE=--tune            cross-validated weight search
#   make retrieval-eval EVAL_ARGS=--verbose    the misses, one per line
RETRIEVAL_EVAL := $(BUILD)/tools/retrieval-eval
RETRIEVAL_SETS ?= tests/data/retrieval_eval.jsonl \
	tests/data/retrieval_eval_2.jsonl
EXTRA_TARGETS += $(RETRIEVAL_EVAL)

$(OBJ)/tools/retrieval-eval/%.o: CPPFLAGS += -Iservices/support-agent

$(RETRIEVAL_EVAL): $(OBJ)/tools/retrieval-eval/main.o $(support-agent_LIB) \
		$(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: retrieval-eval
retrieval-eval: $(RETRIEVAL_EVAL) $(MODEL_DIR)/model.safetensors
	$(RETRIEVAL_EVAL) data/knowledge/kb.json $(firstword $(RETRIEVAL_SETS)) \
		$(MODEL_DIR) $(wordlist 2,99,$(RETRIEVAL_SETS)) $(TUNE) $(EVAL_ARGS)
