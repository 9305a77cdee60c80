# AI customer-support suite.
#
#   make run     install what is missing, build, start the whole suite
#   make test    install what is missing, build, run unit + integration tests,
#                the web UI's component tests and its end-to-end tests
#   make         build only (build/bin/<service>)
#
# Knobs: SANITIZE=address,undefined  WERROR=0  V=1
# Fragments for larger parts of the build live in mk/*.mk.

SERVICES := gateway intent-agent support-agent escalation metrics

SANITIZE ?=
WERROR ?= 1
ifeq ($(SANITIZE),)
BUILD := build
else
BUILD := build/san
endif
OBJ := $(BUILD)/obj
BIN := $(BUILD)/bin
GEN := build/gen
TBIN := $(BUILD)/tests

CC ?= cc
PKGS := libmongoc-1.0 libbson-1.0 libcurl libcjson libjwt libargon2 libprotobuf-c
PKG_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(PKGS) 2>/dev/null))
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wwrite-strings
ifeq ($(WERROR),1)
WARN += -Werror
endif
OPT ?= -O2 -g
CPPFLAGS := -D_GNU_SOURCE -Icommon -isystem $(GEN) $(PKG_CFLAGS)
CFLAGS := -std=c11 $(OPT) $(WARN) -MMD -MP -pthread
LDFLAGS :=
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif
LDLIBS := -lnng -lcivetweb $(PKG_LIBS) -lcrypto -lopenblas -llinear -lpthread -lm

ifneq ($(V),1)
Q := @
endif

.PHONY: all run test unit integration e2e deps clean format format-check bench \
	model help
all: build-all

help:
	@sed -n '2,10p' Makefile

# ---- protobuf: generated into the build tree, never committed -------------
PROTOS := $(wildcard proto/*.proto)
PB_C := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PB_H := $(PB_C:.c=.h)
$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)
	$(Q)protoc-c --proto_path=proto --c_out=$(GEN) $<
# Headers reached through pattern rules only: not intermediates to delete.
.SECONDARY: $(PB_C) $(PB_H)

# ---- common ---------------------------------------------------------------
COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(patsubst %.c,$(OBJ)/%.o,$(COMMON_SRC)) \
	$(patsubst $(GEN)/%.c,$(OBJ)/gen/%.o,$(PB_C))
COMMON_LIB := $(OBJ)/libcommon.a

$(OBJ)/gen/%.o: $(GEN)/%.c $(PB_H)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) -std=c11 $(OPT) -MMD -MP -pthread \
		$(filter -fsanitize=% -fno-%,$(CFLAGS)) -c -o $@ $<

$(OBJ)/%.o: %.c $(PB_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(COMMON_LIB): $(COMMON_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

# ---- services: main.c wires, the other files are the service's library ----
define service_rules
$(1)_SRC := $$(filter-out services/$(1)/main.c,$$(wildcard services/$(1)/*.c))
$(1)_LIB := $(OBJ)/services/$(1)/lib.a
$$($(1)_LIB): $$(patsubst %.c,$(OBJ)/%.o,$$($(1)_SRC))
	$(Q)rm -f $$@ && ar rcs $$@ $$^
$(BIN)/$(1): $(OBJ)/services/$(1)/main.o $$($(1)_LIB) $(COMMON_LIB)
	@mkdir -p $(BIN)
	@echo "  LD      $$@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $$@ $$^ $(LDLIBS)
# unit tests of the service's modules: tests/unit/<service>/test_*.c
$(1)_TESTS := $$(patsubst tests/unit/$(1)/%.c,$(TBIN)/$(1)/%,\
	$$(wildcard tests/unit/$(1)/test_*.c))
$(TBIN)/$(1)/%: tests/unit/$(1)/%.c $$($(1)_LIB) $(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	@echo "  TEST    $$@"
	$(Q)$(CC) $(CPPFLAGS) -Iservices/$(1) $(CFLAGS) $(LDFLAGS) -o $$@ $$< \
		$$($(1)_LIB) $(COMMON_LIB) $(LDLIBS) -lcmocka
UNIT_TESTS += $$($(1)_TESTS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rules,$(s))))

COMMON_TESTS := $(patsubst tests/unit/common/%.c,$(TBIN)/common/%,\
	$(wildcard tests/unit/common/test_*.c))
$(TBIN)/common/%: tests/unit/common/%.c $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(COMMON_LIB) \
		$(LDLIBS) -lcmocka
UNIT_TESTS += $(COMMON_TESTS)

BINARIES := $(addprefix $(BIN)/,$(SERVICES))

# Larger parts (model files, the local store launcher, benchmarks).
include $(sort $(wildcard mk/*.mk))

build-all: $(BINARIES) $(UNIT_TESTS) $(EXTRA_TARGETS)

# ---- the two commands of the README ---------------------------------------
deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory build-all
	@scripts/run.sh

test: deps
	@$(MAKE) --no-print-directory build-all
	@BIN_DIR=$(BIN) TEST_DIR=$(TBIN) scripts/test.sh

unit:
	@$(MAKE) --no-print-directory build-all
	@BIN_DIR=$(BIN) TEST_DIR=$(TBIN) scripts/test.sh unit

integration:
	@$(MAKE) --no-print-directory build-all
	@BIN_DIR=$(BIN) TEST_DIR=$(TBIN) scripts/test.sh integration

# The web UI in Debian's Chromium against the real suite (tests/e2e).
e2e:
	@$(MAKE) --no-print-directory build-all
	@BIN_DIR=$(BIN) TEST_DIR=$(TBIN) scripts/test.sh e2e

FORMAT_FILES = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
