# ---- intent model: `make model` retrains models/intent/head.bin ------------
#
# Not part of the default build: the training data lives beside the repo.
#   make model                       train on $(INTENT_DATA), write the model,
#                                    print the held-out-source figures
#   make model INTENT_DATA=path.jsonl INTENT_TRAIN_FLAGS='--C 10'
# The embeddings of the training texts are cached in build/intent/ (minutes to
# compute once); held-out split files and per-fold models go there too, for
# /work/shared/tools/eval-intent-style checks.

INTENT_DATA ?= ../shared/data/intents/train_7intent.jsonl
# Hand-written messages the public data lacks (expressive complaints, generic
# app/website faults, more greetings); empty it to train on INTENT_DATA only.
INTENT_EXTRA ?= tools/train-intent/extra.jsonl
# Hand-written messages never trained on: a last look at the written model.
INTENT_PROBE ?= tools/train-intent/probe.jsonl
INTENT_ENCODER_DIR ?= build/model/minilm
INTENT_MODEL_OUT ?= models/intent/head.bin
# Embeddings differ by ENCODER_PRECISION: each precision has its own folder
# (cache, splits, fold models), build/intent for float32, which the training
# runs in unless ENCODER_PRECISION says otherwise (not the daemons' auto:
# the shipped head must not depend on the CPU that trained it).
INTENT_WORK := build/intent$(if $(filter-out float32,$(ENCODER_PRECISION)),-$(ENCODER_PRECISION))
INTENT_TRAIN_FLAGS ?=

TRAIN_INTENT_SRC := $(wildcard tools/train-intent/*.c)
TRAIN_INTENT := $(BUILD)/tools/train-intent

$(OBJ)/tools/train-intent/%.o: CPPFLAGS += -Iservices/intent-agent

$(TRAIN_INTENT): $(patsubst %.c,$(OBJ)/%.o,$(TRAIN_INTENT_SRC)) \
		$(intent-agent_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: intent-model
model: intent-model
intent-model: $(TRAIN_INTENT) $(INTENT_ENCODER_DIR)/model.safetensors
	@test -f "$(INTENT_DATA)" || { echo "model: no training data at" \
		"$(INTENT_DATA) (set INTENT_DATA=...)" >&2; exit 1; }
	@mkdir -p $(INTENT_WORK) $(dir $(INTENT_MODEL_OUT))
	ENCODER_PRECISION=$(or $(ENCODER_PRECISION),float32) \
	$(TRAIN_INTENT) --data "$(INTENT_DATA)" \
		$(foreach f,$(INTENT_EXTRA),--data $(f)) \
		$(foreach f,$(INTENT_PROBE),--probe $(f)) \
		--encoder $(INTENT_ENCODER_DIR) \
		--cache $(INTENT_WORK)/emb-cache.bin --splits $(INTENT_WORK) \
		--out $(INTENT_MODEL_OUT) $(INTENT_TRAIN_FLAGS)
