# libFuzzer targets (clang, Debian's libclang-rt): tests/fuzz/fuzz_<name>.c, each built with
# -fsanitize=fuzzer,address,undefined against the parser/loader/engine/tokenizer sources.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_JOBS=2] [FUZZ_TARGETS="config loader"]
#        runs every target (FUZZ_JOBS at a time) and prints executions and findings per target
#   make fuzz-build      builds build/fuzz/fuzz_<name> only
#   make fuzz-regress    runs every target once over its committed seeds (seconds; for CI)
#
# Seeds are committed in tests/fuzz/corpus/<name>/ (python3 tests/fuzz/gen_corpus.py writes
# them). New inputs go to build/fuzz/corpus/<name>/, crash/leak/timeout inputs to
# build/fuzz/artifacts/<name>/, logs to build/fuzz/logs/<name>.log. See docs/robustness.md.

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_JOBS     ?= 2
FUZZ_DIR      ?= build/fuzz
# Extra sanitizer flags, e.g. FUZZ_SAN_EXTRA=-fno-sanitize=pointer-overflow FUZZ_DIR=build/fuzz-nopo
# to keep fuzzing past a known finding (use a separate FUZZ_DIR: the objects differ).
FUZZ_SAN_EXTRA ?=
FUZZ_ALL      := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_TARGETS  ?= $(FUZZ_ALL)
FUZZ_BINS     := $(FUZZ_ALL:%=$(FUZZ_DIR)/fuzz_%)
# Only the layers the targets exercise (no curses, no GSL; of tui/ only the curses-free canvas,
# theme and contrast scanner); the archive pulls what is used.
FUZZ_LIB_SRCS := $(filter src/core/% src/model/% src/engine/% src/tokenizer/% src/template/% src/trace/% src/session/% src/lesson/%,\
                   $(shell find src -name '*.c' | sort)) \
                 src/tui/canvas.c src/tui/theme.c src/tui/contrast.c
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_LIBA     := $(FUZZ_DIR)/libllmscope-fuzz.a
# Their flags (FUZZ_PKG_CFLAGS/LIBS) come from build/pkg.mk, written after `deps` (Makefile).
FUZZ_PKGS     := libcjson libpcre2-8 libutf8proc openblas
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer $(FUZZ_SAN_EXTRA)
FUZZ_CFLAGS   := -std=c17 -D_GNU_SOURCE -O1 -g -fopenmp -Isrc $(FUZZ_PKG_CFLAGS) \
                 $(FUZZ_SAN) -MMD -MP
FUZZ_LIBS     := $(FUZZ_PKG_LIBS) -lm -lpthread

.PHONY: fuzz fuzz-build fuzz-regress

$(FUZZ_DIR)/obj/%.o: %.c tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	@echo "  CC (fuzz)  $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIBA): $(FUZZ_LIB_OBJS)
	@rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h tests/fuzz/fuzz_tok.h $(FUZZ_LIBA)
	@echo "  LD (fuzz)  $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIBA) $(FUZZ_LIBS) -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@FUZZ_DIR=$(FUZZ_DIR) sh tests/fuzz/run.sh run $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)

fuzz-regress: fuzz-build
	@FUZZ_DIR=$(FUZZ_DIR) sh tests/fuzz/run.sh regress 0 $(FUZZ_JOBS) $(FUZZ_TARGETS)

-include $(FUZZ_LIB_OBJS:.o=.d)
