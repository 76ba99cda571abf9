# llmscope build.  `make` builds build/llmscope; `make run`, `make test`, `make bench`.
# make SANITIZER=address|undefined   sanitizer build (separate build dir)
# make NATIVE=0                      portable build (no -march=native)
# make V=1                           show commands
# make deps                          install the missing system packages only (apt-get)
# make help                          this list
# Every building goal first installs what is missing (see "system packages"), in the same
# invocation, then builds with the flags pkg-config gives for what is now installed.
.DEFAULT_GOAL := all

PKGS      := ncursesw libcjson gsl openblas libpcre2-8 libutf8proc
# Debian package that provides each pkg-config module (same order as PKGS).
DEB_PKGS  := pkg-config libncurses-dev libcjson-dev libgsl-dev libopenblas-dev libpcre2-dev libutf8proc-dev

CC        ?= cc
ifeq ($(CC),cc)
CC := gcc
endif
SANITIZER ?=
NATIVE    ?= 1
OPT       ?= -O3

BUILD     := build
ifneq ($(SANITIZER),)
BUILD     := build/$(SANITIZER)
endif

WARN      := -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Wno-unused-parameter -Wno-format-truncation
CSTD      := -std=c17 -D_GNU_SOURCE
ARCHFLAGS :=
ifeq ($(NATIVE),1)
ARCHFLAGS := -march=native
endif
ifdef WERROR
WARN += -Werror
endif

# Package flags come from $(PKG_MK), which the rule under "system packages" writes after
# the missing packages were installed: nothing asks pkg-config while this file is parsed, so
# the first `make` on a fresh machine installs and then compiles with the right flags.
PKG_MK    := build/pkg.mk
NO_PKG_GOALS := clean deps help
ifneq ($(filter-out $(NO_PKG_GOALS),$(or $(MAKECMDGOALS),$(.DEFAULT_GOAL))),)
include $(PKG_MK)
endif

CFLAGS_ALL  := $(CSTD) $(OPT) -g $(ARCHFLAGS) -fopenmp $(WARN) -Isrc $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
LDFLAGS_ALL := -fopenmp $(LDFLAGS)
LIBS        := $(PKG_LIBS) -lm -lpthread

ifeq ($(SANITIZER),address)
CFLAGS_ALL  += -fsanitize=address -fno-omit-frame-pointer -O1
LDFLAGS_ALL += -fsanitize=address
endif
ifeq ($(SANITIZER),undefined)
CFLAGS_ALL  += -fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDFLAGS_ALL += -fsanitize=undefined
endif

LIB_SRCS  := $(filter-out src/cli/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ  := $(BUILD)/obj/src/cli/main.o
TEST_SRCS := $(shell find tests -maxdepth 1 -name '*.c' | sort)
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/obj/%.o)
BIN       := $(BUILD)/llmscope
TESTBIN   := $(BUILD)/llmscope-tests
LIBA      := $(BUILD)/libllmscope.a

ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all deps run test bench clean fuzz valgrind check-flags help FORCE

all: $(BIN)

# ---- system packages -------------------------------------------------------
# DEPS_SH installs what is missing with apt-get (as root, or through sudo), else prints the
# exact command to run and fails. `make deps` runs it alone; every building goal runs it
# through $(PKG_MK): GNU make remakes an included makefile before anything else and then
# reads the makefiles again, so the compile and link flags are read only after the install
# (even with -j). The file is rewritten only when the flags change (no restart otherwise).
DEPS_SH = missing=""; \
	command -v pkg-config >/dev/null 2>&1 || missing=" pkg-config"; \
	set -- $(DEB_PKGS); shift; \
	for m in $(PKGS); do \
	  if ! pkg-config --exists $$m 2>/dev/null; then missing="$$missing $$1"; fi; shift; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "llmscope: missing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="none"; fi; \
	  if [ "$$SUDO" = none ] || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "llmscope: please run:  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	  echo "llmscope: installing them:  $$SUDO apt-get install -y$$missing"; \
	  $$SUDO apt-get update -qq || echo "llmscope: apt-get update failed (offline?); trying the install anyway"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing || \
	    { echo "llmscope: apt-get failed; please run:  sudo apt-get install -y$$missing"; exit 1; }; \
	fi

deps:
	@$(DEPS_SH)

# GSL is linked against OpenBLAS as its CBLAS instead of the reference libgslcblas.
$(PKG_MK): FORCE
	@$(DEPS_SH); \
	mkdir -p $(dir $@); \
	{ cf=$$(pkg-config --cflags $(PKGS)) && \
	  lf=$$(pkg-config --libs ncursesw libcjson libpcre2-8 libutf8proc openblas) && \
	  gl=$$(pkg-config --libs-only-L gsl) && \
	  fcf=$$(pkg-config --cflags $(FUZZ_PKGS)) && \
	  flf=$$(pkg-config --libs $(FUZZ_PKGS)); } || \
	  { echo "llmscope: pkg-config cannot find $(PKGS) even after installing; see 'make deps'"; exit 1; }; \
	printf '# written by make from pkg-config (do not edit)\nPKG_CFLAGS := %s\nPKG_LIBS := %s %s -lgsl\nFUZZ_PKG_CFLAGS := %s\nFUZZ_PKG_LIBS := %s\n' \
	  "$$cf" "$$lf" "$$gl" "$$fcf" "$$flf" > $@.new; \
	if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi

FORCE:

help:
	@sed -n '1,/^\.DEFAULT_GOAL/p' Makefile | sed -n 's/^# \{0,1\}//p'

# Rebuild everything when the flags change (redis-style flags stamp).
FLAGS_STAMP := $(BUILD)/.flags
$(FLAGS_STAMP): check-flags ;
check-flags:
	@mkdir -p $(BUILD); echo '$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL)' > $(BUILD)/.flags.new; \
	if ! cmp -s $(BUILD)/.flags.new $(FLAGS_STAMP); then mv $(BUILD)/.flags.new $(FLAGS_STAMP); else rm -f $(BUILD)/.flags.new; fi

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIBA): $(LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIBA)
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(MAIN_OBJ) -Wl,--whole-archive $(LIBA) -Wl,--no-whole-archive $(LIBS)

$(TESTBIN): $(TEST_OBJS) $(LIBA)
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(TEST_OBJS) $(LIBA) $(LIBS)

run: $(BIN)
	./$(BIN) $(ARGS)

test: $(BIN) $(TESTBIN)
	LLMSCOPE_BIN=$(BIN) LLMSCOPE_SANITIZER=$(SANITIZER) ./$(TESTBIN) $(TESTS)

# The unhooked build (hook sites compiled out) is built beside the normal one so the bench
# can report the cost of the hook sites with nothing registered.
NOHOOKS_DIR := $(BUILD)/nohooks
$(NOHOOKS_DIR)/llmscope: $(LIB_SRCS) src/cli/main.c $(FLAGS_STAMP)
	@mkdir -p $(NOHOOKS_DIR)
	$(Q)$(CC) $(CFLAGS_ALL) -DLLMSCOPE_NO_HOOKS $(LDFLAGS_ALL) -o $@ src/cli/main.c $(LIB_SRCS) $(LIBS)

# The Qwen3-0.6B-shaped random checkpoint (1.19 GB, written in a few seconds; git-ignored
# under build/) for decode at positions 10 and 1000, prefill 512, the vocabulary index and
# each TUI panel's frame after a step at 1000 tokens (medians of 3 alternating rounds).
QWEN_BENCH := $(BUILD)/bench-qwen3-0.6b
QWEN_TOK   := ../shared/data/tokenizers/qwen3
$(QWEN_BENCH)/model.safetensors: | $(BIN)
	./$(BIN) bench --gen qwen3-0.6b --out $(QWEN_BENCH) $(if $(wildcard $(QWEN_TOK)/tokenizer.json),--tokenizer-dir $(QWEN_TOK))

bench: $(BIN) $(NOHOOKS_DIR)/llmscope $(QWEN_BENCH)/model.safetensors
	./$(BIN) bench --compare-bin $(NOHOOKS_DIR)/llmscope $(BENCH_ARGS)
	./$(BIN) bench --model $(QWEN_BENCH) --rounds 3 --decode 16 --prefill 512 --far 1000 --full --panels

valgrind:
	$(MAKE) OPT=-O1 NATIVE=0 $(BUILD)/llmscope-tests $(BIN)
	LLMSCOPE_BIN=$(BIN) LLMSCOPE_VALGRIND=1 valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite ./$(TESTBIN) $(TESTS)

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJS:.o=.d)
-include tests/fuzz/fuzz.mk
