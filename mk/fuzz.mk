# ---- libFuzzer harnesses (tests/fuzz/) --------------------------------------
#
# Built with clang -fsanitize=fuzzer,address,undefined when clang and its
# libFuzzer runtime are installed (scripts/deps.sh installs them); `make
# test` runs each for a few seconds (tests/integration/test_fuzz.py), and
#   make fuzz FUZZ_TIME=600          runs each harness FUZZ_TIME seconds
# with its corpus kept in build/fuzz/corpus/<name> (seeds: tests/fuzz/seeds)
# and any input that fails it in build/fuzz/<name>-crash-<sha1>.
#
#   fuzz_chat_json          POST /api/chat's body: JSON -> guardrails -> the
#                           protobuf requests the gateway sends on
#   fuzz_token              bearer tokens (auth.c + libjwt)
#   fuzz_pii                PII detection, redaction, text cleaning
#   fuzz_<daemon>_request   each daemon's request decoding: the bus envelope
#                           and its methods' bodies (intent, support,
#                           escalation, metrics)

FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_RT := $(shell $(FUZZ_CC) -print-file-name=libclang_rt.fuzzer-x86_64.a \
	2>/dev/null)
HAVE_FUZZ := $(if $(filter /%,$(FUZZ_RT)),$(if $(wildcard $(FUZZ_RT)),yes))
FUZZ_DIR := build/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -g -O1 -pthread -D_GNU_SOURCE -Icommon \
	-Iservices/gateway -isystem $(GEN) $(PKG_CFLAGS) $(FUZZ_SAN)
FUZZ_LIB_SRC := $(COMMON_SRC) $(PB_C) services/gateway/guard.c \
	services/gateway/pii.c services/gateway/injection.c \
	services/gateway/auth.c
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_LIB_SRC))
FUZZ_LIB := $(FUZZ_DIR)/libfuzzsrc.a
FUZZ_DAEMONS := intent support escalation metrics
FUZZ_TARGETS := fuzz_chat_json fuzz_token fuzz_pii \
	$(patsubst %,fuzz_%_request,$(FUZZ_DAEMONS))
FUZZ_BINS := $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))

$(FUZZ_DIR)/obj/%.o: %.c $(PB_H)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP \
		-c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	@echo "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) \
		$(LDLIBS)

fuzz_daemon_id = $(if $(filter intent,$(1)),1,$(if $(filter support,$(1)),2,$(if $(filter escalation,$(1)),3,4)))
define fuzz_daemon_rule
$(FUZZ_DIR)/fuzz_$(1)_request: tests/fuzz/fuzz_daemon_request.c $(FUZZ_LIB)
	@echo "  FUZZLD  $$@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -DDAEMON=$(call fuzz_daemon_id,$(1)) \
		-fsanitize=fuzzer -o $$@ $$< $(FUZZ_LIB) $(LDLIBS)
endef
$(foreach d,$(FUZZ_DAEMONS),$(eval $(call fuzz_daemon_rule,$(d))))

ifeq ($(HAVE_FUZZ),yes)
EXTRA_TARGETS += $(FUZZ_BINS)
endif

.PHONY: fuzz
fuzz: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$t; \
		seeds=tests/fuzz/seeds/$$t; [ -d $$seeds ] || seeds=; \
		echo "== $$t ($(FUZZ_TIME) s)"; \
		if ! $(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_TIME) -max_len=8192 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/$$t- \
			$(FUZZ_DIR)/corpus/$$t $$seeds \
			> $(FUZZ_DIR)/$$t.log 2>&1; then \
			tail -n 40 $(FUZZ_DIR)/$$t.log; exit 1; fi; \
		grep -E '^stat::(number_of_executed_units|new_units_added)' \
			$(FUZZ_DIR)/$$t.log; \
	done
