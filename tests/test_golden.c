/* Golden screens and the terminal end-to-end script.
 *
 * golden_screens: every case of tests/golden/cases.txt is rendered again through the CLI
 * (`llmscope screenshot ARGS` with LLMSCOPE_THREADS=1; sessions sample greedily, seed 42)
 * and compared byte for byte with tests/golden/NAME.txt; a mismatch prints the first
 * differing line as a small unified diff. golden_threads_2 renders the same cases with two
 * matvec threads: the pictures must not depend on the thread count (every matvec row and
 * every attention row is one thread's serial sum). After an intended change of a panel:
 * tests/golden/regen.sh, then read `git diff tests/golden` before committing it.
 *
 * tui_e2e_tmux, tui_sizes_tmux, tui_cancel_tmux: tests/tui_e2e.sh, tui_sizes.sh and tui_cancel.sh drive the real binary
 * in tmux (skipped without tmux). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"

#define CASES_FILE "tests/golden/cases.txt"
#define MAX_CASES 64

typedef struct { char name[64]; char args[1024]; } GoldenCase;

/* Reads "NAME ARGS" lines (blank lines and # comments skipped). Returns the count or -1. */
static int read_cases(GoldenCase *gc, int cap) {
    FILE *f = fopen(CASES_FILE, "r");
    if (!f) return -1;
    char line[1200];
    int n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        size_t nl = strcspn(p, " \t");
        if (nl == 0 || nl >= sizeof gc[n].name) continue;
        memcpy(gc[n].name, p, nl);
        gc[n].name[nl] = 0;
        p += nl;
        while (*p == ' ' || *p == '\t') p++;
        snprintf(gc[n].args, sizeof gc[n].args, "%s", p);
        n++;
    }
    fclose(f);
    return n;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 14, n = 0;
    char *b = malloc(cap);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 1024) { char *nb = realloc(b, cap *= 2); if (!nb) { free(b); b = NULL; break; } b = nb; }
    }
    fclose(f);
    if (b) b[n] = 0;
    if (len) *len = n;
    return b;
}

/* Prints the first differing line of two texts as a unified-diff hunk with one line of
 * context, e.g.
 *   --- tests/golden/kv-mla.txt
 *   +++ llmscope screenshot ...
 *   @@ line 3 @@
 *    │stores c_kv (64) + ...
 *   -│6 layers x 8 tokens = 13.5 KiB now ...
 *   +│6 layers x 8 tokens = 13.6 KiB now ... */
static void print_first_diff(const char *golden_path, const char *what, const char *exp, const char *got) {
    int line = 1;
    const char *pe = exp, *pg = got, *prev_e = NULL;
    for (;;) {
        size_t le = strcspn(pe, "\n"), lg = strcspn(pg, "\n");
        if (le != lg || memcmp(pe, pg, le) != 0 || (!pe[le]) != (!pg[lg])) break;
        if (!pe[le]) return;                 /* identical */
        prev_e = pe;
        pe += le + 1;
        pg += lg + 1;
        line++;
    }
    fprintf(stderr, "      --- %s\n      +++ %s\n      @@ line %d @@\n", golden_path, what, line);
    if (prev_e) fprintf(stderr, "       %.*s\n", (int)strcspn(prev_e, "\n"), prev_e);
    if (*pe) fprintf(stderr, "      -%.*s\n", (int)strcspn(pe, "\n"), pe);
    else fprintf(stderr, "      (golden ends here)\n");
    if (*pg) fprintf(stderr, "      +%.*s\n", (int)strcspn(pg, "\n"), pg);
    else fprintf(stderr, "      (output ends here)\n");
}

static bool have_models(void) {
    return access("assets/models/story-gqa/config.json", R_OK) == 0;
}

static void golden_run(TestCtx *T_, int threads) {
    if (access(CASES_FILE, R_OK) != 0) SKIP("%s not found (run from the repository root)", CASES_FILE);
    if (!have_models()) SKIP("bundled models not found in assets/models");
    GoldenCase *gc = calloc(MAX_CASES, sizeof *gc);
    REQUIRE(gc);
    int n = read_cases(gc, MAX_CASES);
    CHECK_MSG(n > 0, "no cases in %s", CASES_FILE);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        char path[256], cmd[2048];
        snprintf(path, sizeof path, "tests/golden/%s.txt", gc[i].name);
        size_t glen = 0;
        char *golden = read_file(path, &glen);
        CHECK_MSG(golden != NULL, "%s missing: run tests/golden/regen.sh", path);
        if (!golden) { bad++; continue; }
        snprintf(cmd, sizeof cmd, "LLMSCOPE_THREADS=%d '%s' screenshot %s", threads, test_bin(), gc[i].args);
        char *out = NULL;
        int rc = test_run(cmd, &out, 0);
        CHECK_MSG(rc == 0, "%s: exit %d from: %s", gc[i].name, rc, cmd);
        bool same = out && rc == 0 && strlen(out) == glen && memcmp(out, golden, glen) == 0;
        CHECK_MSG(same, "golden %s differs (threads=%d); if intended: tests/golden/regen.sh and read the diff",
                  gc[i].name, threads);
        if (!same && out && rc == 0) {
            char what[160];
            snprintf(what, sizeof what, "llmscope screenshot (%s, LLMSCOPE_THREADS=%d)", gc[i].name, threads);
            print_first_diff(path, what, golden, out);
        }
        if (!same) bad++;
        free(out);
        free(golden);
    }
    if (bad) fprintf(stderr, "    %d of %d golden screens differ\n", bad, n);
    free(gc);
}

TEST(golden_screens) { golden_run(T_, 1); }

TEST(golden_threads_2) { golden_run(T_, 2); }

/* Runs a tmux-driven script with the binary; 77 from it = skipped (no tmux, no model).
 * budget_s: a run longer than this fails (0: no limit; the script's own waits end a hang). */
static void tmux_script(TestCtx *T_, const char *script, double budget_s) {
    if (getenv("LLMSCOPE_VALGRIND")) SKIP("not under valgrind (drives the binary in tmux)");
    if (test_run("command -v tmux", NULL, 0) != 0) SKIP("tmux not installed");
    if (access(script, R_OK) != 0) SKIP("%s not found (run from the repository root)", script);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash %s '%s' </dev/null", script, test_bin());
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *out = NULL;
    int rc = test_run(cmd, &out, 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (test_run_skipped(T_, rc, &out)) return;
    CHECK_MSG(rc == 0, "%s exited %d after %.1f s", script, rc, secs);
    if (budget_s > 0) CHECK_MSG(secs < budget_s, "%s took %.1f s (budget %.0f s)", script, secs, budget_s);
    if (rc != 0 && out) fprintf(stderr, "%s", out);
    free(out);
}

TEST(tui_e2e_tmux) { tmux_script(T_, "tests/tui_e2e.sh", 30.0); }

/* tests/tui_sizes.sh: odd sizes (1x1 ... 300x80), resizes during a prefill, nothing of the
 * frame left after quitting a grown window, TERM vt100/linux/xterm/xterm-256color, NO_COLOR,
 * LANG=C. ~10 s quiet; it waits for what the pane must show (60 s each), so no time budget. */
TEST(tui_sizes_tmux) { tmux_script(T_, "tests/tui_sizes.sh", 0.0); }

/* tests/tui_cancel.sh: Esc during the Embeddings map fit on a real-size model, the fit started
 * again, a resize meanwhile. Skipped unless $LLMSCOPE_BIG_MODEL names a Qwen3-0.6B-shaped
 * directory (~11 s then); test_work.c covers the same on the bundled models. */
TEST(tui_cancel_tmux) { tmux_script(T_, "tests/tui_cancel.sh", 0.0); }
