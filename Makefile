# llmscope build.  `make` builds build/llmscope; `make run`, `make test`, `make bench`.
# make SANITIZER=address|undefined   sanitizer build (separate build dir)
# make NATIVE=0                      portable build (no -march=native)
# make V=1                           show commands
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

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# GSL is linked against OpenBLAS as its CBLAS instead of the reference libgslcblas.
PKG_LIBS   := $(shell pkg-config --libs ncursesw libcjson libpcre2-8 libutf8proc openblas 2>/dev/null) \
              $(shell pkg-config --libs-only-L gsl 2>/dev/null) -lgsl

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

.PHONY: all deps run test bench clean fuzz valgrind check-flags

all: deps-quiet $(BIN)

# ---- system packages -------------------------------------------------------
# Installs what is missing with apt-get (as root, or through sudo), else prints
# the exact command to run and stops.
deps:
	@missing=""; \
	command -v pkg-config >/dev/null 2>&1 || missing="pkg-config"; \
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
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq$$missing || \
	    { echo "llmscope: apt-get failed; please run:  sudo apt-get install -y$$missing"; exit 1; }; \
	fi

deps-quiet:
	@for m in $(PKGS); do pkg-config --exists $$m 2>/dev/null || { $(MAKE) --no-print-directory deps; break; }; done

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

run: deps-quiet $(BIN)
	./$(BIN) $(ARGS)

test: deps-quiet $(BIN) $(TESTBIN)
	LLMSCOPE_BIN=$(BIN) ./$(TESTBIN) $(TESTS)

# The unhooked build (hook sites compiled out) is built beside the normal one so the bench
# can report the cost of the hook sites with nothing registered.
NOHOOKS_DIR := $(BUILD)/nohooks
$(NOHOOKS_DIR)/llmscope: $(LIB_SRCS) src/cli/main.c $(FLAGS_STAMP)
	@mkdir -p $(NOHOOKS_DIR)
	$(Q)$(CC) $(CFLAGS_ALL) -DLLMSCOPE_NO_HOOKS $(LDFLAGS_ALL) -o $@ src/cli/main.c $(LIB_SRCS) $(LIBS)

bench: deps-quiet $(BIN) $(NOHOOKS_DIR)/llmscope
	./$(BIN) bench --compare-bin $(NOHOOKS_DIR)/llmscope $(BENCH_ARGS)

valgrind: deps-quiet
	$(MAKE) OPT=-O1 NATIVE=0 $(BUILD)/llmscope-tests $(BIN)
	LLMSCOPE_BIN=$(BIN) LLMSCOPE_VALGRIND=1 valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite ./$(TESTBIN) $(TESTS)

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJS:.o=.d)
-include tests/fuzz/fuzz.mk
