/* Minimal test harness. Each tests/test_*.c defines tests with TEST(name) { ... }.
 * Checks: CHECK(cond), CHECK_EQ_INT(a,b), CHECK_NEAR(a,b,tol), CHECK_STR(a,b).
 * SKIP("why") marks the test skipped (e.g. optional ../shared data missing).
 * The runner prints one line per test and closes with "N passed, N failed, N skipped". */
#ifndef LLMSCOPE_HARNESS_H
#define LLMSCOPE_HARNESS_H
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct TestCtx { int failed; int skipped; char skip_reason[256]; int checks; } TestCtx;
typedef void (*TestFn)(TestCtx *);
void harness_register(const char *file, const char *name, TestFn fn);

#define TEST(name)                                                                   \
    static void test_##name(TestCtx *T_);                                            \
    __attribute__((constructor)) static void reg_##name(void) {                     \
        harness_register(__FILE__, #name, test_##name);                              \
    }                                                                                \
    static void test_##name(TestCtx *T_)

#define FAILF(...) do { T_->failed++; fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } while (0)
#define CHECK(c) do { T_->checks++; if (!(c)) FAILF("CHECK(%s) failed", #c); } while (0)
#define CHECK_MSG(c, ...) do { T_->checks++; if (!(c)) FAILF(__VA_ARGS__); } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); T_->checks++; \
    if (a_ != b_) FAILF("%s == %s: %lld != %lld", #a, #b, a_, b_); } while (0)
#define CHECK_NEAR(a, b, tol) do { double a_ = (double)(a), b_ = (double)(b); T_->checks++; \
    if (!(fabs(a_ - b_) <= (tol))) FAILF("%s ~= %s: %.9g vs %.9g (tol %g)", #a, #b, a_, b_, (double)(tol)); } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); T_->checks++; \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) FAILF("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } while (0)
#define REQUIRE(c) do { T_->checks++; if (!(c)) { FAILF("REQUIRE(%s) failed", #c); return; } } while (0)
#define SKIP(...) do { T_->skipped = 1; snprintf(T_->skip_reason, sizeof T_->skip_reason, __VA_ARGS__); return; } while (0)

/* Helpers shared by tests (tests/harness.c). */
const char *test_shared_data(void);   /* ../shared/data or $LLMSCOPE_TESTDATA; NULL if absent */
struct cJSON;
/* A JSON file (at most 256 MiB) parsed; NULL when unreadable or not JSON. The caller deletes it. */
struct cJSON *test_read_json(const char *path);
const char *test_bin(void);           /* path of build/llmscope ($LLMSCOPE_BIN) */
/* Runs a shell command, captures stdout (and stderr when merge) into a malloc'd buffer.
 * Returns the exit status (or -1). */
int test_run(const char *cmd, char **out, int merge_stderr);
/* A script's exit status 77 means "skipped", its first output line saying why: marks the test
 * skipped with that reason, frees *out and returns true (the test returns); else false. */
bool test_run_skipped(TestCtx *T_, int rc, char **out);
/* Removes dir and everything under it (links are removed, not followed); false, with a note on
 * stderr, when something could not be removed. */
bool test_rm_tree(const char *dir);
/* A new private directory $TMPDIR/llmscope-TAG-XXXXXX (/tmp without TMPDIR), its path in out;
 * false when it cannot be made. Tests write their files there, never at fixed /tmp paths, so
 * two suites at once cannot collide; remove it with test_rm_tree. */
bool test_tmpdir(char *out, size_t cap, const char *tag);
/* Runs body in a new test_tmpdir and removes the directory afterwards, also when body returns
 * early (REQUIRE). Fails the test when the directory cannot be made or removed. */
void test_in_tmpdir(TestCtx *T_, const char *tag, void (*body)(TestCtx *T_, const char *dir));
/* Reference PCA for tests: eigenvectors of the covariance of X[n][d] (GSL's symmetric eigensolver),
 * the two largest first, each signed so its largest-magnitude coefficient is positive;
 * mean[d], comp[2][d], expl[2] = eigenvalue / trace. An independent path from the SVD the code uses. */
void test_cov_pca(const float *X, int n, int d, double *mean, double *comp, double *expl);
#endif
