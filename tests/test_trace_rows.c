/* What a trace bound to an engine records for each position of a prefill longer than one
 * chunk (256 + 44 rows: the recorder shares each event's rows out over the pool) must be the
 * row the engine fired for that very position: an export on the same hooks collects the
 * events of the same run, and the trace's copies must equal them bit for bit, its norm
 * statistics and output norms must be those of that row, its KV size that of the position. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "engine/engine.h"
#include "engine/pool.h"
#include "trace/export.h"
#include "trace/trace.h"

/* independent of trace.c: the statistics docs/hooks.md describes, in double */
static void ref_stat(const float *x, int d, double *mean, double *var, double *rms, float *mn, float *mx) {
    double s = 0, ss = 0;
    *mn = *mx = x[0];
    for (int i = 0; i < d; i++) { s += x[i]; ss += (double)x[i] * x[i]; if (x[i] < *mn) *mn = x[i]; if (x[i] > *mx) *mx = x[i]; }
    *mean = s / d;
    *var = ss / d - *mean * *mean;
    if (*var < 0) *var = 0;
    *rms = sqrt(ss / d);
}
static double ref_l2(const float *x, int d) { double s = 0; for (int i = 0; i < d; i++) s += (double)x[i] * x[i]; return sqrt(s); }

/* A copy of the export's [N, ...] rows of one point (NULL if it did not fire). */
static float *rows_of(Export *x, const char *name, int N, int width) {
    int nd, sh[4];
    const float *p = export_get(x, name, &nd, sh);
    if (!p || sh[0] < N) return NULL;
    float *c = malloc(sizeof(float) * (size_t)N * (size_t)width);
    if (c) memcpy(c, p, sizeof(float) * (size_t)N * (size_t)width);
    return c;
}

TEST(trace_rows_equal_engine_events_across_chunks) {
    static const char *const fx[] = {"qwen3", "qwen3_moe", "deepseek_v2", "llama-f16-mqa"};
    enum { N = 300 };
    int tried = 0;
    for (size_t f = 0; f < sizeof fx / sizeof fx[0]; f++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fixtures/models/%s", fx[f]);
        Err e = {0};
        Model *m = model_load(path, false, &e);
        if (!m) continue;
        tried++;
        Engine *en = engine_new(m, N + 8, &e);
        Hooks *h = hooks_new();
        Trace *tr = trace_new(m, N + 8, &e);
        /* bound as session_new binds it, with an export of the same run beside it */
        Export *x = NULL;
        if (en && h && tr) {
            trace_bind_engine(tr, en);
            engine_set_hook_all_logits(en, true);
            trace_attach(tr, h);
            x = export_new(h, "blocks.*.hook_resid_pre,blocks.*.hook_resid_mid,blocks.*.hook_attn_out,blocks.*.hook_mlp_out,"
                              "hook_logits,ln_final.hook_normalized,blocks.*.hook_resid_post", &e);
            engine_set_hooks(en, h);
        }
        const int prev_threads = pool_threads();
        pool_set_threads(4);   /* rows recorded by several threads, whatever the machine */
        int ids[N];
        for (int i = 0; i < N; i++) ids[i] = (3 + 11 * i) % m->spec.vocab_size;
        bool ok = x && engine_forward(en, ids, N, false, &e);
        pool_set_threads(prev_threads);
        CHECK_MSG(ok, "%s: prefill: %s", fx[f], e.msg);
        const int L = m->spec.n_layers, D = m->spec.d_model, V = m->spec.vocab_size;
        int bad_copy = 0, bad_stat = 0, bad_norm = 0, bad_kv = 0, bad_top = 0, checked = 0;
        for (int l = 0; ok && l < L; l++) {
            char nm[96];
            snprintf(nm, sizeof nm, "blocks.%d.hook_resid_pre", l);
            float *pre = rows_of(x, nm, N, D);
            snprintf(nm, sizeof nm, "blocks.%d.hook_resid_mid", l);
            float *mid = rows_of(x, nm, N, D);
            snprintf(nm, sizeof nm, "blocks.%d.hook_attn_out", l);
            float *ao = rows_of(x, nm, N, D);
            snprintf(nm, sizeof nm, "blocks.%d.hook_mlp_out", l);
            float *mo = rows_of(x, nm, N, D);
            CHECK_MSG(pre && mid && ao && mo, "%s: layer %d: an exported point is missing", fx[f], l);
            for (int p = 0; pre && mid && ao && mo && p < N; p++) {
                const TraceTok *k = trace_tok(tr, p);
                if (!k) { bad_copy++; continue; }
                const float *rp = pre + (size_t)p * D, *rm = mid + (size_t)p * D;
                if (memcmp(k->resid + (size_t)l * D, rp, sizeof(float) * (size_t)D) ||
                    memcmp(k->resid_mid + (size_t)l * D, rm, sizeof(float) * (size_t)D)) bad_copy++;
                double mean, var, rms;
                float mn, mx;
                ref_stat(rp, D, &mean, &var, &rms, &mn, &mx);
                if (k->ln1[l].mean != (float)mean || k->ln1[l].var != (float)var || k->ln1[l].rms != (float)rms ||
                    k->ln1[l].min != mn || k->ln1[l].max != mx) bad_stat++;
                ref_stat(rm, D, &mean, &var, &rms, &mn, &mx);
                if (k->ln2[l].mean != (float)mean || k->ln2[l].var != (float)var || k->ln2[l].rms != (float)rms ||
                    k->ln2[l].min != mn || k->ln2[l].max != mx) bad_stat++;
                if (k->attn_out_norm[l] != (float)ref_l2(ao + (size_t)p * D, D) ||
                    k->mlp_out_norm[l] != (float)ref_l2(mo + (size_t)p * D, D)) bad_norm++;
                checked++;
            }
            free(pre); free(mid); free(ao); free(mo);
        }
        char nm[96];
        snprintf(nm, sizeof nm, "blocks.%d.hook_resid_post", L - 1);
        float *post = ok ? rows_of(x, nm, N, D) : NULL, *lnf = ok ? rows_of(x, "ln_final.hook_normalized", N, D) : NULL;
        float *lg = ok ? rows_of(x, "hook_logits", N, V) : NULL;
        CHECK_MSG(!ok || (post && lnf && lg), "%s: the final rows or the logits of every row were not exported", fx[f]);
        for (int p = 0; post && lnf && lg && p < N; p++) {
            const TraceTok *k = trace_tok(tr, p);
            if (!k) continue;
            if (memcmp(k->resid + (size_t)L * D, post + (size_t)p * D, sizeof(float) * (size_t)D) ||
                memcmp(k->lnf_out, lnf + (size_t)p * D, sizeof(float) * (size_t)D)) bad_copy++;
            if (k->kv_bytes != (size_t)(p + 1) * engine_kv_bytes_per_token(en)) bad_kv++;
            const float *r = lg + (size_t)p * V;
            int best = 0;
            double se = 0;
            for (int v = 1; v < V; v++) if (r[v] > r[best]) best = v;
            for (int v = 0; v < V; v++) se += exp((double)r[v] - r[best]);
            if (k->top_logits[0] != r[best] || r[k->top_ids[0]] != r[best] ||
                fabs(k->logit_lse - (r[best] + log(se))) > 1e-4 * (1 + fabs(k->logit_lse))) bad_top++;
        }
        free(post); free(lnf); free(lg);
        CHECK_MSG(bad_copy == 0, "%s: %d recorded rows differ from the engine's events", fx[f], bad_copy);
        CHECK_MSG(bad_stat == 0, "%s: %d norm statistics are not those of their row", fx[f], bad_stat);
        CHECK_MSG(bad_norm == 0, "%s: %d attention/MLP output norms are not those of their row", fx[f], bad_norm);
        CHECK_MSG(bad_kv == 0, "%s: %d positions record a KV size other than (pos + 1) x the engine's bytes per token", fx[f], bad_kv);
        CHECK_MSG(bad_top == 0, "%s: %d positions' top logit or log-sum-exp differ from their logits row", fx[f], bad_top);
        CHECK_MSG(!ok || checked == N * L, "%s: %d of %d (position, layer) pairs checked", fx[f], checked, N * L);
        export_free(x);
        trace_free(tr);
        hooks_free(h);
        engine_free(en);
        model_free(m);
    }
    if (!tried) SKIP("tests/fixtures/models not generated");
}
