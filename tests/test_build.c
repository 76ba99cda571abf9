/* The build itself: one `make` on a machine that lacks packages installs them and builds.
 *
 * deps_one_make: tests/deps_shim.sh builds a scratch clone of the repository with a single
 * `make -j2` behind shims that report libcjson, gsl and libutf8proc missing until a fake
 * apt-get "installs" them; it passes when that make succeeds, the binary runs and apt-get
 * install ran once, through sudo, with exactly libcjson-dev libgsl-dev libutf8proc-dev; then
 * five more makes in that clone: every package and pkg-config itself missing (root), only
 * pkg-config missing, no sudo, apt-get failing, no apt-get (the script's header says what each
 * must do). Each "ok"/"FAIL" line of the script is one check.
 * Skipped in the sanitizer and valgrind runs (the plain run covers it; the clone is built
 * without sanitizers either way).
 *
 * prefetches_in_object_code: the software prefetches the kernels ask for are in the objects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"

TEST(deps_one_make) {
    if (getenv("LLMSCOPE_VALGRIND")) SKIP("not under valgrind (builds a scratch clone)");
    const char *san = getenv("LLMSCOPE_SANITIZER");
    if (san && *san) SKIP("the plain `make test` runs it (this is the %s build)", san);
    if (access("tests/deps_shim.sh", R_OK) != 0) SKIP("tests/deps_shim.sh not found (run from the repository root)");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *out = NULL;
    int rc = test_run("bash tests/deps_shim.sh </dev/null", &out, 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (test_run_skipped(T_, rc, &out)) return;
    /* each "ok" / "FAIL" line of the script is one check */
    for (const char *p = out ? out : ""; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] ? 1 : 0)) {
        int n = (int)strcspn(p, "\n");
        if (!strncmp(p, "ok    ", 6)) CHECK(1);
        else if (!strncmp(p, "FAIL  ", 6)) CHECK_MSG(0, "deps_shim: %.*s", n - 6, p + 6);
        else if (!strncmp(p, "      ", 6)) fprintf(stderr, "    %.*s\n", n, p);
    }
    CHECK_MSG(rc == 0, "tests/deps_shim.sh exited %d after %.1f s", rc, secs);
    free(out);
}

/* Software prefetches survive into the object code. GCC 12 deleted every _mm_prefetch of the
 * decode attention kernel (its helper was found side-effect free and its calls removed as
 * dead code); __builtin_prefetch is kept. Checks the plain build's objects with objdump: the
 * GEMM's next-pack prefetch always, the decode kernel's key/value prefetches when it was
 * built for AVX-512 (zmm registers in attn.o). */
TEST(prefetches_in_object_code) {
    const char *san = getenv("LLMSCOPE_SANITIZER");
    if (san && *san) SKIP("the plain `make test` runs it (this is the %s build)", san);
    if (test_run("command -v objdump", NULL, 0) != 0) SKIP("objdump not installed");
    static const char *const objs[] = {"build/obj/src/engine/gemm.o", "build/obj/src/engine/attn.o"};
    for (int i = 0; i < 2; i++) {
        if (access(objs[i], R_OK) != 0) SKIP("%s not built", objs[i]);
        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "objdump -d %s | grep -c prefetch; objdump -d %s | grep -c zmm", objs[i], objs[i]);
        REQUIRE(test_run(cmd, &out, 0) >= 0 && out);
        long pf = 0, zmm = 0;
        sscanf(out, "%ld %ld", &pf, &zmm);
        free(out);
        if (i == 1 && zmm == 0) continue;               /* no AVX-512 kernel: no prefetches there */
        CHECK_MSG(pf > 0, "%s: no prefetch instruction in the object code (%ld AVX-512 instructions)", objs[i], zmm);
        printf("    %s: %ld prefetch instructions\n", objs[i], pf);
    }
}
