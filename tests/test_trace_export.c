/* `trace` export streamed to disk: the .npy files hold exactly what the engine fired to the
 * hooks (an independent collector in this file assembles the same tensors from the events),
 * attention rows equal the engine's own recomputation from the KV cache (engine_attn_row),
 * shapes are exact ([H, T, T], file size = header + data), numpy loads the files with the
 * documented shapes and dtypes and they equal the JSON export, and bad output (an unwritable
 * directory, a write that fails midway, a full stdout, an unknown hook) is a clear error that
 * leaves no file looking complete; Ctrl-C/kill mid-export removes the files the run had not
 * finished, and an export into a directory holding an earlier one replaces it through the
 * manifest, touching no file it did not write. The HF reference checks of exported values are in
 * test_engine.c (hidden states, attentions, router logits read back through this export). */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "engine/engine.h"
#include "model/model.h"
#include "trace/export.h"

/* A strict .npy reader: version 1.0, header a multiple of 64 bytes, the exact descr, C order,
 * and a file exactly header + data long. Returns malloc'd data or NULL (why in *why). */
static void *npy_load(const char *path, const char *descr, int *ndim, long long shape[4], const char **why) {
    FILE *f = fopen(path, "rb");
    *why = "cannot open";
    if (!f) return NULL;
    unsigned char pre[10];
    char hdr[4096];
    void *data = NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY\x01\x00", 8)) { *why = "bad magic/version"; goto out; }
    size_t hl = (size_t)pre[8] | ((size_t)pre[9] << 8);
    if ((10 + hl) % 64 || hl >= sizeof hdr || fread(hdr, 1, hl, f) != hl || hdr[hl - 1] != '\n') { *why = "bad header length"; goto out; }
    hdr[hl] = 0;
    char want[64];
    snprintf(want, sizeof want, "'descr': '%s'", descr);
    if (!strstr(hdr, want) || !strstr(hdr, "'fortran_order': False")) { *why = "bad descr/order"; goto out; }
    const char *s = strstr(hdr, "'shape': (");
    if (!s) { *why = "no shape"; goto out; }
    s += 10;
    *ndim = 0;
    size_t n = 1;
    while (*s != ')' && *ndim < 4) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s) { *why = "bad shape"; goto out; }
        shape[(*ndim)++] = v;
        n *= (size_t)v;
        s = end;
        while (*s == ',' || *s == ' ') s++;
    }
    struct stat st;
    if (fstat(fileno(f), &st) || (size_t)st.st_size != 10 + hl + n * 4) { *why = "file size is not header + data"; goto out; }
    data = malloc(n * 4 + 1);
    if (data && fread(data, 4, n, f) != n) { free(data); data = NULL; *why = "short read"; }
out:
    fclose(f);
    return data;
}

/* ---- an independent collector: assembles [H, T, T] attention and [T, ...] rows from events ---- */
typedef struct {
    int T, L, H;
    size_t row;           /* floats per position of the row point */
    float **att[2];       /* [which][layer] -> [H, T, T] */
    float **rot_q;        /* [layer] -> [T, H * d_head] */
    float *logits;        /* rows appended */
    int n_logit_rows, V;
} Collect;

static void collect(void *ud, HookEvent *ev) {
    Collect *c = ud;
    if (ev->point == HP_PATTERN || ev->point == HP_ATTN_SCORES) {
        float *dst = c->att[ev->point == HP_PATTERN][ev->layer];
        const int H = ev->shape[0], n = ev->shape[1], Tk = ev->shape[2];
        for (int h = 0; h < H; h++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < c->T; j++)
                    dst[((size_t)h * c->T + (size_t)(ev->pos0 + i)) * c->T + j] =
                        j < Tk ? ev->data[((size_t)h * n + i) * Tk + j] : ev->point == HP_PATTERN ? 0.0f : -INFINITY;
    } else if (ev->point == HP_ROT_Q) {
        size_t re = (size_t)ev->shape[1] * ev->shape[2];
        memcpy(c->rot_q[ev->layer] + (size_t)ev->pos0 * re, ev->data, sizeof(float) * re * ev->shape[0]);
    } else if (ev->point == HP_LOGITS) {
        memcpy(c->logits + (size_t)c->n_logit_rows * c->V, ev->data, sizeof(float) * (size_t)ev->shape[0] * c->V);
        c->n_logit_rows += ev->shape[0];
    }
}

static int count_files(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *de; (de = readdir(d));) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        n += l >= sl && !strcmp(de->d_name + l - sl, suffix);
    }
    closedir(d);
    return n;
}

/* dir: where the export goes (test_in_tmpdir makes and removes it) */
static void check_model(TestCtx *T_, const char *dir, const char *path, int NP, int ND) {
    Err e = {0};
    Model *m = model_load(path, false, &e);
    REQUIRE(m);
    const ModelSpec *s = &m->spec;
    const int T = NP + ND, L = s->n_layers, H = s->n_heads, V = s->vocab_size, dh = s->head_dim;
    Collect c = {.T = T, .L = L, .H = H, .V = V};
    c.att[0] = calloc((size_t)L, sizeof(float *));
    c.att[1] = calloc((size_t)L, sizeof(float *));
    c.rot_q = calloc((size_t)L, sizeof(float *));
    c.logits = malloc(sizeof(float) * (size_t)(ND + 1) * V);
    for (int l = 0; l < L; l++) {
        c.att[0][l] = malloc(sizeof(float) * (size_t)H * T * T);
        c.att[1][l] = malloc(sizeof(float) * (size_t)H * T * T);
        c.rot_q[l] = malloc(sizeof(float) * (size_t)T * H * dh);
    }
    Hooks *h = hooks_new();
    Export *x = export_new(h, "blocks.*.attn.hook_pattern, blocks.*.attn.hook_attn_scores,blocks.*.attn.hook_rot_q,hook_logits", &e);
    REQUIRE(h && x);
    REQUIRE(export_check_layers(x, L, &e));
    REQUIRE(export_set_dir(x, dir, &e));
    export_set_positions(x, T);
    CHECK(hooks_add(h, "blocks.*.attn.hook_pattern", NULL, collect, &c) >= 0);
    CHECK(hooks_add(h, "blocks.*.attn.hook_attn_scores", NULL, collect, &c) >= 0);
    CHECK(hooks_add(h, "blocks.*.attn.hook_rot_q", NULL, collect, &c) >= 0);
    CHECK(hooks_add(h, "hook_logits", NULL, collect, &c) >= 0);
    Engine *en = engine_new(m, T, &e);
    REQUIRE(en);
    engine_set_hooks(en, h);
    int ids[256];
    for (int i = 0; i < T; i++) ids[i] = (3 + 11 * i) % V;
    REQUIRE(engine_forward(en, ids, NP, false, &e));   /* crosses the 64-row attention chunk */
    for (int i = NP; i < T; i++) REQUIRE(engine_forward(en, &ids[i], 1, false, &e));
    CHECK(!export_failed(x, &e));
    CHECK_EQ_INT(count_files(dir, ".npy"), 0);          /* nothing looks complete before finish */
    CHECK_EQ_INT(count_files(dir, ".npy.part"), 3 * L + 1);
    REQUIRE(export_finish(x, ids, T, &e));
    CHECK_EQ_INT(count_files(dir, ".part"), 0);
    CHECK_EQ_INT(count_files(dir, ".npy"), 3 * L + 2);  /* + ids.npy */
    /* the files against the collector, bit for bit; the rows against the engine's recomputation */
    double worst_p = 0, worst_s = 0;
    bool exact = true, mask_ok = true, shapes = true;
    float *sc = malloc(sizeof(float) * (size_t)T), *pt = malloc(sizeof(float) * (size_t)T);
    char p[1400];
    const char *why;
    int nd;
    long long sh[4];
    for (int l = 0; l < L; l++) {
        snprintf(p, sizeof p, "%s/blocks.%d.attn.hook_rot_q.npy", dir, l);
        float *q = npy_load(p, "<f4", &nd, sh, &why);
        CHECK_MSG(q && nd == 3 && sh[0] == T && sh[1] == H && sh[2] == dh, "%s: %s", p, q ? "shape" : why);
        if (q && memcmp(q, c.rot_q[l], sizeof(float) * (size_t)T * H * dh)) exact = false;
        for (int which = 0; which < 2; which++) {
            snprintf(p, sizeof p, "%s/blocks.%d.attn.%s.npy", dir, l, which ? "hook_pattern" : "hook_attn_scores");
            float *a = npy_load(p, "<f4", &nd, sh, &why);
            if (!a || nd != 3 || sh[0] != H || sh[1] != T || sh[2] != T) { shapes = false; FAILF("%s: %s", p, a ? "shape" : why); free(a); continue; }
            if (memcmp(a, c.att[which][l], sizeof(float) * (size_t)H * T * T)) exact = false;
            for (int hh = 0; q && hh < H; hh++)
                for (int t = 0; t < T; t++) {
                    REQUIRE(engine_attn_row(en, l, t, hh, q + ((size_t)t * H + hh) * dh, sc, pt));
                    const float *row = a + ((size_t)hh * T + t) * T, *ref = which ? pt : sc;
                    for (int j = 0; j < T; j++) {
                        if (j > t) { if (row[j] != (which ? 0.0f : -INFINITY)) mask_ok = false; continue; }
                        if (isinf(row[j]) || isinf(ref[j])) { if (row[j] != ref[j]) mask_ok = false; continue; }
                        double d = fabs((double)row[j] - ref[j]) / (1.0 + fabs((double)ref[j]));
                        if (which) worst_p = fmax(worst_p, d); else worst_s = fmax(worst_s, d);
                    }
                }
            free(a);
        }
        free(q);
    }
    CHECK_MSG(shapes && exact, "%s: the files differ from the values fired to the hooks", path);
    CHECK_MSG(mask_ok, "%s: masked keys are not -inf / 0", path);
    CHECK_MSG(worst_p < 1e-5 && worst_s < 1e-5, "%s: recomputed rows differ: pattern %g, scores %g", path, worst_p, worst_s);
    printf("    %s: T=%d, files equal the hook values; recomputed rows: pattern %.2g, scores %.2g (relative)\n", path, T, worst_p, worst_s);
    snprintf(p, sizeof p, "%s/hook_logits.npy", dir);
    float *lg = npy_load(p, "<f4", &nd, sh, &why);
    CHECK_MSG(lg && nd == 2 && sh[0] == ND + 1 && sh[1] == V && c.n_logit_rows == ND + 1 &&
              !memcmp(lg, c.logits, sizeof(float) * (size_t)(ND + 1) * V), "%s: hook_logits", path);
    free(lg);
    snprintf(p, sizeof p, "%s/ids.npy", dir);
    int *got = npy_load(p, "<i4", &nd, sh, &why);
    CHECK_MSG(got && nd == 1 && sh[0] == T && !memcmp(got, ids, sizeof(int) * (size_t)T), "%s: ids.npy", path);
    free(got);
    free(sc); free(pt);
    for (int l = 0; l < L; l++) { free(c.att[0][l]); free(c.att[1][l]); free(c.rot_q[l]); }
    free(c.att[0]); free(c.att[1]); free(c.rot_q); free(c.logits);
    engine_free(en); export_free(x); hooks_free(h); model_free(m);
    CHECK_EQ_INT(count_files(dir, ".npy"), 3 * L + 2);  /* finished files stay */
}

static void check_gqa(TestCtx *T_, const char *dir) { check_model(T_, dir, "assets/models/story-gqa", 70, 4); }
static void check_mistral(TestCtx *T_, const char *dir) { check_model(T_, dir, "tests/fixtures/models/mistral", 20, 3); }

TEST(trace_export_streams_what_the_engine_computes) {
    test_in_tmpdir(T_, "texp", check_gqa);
    if (access("tests/fixtures/models/mistral", F_OK) == 0) test_in_tmpdir(T_, "texp", check_mistral);
}

static void incomplete_run_in(TestCtx *T_, const char *dir) {
    Err e = {0};
    Model *m = model_load("assets/models/story-gqa", false, &e);
    REQUIRE(m);
    Hooks *h = hooks_new();
    Export *x = export_new(h, "blocks.0.attn.hook_pattern,blocks.0.hook_resid_post", &e);
    REQUIRE(x && export_set_dir(x, dir, &e));
    export_set_positions(x, 8);
    Engine *en = engine_new(m, 16, &e);
    REQUIRE(en);
    engine_set_hooks(en, h);
    int ids[6] = {1, 2, 3, 4, 5, 6};
    REQUIRE(engine_forward(en, ids, 6, false, &e));
    CHECK(!export_finish(x, ids, 6, &e));                /* 6 of the 8 positions announced */
    CHECK_MSG(strstr(e.msg, "blocks.0.attn.hook_pattern") && strstr(e.msg, "6 of the 8"), "%s", e.msg);
    engine_free(en); export_free(x);
    CHECK_EQ_INT(count_files(dir, ".npy"), 0);
    CHECK_EQ_INT(count_files(dir, ".part"), 0);
    /* more positions than announced: an error at the event, further hooks are declined */
    x = export_new(h, "blocks.0.attn.hook_pattern", &e);
    REQUIRE(x && export_set_dir(x, dir, &e));
    export_set_positions(x, 4);
    en = engine_new(m, 16, &e);
    engine_set_hooks(en, h);
    REQUIRE(engine_forward(en, ids, 6, false, &e));
    CHECK(export_failed(x, &e));
    CHECK_MSG(strstr(e.msg, "4 positions announced"), "%s", e.msg);
    engine_free(en); export_free(x); hooks_free(h); model_free(m);
    CHECK_EQ_INT(count_files(dir, ".npy") + count_files(dir, ".part"), 0);
}

TEST(trace_export_incomplete_run_is_an_error_and_leaves_no_file) {
    test_in_tmpdir(T_, "texp", incomplete_run_in);
}

/* The python that has numpy (PATH's python3 may be a pyenv shim without it). */
static const char *numpy_python(void) {
    static const char *const cand[] = {"python3", "/usr/bin/python3"};
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1", cand[i]);
        if (system(cmd) == 0) return cand[i];
    }
    return NULL;
}

static const char NUMPY_CHECK[] =
    "import json, sys, os, numpy as np\n"
    "d, H, T, D, V, dh, ND = sys.argv[1], *map(int, sys.argv[2:8])\n"
    "j = json.load(open(os.path.join(d, 'out.json')))\n"
    "files = sorted(f for f in os.listdir(d) if f.endswith('.npy'))\n"
    "assert files == sorted([h['name'] + '.npy' for h in j['hooks']] + ['ids.npy']), files\n"
    "assert not [f for f in os.listdir(d) if f.endswith('.part')]\n"
    "ids = np.load(os.path.join(d, 'ids.npy'))\n"
    "assert ids.dtype == np.int32 and ids.shape == (T,) and ids.tolist() == j['ids'], (ids, j['ids'])\n"
    "want = {'blocks.0.attn.hook_attn_scores': (H, T, T), 'blocks.1.hook_resid_post': (T, D),\n"
    "        'blocks.0.ln1.hook_scale': (T,), 'hook_logits': (1 + ND, V), 'blocks.0.attn.hook_q': (T, H, dh)}\n"
    "for h in j['hooks']:\n"
    "    a = np.load(os.path.join(d, h['name'] + '.npy'))\n"
    "    shape = want.get(h['name'], (H, T, T) if h['name'].endswith('hook_pattern') else None)\n"
    "    assert shape and a.dtype == np.float32 and a.shape == shape and list(a.shape) == h['shape'], (h['name'], a.shape)\n"
    "    b = np.array([-np.inf if v is None else v for v in h['data']], dtype=np.float32).reshape(shape)\n"
    "    assert np.array_equal(a, b), h['name']\n"
    "    if h['name'].endswith('hook_pattern'):\n"
    "        assert np.allclose(a.sum(-1), 1, atol=1e-5) and np.all(np.triu(a, 1) == 0), h['name']\n"
    "    if h['name'].endswith('hook_attn_scores'):\n"
    "        assert np.all(np.isneginf(a[:, np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]]))\n"
    "        assert np.all(np.isfinite(a[:, np.tril_indices(T)[0], np.tril_indices(T)[1]]))\n"
    "print('numpy ok', len(j['hooks']), 'hooks')\n";

static const char *g_py;   /* numpy_python(), for npy_loads_in */

static void npy_loads_in(TestCtx *T_, const char *dir) {
    const char *py = g_py;
    Err e = {0};
    Model *m = model_load("assets/models/story-gqa", false, &e);
    REQUIRE(m);
    const char *hooks = "blocks.*.attn.hook_pattern,blocks.0.attn.hook_attn_scores,blocks.1.hook_resid_post,"
                        "blocks.0.ln1.hook_scale,hook_logits,blocks.0.attn.hook_q";
    const char *prompt = "Once upon a time there was a little cat who liked to play in the park with her friends";
    const int ND = 3;
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s trace --model assets/models/story-gqa --prompt '%s' --hooks '%s' -n %d --greedy --npy %s",
             test_bin(), prompt, hooks, ND, dir);
    int rc = test_run(cmd, &out, 1);
    CHECK_MSG(rc == 0 && strstr(out, "ids.npy"), "trace --npy: rc %d: %s", rc, out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s trace --model assets/models/story-gqa --prompt '%s' --hooks '%s' -n %d --greedy --json > %s/out.json",
             test_bin(), prompt, hooks, ND, dir);
    CHECK_EQ_INT(test_run(cmd, NULL, 0), 0);
    char script[1200];
    snprintf(script, sizeof script, "%s/check.py", dir);
    FILE *f = fopen(script, "w");
    REQUIRE(f);
    fputs(NUMPY_CHECK, f);
    fclose(f);
    /* T from the JSON: the prompt's tokens + ND */
    char *js = NULL;
    snprintf(cmd, sizeof cmd, "%s -c \"import json; print(len(json.load(open('%s/out.json'))['ids']))\"", py, dir);
    REQUIRE(test_run(cmd, &js, 0) == 0);
    int T = atoi(js);
    free(js);
    CHECK(T > ND + 5);
    snprintf(cmd, sizeof cmd, "%s %s %s %d %d %d %d %d %d", py, script, dir, m->spec.n_heads, T, m->spec.d_model,
             m->spec.vocab_size, m->spec.head_dim, ND);
    rc = test_run(cmd, &out, 1);
    CHECK_MSG(rc == 0 && strstr(out, "numpy ok"), "numpy check failed (rc %d):\n%s", rc, out);
    if (rc == 0) printf("    %s", out);
    free(out);
    model_free(m);
}

TEST(trace_npy_loads_in_numpy_and_equals_json) {
    g_py = numpy_python();
    if (!g_py) SKIP("no python3 with numpy");
    test_in_tmpdir(T_, "texp", npy_loads_in);
}

static void bad_output_in(TestCtx *T_, const char *dir) {
    char cmd[4096], file[1200], *out = NULL;
    const char *base = "trace --model assets/models/story-gqa --prompt 'Once upon a time there was a cat' -n 2 --greedy";
    /* an output directory that cannot be created: a path under a regular file */
    snprintf(file, sizeof file, "%s/plain", dir);
    FILE *f = fopen(file, "w");
    REQUIRE(f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s --hooks hook_embed --npy %s/sub", test_bin(), base, file);
    int rc = test_run(cmd, &out, 1);
    CHECK_MSG(rc != 0 && strstr(out, "--npy") && strstr(out, "plain/sub"), "rc %d: %s", rc, out);
    free(out);
    /* unknown hook names and a layer the model does not have */
    snprintf(cmd, sizeof cmd, "%s %s --hooks blocks.0.attn.hook_patern --npy %s/o1", test_bin(), base, dir);
    rc = test_run(cmd, &out, 1);
    CHECK_MSG(rc != 0 && strstr(out, "hook_patern") && strstr(out, "--hooks"), "rc %d: %s", rc, out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s %s --hooks blocks.99.hook_resid_post --json", test_bin(), base);
    rc = test_run(cmd, &out, 1);
    CHECK_MSG(rc != 0 && strstr(out, "blocks.99.hook_resid_post") && strstr(out, "no point of this model"), "rc %d: %s", rc, out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s %s --hooks hook_embed --json --npy %s/o3", test_bin(), base, dir);
    rc = test_run(cmd, &out, 1);
    CHECK_MSG(rc == 2 && strstr(out, "not both"), "rc %d: %s", rc, out);
    free(out);
    /* a write that fails midway (file size limit: EFBIG, as a full disk gives ENOSPC) */
    snprintf(cmd, sizeof cmd, "(trap '' XFSZ; ulimit -f 4; exec %s %s --hooks '*' --npy %s/o2)", test_bin(), base, dir);
    rc = test_run(cmd, &out, 1);
    CHECK_MSG(rc != 0 && strstr(out, ".npy.part: write failed") && strstr(out, "o2/"), "rc %d: %s", rc, out);
    free(out);
    snprintf(file, sizeof file, "%s/o2", dir);
    CHECK_MSG(access(file, F_OK) != 0, "%s: the directory the failed export made is still there (%d .npy, %d .part)", file,
              count_files(file, ".npy"), count_files(file, ".part"));
    /* JSON to a full device */
    snprintf(cmd, sizeof cmd, "{ %s %s --hooks 'blocks.*.hook_resid_post' --json >/dev/full; }", test_bin(), base);
    rc = test_run(cmd, &out, 1);
    CHECK_MSG(rc != 0 && strstr(out, "stdout: write failed"), "rc %d: %s", rc, out);
    free(out);
    /* a reader that stops early: the staged files in $TMPDIR are removed */
    snprintf(cmd, sizeof cmd, "{ TMPDIR=%s %s %s --hooks 'blocks.*.hook_resid_post' --json | head -c 10 >/dev/null; }", dir, test_bin(), base);
    rc = test_run(cmd, &out, 1);
    CHECK_MSG(strstr(out, "Broken pipe"), "rc %d: %s", rc, out);
    free(out);
    snprintf(cmd, sizeof cmd, "ls -d %s/llmscope-trace-* 2>/dev/null | wc -l", dir);
    rc = test_run(cmd, &out, 0);
    CHECK_MSG(rc == 0 && atoi(out) == 0, "a staging directory was left: %s", out);
    free(out);
}

TEST(trace_bad_output_is_a_clear_error_and_leaves_no_npy) {
    test_in_tmpdir(T_, "texp", bad_output_in);
}

/* ---- a run stopped by a signal, and a directory that holds an earlier export ---- */

/* .part files in dir and in the llmscope-trace-* staging directories under it (--json). */
static int count_parts(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *de; (de = readdir(d));) {
        size_t l = strlen(de->d_name);
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".part")) n++;
        else if (!strncmp(de->d_name, "llmscope-trace-", 15)) n += count_parts(p);
    }
    closedir(d);
    return n;
}

static void list_files(const char *dir, const char *suffix, char *out, size_t cap) {
    DIR *d = opendir(dir);
    size_t k = 0;
    if (!d) return;
    for (struct dirent *de; (de = readdir(d));) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        if (l >= sl && !strcmp(de->d_name + l - sl, suffix) && k + l + 2 < cap) k += (size_t)snprintf(out + k, cap - k, "%s ", de->d_name);
    }
    closedir(d);
}

static int count_prefix(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *de; (de = readdir(d));) n += !strncmp(de->d_name, prefix, strlen(prefix));
    closedir(d);
    return n;
}

/* Runs `llmscope ARGS` (stdout to /dev/null, stderr to errfile, TMPDIR=tmpdir when given) with
 * the signals at their defaults, stops it (SIGSTOP) as soon as a .part file shows under watch,
 * sends sig while it is stopped mid-export, lets it go on (SIGCONT) and waits. Returns the wait
 * status; -1 when the run ended before it could be caught mid-export (the caller runs it
 * again), -2 on a failure of the test itself. */
static int run_signalled(const char *const *args, const char *watch, const char *tmpdir, int sig, const char *errfile) {
    pid_t pid = fork();
    if (pid < 0) return -2;
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int o = open("/dev/null", O_WRONLY), er = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || er < 0 || dup2(o, 1) < 0 || dup2(er, 2) < 0) _exit(126);
        if (tmpdir) setenv("TMPDIR", tmpdir, 1);
        char *argv[40];
        int k = 0;
        argv[k++] = (char *)test_bin();
        for (int i = 0; args[i] && k < 39; i++) argv[k++] = (char *)args[i];
        argv[k] = NULL;
        execv(test_bin(), argv);
        _exit(127);
    }
    int st = 0;
    for (int t = 0; t < 120000; t++) {   /* 2 minutes at most, polling every 0.5 ms */
        if (waitpid(pid, &st, WNOHANG) == pid) return -1;
        if (count_parts(watch) > 0) {
            kill(pid, SIGSTOP);
            if (waitpid(pid, &st, WUNTRACED) != pid) return -2;
            if (!WIFSTOPPED(st)) return -1;
            bool mid = count_parts(watch) > 0;   /* not already past the last rename */
            if (mid) kill(pid, sig);
            kill(pid, SIGCONT);
            if (waitpid(pid, &st, 0) != pid) return -2;
            return mid ? st : -1;
        }
        usleep(500);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -2;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = calloc(1, 1 << 16);
    if (b && fread(b, 1, (1 << 16) - 1, f) == 0) b[0] = 0;
    fclose(f);
    return b;
}

static bool exists(const char *dir, const char *name) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Ctrl-C (SIGINT) or kill (SIGTERM) in the middle of an export: the .part files it created are
 * removed and nothing else (an earlier export in the directory and a user's file stay as they
 * were), a message on stderr, exit status 128 + signal. The same for the --json staging
 * directory under $TMPDIR. Fails without the handler: the default action kills the process
 * by the signal and leaves the .part files. */
static void signal_mid_export_in(TestCtx *T_, const char *dir) {
    char out[1200], err[1200], cmd[4096], *o = NULL;
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/stderr.txt", dir);
    /* an earlier, complete export and a file of the user's */
    snprintf(cmd, sizeof cmd, "{ %s trace --model assets/models/story-gqa --ids 0,5,6 --hooks blocks.0.hook_resid_post --npy %s && echo mine > %s/notes.txt; }",
             test_bin(), out, out);
    REQUIRE(test_run(cmd, &o, 1) == 0);
    free(o);
    char man[1200];
    snprintf(man, sizeof man, "%s/llmscope-export.txt", out);
    char *before = read_text(man);
    REQUIRE(before && strstr(before, "blocks.0.hook_resid_post.npy"));
    const char *args[] = {"trace", "--model", "assets/models/story-gqa", "--ids", "0", "-n", "400", "--greedy", "--hooks", "*",
                          "--npy", out, NULL};
    int st = -1;
    for (int tries = 0; tries < 5 && st == -1; tries++) st = run_signalled(args, out, NULL, SIGINT, err);
    REQUIRE(st >= 0);
    char *msg = read_text(err);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 130, "wait status %#x (killed by signal %d): %s", st, WIFSIGNALED(st) ? WTERMSIG(st) : 0, msg ? msg : "");
    CHECK_MSG(msg && strstr(msg, "interrupted (SIGINT)") && strstr(msg, "removed"), "stderr: %s", msg ? msg : "(none)");
    free(msg);
    char left[600] = "";
    list_files(out, ".part", left, sizeof left);
    CHECK_MSG(count_files(out, ".part") == 0, "left: %s", left);
    CHECK_EQ_INT(count_files(out, ".npy"), 2);   /* the earlier export's ids.npy and resid_post */
    CHECK(exists(out, "ids.npy") && exists(out, "blocks.0.hook_resid_post.npy") && exists(out, "notes.txt"));
    char *after = read_text(man);
    CHECK_MSG(after && !strcmp(after, before), "the earlier manifest changed:\n%s", after ? after : "(gone)");
    free(after);
    free(before);
    /* --json stages its files under $TMPDIR: SIGTERM removes them and the staging directory */
    const char *jargs[] = {"trace", "--model", "assets/models/story-gqa", "--ids", "0", "-n", "400", "--greedy", "--hooks", "*",
                           "--json", NULL};
    st = -1;
    for (int tries = 0; tries < 5 && st == -1; tries++) st = run_signalled(jargs, dir, dir, SIGTERM, err);
    REQUIRE(st >= 0);
    msg = read_text(err);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 143, "wait status %#x: %s", st, msg ? msg : "");
    CHECK_MSG(msg && strstr(msg, "terminated (SIGTERM)"), "stderr: %s", msg ? msg : "(none)");
    free(msg);
    CHECK_EQ_INT(count_prefix(dir, "llmscope-trace-"), 0);
}

TEST(trace_signal_mid_export_removes_its_unfinished_files) {
    if (access(test_bin(), X_OK)) SKIP("needs %s", test_bin());
    test_in_tmpdir(T_, "texp", signal_mid_export_in);
}

/* `--npy DIR` into a directory that holds an earlier export: the new export replaces it (the
 * files the old manifest lists and the new run does not write are removed once the new run is
 * complete); files no manifest lists are never touched, and .npy files among them make the
 * export refuse the directory, naming them; a manifest that names paths outside the directory
 * removes nothing there; a run that fails leaves the earlier export as it was. */
static void npy_replaces_in(TestCtx *T_, const char *dir) {
    char out[1200], man[1200], cmd[4096], *o = NULL;
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(man, sizeof man, "%s/llmscope-export.txt", out);
    const char *base = "trace --model assets/models/story-gqa --prompt 'Once upon a time there was a cat'";
    snprintf(cmd, sizeof cmd, "{ mkdir %s && echo notes > %s/notes.txt && echo keep > %s/victim.npy && "
             "%s %s --hooks blocks.0.hook_resid_post,hook_logits --npy %s; }", out, out, dir, test_bin(), base, out);
    int rc = test_run(cmd, &o, 1);
    CHECK_MSG(rc == 0 && strstr(o, "llmscope-export.txt"), "rc %d: %s", rc, o);
    free(o);
    char *m = read_text(man);
    CHECK_MSG(m && strstr(m, "# status: complete\nids.npy\nblocks.0.hook_resid_post.npy\nhook_logits.npy\n"), "manifest:\n%s", m ? m : "(none)");
    free(m);
    /* a second export: blocks.0 (not written again) goes, the rest is the new run's */
    snprintf(cmd, sizeof cmd, "%s %s --hooks blocks.1.hook_resid_post,hook_logits --emb-layer 2 --npy %s", test_bin(), base, out);
    rc = test_run(cmd, &o, 1);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, o);
    free(o);
    CHECK(!exists(out, "blocks.0.hook_resid_post.npy"));
    CHECK(exists(out, "blocks.1.hook_resid_post.npy") && exists(out, "hook_logits.npy") && exists(out, "embeddings.layer2.pca.npy"));
    CHECK(exists(out, "notes.txt"));
    CHECK_EQ_INT(count_files(out, ".npy"), 6);
    m = read_text(man);
    CHECK_MSG(m && strstr(m, "\nids.npy\nblocks.1.hook_resid_post.npy\nhook_logits.npy\nembeddings.layer2.pca.npy\n"
                              "embeddings.layer2.cosine.npy\nembeddings.layer2.explained.npy\n") && !strstr(m, "blocks.0"),
              "manifest:\n%s", m ? m : "(none)");
    free(m);
    /* a manifest edited to name files outside the directory, or not .npy: they are never removed */
    snprintf(cmd, sizeof cmd, "{ printf '../victim.npy\\n%s/victim.npy\\nnotes.txt\\n' >> %s && %s %s --hooks hook_logits --npy %s; }",
             dir, man, test_bin(), base, out);
    rc = test_run(cmd, &o, 1);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, o);
    free(o);
    CHECK(exists(dir, "victim.npy") && exists(out, "notes.txt"));
    CHECK(!exists(out, "blocks.1.hook_resid_post.npy") && !exists(out, "embeddings.layer2.pca.npy"));
    CHECK_EQ_INT(count_files(out, ".npy"), 2);   /* ids and hook_logits */
    /* a .npy file no manifest lists: refused before the run, named; nothing changes */
    char *m0 = read_text(man);
    snprintf(cmd, sizeof cmd, "{ echo mine > %s/mine.npy && %s %s --hooks blocks.2.hook_resid_post --npy %s; }", out, test_bin(), base, out);
    rc = test_run(cmd, &o, 1);
    CHECK_MSG(rc == 1 && strstr(o, "mine.npy") && strstr(o, "no llmscope export manifest") && strstr(o, out), "rc %d: %s", rc, o);
    free(o);
    CHECK(exists(out, "mine.npy") && exists(out, "hook_logits.npy") && !exists(out, "blocks.2.hook_resid_post.npy"));
    snprintf(cmd, sizeof cmd, "%s/mine.npy", out);
    unlink(cmd);
    /* a run that fails midway (file size limit) leaves the earlier export as it was */
    snprintf(cmd, sizeof cmd, "(trap '' XFSZ; ulimit -f 4; exec %s %s --hooks '*' --npy %s)", test_bin(), base, out);
    rc = test_run(cmd, &o, 1);
    CHECK_MSG(rc != 0 && strstr(o, "write failed"), "rc %d: %s", rc, o);
    free(o);
    char *m1 = read_text(man);
    CHECK_MSG(m0 && m1 && !strcmp(m0, m1), "the manifest changed:\n%s", m1 ? m1 : "(gone)");
    free(m0);
    free(m1);
    CHECK(exists(out, "hook_logits.npy") && exists(out, "ids.npy"));
    CHECK_EQ_INT(count_files(out, ".part"), 0);
}

TEST(trace_npy_replaces_its_previous_export_and_nothing_else) {
    if (access(test_bin(), X_OK)) SKIP("needs %s", test_bin());
    test_in_tmpdir(T_, "texp", npy_replaces_in);
}
