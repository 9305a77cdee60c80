# `make encoder-calibration`: the int8 encoder's smoothing statistics
# (docs/encoder.md, "int8"), models/encoder/int8-smooth.bin, from the float32
# encoder over intent training texts of sources no held-out fold uses (and
# none of the retrieval evaluation's messages). The build copies the file
# next to the model, where the encoder looks for it.
#   make encoder-calibration ENCODER_CALIB_FLAGS='--alpha 0.6 --texts 2000'
ENCODER_CALIB := $(BUILD)/tools/encoder-calibrate
ENCODER_CALIB_DATA ?= ../shared/data/intents/train_7intent.jsonl
ENCODER_CALIB_SOURCES ?= bitext4.5k,clinc_train,clinc_oos_train
ENCODER_CALIB_OUT ?= models/encoder/int8-smooth.bin
ENCODER_CALIB_FLAGS ?=
ENCODER_SMOOTH := build/model/minilm/int8-smooth.bin
EXTRA_TARGETS += $(ENCODER_CALIB) $(ENCODER_SMOOTH)

$(ENCODER_CALIB): $(OBJ)/tools/encoder-calibrate/main.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(ENCODER_SMOOTH): models/encoder/int8-smooth.bin \
		build/model/minilm/model.safetensors
	$(Q)cp $< $@

.PHONY: encoder-calibration
encoder-calibration: $(ENCODER_CALIB) build/model/minilm/model.safetensors
	@test -f "$(ENCODER_CALIB_DATA)" || { echo "encoder-calibration: no" \
		"data at $(ENCODER_CALIB_DATA)" >&2; exit 1; }
	@mkdir -p $(dir $(ENCODER_CALIB_OUT))
	$(ENCODER_CALIB) --data "$(ENCODER_CALIB_DATA)" \
		--sources $(ENCODER_CALIB_SOURCES) \
		$(addprefix --exclude ,$(RETRIEVAL_SETS)) \
		--encoder build/model/minilm --out $(ENCODER_CALIB_OUT) \
		$(ENCODER_CALIB_FLAGS)
	$(Q)cp $(ENCODER_CALIB_OUT) $(ENCODER_SMOOTH)
