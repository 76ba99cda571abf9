/* Shared helpers of the libFuzzer targets in tests/fuzz/ (see tests/fuzz/fuzz.mk and
 * docs/robustness.md). Each target is one fuzz_<name>.c with LLVMFuzzerTestOneInput; the
 * properties checked beyond "no sanitizer report" are:
 *   - a failing parser returns a non-empty message that names the input (file name), so the
 *     user is always told which file is wrong;
 *   - a succeeding parser returns values that are in range (every tensor inside the buffer,
 *     dimensions positive and consistent), and reading every byte it points at is valid.
 * A violated property calls fuzz_fail(), which aborts so libFuzzer saves the input.
 * FUZZ_VERBOSE=1 in the environment prints every rejected input's message. */
#ifndef LLMSCOPE_FUZZ_COMMON_H
#define LLMSCOPE_FUZZ_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn, format(printf, 1, 2))) static void fuzz_fail(const char *fmt, ...);
#include <stdarg.h>
static void fuzz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FUZZ PROPERTY VIOLATED: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* A failed call must leave a message naming `name`. */
static inline void fuzz_check_err(const Err *e, const char *name, const char *what) {
    if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "%s: %s\n", what, e->msg);
    if (e->msg[0] == 0) fuzz_fail("%s failed with an empty message", what);
    if (e->code == 0) fuzz_fail("%s failed with code 0: %s", what, e->msg);
    if (name && !strstr(e->msg, name)) fuzz_fail("%s: message does not name %s: %s", what, name, e->msg);
}

/* Reads every byte of [p, p+n) so that ASan flags a range outside its allocation/mapping. */
static inline unsigned fuzz_touch(const void *p, size_t n) {
    const volatile uint8_t *b = p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += b[i];
    return s;
}

/* A per-process scratch directory (removed at exit is not needed: it is tiny and in $TMPDIR). */
static inline const char *fuzz_tmpdir(void) {
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/llmscope-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) { perror("mkdtemp"); abort(); }
    }
    return dir;
}

static inline void fuzz_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); abort(); }
    if (n && fwrite(data, 1, n, f) != n) { perror(path); abort(); }
    if (fclose(f) != 0) { perror(path); abort(); }
}
#endif
