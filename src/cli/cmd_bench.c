/* llmscope bench: decode and prefill speed on random-weight models shaped like GPT-2 124M
 * and a ~110M Llama, against the memory bandwidth measured in the same run.
 * Decode reads every weight once per token, so bandwidth / bytes-per-token is its bound. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "analysis/embedmap.h"
#include "cli/cli.h"
#include "session/session.h"
#include "tui/app.h"
#include "tui/canvas.h"
#include "tui/panel.h"
#include "engine/attn.h"
#include "engine/gemm.h"
#include "engine/pool.h"
#include "engine/engine.h"
#include "engine/sampler.h"
#include "tokenizer/tokenizer.h"
#include "trace/trace.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* xorshift random fill in [-a, a] */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(float a) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return ((float)(g_rng >> 40) / (float)(1 << 24) * 2.0f - 1.0f) * a;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static Tensor rand_tensor(Model *m, int rows, int cols, DType dt, float a, Err *e) {
    Tensor t = {0};
    size_t n = (size_t)rows * (size_t)cols;
    void *p = model_alloc(m, n * dtype_size(dt), e);
    if (!p) return t;
    if (dt == DT_F32) { float *f = p; for (size_t i = 0; i < n; i++) f[i] = frand(a); }
    else {
        uint16_t *h = p;
        for (size_t i = 0; i < n; i++) {   /* bf16 = top half of the f32 */
            float v = frand(a);
            uint32_t u; memcpy(&u, &v, 4);
            h[i] = (uint16_t)(u >> 16);
        }
        if (dt == DT_F16) for (size_t i = 0; i < n; i++) h[i] = (uint16_t)(0x3000 | (h[i] & 0x83ff)); /* small f16 values */
    }
    t.data = p; t.dtype = dt; t.rows = rows; t.cols = cols;
    return t;
}

static Tensor ones(Model *m, int n, Err *e) {
    Tensor t = {0};
    float *p = model_alloc(m, sizeof(float) * (size_t)n, e);
    if (!p) return t;
    for (int i = 0; i < n; i++) p[i] = 1.0f;
    t.data = p; t.dtype = DT_F32; t.rows = 1; t.cols = n;
    return t;
}

/* A random model of the given family and dims (weights uniform in +-0.02..0.05). */
static Model *model_random(bool gpt2, DType dt, Err *e) {
    Model *m = calloc(1, sizeof *m);
    ModelSpec *s = &m->spec;
    if (gpt2) {
        snprintf(s->model_type, sizeof s->model_type, "gpt2");
        s->family = ARCH_GPT2; s->vocab_size = 50257; s->d_model = 768; s->n_layers = 12; s->n_heads = 12;
        s->n_kv_heads = 12; s->head_dim = 64; s->d_ff = 3072; s->max_pos = 1024; s->norm = NORM_LAYERNORM;
        s->act = ACT_GELU_TANH; s->pos = POS_LEARNED; s->tied_embeddings = true; s->qkv_bias = s->o_bias = s->mlp_bias = true;
    } else {
        snprintf(s->model_type, sizeof s->model_type, "llama");
        s->family = ARCH_LLAMA; s->vocab_size = 32000; s->d_model = 768; s->n_layers = 12; s->n_heads = 12;
        s->n_kv_heads = 4; s->head_dim = 64; s->d_ff = 2048; s->max_pos = 2048; s->norm = NORM_RMSNORM;
        s->act = ACT_SILU; s->gated_ffn = true; s->pos = POS_ROPE; s->rope_theta = 10000; s->rotary_dim = 64;
        s->rope_factor = 1;
    }
    s->attn_kind = s->n_kv_heads == s->n_heads ? ATTN_MHA : ATTN_GQA;
    s->norm_eps = 1e-5f; s->softmax_scale = 1.0f / sqrtf((float)s->head_dim); s->bos_id = s->eos_id = -1;
    s->dtype = dt;
    const int d = s->d_model, H = s->n_heads, KV = s->n_kv_heads, hd = s->head_dim, ff = s->d_ff;
    m->w.layers = calloc((size_t)s->n_layers, sizeof(LayerWeights));
    m->w.tok_emb = rand_tensor(m, s->vocab_size, d, dt, 0.05f, e);
    if (gpt2) m->w.pos_emb = rand_tensor(m, s->max_pos, d, dt, 0.02f, e);
    for (int l = 0; l < s->n_layers; l++) {
        LayerWeights *lw = &m->w.layers[l];
        lw->d_ff = ff;
        lw->ln1_w = ones(m, d, e); lw->ln2_w = ones(m, d, e);
        lw->wq = rand_tensor(m, H * hd, d, dt, 0.03f, e);
        lw->wk = rand_tensor(m, KV * hd, d, dt, 0.03f, e);
        lw->wv = rand_tensor(m, KV * hd, d, dt, 0.03f, e);
        lw->wo = rand_tensor(m, d, H * hd, dt, 0.03f, e);
        if (!gpt2) lw->w_gate = rand_tensor(m, ff, d, dt, 0.03f, e);
        lw->w_up = rand_tensor(m, ff, d, dt, 0.03f, e);
        lw->w_down = rand_tensor(m, d, ff, dt, 0.03f, e);
    }
    m->w.lnf_w = ones(m, d, e);
    m->w.lm_head = gpt2 ? m->w.tok_emb : rand_tensor(m, s->vocab_size, d, dt, 0.05f, e);
    /* bytes read per decoded token: every matrix once + one embedding row */
    size_t per_layer = ((size_t)H * hd * d * 2 + (size_t)KV * hd * d * 2 + (size_t)ff * d * (gpt2 ? 2 : 3)) * dtype_size(dt);
    m->weight_bytes = per_layer * (size_t)s->n_layers + (size_t)s->vocab_size * d * dtype_size(dt);
    m->n_params = (long long)(per_layer / dtype_size(dt)) * s->n_layers + (long long)s->vocab_size * d * (gpt2 ? 1 : 2);
    snprintf(m->path, sizeof m->path, "random-%s-%s", gpt2 ? "gpt2-124M" : "llama-110M", dtype_name(dt));
    return m;
}

/* Read bandwidth (GB/s): the best of several passes over 1 GiB (far larger than the caches),
 * read on the engine's pool with wide loads and independent accumulators the way the matvec
 * kernel reads weights. */
typedef struct { const float *buf; size_t n; int parts; float total[ENGINE_MAX_THREADS]; } BwTask;

static void bw_fill(void *ctx, int part, int thread) {
    BwTask *b = ctx;
    (void)thread;
    size_t lo = b->n / (size_t)b->parts * (size_t)part, hi = part == b->parts - 1 ? b->n : b->n / (size_t)b->parts * (size_t)(part + 1);
    float *w = (float *)b->buf;
    for (size_t i = lo; i < hi; i++) w[i] = (float)(i & 7);
}

static void bw_read(void *ctx, int part, int thread) {
    BwTask *b = ctx;
    (void)thread;
    size_t lo = b->n / (size_t)b->parts * (size_t)part, hi = part == b->parts - 1 ? b->n : b->n / (size_t)b->parts * (size_t)(part + 1);
    float a[32] = {0};
    for (size_t i = lo; i + 32 <= hi; i += 32)
        for (int k = 0; k < 32; k++) a[k] += b->buf[i + (size_t)k];
    float t = 0;
    for (int k = 0; k < 32; k++) t += a[k];
    b->total[part] = t;
}

static double measure_bandwidth(int threads) {
    const size_t n = (size_t)256 << 20;
    int prev = engine_get_threads();
    engine_set_threads(threads);
    BwTask *b = calloc(1, sizeof *b);
    float *buf = b ? malloc(n * sizeof(float)) : NULL;
    if (!buf) { free(b); engine_set_threads(prev); return 0; }
    b->buf = buf; b->n = n; b->parts = threads;
    pool_run(bw_fill, b, threads);
    double best = 0;
    for (int rep = 0; rep < 6; rep++) {
        double t0 = now();
        pool_run(bw_read, b, threads);
        double dt = now() - t0;
        if (b->total[0] == -1) printf(" ");
        double gbs = (double)n * sizeof(float) / dt / 1e9;
        if (gbs > best) best = gbs;
    }
    free(buf);
    free(b);
    engine_set_threads(prev);
    return best;
}

typedef struct { double decode_tps, prefill_tps; } Speed;

/* Prefill of n_prefill tokens (median of 3) and decode of n_decode tokens after a 128-token
 * prompt (median of 3): the context a short chat reaches, not the first few positions.
 * With a trace (attached to h), the trace is bound to this engine and every row's logits go
 * to it, as the TUI's session does (session_new): the recorder keeps what cannot be
 * recomputed and the engine runs its fused attention. */
#define DECODE_AT 128
static Speed run_speed(Model *m, int threads, Hooks *h, Trace *tr, int n_decode, int n_prefill) {
    Speed sp = {0, 0};
    Err e = {0};
    engine_set_threads(threads);
    Engine *en = engine_new(m, 1024, &e);
    if (!en) { fprintf(stderr, "bench: %s\n", e.msg); return sp; }
    engine_set_hooks(en, h);
    int step = 0;
    if (tr) { trace_truncate(tr, 0); trace_bind_engine(tr, en); engine_set_hook_all_logits(en, true); }
    int ids[1024];
    for (int i = 0; i < 1024; i++) ids[i] = (i * 7919) % m->spec.vocab_size;
    if (n_prefill > 1023) n_prefill = 1023;
    if (n_decode > 1023 - DECODE_AT) n_decode = 1023 - DECODE_AT;
    double p[3], d[3];
    for (int rep = 0; rep < 3; rep++) {
        engine_truncate(en, 0);
        if (tr) { trace_truncate(tr, 0); trace_begin_step(tr, PHASE_PREFILL, step++); }
        double t0 = now();
        engine_forward(en, ids, n_prefill, false, &e);
        p[rep] = n_prefill / (now() - t0);
    }
    for (int rep = 0; rep < 3; rep++) {
        engine_truncate(en, 0);
        if (tr) { trace_truncate(tr, 0); trace_begin_step(tr, PHASE_PREFILL, step++); }
        float *lg = engine_forward(en, ids, DECODE_AT, false, &e);
        double t0 = now();
        for (int i = 0; i < n_decode && lg; i++) {
            int t = argmax(lg, m->spec.vocab_size);
            if (tr) trace_begin_step(tr, PHASE_DECODE, step++);
            lg = engine_forward(en, &t, 1, false, &e);
        }
        d[rep] = n_decode / (now() - t0);
    }
    sp.prefill_tps = median(p, 3);
    sp.decode_tps = median(d, 3);
    if (tr) trace_bind_engine(tr, NULL);
    engine_free(en);
    return sp;
}

int bench_gen_main(int argc, char **argv);   /* bench_gen.c */

/* Peak resident set (VmHWM) of this process, in bytes; 0 if unknown. */
static size_t vm_hwm(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) { kb = (size_t)strtoull(line + 6, NULL, 10); break; }
    fclose(f);
    return kb * 1024;
}

/* The TUI on n tokens: `screenshot --ids ... --panel attention` in a child process (the
 * interactive UI's prefill, trace and first frame); its peak RSS in bytes (0 if it failed) and
 * wall seconds. */
static size_t tui_peak_rss(const char *model, const int *ids, int n, int threads, double *secs) {
    size_t cap = (size_t)n * 12 + 16;
    char *list = malloc(cap), th[16];
    if (!list) return 0;
    size_t o = 0;
    for (int i = 0; i < n; i++) o += (size_t)snprintf(list + o, cap - o, "%s%d", i ? "," : "", ids[i]);
    snprintf(th, sizeof th, "%d", threads);
    double t0 = now();
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(127);
        char *argv[] = {"llmscope", "screenshot", "--model", (char *)model, "--ids", list, "--panel", "attention", "--threads", th, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    free(list);
    int st = 0;
    struct rusage ru;
    if (p < 0 || wait4(p, &st, 0, &ru) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 0;
    *secs = now() - t0;
    return (size_t)ru.ru_maxrss * 1024;
}

/* A process that keeps one core busy (like `yes > /dev/null`), for the shared-machine test. */
static pid_t busy_start(void) {
    pid_t p = fork();
    if (p == 0) {
        volatile unsigned long x = 0;
        for (;;) x++;
    }
    return p;
}
static void busy_stop(pid_t p) {
    if (p > 0) { kill(p, SIGKILL); waitpid(p, NULL, 0); }
}

/* Decode tok/s: n tokens greedily after the cache holds `at` tokens (prefilled, untimed). */
static double time_decode(Engine *en, const Model *m, const int *ids, int at, int n, Err *e) {
    engine_truncate(en, 0);
    float *lg = engine_forward(en, ids, at, false, e);
    double t0 = now();
    for (int i = 0; i < n && lg; i++) {
        int t = argmax(lg, m->spec.vocab_size);
        lg = engine_forward(en, &t, 1, false, e);
    }
    return lg ? n / (now() - t0) : 0;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Prefill of n tokens, tok/s (wall); *cpu_s (if not NULL) gets the process's CPU seconds.
 * With a trace, it is bound to the engine and attached through h as the TUI's session does
 * (session_new: every prompt row's logits go to it), from an empty trace, then unbound. */
static double time_prefill_ex(Engine *en, Hooks *h, Trace *tr, const int *ids, int n, double *cpu_s, Err *e) {
    engine_truncate(en, 0);
    if (tr) {
        trace_truncate(tr, 0);
        trace_bind_engine(tr, en);
        engine_set_hook_all_logits(en, true);
        engine_set_hooks(en, h);
        trace_begin_step(tr, PHASE_PREFILL, 0);
    }
    double c0 = cpu_now(), t0 = now();
    float *lg = engine_forward(en, ids, n, false, e);
    double dt = now() - t0;
    if (cpu_s) *cpu_s = cpu_now() - c0;
    if (tr) {
        engine_set_hooks(en, NULL);
        engine_set_hook_all_logits(en, false);
        trace_bind_engine(tr, NULL);
    }
    return lg ? n / dt : 0;
}
static double time_prefill(Engine *en, const int *ids, int n, Err *e) { return time_prefill_ex(en, NULL, NULL, ids, n, NULL, e); }

/* The vocabulary index behind the Embeddings panel on this model's token embeddings: building
 * it (1/|E_v| for every row), one nearest-neighbour query (median of 7) and the vocabulary
 * map's fit on the first 8192 ids (the panel's EMB_MAP_FIT). Prints one JSON member. */
static void bench_vocab(const Model *m) {
    Err e = {0};
    if (!tensor_present(&m->w.tok_emb) || m->w.tok_emb.cols != m->spec.d_model) return;
    double t0 = now();
    VocabIndex *vi = vocab_index_new(&m->w.tok_emb, &e);
    double t_index = now() - t0;
    if (!vi) return;
    const int d = m->spec.d_model;
    float *q = malloc(sizeof(float) * (size_t)d);
    double nn[7];
    int ids[12];
    float sims[12];
    for (int r = 0; r < 7 && q; r++) {
        vocab_row(vi, (r * 7919 + 13) % m->spec.vocab_size, q);
        t0 = now();
        vocab_neighbours(vi, q, -1, 12, ids, sims);
        nn[r] = now() - t0;
    }
    PcaAxes ax = {0};
    t0 = now();
    bool fit = vocab_map_fit(vi, 8192, &ax, &e);
    double t_map = now() - t0;
    if (fit) pca_axes_done(&ax);
    printf("  \"vocabulary\": {\"rows\": %d, \"index_build_ms\": %.1f, \"neighbours_ms\": %.1f, \"map_fit_8192_ms\": %.1f},\n",
           m->spec.vocab_size, 1e3 * t_index, q ? 1e3 * median(nn, 7) : 0.0, fit ? 1e3 * t_map : -1.0);
    free(q);
    vocab_index_free(vi);
}

/* Per-panel step time as the TUI sees it: a session (engine + trace recorder) prefilled with
 * `ctx` tokens, then for each round and each panel one decode step followed by that panel's
 * first frame (120x40), so every panel pays for its own per-step work (logit lens,
 * neighbours, ...) on a fresh token; medians over rounds. Prints one JSON member. */
static bool bench_panels(const char *path, int ctx, int rounds, Err *e) {
    Session *s = session_new(path, ctx + rounds * PANEL_COUNT + 8, e);
    if (!s) return false;
    int *ids = malloc(sizeof(int) * (size_t)ctx);
    if (!ids) { session_free(s); return err_set(e, ERR_MEMORY, "out of memory"); }
    for (int i = 0; i < ctx; i++) ids[i] = (int)((i * 7919L + 13) % session_model(s)->spec.vocab_size);
    double t0 = now();
    bool ok = session_set_ids(s, ids, ctx, e) && session_step(s, e);
    double t_prefill = now() - t0;
    free(ids);
    if (!ok) { session_free(s); return false; }
    App *a = app_new();
    Canvas *c = canvas_new(120, 40);
    if (!a || !c) { if (a) app_free(a); canvas_free(c); session_free(s); return err_set(e, ERR_MEMORY, "out of memory"); }
    app_set_session(a, 0, s, true);
    a->sc->max_ctx = session_max_ctx(s);
    c->unicode = true;
    enum { MAXR = 99 };
    static double t_step[PANEL_COUNT][MAXR], t_draw[PANEL_COUNT][MAXR];
    for (int r = 0; r < rounds && ok; r++)
        for (int p = 0; p < PANEL_COUNT && ok; p++) {
            t0 = now();
            ok = session_step(s, e);
            double t1 = now();
            app_render_panel(a, c, p);
            t_draw[p][r] = now() - t1;
            t_step[p][r] = t1 - t0;
        }
    if (ok) {
        double all[PANEL_COUNT * MAXR];
        int na = 0;
        for (int p = 0; p < PANEL_COUNT; p++) for (int r = 0; r < rounds; r++) all[na++] = t_step[p][r];
        printf("  \"tui_panel_step_ms\": {\"context\": %d, \"rounds\": %d, \"traced_prefill_s\": %.1f, \"decode_step_with_trace_ms\": %.1f, \"panel_frame_after_step_ms\": {",
               ctx, rounds, t_prefill, 1e3 * median(all, na));
        for (int p = 0; p < PANEL_COUNT; p++)
            printf("%s\"%s\": %.1f", p ? ", " : "", panel_class((PanelId)p)->name, 1e3 * median(t_draw[p], rounds));
        printf("}},\n");
    }
    canvas_free(c);
    app_free(a);
    return ok;
}

/* The decode attention step alone on the model's shape at `far` cached keys: attn_decode
 * over every layer of a synthetic f32 cache laid out as the engine's (head-major, one
 * allocation per layer), against a plain read of the same bytes on the same pool, the two
 * alternating over 3*rounds rounds, medians. Prints one JSON member. */
typedef struct { float **k, **v; size_t ldkv; int l, T, hd, nsplit; float sum[ENGINE_MAX_THREADS]; } AttnRead;

static void attn_read_task(void *ctx, int task, int thread) {
    AttnRead *a = ctx;
    const int kh = task / a->nsplit, r = task % a->nsplit, split = (a->T + a->nsplit - 1) / a->nsplit;
    const int lo = r * split, hi = (r + 1) * split < a->T ? (r + 1) * split : a->T;
    const float *k = a->k[a->l] + (size_t)kh * a->ldkv, *v = a->v[a->l] + (size_t)kh * a->ldkv;
    float acc[32] = {0};
    for (size_t i = (size_t)lo * a->hd; i + 16 <= (size_t)hi * a->hd; i += 16)
        for (int j = 0; j < 16; j++) { acc[j] += k[i + (size_t)j]; acc[16 + j] += v[i + (size_t)j]; }
    float t = 0;
    for (int j = 0; j < 32; j++) t += acc[j];
    a->sum[thread] += t;
}

static void bench_attn_step(const ModelSpec *s, int far, int rounds) {
    if (s->attn_kind == ATTN_MLA) return;
    const int L = s->n_layers, KV = s->n_kv_heads, H = s->n_heads, hd = s->head_dim, T = far + 1;
    const size_t ldkv = (size_t)(T + 16) * (size_t)hd;
    float **k = calloc((size_t)L, sizeof(float *)), **v = calloc((size_t)L, sizeof(float *));
    float *q = malloc(sizeof(float) * (size_t)H * hd), *z = malloc(sizeof(float) * (size_t)H * hd);
    float *part = malloc(sizeof(float) * attn_decode_floats(1, H, hd));
    bool ok = k && v && q && z && part;
    for (int l = 0; ok && l < L; l++) {
        k[l] = malloc(sizeof(float) * ldkv * (size_t)KV);
        v[l] = malloc(sizeof(float) * ldkv * (size_t)KV);
        ok = k[l] && v[l];
        for (size_t i = 0; ok && i < ldkv * (size_t)KV; i++) { k[l][i] = frand(1.0f); v[l][i] = frand(1.0f); }
    }
    for (int i = 0; ok && i < H * hd; i++) q[i] = frand(3.0f);
    enum { MAXR = 99 };
    double ta[MAXR], tr[MAXR];
    int nr = 3 * rounds < MAXR ? 3 * rounds : MAXR;
    AttnRead rd = {k, v, ldkv, 0, T, hd, (T + 255) / 256, {0}};
    if (rd.nsplit > 32) rd.nsplit = 32;
    for (int r = 0; ok && r < nr; r++) {
        double t0 = now();
        for (int l = 0; l < L; l++) {
            AttnArgs a = {.q = q, .ldq = (size_t)H * hd, .k = k[l], .v = v[l], .ldkv = ldkv, .z = z, .ldz = (size_t)H * hd,
                          .n = 1, .p0 = far, .H = H, .KV = KV, .hd = hd, .window = 0, .scale = s->softmax_scale};
            attn_decode(&a, part);
        }
        double t1 = now();
        for (rd.l = 0; rd.l < L; rd.l++) pool_run(attn_read_task, &rd, KV * rd.nsplit);
        double t2 = now();
        ta[r] = t1 - t0;
        tr[r] = t2 - t1;
    }
    if (ok) {
        double ma = median(ta, nr), mr = median(tr, nr), bytes = 2.0 * L * KV * (double)T * hd * sizeof(float);
        printf("  \"attention_step\": {\"keys\": %d, \"kv_bytes_read\": %.0f, \"rounds\": %d, \"attention_ms\": %.2f, \"plain_read_ms\": %.2f, "
               "\"attention_gb_s\": %.1f, \"read_over_attention\": %.3f, \"note\": \"attn_decode over every layer of a synthetic cache of this shape vs a plain read of the same bytes, alternating, medians\"},\n",
               T, bytes, nr, 1e3 * ma, 1e3 * mr, bytes / ma / 1e9, mr / ma);
    }
    for (int l = 0; l < L && k && v; l++) { free(k[l]); free(v[l]); }
    free(k); free(v); free(q); free(z); free(part);
}

/* The sections of `bench --model`: without --busy, --panels or --traced the default run
 * (full); with any of them only those, unless --full adds the default run. An option that
 * only an unselected section reads is refused, naming it, as cli_rules does. */
static bool bench_model_sections(int argc, char **argv, bool *full, bool *busy, bool *panels, bool *traced) {
    *busy = cli_flag(argc, argv, "--busy");
    *panels = cli_flag(argc, argv, "--panels");
    *traced = cli_flag(argc, argv, "--traced");
    *full = cli_flag(argc, argv, "--full") || !(*busy || *panels || *traced);
    static const struct { const char *opt; int used_by; const char *what; } k_reads[] = {   /* 1 busy, 2 panels, 4 traced */
        {"--decode", 1, "the decode runs of the default run and --busy"},
        {"--prefill", 4, "the prefill of the default run and --traced"},
        {"--far", 1 | 2, "the far decode position of the default run and --busy, the context of --panels"}};
    const int sel = (*busy ? 1 : 0) | (*panels ? 2 : 0) | (*traced ? 4 : 0);
    for (size_t i = 0; !*full && i < sizeof k_reads / sizeof k_reads[0]; i++) {
        if (!cli_opt(argc, argv, k_reads[i].opt) || (sel & k_reads[i].used_by)) continue;
        char names[64] = "";
        if (*busy) strcat(names, "--busy");
        if (*panels) strcat(strcat(names, names[0] ? " and " : ""), "--panels");
        if (*traced) strcat(strcat(names, names[0] ? " and " : ""), "--traced");
        fprintf(stderr, "llmscope: bench: %s does nothing with %s alone: it sets %s (add --full for the default run as well; "
                "see `llmscope bench --help`)\n", k_reads[i].opt, names, k_reads[i].what);
        return false;
    }
    return true;
}

/* llmscope bench --model M: speed and memory on a real checkpoint, in one run, rounds
 * alternating the measurements, medians reported; the sections asked for (see above). */
static int bench_model(int argc, char **argv) {
    Err e = {0};
    int threads = cli_threads_arg(argc, argv);
    int rounds = cli_opt_int(argc, argv, "--rounds", 3);
    int n_dec = cli_opt_int(argc, argv, "--decode", 16);
    int n_pre = cli_opt_int(argc, argv, "--prefill", 512);
    int far = cli_opt_int(argc, argv, "--far", 1000);
    bool full, busy, panels, traced;
    if (!bench_model_sections(argc, argv, &full, &busy, &panels, &traced)) return 2;
    if (rounds < 1 || rounds > 99 || n_dec < 1 || n_pre < 1 || far < 16) {
        fprintf(stderr, "llmscope: bench: --rounds 1..99, --decode >= 1, --prefill >= 1, --far >= 16\n");
        return 2;
    }
    const bool decode = full || busy;   /* the quiet decode runs: the default run's, and --busy's baseline */
    const double t_start = now();
    Model *m = cli_load_model(argc, argv, false, &e);
    if (!m) return cli_fail(&e);
    int ctx = (far > n_pre ? far : n_pre) + n_dec + 1;
    Engine *en = NULL;
    if ((full || busy || traced) && !(en = engine_new(m, ctx, &e))) { model_free(m); return cli_fail(&e); }
    int *ids = malloc(sizeof(int) * (size_t)ctx);
    for (int i = 0; i < ctx; i++) ids[i] = (int)((i * 7919L + 13) % m->spec.vocab_size);
    enum { MAXR = 99 };
    double d10[MAXR], dfar[MAXR], pre[MAXR], d10b[MAXR], dfarb[MAXR];
    double pu[MAXR], pt[MAXR], cu[MAXR], ct[MAXR];   /* --traced: untraced / traced prefill, tok/s and CPU s */
    Hooks *th = traced ? hooks_new() : NULL;
    Trace *tr = traced ? trace_new(m, ctx, &e) : NULL;
    if (traced && (!th || !tr)) { trace_free(tr); hooks_free(th); free(ids); engine_free(en); model_free(m); return cli_fail(&e); }
    if (tr) trace_attach(tr, th);
    int nr = 0;
    for (int r = 0; r < rounds; r++, nr++) {
        if (traced) {   /* alternating, the order swapped every round */
            for (int k = 0; k < 2; k++) {
                bool with = (k + r) % 2 == 1;
                double *tps = with ? &pt[r] : &pu[r], *cpu = with ? &ct[r] : &cu[r];
                *tps = time_prefill_ex(en, th, with ? tr : NULL, ids, n_pre, cpu, &e);
            }
        }
        if (decode) d10[r] = time_decode(en, m, ids, 10, n_dec, &e);
        if (full) pre[r] = time_prefill(en, ids, n_pre, &e);
        if (decode) dfar[r] = time_decode(en, m, ids, far, n_dec, &e);
        if (busy) {   /* the same with one busy process beside it, alternating */
            pid_t p = busy_start();
            d10b[r] = time_decode(en, m, ids, 10, n_dec, &e);
            dfarb[r] = time_decode(en, m, ids, far, n_dec, &e);
            busy_stop(p);
        }
        if (e.code) break;
    }
    trace_free(tr);   /* before the peak below, which is the engine's alone */
    hooks_free(th);
    if (e.code) { free(ids); engine_free(en); model_free(m); return cli_fail(&e); }
    size_t hwm = vm_hwm();   /* before the bandwidth pass allocates its 1 GiB */
    double tui_s = 0;
    const char *mpath = cli_opt(argc, argv, "--model");
    size_t tui_rss = full && mpath ? tui_peak_rss(mpath, ids, far, threads, &tui_s) : 0;
    double bw = full ? measure_bandwidth(threads) : 0;
    double md10 = decode ? median(d10, nr) : 0, mfar = decode ? median(dfar, nr) : 0, mpre = full ? median(pre, nr) : 0;
    double bound = bw * 1e9 / (double)m->weight_bytes;
    printf("{\n  \"model\": \"%s\", \"params\": %lld, \"dtype\": \"%s\", \"threads\": %d, \"rounds\": %d,\n",
           m->path, m->n_params, dtype_name(m->spec.dtype), threads, nr);
    printf("  \"sections\": [%s%s%s%s],\n", full ? "\"default\"" : "", busy ? (full ? ", \"busy\"" : "\"busy\"") : "",
           panels ? (full || busy ? ", \"panels\"" : "\"panels\"") : "", traced ? (full || busy || panels ? ", \"traced\"" : "\"traced\"") : "");
    if (full)
        printf("  \"gemm_kernels\": \"%s\", \"memory_bandwidth_gbs\": %.2f, \"weight_bytes_per_token\": %zu, \"bandwidth_bound_tok_s\": %.2f,\n",
               gemm_isa_name(gemm_isa()), bw, m->weight_bytes, bound);
    if (decode) {
        printf("  \"decode_tok_s_at_10\": %.2f, \"decode_tok_s_at_%d\": %.2f, \"far_over_near\": %.3f", md10, far, mfar, mfar / md10);
        if (full) printf(", \"decode_fraction_of_bound\": %.3f", md10 / bound);
        printf(",\n");
    }
    if (full) printf("  \"prefill_%d_tok_s\": %.1f, \"prefill_over_decode\": %.2f,\n", n_pre, mpre, mpre / md10);
    if (busy) {
        double mb10 = median(d10b, nr), mbfar = median(dfarb, nr);
        printf("  \"busy_neighbour\": {\"decode_tok_s_at_10\": %.2f, \"decode_tok_s_at_%d\": %.2f, \"over_quiet_at_10\": %.3f},\n",
               mb10, far, mbfar, mb10 / md10);
    }
    if (traced) {
        double mu = median(pu, nr), mt = median(pt, nr), rc[MAXR];
        for (int r = 0; r < nr; r++) rc[r] = ct[r] / cu[r];
        printf("  \"traced_prefill\": {\"tokens\": %d, \"untraced_tok_s\": %.1f, \"traced_tok_s\": %.1f, \"traced_over_untraced_time\": %.3f, "
               "\"traced_over_untraced_cpu_median\": %.3f, \"untraced_runs\": [", n_pre, mu, mt, mu / mt, median(rc, nr));
        for (int r = 0; r < nr; r++) printf("%s%.1f", r ? ", " : "", pu[r]);
        printf("], \"traced_runs\": [");
        for (int r = 0; r < nr; r++) printf("%s%.1f", r ? ", " : "", pt[r]);
        printf("], \"note\": \"trace recorder bound to the engine as the TUI session runs it (top-64 of every prompt row), alternating with the untraced prefill\"},\n");
    }
    if (decode) {
        printf("  \"runs\": {\"decode_at_10\": [");
        for (int r = 0; r < nr; r++) printf("%s%.2f", r ? ", " : "", d10[r]);
        if (full) {
            printf("], \"prefill\": [");
            for (int r = 0; r < nr; r++) printf("%s%.1f", r ? ", " : "", pre[r]);
        }
        printf("]},\n");
    }
    if (full) {
        bench_vocab(m);
        bench_attn_step(&m->spec, far, rounds);
    }
    fflush(stdout);
    if (panels && !bench_panels(m->path, far, rounds, &e)) { free(ids); engine_free(en); model_free(m); return cli_fail(&e); }
    if (tui_rss)
        printf("  \"tui_peak_rss_bytes\": %zu, \"tui_seconds\": %.1f, \"tui_note\": \"screenshot --panel attention on %d tokens (prefill, trace, one frame), its own process\",\n",
               tui_rss, tui_s, far);
    if (full)
        printf("  \"peak_rss_bytes\": %zu, \"peak_rss_note\": \"VmHWM after prefilling %d tokens (weights mapped + KV cache + run state)\",\n",
               hwm, far);
    printf("  \"wall_seconds\": %.1f\n}\n", now() - t_start);
    free(ids);
    engine_free(en);
    model_free(m);
    return 0;
}
static const CliOpt k_bench_opts[] = {
    {"--decode", NULL, CLI_INT, "N", "tokens per decode run (default 24; with --model 16)", 1, 2147483647.0},
    {"--prefill", NULL, CLI_INT, "N", "prompt tokens of the prefill run (default 512)", 1, 2147483647.0},
    {"--only", NULL, CLI_STR, "decode|recorder", "decode: print only the llama f32 decode tok/s at --threads (default 2), the median of --rounds runs (to compare builds; "
     "each run's on stderr); "
     "recorder: only the hooks section (decode without hooks, with an empty registry, with the trace recorder, alternating) "
     "for --rounds rounds, on the llama f32 or --model", 0, 0},
    {"--compare-bin", NULL, CLI_STR, "BIN", "another llmscope binary whose `bench --only decode` is compared", 0, 0},
    {"--text", NULL, CLI_STR, "FILE", "text for the tokenizer throughput (default: the TinyStories validation text)", 0, 0},
    {"--gen", NULL, CLI_STR, "NAME", "write a random-weight checkpoint shaped like qwen3-0.6b, stories110m, gemma3-270m or gemma3-1b (with --out) instead", 0, 0},
    {"--out", NULL, CLI_STR, "DIR", "with --gen: the directory to write", 0, 0},
    {"--dtype", NULL, CLI_STR, "bf16|f32", "with --gen: weight type (default bf16)", 0, 0},
    {"--tokenizer-dir", NULL, CLI_STR, "DIR", "with --gen: copy tokenizer.json and tokenizer_config.json from DIR", 0, 0},
    {"--seed", NULL, CLI_INT, "N", "with --gen: the weights' seed (default 13)", 0, 2147483647.0},
    {"--rounds", NULL, CLI_INT, "N", "with --model or --only: rounds of alternating measurements, medians reported (default 3)", 1, 99},
    {"--far", NULL, CLI_INT, "N", "with --model: the far decode position (default 1000)", 16, 1000000},
    {"--busy", NULL, CLI_FLAG, NULL, "with --model: decode at 10 and --far with one busy process beside it, alternating with the quiet runs", 0, 0},
    {"--panels", NULL, CLI_FLAG, NULL, "with --model: time each TUI panel's frame after a decode step at --far tokens", 0, 0},
    {"--traced", NULL, CLI_FLAG, NULL, "with --model: time the --prefill with the trace recorder as the TUI runs it, alternating with the untraced one", 0, 0},
    {"--full", NULL, CLI_FLAG, NULL, "with --busy, --panels or --traced: the default run as well", 0, 0},
    {0}};
static const CliOpt *const k_bench_groups[] = {k_bench_opts, CLI_OPTS_MODEL, NULL};
static const CliCmd k_bench_cmd = {
    "bench", "bench [--decode N] [--prefill N] [--compare-bin BIN] [--text FILE]\n"
    "       llmscope bench --only decode|recorder [--decode N] [--rounds N] [--threads N] [--model M (recorder)]\n"
    "       llmscope bench --gen qwen3-0.6b|stories110m|gemma3-270m|gemma3-1b --out DIR [--dtype bf16|f32] [--tokenizer-dir DIR] [--seed N]\n"
    "       llmscope bench --model M [--threads N] [--rounds N] [--decode N] [--prefill N] [--far N] [--busy] [--panels] [--traced] [--full]",
    "Decode and prefill speed of random-weight models shaped like GPT-2 124M and a 110M Llama, against\n"
    "the memory bandwidth measured in the same run; hook overhead; tokenizer throughput. Prints JSON.\n"
    "With --model, by default: decode at positions 10 and --far, prefill, memory bandwidth, the vocabulary\n"
    "index's build, neighbour query and map fit, the attention step, the TUI's peak memory (a screenshot\n"
    "child) and this process's peak memory on that checkpoint (medians). With --busy, --panels or --traced\n"
    "only those run (--busy with the quiet decode it is compared to); --full adds the default run:\n"
    "--busy: decode with a busy process beside it; --panels: each TUI panel's frame after a step;\n"
    "--traced: the prefill with the trace recorder against the untraced one.",
    k_bench_groups, 0, NULL, false};

/* three modes (the built-in models, --gen, --model): each reads its own options */
static const CliRule k_bench_rules[] = {
    {"--gen", CLI_NOT_WITH, "--model", NULL},
    {"--out", CLI_NEEDS, "--gen", NULL},
    {"--dtype", CLI_NEEDS, "--gen", NULL},
    {"--tokenizer-dir", CLI_NEEDS, "--gen", NULL},
    {"--seed", CLI_NEEDS, "--gen", NULL},
    {"--rounds", CLI_NEEDS, "--model|--only", NULL},
    {"--far", CLI_NEEDS, "--model", NULL},
    {"--busy", CLI_NEEDS, "--model", NULL},
    {"--panels", CLI_NEEDS, "--model", NULL},
    {"--traced", CLI_NEEDS, "--model", NULL},
    {"--full", CLI_NEEDS, "--busy|--panels|--traced", "the default run is what runs without them"},
    {"--decode", CLI_NOT_WITH, "--gen", NULL},
    {"--prefill", CLI_NOT_WITH, "--gen|--only", NULL},
    {"--only", CLI_NOT_WITH, "--gen|--far|--busy|--panels|--traced", NULL},
    {"--compare-bin", CLI_NOT_WITH, "--gen|--model|--only", NULL},
    {"--text", CLI_NOT_WITH, "--gen|--model|--only", NULL},
    {0}};

/* `bench --only recorder`: the hooks section of the full run alone, for --rounds rounds, on the
 * built-in llama f32 (as `make bench`) or --model: each round decodes --decode tokens after a
 * 128-token prompt with no Hooks object, with an empty registry and with the trace recorder bound
 * as the TUI binds it, one after the other, so machine noise falls on all three alike. Prints
 * every round and the medians. */
static int bench_recorder(int argc, char **argv) {
    Err e = {0};
    const int rounds = cli_opt_int(argc, argv, "--rounds", 3), n_decode = cli_opt_int(argc, argv, "--decode", 24);
    const int th = cli_opt_int(argc, argv, "--threads", 2);
    if (rounds < 1 || rounds > 99 || n_decode < 1 || th < 1) {
        fprintf(stderr, "llmscope: bench: --rounds 1..99, --decode >= 1, --threads >= 1\n");
        return 2;
    }
    Model *m = cli_opt(argc, argv, "--model") ? cli_load_model(argc, argv, false, &e) : model_random(false, DT_F32, &e);
    if (!m) return cli_fail(&e);
    Hooks *h0 = hooks_new(), *h1 = hooks_new();
    Trace *tr = trace_new(m, 1024, &e);
    if (!h0 || !h1 || !tr) { trace_free(tr); hooks_free(h0); hooks_free(h1); model_free(m); return cli_fail(&e); }
    trace_attach(tr, h1);
    double pv[99], ev[99], rv[99], sv[99];
    printf("{\"model\": \"%s\", \"threads\": %d, \"decode\": %d, \"rounds\": [", m->path, th, n_decode);
    for (int r = 0; r < rounds; r++) {
        pv[r] = run_speed(m, th, NULL, NULL, n_decode, 16).decode_tps;
        ev[r] = run_speed(m, th, h0, NULL, n_decode, 16).decode_tps;
        rv[r] = run_speed(m, th, h1, tr, n_decode, 16).decode_tps;
        sv[r] = pv[r] > 0 ? 1.0 - rv[r] / pv[r] : 0;
        printf("%s\n  {\"no_hooks\": %.2f, \"empty_registry\": %.2f, \"recorder\": %.2f, \"slowdown\": %.3f}", r ? "," : "",
               pv[r], ev[r], rv[r], sv[r]);
        fflush(stdout);
    }
    double plain = median(pv, rounds), rec = median(rv, rounds);
    printf("],\n \"decode_tok_s_no_hooks\": %.2f, \"decode_tok_s_empty_registry\": %.2f, \"decode_tok_s_recorder\": %.2f, "
           "\"recorder_slowdown\": %.3f, \"median_round_slowdown\": %.3f}\n", plain, median(ev, rounds), rec,
           plain > 0 ? 1.0 - rec / plain : 0, median(sv, rounds));
    trace_free(tr);
    hooks_free(h0);
    hooks_free(h1);
    model_free(m);
    return 0;
}

int cmd_bench(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_bench_cmd);
    if (crc < 0) crc = cli_rules(argc, argv, &k_bench_cmd, k_bench_rules);
    if (crc >= 0) return crc;
    const char *only_s = cli_opt(argc, argv, "--only");
    if (only_s && strcmp(only_s, "decode") && strcmp(only_s, "recorder")) {
        fprintf(stderr, "llmscope: bench: --only: the choices are 'decode' and 'recorder', got '%s'\n", only_s);
        return 2;
    }
    if (only_s && !strcmp(only_s, "recorder")) return bench_recorder(argc, argv);
    if (only_s && cli_opt(argc, argv, "--model")) {
        fprintf(stderr, "llmscope: bench: --only decode measures the built-in llama; --model goes with --only recorder\n");
        return 2;
    }
    if (cli_opt(argc, argv, "--gen")) return bench_gen_main(argc, argv);
    if (cli_opt(argc, argv, "--model")) return bench_model(argc, argv);
    const char *cbin = cli_opt(argc, argv, "--compare-bin");
    if (cbin && (!file_exists(cbin) || access(cbin, X_OK) != 0 || strchr(cbin, '\''))) {   /* run after the measurements: checked first */
        fprintf(stderr, "llmscope: bench: --compare-bin '%s': not an executable file (another llmscope binary)\n", cbin);
        return 2;
    }
    if (cli_opt(argc, argv, "--text")) {   /* read after a minute of measurements: checked first (a FIFO blocked there) */
        Err te = {0};
        size_t tl;
        char *t = file_read_head(cli_opt(argc, argv, "--text"), 1, &tl, &te);
        free(t);
        if (!t) { err_prefix(&te, "--text"); return cli_fail(&te); }
    }
    int n_decode = cli_opt_int(argc, argv, "--decode", 24);
    int n_prefill = cli_opt_int(argc, argv, "--prefill", 512);
    const char *only = cli_opt(argc, argv, "--only");
    Err e = {0};
    if (only && !strcmp(only, "decode")) {
        /* used to compare against the unhooked build (--compare-bin reads the first number on
         * stdout): the median llama f32 decode tok/s over --rounds runs at --threads (default 2);
         * each run's tok/s on stderr */
        const int rounds = cli_opt_int(argc, argv, "--rounds", 3);
        int th = cli_opt_int(argc, argv, "--threads", 2);
        if (th < 1) th = pool_default_threads();   /* --threads 0: the default, as elsewhere */
        Model *m = model_random(false, DT_F32, &e);
        if (!m) return cli_fail(&e);
        double v[99];
        fprintf(stderr, "decode tok/s, %d round%s at %d thread%s:", rounds, rounds == 1 ? "" : "s", th, th == 1 ? "" : "s");
        for (int r = 0; r < rounds; r++) {
            v[r] = run_speed(m, th, NULL, NULL, n_decode, 16).decode_tps;
            fprintf(stderr, " %.2f", v[r]);
        }
        fprintf(stderr, "\n");
        printf("%.4f\n", median(v, rounds));
        model_free(m);
        return 0;
    }
    printf("{\n");
    double bw1 = measure_bandwidth(1), bw2 = measure_bandwidth(2);
    printf("  \"memory_bandwidth_gbs\": {\"1\": %.2f, \"2\": %.2f},\n", bw1, bw2);
    fflush(stdout);
    printf("  \"models\": [\n");
    int first = 1;
    double llama_f32_2 = 0, llama_bf16_2 = 0;
    /* The f32 and bf16 twins are timed alternately, five rounds each, median kept: machine
     * noise then hits both alike and the speed-up is measured on equal terms. */
    for (int fam = 0; fam < 2; fam++) {
        Model *mm[2] = {model_random(fam == 0, DT_F32, &e), model_random(fam == 0, DT_BF16, &e)};
        for (int th = 1; th <= 2; th++) {
            Speed best[2] = {{0, 0}, {0, 0}};
            double dv[2][5];
            for (int round = 0; round < 5; round++)
                for (int k = 0; k < 2; k++) {
                    Speed sp = run_speed(mm[k], th, NULL, NULL, n_decode, round == 0 ? n_prefill : 16);
                    dv[k][round] = sp.decode_tps;
                    if (round == 0) best[k].prefill_tps = sp.prefill_tps;
                }
            for (int k = 0; k < 2; k++) best[k].decode_tps = median(dv[k], 5);   /* median, not best */
            for (int k = 0; k < 2; k++) {
                const Model *m = mm[k];
                double bw = th == 1 ? bw1 : bw2;
                double bound = bw * 1e9 / (double)m->weight_bytes;
                if (fam == 1 && th == 2) { if (k == 0) llama_f32_2 = best[k].decode_tps; else llama_bf16_2 = best[k].decode_tps; }
                printf("%s    {\"model\": \"%s\", \"params\": %lld, \"dtype\": \"%s\", \"weight_bytes_per_token\": %zu, \"threads\": %d, "
                       "\"decode_tok_s\": %.2f, \"prefill_tok_s\": %.1f, \"bandwidth_bound_tok_s\": %.2f, \"decode_fraction_of_bound\": %.3f}",
                       first ? "" : ",\n", m->path, m->n_params, dtype_name(m->spec.dtype), m->weight_bytes, th, best[k].decode_tps, best[k].prefill_tps, bound, best[k].decode_tps / bound);
                first = 0;
                fflush(stdout);
            }
        }
        model_free(mm[0]);
        model_free(mm[1]);
    }
    printf("\n  ],\n");
    printf("  \"bf16_over_f32_decode_speedup\": %.3f,\n", llama_bf16_2 / llama_f32_2);
    /* hooks: nothing registered vs the recorder as the TUI runs it (bound to the engine) */
    {
        Model *m = model_random(false, DT_F32, &e);
        double pv[3], ev[3], rv[3];
        Hooks *h0 = hooks_new();
        Hooks *h1 = hooks_new();
        Trace *tr = trace_new(m, 1024, &e);
        trace_attach(tr, h1);
        for (int r = 0; r < 3; r++) {
            pv[r] = run_speed(m, 2, NULL, NULL, n_decode, 16).decode_tps;
            ev[r] = run_speed(m, 2, h0, NULL, n_decode, 16).decode_tps;
            rv[r] = run_speed(m, 2, h1, tr, n_decode, 16).decode_tps;
        }
        double plain = median(pv, 3), empty = median(ev, 3), rec = median(rv, 3);
        printf("  \"hooks\": {\"model\": \"%s\", \"threads\": 2, \"decode_tok_s_no_hooks_object\": %.2f, \"decode_tok_s_empty_registry\": %.2f, "
               "\"decode_tok_s_recorder\": %.2f, \"recorder_slowdown\": %.3f, "
               "\"recorder_note\": \"trace bound to the engine as the TUI session runs it (fused attention, rows recomputed on demand, top-k logits of every row)\"",
               m->path, plain, empty, rec, 1.0 - rec / plain);
        const char *cmp = cli_opt(argc, argv, "--compare-bin");
        if (cmp) {
            char cmd[2048];
            snprintf(cmd, sizeof cmd, "'%s' bench --only decode --decode %d", cmp, n_decode);   /* no quote in it (checked) */
            FILE *p = popen(cmd, "r");
            double unhooked = 0;
            if (p) { if (fscanf(p, "%lf", &unhooked) != 1) unhooked = 0; pclose(p); }
            printf(", \"decode_tok_s_unhooked_build\": %.2f, \"no_hooks_vs_unhooked_build\": %.4f", unhooked, unhooked > 0 ? plain / unhooked : 0);
        }
        printf("},\n");
        trace_free(tr);
        hooks_free(h0);
        hooks_free(h1);
        model_free(m);
    }
    /* tokenizer throughput */
    const char *txt = cli_opt(argc, argv, "--text");
    if (!txt) txt = "../shared/data/tinystories/valid.txt";
    char tj[1024];
    cli_default_model(tj, sizeof tj);
    strncat(tj, "/tokenizer.json", sizeof tj - strlen(tj) - 1);
    const char *qwen = "../shared/data/tokenizers/qwen3/tokenizer.json";
    long ntok = 0;
    Err te = {0};
    double mbps = file_exists(txt) && file_exists(tj) ? tokenizer_bench_mbps_ex(tj, txt, &ntok, &te) : -1;
    long ntok2 = 0;
    double mbps2 = file_exists(txt) && file_exists(qwen) ? tokenizer_bench_mbps_ex(qwen, txt, &ntok2, &te) : -1;
    printf("  \"tokenizer_encode\": {\"text\": \"%s\", \"bundled_mb_s\": %.2f, \"bundled_tokens\": %ld, \"qwen3_mb_s\": %.2f, \"qwen3_tokens\": %ld}\n",
           txt, mbps, ntok, mbps2, ntok2);
    printf("}\n");
    return 0;
}
