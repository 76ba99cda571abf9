/* similarity: cosines from `llmscope similarity` equal those computed here from the residuals
 * that `llmscope trace --npy` exports (an independent path: the trace recorder and the .npy
 * writer, pooled and compared in this file); identical texts give 1; the matrix is symmetric. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "analysis/similarity.h"
#include "harness.h"

/* Reads a little-endian f4 .npy of shape (n, d). Returns malloc'd data or NULL. */
static float *npy_read(const char *path, int *n, int *d) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char pre[10];
    float *x = NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) goto out;
    size_t hl = (size_t)pre[8] | ((size_t)pre[9] << 8);
    char hdr[1024];
    if (pre[6] != 1 || hl >= sizeof hdr || fread(hdr, 1, hl, f) != hl) goto out;
    hdr[hl] = 0;
    if (!strstr(hdr, "'<f4'")) goto out;
    const char *sh = strstr(hdr, "'shape': (");
    if (!sh || sscanf(sh, "'shape': (%d, %d)", n, d) != 2 || *n <= 0 || *d <= 0) goto out;
    x = malloc(sizeof(float) * (size_t)*n * (size_t)*d);
    if (x && fread(x, sizeof(float), (size_t)*n * (size_t)*d, f) != (size_t)*n * (size_t)*d) { free(x); x = NULL; }
out:
    fclose(f);
    return x;
}

static const char *TEXTS[] = {"Once upon a time there was a little cat.", "The dog ran to the park.",
                              "Once upon a time there was a little cat.", "Lily had a red ball."};
enum { NT = 4 };

/* dir: a scratch directory for trace's exports (test_in_tmpdir removes it) */
static void check_layer(TestCtx *T_, const char *dir, const char *model, int layer, int n_layers, const char *pool) {
    char cmd[4096];
    int k = snprintf(cmd, sizeof cmd, "%s similarity --model %s --layer %d --pool %s --json", test_bin(), model, layer, pool);
    for (int t = 0; t < NT; t++) k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --text '%s'", TEXTS[t]);
    char *out = NULL;
    REQUIRE(test_run(cmd, &out, 0) == 0);
    cJSON *j = cJSON_Parse(out);
    free(out);
    REQUIRE(j);
    cJSON *cos = cJSON_GetObjectItem(j, "cosine"), *from = cJSON_GetObjectItem(j, "pooled_from");
    REQUIRE(cJSON_GetArraySize(cos) == NT && cJSON_GetArraySize(from) == NT);
    CHECK_EQ_INT(cJSON_GetObjectItem(j, "layer")->valueint, layer);
    /* the hook that holds residual layer `layer` */
    char hook[128];
    if (layer == 0) snprintf(hook, sizeof hook, "blocks.0.hook_resid_pre");
    else if (layer < n_layers) snprintf(hook, sizeof hook, "blocks.%d.hook_resid_post", layer - 1);
    else snprintf(hook, sizeof hook, "ln_final.hook_normalized");
    double vec[NT][1024];
    int d = 0;
    for (int t = 0; t < NT; t++) {
        snprintf(cmd, sizeof cmd, "%s trace --model %s --prompt '%s' --hooks %s --npy %s/t%d 2>/dev/null",
                 test_bin(), model, TEXTS[t], hook, dir, t);
        REQUIRE(system(cmd) == 0);
        char path[512];
        snprintf(path, sizeof path, "%s/t%d/%s.npy", dir, t, hook);
        int n = 0;
        float *x = npy_read(path, &n, &d);
        REQUIRE(x && d <= 1024);
        int f0 = cJSON_GetArrayItem(from, t)->valueint;
        double acc[1024] = {0};
        if (!strcmp(pool, "last")) {
            CHECK_EQ_INT(f0, n - 1);
            for (int i = 0; i < d; i++) acc[i] = x[(size_t)(n - 1) * (size_t)d + (size_t)i];
        } else {
            CHECK(f0 == 1);   /* the story models put BOS in front, and mean pooling leaves it out */
            for (int r = f0; r < n; r++) for (int i = 0; i < d; i++) acc[i] += x[(size_t)r * (size_t)d + (size_t)i];
            for (int i = 0; i < d; i++) acc[i] /= (double)(n - f0);
        }
        memcpy(vec[t], acc, sizeof(double) * (size_t)d);
        free(x);
    }
    for (int a = 0; a < NT; a++)
        for (int b = 0; b < NT; b++) {
            double ab = 0, aa = 0, bb = 0;
            for (int i = 0; i < d; i++) { ab += vec[a][i] * vec[b][i]; aa += vec[a][i] * vec[a][i]; bb += vec[b][i] * vec[b][i]; }
            double want = ab / (sqrt(aa) * sqrt(bb));
            double got = cJSON_GetArrayItem(cJSON_GetArrayItem(cos, a), b)->valuedouble;
            CHECK_NEAR(got, want, 1e-5);
            CHECK(got == cJSON_GetArrayItem(cJSON_GetArrayItem(cos, b), a)->valuedouble);   /* symmetric */
        }
    /* texts 1 and 3 are identical */
    CHECK(cJSON_GetArrayItem(cJSON_GetArrayItem(cos, 0), 2)->valuedouble > 1 - 1e-9);
    for (int a = 0; a < NT; a++) CHECK(cJSON_GetArrayItem(cJSON_GetArrayItem(cos, a), a)->valuedouble == 1.0);
    cJSON_Delete(j);
}

static void check_layers(TestCtx *T_, const char *dir) {
    const char *model = "assets/models/story-gqa";
    int L = 6;
    check_layer(T_, dir, model, 0, L, "mean");
    check_layer(T_, dir, model, 3, L, "mean");
    check_layer(T_, dir, model, 3, L, "last");
    check_layer(T_, dir, model, L, L, "mean");
}

TEST(similarity_matches_trace_residuals) {
    const char *model = "assets/models/story-gqa";
    if (access(model, R_OK)) SKIP("bundled model missing");
    test_in_tmpdir(T_, "sim", check_layers);
}

TEST(similarity_cli_errors) {
    char *out = NULL, cmd[1024];
    snprintf(cmd, sizeof cmd, "%s similarity --model assets/models/story-gqa --layer 99 --text a", test_bin());
    CHECK(test_run(cmd, &out, 1) != 0);
    CHECK(out && strstr(out, "--layer 99") && strstr(out, "0..6"));
    free(out); out = NULL;
    snprintf(cmd, sizeof cmd, "%s similarity --layer 1 --text a --pool median", test_bin());
    CHECK(test_run(cmd, &out, 1) == 2);
    CHECK(out && strstr(out, "--pool"));
    free(out); out = NULL;
    snprintf(cmd, sizeof cmd, "%s similarity --layer 1 --txt a", test_bin());
    CHECK(test_run(cmd, &out, 1) == 2);
    CHECK(out && strstr(out, "--txt"));
    free(out); out = NULL;
    snprintf(cmd, sizeof cmd, "%s similarity --help", test_bin());
    CHECK(test_run(cmd, &out, 1) == 0);
    CHECK(out && strstr(out, "usage: llmscope similarity"));
    free(out);
}

TEST(similarity_math) {
    /* pooling and cosine on hand-made rows */
    float rows[3 * 2] = {10, 10, 1, 0, 0, 1};
    double v[2];
    REQUIRE(similarity_pool(rows, 3, 2, 1, POOL_MEAN, v));
    CHECK_NEAR(v[0], 0.5, 1e-12); CHECK_NEAR(v[1], 0.5, 1e-12);
    REQUIRE(similarity_pool(rows, 3, 2, 0, POOL_LAST, v));
    CHECK(v[0] == 0 && v[1] == 1);
    CHECK(!similarity_pool(rows, 3, 2, 3, POOL_MEAN, v));
    double a[2] = {1, 0}, b[2] = {1, 1}, z[2] = {0, 0};
    CHECK_NEAR(similarity_cosine(a, b, 2), 1 / sqrt(2.0), 1e-12);
    CHECK(similarity_cosine(a, z, 2) == 0);
    double vecs[3 * 2] = {1, 0, 0, 1, 1, 1}, m[9];
    similarity_matrix(vecs, 3, 2, m);
    int order[2];
    similarity_rank(m, 3, 0, order);
    CHECK(order[0] == 2 && order[1] == 1);
    HookPoint p; int blk;
    CHECK(embed_layer_point(6, 0, &p, &blk) && p == HP_RESID_PRE && blk == 0);
    CHECK(embed_layer_point(6, 4, &p, &blk) && p == HP_RESID_POST && blk == 3);
    CHECK(embed_layer_point(6, 6, &p, &blk) && p == HP_LNF_NORMALIZED);
    CHECK(!embed_layer_point(6, 7, &p, &blk) && !embed_layer_point(6, -1, &p, &blk));
}

/* ---- contextual embeddings: the panel's PCA equals one computed here from exported residuals ---- */
#include "analysis/embctx.h"
#include "session/session.h"

static void emb_layer_pca(TestCtx *T_, const char *dir) {
    const char *model = "assets/models/story-gqa";
    const char *prompt = "The bank of the river was wet. She went to the bank to get money.";
    const int layer = 3, max_new = 3;
    char cmd[2048], path[512];
    snprintf(cmd, sizeof cmd, "%s trace --model %s --prompt '%s' --max-new %d --greedy --hooks hook_embed --emb-layer %d --npy %s 2>/dev/null",
             test_bin(), model, prompt, max_new, layer, dir);
    REQUIRE(system(cmd) == 0);
    int T = 0, d = 0, pn = 0, pc = 0;
    snprintf(path, sizeof path, "%s/blocks.%d.hook_resid_post.npy", dir, layer - 1);
    float *rows = npy_read(path, &T, &d);
    snprintf(path, sizeof path, "%s/embeddings.layer%d.pca.npy", dir, layer);
    float *pca = npy_read(path, &pn, &pc);
    REQUIRE(rows && pca && d <= 1024);
    int n_prompt = T - max_new, first = 1;            /* the story models put BOS in front */
    CHECK_EQ_INT(pn, T - first);
    CHECK_EQ_INT(pc, 2);
    static double mean[1024], comp[2 * 1024];
    double expl[2];
    test_cov_pca(rows + (size_t)first * d, n_prompt - first, d, mean, comp, expl);
    double scale = 0;
    for (int t = first; t < T; t++)
        for (int k = 0; k < 2; k++) {
            double s = 0;
            for (int j = 0; j < d; j++) s += (rows[(size_t)t * d + j] - mean[j]) * comp[k * d + j];
            if (fabs(s) > scale) scale = fabs(s);
            CHECK_NEAR(pca[2 * (t - first) + k], s, 1e-4 * (1 + fabs(s)));
        }
    CHECK(scale > 0);
    /* the panel, stepped the same way, fits the same axes and shows the same numbers */
    Err e = {0};
    Session *s = session_new(model, 0, &e);
    REQUIRE(s);
    SamplerCfg g = {0};
    g.greedy = true;
    session_set_sampler(s, g);
    REQUIRE(session_set_prompt(s, prompt, &e));
    REQUIRE(session_step(s, &e));                      /* prefill */
    EmbCtxPca p;
    memset(&p, 0, sizeof p);
    REQUIRE(embctx_update(&p, s, layer));
    CHECK_NEAR(p.ax.explained[0], expl[0], 1e-5);
    CHECK_NEAR(p.ax.explained[1], expl[1], 1e-5);
    float before[2], after[2];
    REQUIRE(embctx_project(&p, s, 5, before));
    for (int k = 0; k < max_new; k++) REQUIRE(session_step(s, &e));
    REQUIRE(embctx_update(&p, s, layer));              /* decoding does not refit: the axes stay */
    REQUIRE(embctx_project(&p, s, 5, after));
    CHECK(before[0] == after[0] && before[1] == after[1]);
    CHECK_EQ_INT(trace_len(session_trace(s)), T);
    for (int t = first; t < T; t++) {
        float xy[2];
        REQUIRE(embctx_project(&p, s, t, xy));
        CHECK_NEAR(xy[0], pca[2 * (t - first)], 1e-4 * (1 + fabs(pca[2 * (t - first)])));
        CHECK_NEAR(xy[1], pca[2 * (t - first) + 1], 1e-4 * (1 + fabs(pca[2 * (t - first) + 1])));
    }
    /* and the screen says so */
    char want[64];
    snprintf(want, sizeof want, "PC1 %.1f%%  PC2 %.1f%%", 100 * expl[0], 100 * expl[1]);
    snprintf(cmd, sizeof cmd, "%s screenshot --model %s --prompt '%s' --panel embeddings --keys '+++' --size 120x34", test_bin(), model, prompt);
    char *out = NULL;
    REQUIRE(test_run(cmd, &out, 0) == 0);
    CHECK_MSG(out && strstr(out, want) && strstr(out, "layer 3 of 6"), "screen lacks \"%s\"", want);
    free(out);
    embctx_done(&p);
    session_free(s);
    free(rows); free(pca);
}

TEST(embeddings_layer_pca_matches_exported_residuals) {
    if (access("assets/models/story-gqa", R_OK)) SKIP("bundled model missing");
    test_in_tmpdir(T_, "emb", emb_layer_pca);
}

/* ---- the cached path the TUI and the lessons use: simtexts_matrix ---- */
#include "analysis/simtexts.h"

TEST(simtexts_cache_reuses_runs_and_matches_a_fresh_run) {
    const char *model = "assets/models/story-gqa";
    if (access(model, R_OK)) SKIP("bundled model missing");
    Err e = {0};
    Session *s = session_new(model, 0, &e);
    REQUIRE(s && session_tokenizer(s));
    const int L = session_model(s)->spec.n_layers;
    SimCache *c = simcache_new(3);
    REQUIRE(c);
    double m1[NT * NT], m2[NT * NT];
    SimTextInfo info[NT];
    /* 4 texts (two identical) do not fit a cache of 3: refused with a message */
    CHECK(!simtexts_matrix(c, session_model(s), session_tokenizer(s), TEXTS, NT, true, 3, POOL_MEAN, m1, info, NULL, &e) && strstr(e.msg, "1 to 3"));
    e = (Err){0};
    REQUIRE(simtexts_matrix(c, session_model(s), session_tokenizer(s), TEXTS, 3, true, 3, POOL_MEAN, m1, info, NULL, &e));
    CHECK_EQ_INT(simcache_runs(c), 2);            /* texts 0 and 2 are the same text: one run */
    CHECK(m1[0 * 3 + 2] == 1.0 && m1[1 * 3 + 1] == 1.0);
    CHECK(m1[0 * 3 + 1] == m1[1 * 3 + 0]);
    CHECK_EQ_INT(info[0].pooled_from, 1);
    /* another layer, the other pooling, the final norm: no new run */
    REQUIRE(simtexts_matrix(c, session_model(s), session_tokenizer(s), TEXTS, 3, true, 0, POOL_LAST, m2, NULL, NULL, &e));
    REQUIRE(simtexts_matrix(c, session_model(s), session_tokenizer(s), TEXTS, 3, true, L, POOL_MEAN, m2, info, NULL, &e));
    CHECK_EQ_INT(simcache_runs(c), 2);
    CHECK_EQ_INT(info[1].pooled_from, 1);
    /* a fresh cache gives the same numbers bit for bit */
    SimCache *f = simcache_new(0);
    double m3[9];
    REQUIRE(simtexts_matrix(f, session_model(s), session_tokenizer(s), TEXTS, 3, true, 3, POOL_MEAN, m3, NULL, NULL, &e));
    for (int i = 0; i < 9; i++) CHECK(m3[i] == m1[i]);
    /* a new text evicts the least recently used one (the cache holds 3) */
    const char *more[] = {TEXTS[3], "Tom saw a big fish.", TEXTS[1]};
    REQUIRE(simtexts_matrix(c, session_model(s), session_tokenizer(s), more, 3, true, 2, POOL_MEAN, m2, NULL, NULL, &e));
    CHECK_EQ_INT(simcache_runs(c), 4);
    REQUIRE(simtexts_matrix(c, session_model(s), session_tokenizer(s), TEXTS, 1, true, 2, POOL_MEAN, m2, NULL, NULL, &e));
    CHECK_EQ_INT(simcache_runs(c), 5);           /* TEXTS[0] was the oldest: run again */
    CHECK(!simtexts_matrix(c, session_model(s), session_tokenizer(s), TEXTS, 2, true, L + 1, POOL_MEAN, m2, NULL, NULL, &e) && strstr(e.msg, "layer"));
    simcache_free(c);
    simcache_free(f);
    session_free(s);
}

/* ---- the Embeddings panel's texts view shows what `llmscope similarity --json` prints ---- */

static const char *SCREEN_TEXTS[] = {"Lily went to the beach.", "She swam in the sea and built a sandcastle.",
                                     "Lily went to the store.", "He played with his red car."};
enum { NS = 4 };

/* cosines[NS][NS] from the CLI at (layer, pool) */
static bool cli_matrix(TestCtx *T_, int layer, const char *pool, double *mat) {
    char cmd[4096];
    int k = snprintf(cmd, sizeof cmd, "%s similarity --model assets/models/story-gqa --layer %d --pool %s --json", test_bin(), layer, pool);
    for (int t = 0; t < NS; t++) k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --text '%s'", SCREEN_TEXTS[t]);
    char *out = NULL;
    if (test_run(cmd, &out, 0) != 0) { free(out); return false; }
    cJSON *j = cJSON_Parse(out);
    free(out);
    if (!j) return false;
    cJSON *cos = cJSON_GetObjectItem(j, "cosine");
    bool ok = cJSON_GetArraySize(cos) == NS;
    for (int i = 0; ok && i < NS; i++)
        for (int c = 0; c < NS; c++) mat[i * NS + c] = cJSON_GetArrayItem(cJSON_GetArrayItem(cos, i), c)->valuedouble;
    cJSON_Delete(j);
    CHECK(ok);
    return ok;
}

static void check_screen(TestCtx *T_, const char *keys, int layer, const char *pool, int query) {
    double mat[NS * NS], mat0[NS * NS];
    REQUIRE(cli_matrix(T_, layer, pool, mat) && cli_matrix(T_, 0, pool, mat0));
    char cmd[4096];
    int k = snprintf(cmd, sizeof cmd, "%s screenshot --model assets/models/story-gqa --panel embeddings --size 110x30 --ascii --keys '%s'", test_bin(), keys);
    for (int t = 0; t < NS; t++) k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --text '%s'", SCREEN_TEXTS[t]);
    char *out = NULL;
    REQUIRE(test_run(cmd, &out, 0) == 0);
    char hdr[128];
    snprintf(hdr, sizeof hdr, "texts at layer %d of 6", layer);
    CHECK_MSG(strstr(out, hdr) != NULL, "screen lacks \"%s\"", hdr);
    snprintf(hdr, sizeof hdr, "pool %s", pool);
    CHECK_MSG(strstr(out, hdr) != NULL, "screen lacks \"%s\"", hdr);
    int rows = 0, ranked = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char *p = line;
        if (*p == '|') p++;
        /* matrix row: "> 1    1.000  0.665 ..." or "  2    0.665 ..." */
        if ((p[0] == '>' || p[0] == ' ') && p[1] == ' ' && p[2] >= '0' && p[2] <= '9') {
            char *end;
            long i = strtol(p + 1, &end, 10) - 1;
            if (i < 0 || i >= NS || end[0] != ' ') continue;
            CHECK_EQ_INT(p[0] == '>', i == query);
            for (int c = 0; c < NS; c++) {
                double v = strtod(end, &end);
                CHECK_MSG(fabs(v - mat[i * NS + c]) <= 0.0005 + 1e-9, "layer %d %s: screen cos(%ld,%d) = %.3f, CLI %.6f", layer, pool, i + 1, c + 1, v, mat[i * NS + c]);
            }
            CHECK(strstr(end, SCREEN_TEXTS[i]) != NULL);
            rows++;
            continue;
        }
        /* ranking row: "1.  0.969 ############ layer 0  0.900 1st     3 Lily went to the store." */
        int r; double v;
        if (sscanf(p, "%d. %lf", &r, &v) == 2 && r >= 1 && r < NS) {
            char *l0 = strstr(p, "layer 0");
            REQUIRE(l0);
            double v0 = strtod(l0 + 7, &l0);
            while (*l0 == ' ') l0++;
            while (*l0 && *l0 != ' ') l0++;             /* the ordinal */
            long t = strtol(l0, NULL, 10) - 1;
            REQUIRE(t >= 0 && t < NS && t != query);
            CHECK_MSG(fabs(v - mat[query * NS + t]) <= 0.0005 + 1e-9, "rank %d: %.3f vs CLI %.6f", r, v, mat[query * NS + t]);
            CHECK_MSG(fabs(v0 - mat0[query * NS + t]) <= 0.0005 + 1e-9, "rank %d at layer 0: %.3f vs CLI %.6f", r, v0, mat0[query * NS + t]);
            /* the rank is the CLI's: texts with a larger cosine to the query come first */
            int better = 0;
            for (int o = 0; o < NS; o++) if (o != query && mat[query * NS + o] > mat[query * NS + t]) better++;
            CHECK_EQ_INT(r, better + 1);
            ranked++;
        }
    }
    CHECK_EQ_INT(rows, NS);
    CHECK_EQ_INT(ranked, NS - 1);
    free(out);
}

TEST(texts_view_equals_similarity_cli) {
    if (access("assets/models/story-gqa", R_OK)) SKIP("bundled model missing");
    check_screen(T_, "++++", 4, "mean", 0);
    check_screen(T_, "++p.", 2, "last", 1);        /* p: last-token pooling; . : text 2 is the query */
    check_screen(T_, "++++++", 6, "mean", 0);      /* after the final norm */
}
