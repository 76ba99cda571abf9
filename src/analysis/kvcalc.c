/* KV-cache formulas from the model's dimensions. */
#include "core/i18n.h"
#include "analysis/kvcalc.h"
#include <stdio.h>
#include <string.h>

static void set(KvVariant *v, KvArch a, const char *name, long long elems, const char *formula) {
    v->arch = a;
    v->elems = elems;
    v->actual = false;
    snprintf(v->name, sizeof v->name, "%s", name);
    snprintf(v->formula, sizeof v->formula, "%s", formula);
}

void kv_variants(const ModelSpec *s, KvVariant out[KVA_COUNT]) {
    char f[80];
    const int nh = s->n_heads;
    if (s->attn_kind == ATTN_MLA) {
        const int dqk = s->qk_nope_head_dim + s->qk_rope_head_dim, dv = s->v_head_dim;
        const int dc = s->kv_lora_rank, dr = s->qk_rope_head_dim;
        int ng = nh / 4 >= 2 ? nh / 4 : 2;
        if (ng > nh) ng = nh;
        snprintf(f, sizeof f, "n_h(d_qk+d_v) = %d*(%d+%d)", nh, dqk, dv);
        set(&out[KVA_MHA], KVA_MHA, "MHA", (long long)nh * (dqk + dv), f);
        snprintf(f, sizeof f, tr("n_g(d_qk+d_v) = %d*(%d+%d), n_g assumed"), ng, dqk, dv);
        set(&out[KVA_GQA], KVA_GQA, "GQA", (long long)ng * (dqk + dv), f);
        snprintf(f, sizeof f, "d_qk+d_v = %d+%d", dqk, dv);
        set(&out[KVA_MQA], KVA_MQA, "MQA", (long long)(dqk + dv), f);
        snprintf(f, sizeof f, "d_c+d_h^R = %d+%d", dc, dr);
        set(&out[KVA_MLA], KVA_MLA, "MLA", (long long)(dc + dr), f);
        out[KVA_MLA].actual = true;
        return;
    }
    const int dh = s->head_dim;
    int ng = s->attn_kind == ATTN_GQA ? s->n_kv_heads : (nh / 4 >= 2 ? nh / 4 : 2);
    if (ng > nh) ng = nh;
    snprintf(f, sizeof f, "2*n_h*d_h = 2*%d*%d", nh, dh);
    set(&out[KVA_MHA], KVA_MHA, "MHA", 2LL * nh * dh, f);
    snprintf(f, sizeof f, "2*n_g*d_h = 2*%d*%d%s", ng, dh, s->attn_kind == ATTN_GQA ? "" : tr(", n_g assumed"));
    set(&out[KVA_GQA], KVA_GQA, "GQA", 2LL * ng * dh, f);
    snprintf(f, sizeof f, "2*d_h = 2*%d", dh);
    set(&out[KVA_MQA], KVA_MQA, "MQA", 2LL * dh, f);
    snprintf(f, sizeof f, "d_c+d_h^R = %d+%d (d_c=4d_h, d_h^R=d_h/2)", 4 * dh, dh / 2);
    set(&out[KVA_MLA], KVA_MLA, "MLA", 4LL * dh + dh / 2, f);
    switch (s->attn_kind) {
    case ATTN_MHA: out[KVA_MHA].actual = true; break;
    case ATTN_GQA: out[KVA_GQA].actual = true; break;
    case ATTN_MQA: out[KVA_MQA].actual = true; break;
    default: break;
    }
}

long long kv_elems_actual(const ModelSpec *s) {
    KvVariant v[KVA_COUNT];
    kv_variants(s, v);
    for (int i = 0; i < KVA_COUNT; i++) if (v[i].actual) return v[i].elems;
    return 2LL * s->n_kv_heads * s->head_dim;
}

double kv_bytes(long long elems, int layers, long long tokens, int elem_bytes) {
    return (double)elems * layers * (double)tokens * elem_bytes;
}

double kv_bytes_windowed(const ModelSpec *s, long long elems, long long tokens, int elem_bytes) {
    double b = 0;
    for (int l = 0; l < s->n_layers; l++) {
        const long long w = spec_layer_window(s, l);
        b += (double)elems * (double)(w > 0 && w < tokens ? w : tokens) * elem_bytes;
    }
    return b;
}

int kv_window_layers(const ModelSpec *s) {
    int n = 0;
    for (int l = 0; l < s->n_layers; l++) n += spec_layer_window(s, l) > 0;
    return n;
}

int kv_prec_bits(KvPrec p) {
    static const int bits[KVP_COUNT] = {32, 16, 8, 4};
    return p >= 0 && p < KVP_COUNT ? bits[p] : 32;
}

const char *kv_prec_name(KvPrec p) {
    static const char *names[KVP_COUNT] = {"f32", "bf16", "fp8", "int4"};
    return p >= 0 && p < KVP_COUNT ? names[p] : "f32";
}

double kv_bytes_bits(long long elems, int layers, long long tokens, int bits) {
    return (double)elems * layers * (double)tokens * bits / 8.0;
}

void kv_fmt_bytes(double b, char *buf, int cap) {
    static const char *U[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) { b /= 1024; u++; }
    if (u == 0) snprintf(buf, (size_t)cap, "%.0f B", b);
    else snprintf(buf, (size_t)cap, "%.*f %s", b < 10 ? 2 : b < 100 ? 1 : 0, b, U[u]);
}
