#include "harness.h"
#include <cjson/cJSON.h>
#include "core/err.h"
#include <ftw.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct { const char *file, *name; TestFn fn; } Entry;
static Entry g_tests[4096];
static int g_ntests;

void harness_register(const char *file, const char *name, TestFn fn) {
    if (g_ntests < (int)(sizeof g_tests / sizeof g_tests[0])) g_tests[g_ntests++] = (Entry){file, name, fn};
}

const char *test_shared_data(void) {
    static char buf[4096];
    const char *env = getenv("LLMSCOPE_TESTDATA");
    if (env && *env) { snprintf(buf, sizeof buf, "%s", env); }
    else snprintf(buf, sizeof buf, "../shared/data");
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/README.md", buf);
    if (access(probe, R_OK) != 0) return NULL;
    return buf;
}

const char *test_bin(void) {
    const char *b = getenv("LLMSCOPE_BIN");
    return b && *b ? b : "build/llmscope";
}

int test_run(const char *cmd, char **out, int merge_stderr) {
    char full[8192];
    snprintf(full, sizeof full, "%s%s", cmd, merge_stderr ? " 2>&1" : " 2>/dev/null");
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) { pclose(p); return -1; }
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (cap - n < 4096) { char *nb = realloc(buf, cap *= 2); if (!nb) break; buf = nb; }
    }
    buf[n] = 0;
    int st = pclose(p);
    if (out) *out = buf; else free(buf);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

bool test_run_skipped(TestCtx *T_, int rc, char **out) {
    if (rc != 77) return false;
    const char *why = *out && **out ? *out : "skipped";
    T_->skipped = 1;
    snprintf(T_->skip_reason, sizeof T_->skip_reason, "%.*s", (int)strcspn(why, "\n"), why);
    free(*out);
    *out = NULL;
    return true;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

bool test_rm_tree(const char *dir) {
    if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0) return true;
    fprintf(stderr, "    could not remove %s\n", dir);
    return false;
}

bool test_tmpdir(char *out, size_t cap, const char *tag) {
    const char *t = getenv("TMPDIR");
    int k = snprintf(out, cap, "%s/llmscope-%s-XXXXXX", t && *t ? t : "/tmp", tag);
    return k > 0 && (size_t)k < cap && mkdtemp(out) != NULL;
}

void test_in_tmpdir(TestCtx *T_, const char *tag, void (*body)(TestCtx *T_, const char *dir)) {
    char dir[1024];
    if (!test_tmpdir(dir, sizeof dir, tag)) { FAILF("cannot make a temporary directory for %s", tag); return; }
    body(T_, dir);
    if (!test_rm_tree(dir)) FAILF("cannot remove %s", dir);
}

static int matches(const char *filter, const Entry *t) {
    if (!filter) return 1;
    return strstr(t->name, filter) || strstr(t->file, filter);
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0;
    /* the names of the failed and skipped tests are repeated above the summary line, so that the
     * last lines of a long run (all a CI log may keep) say which they were */
    char recap[4096] = "";
    size_t rlen = 0;
    /* golden screens and screenshots are English unless a test asks (--lang zh): a zh_* locale
     * on the machine must not change them */
    setenv("LLMSCOPE_LANG", "en", 1);
    const char *filter = argc > 1 ? argv[1] : NULL;
    for (int i = 0; i < g_ntests; i++) {
        Entry *t = &g_tests[i];
        if (!matches(filter, t)) continue;
        TestCtx ctx = {0};
        const char *base = strrchr(t->file, '/');
        base = base ? base + 1 : t->file;
        fflush(stdout);
        t->fn(&ctx);
        const char *kind = NULL;
        if (ctx.failed) { failed++; kind = "failed"; printf("FAIL  %s: %s\n", base, t->name); }
        else if (ctx.skipped) { skipped++; kind = "skipped"; printf("skip  %s: %s (skipped: %s)\n", base, t->name, ctx.skip_reason); }
        else if (ctx.checks == 0) { failed++; kind = "failed"; printf("FAIL  %s: %s (asserted nothing)\n", base, t->name); }
        else { passed++; printf("ok    %s: %s (%d checks)\n", base, t->name, ctx.checks); }
        if (kind && rlen < sizeof recap) {
            int n = snprintf(recap + rlen, sizeof recap - rlen, "  %s: %s: %s%s%s\n", kind, base, t->name,
                             ctx.skipped && !ctx.failed ? ": " : "", ctx.skipped && !ctx.failed ? ctx.skip_reason : "");
            rlen = n > 0 ? rlen + (size_t)n : rlen;
        }
        fflush(stdout);
    }
    if (rlen) printf("%s%s", recap, rlen >= sizeof recap ? "  ...\n" : "");
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}

#include <gsl/gsl_eigen.h>
#include <math.h>

void test_cov_pca(const float *X, int n, int d, double *mean, double *comp, double *expl) {
    for (int j = 0; j < d; j++) { mean[j] = 0; for (int i = 0; i < n; i++) mean[j] += X[(size_t)i * d + j]; mean[j] /= n; }
    gsl_matrix *C = gsl_matrix_calloc((size_t)d, (size_t)d), *Z = gsl_matrix_alloc((size_t)d, (size_t)d);
    for (int i = 0; i < n; i++)
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++)
                *gsl_matrix_ptr(C, (size_t)a, (size_t)b) += (X[(size_t)i * d + a] - mean[a]) * (X[(size_t)i * d + b] - mean[b]);
    double tr = 0;
    for (int a = 0; a < d; a++) tr += gsl_matrix_get(C, (size_t)a, (size_t)a);
    gsl_vector *ev = gsl_vector_alloc((size_t)d);
    gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc((size_t)d);
    gsl_eigen_symmv(C, ev, Z, w);
    gsl_eigen_symmv_sort(ev, Z, GSL_EIGEN_SORT_VAL_DESC);
    for (int k = 0; k < 2; k++) {
        expl[k] = gsl_vector_get(ev, (size_t)k) / tr;
        int am = 0;
        for (int j = 0; j < d; j++) {
            comp[k * d + j] = gsl_matrix_get(Z, (size_t)j, (size_t)k);
            if (fabs(comp[k * d + j]) > fabs(comp[k * d + am])) am = j;
        }
        if (comp[k * d + am] < 0) for (int j = 0; j < d; j++) comp[k * d + j] = -comp[k * d + j];
    }
    gsl_eigen_symmv_free(w); gsl_vector_free(ev); gsl_matrix_free(C); gsl_matrix_free(Z);
}

cJSON *test_read_json(const char *path) {
    Err e = {0};
    size_t len;
    char *s = file_read_all(path, &len, 256u << 20, &e);
    if (!s) return NULL;
    cJSON *j = cJSON_ParseWithLength(s, len);
    free(s);
    return j;
}
