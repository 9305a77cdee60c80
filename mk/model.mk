# The sentence encoder's weights, fetched at build time into the build tree.
MODEL_DIR := build/model/minilm
EXTRA_TARGETS += $(MODEL_DIR)/model.safetensors

$(MODEL_DIR)/model.safetensors: scripts/fetch-model.sh
	$(Q)scripts/fetch-model.sh $(MODEL_DIR)
	@touch $@
