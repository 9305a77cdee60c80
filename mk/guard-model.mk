# ---- prompt-injection model: `make guard-model` retrains
# models/guard/injection.bin -------------------------------------------------
#
# Not part of the default build: the training data lives beside the repo.
#   make guard-model                 train, tune the threshold on held-out
#                                    folds, write the model, score fold 0
#                                    with eval-guard through `gateway --guard`
#   make guard-model GUARD_TRAIN_FLAGS='--C 8 --loso'
# Fold 0's held-out rows and model go to build/guard/ (never committed).

GUARD_DATA ?= ../shared/data/guardrails/injection_train.jsonl
# Customer messages: the everyday benign case (all rows benign).
GUARD_BENIGN ?= ../shared/data/intents/train_7intent.jsonl
# Hand-written rows the public data lacks (benign messages that merely say
# "ignore", "override", "system"...); trained on.
GUARD_EXTRA ?= tools/train-guard/extra.jsonl
# Hand-written rows never trained on: a last look at the written model.
GUARD_PROBE ?= tools/train-guard/probe.jsonl
GUARD_MODEL_OUT ?= models/guard/injection.bin
GUARD_WORK := build/guard
GUARD_TRAIN_FLAGS ?=
EVAL_GUARD ?= ../shared/tools/eval-guard

TRAIN_GUARD := $(BUILD)/tools/train-guard
EXTRA_TARGETS += $(TRAIN_GUARD)

$(OBJ)/tools/train-guard/%.o: CPPFLAGS += -Iservices/gateway

$(TRAIN_GUARD): $(OBJ)/tools/train-guard/main.o $(gateway_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: guard-model guard-eval
model: guard-model
guard-model: $(TRAIN_GUARD) $(BIN)/gateway
	@test -f "$(GUARD_DATA)" || { echo "guard-model: no training data at" \
		"$(GUARD_DATA) (set GUARD_DATA=...)" >&2; exit 1; }
	@mkdir -p $(GUARD_WORK) $(dir $(GUARD_MODEL_OUT))
	ENCODER_PRECISION=$(or $(ENCODER_PRECISION),float32) \
	$(TRAIN_GUARD) --data "$(GUARD_DATA)" \
		$(foreach f,$(GUARD_BENIGN),--benign $(f)) \
		$(foreach f,$(GUARD_EXTRA),--extra $(f)) \
		$(foreach f,$(GUARD_PROBE),--probe $(f)) \
		--splits $(GUARD_WORK) --out $(GUARD_MODEL_OUT) $(GUARD_TRAIN_FLAGS)
	@$(MAKE) --no-print-directory guard-eval

# eval-guard on fold 0's held-out rows, through the gateway's own code with
# the fold-0 model (trained without those rows), and on the probe.
guard-eval: $(BIN)/gateway
	@if [ -x "$(EVAL_GUARD)" ] && [ -f $(GUARD_WORK)/heldout-0.jsonl ]; then \
		echo "== eval-guard: fold 0 held out"; \
		GUARD_MODEL=$(GUARD_WORK)/fold-0.bin $(EVAL_GUARD) \
			$(GUARD_WORK)/heldout-0.jsonl -- $(BIN)/gateway --guard; \
		echo "== eval-guard: probe (never trained on), shipped model"; \
		$(EVAL_GUARD) $(GUARD_PROBE) -- $(BIN)/gateway --guard; \
	else echo "guard-eval: no $(EVAL_GUARD) or no held-out split"; fi

# PII redaction scored on presidio-research's labelled sentences.
#   make pii-eval PII_EVAL_ARGS=--verbose     the misses and extras too
PII_DATA ?= ../shared/data/pii/presidio_synth_dataset_v2.json
PII_EVAL_ARGS ?=
.PHONY: pii-eval
pii-eval: $(BIN)/gateway
	@test -f "$(PII_DATA)" || { echo "pii-eval: no data at $(PII_DATA)" >&2; \
		exit 1; }
	tools/train-guard/pii_eval.py "$(PII_DATA)" $(PII_EVAL_ARGS) -- \
		$(BIN)/gateway --guard
