/* llama2.c checkpoints (legacy "version 0" export): a 28-byte header of 7 little-endian
 * int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative
 * vocab_size means the classifier is stored separately), then f32 tensors back to back:
 * token_embedding_table, rms_att_weight, wq, wk, wv, wo, rms_ffn_weight, w1, w2, w3,
 * rms_final_weight, freq_cis_real, freq_cis_imag, and wcls when unshared. */
#include "model/tensorfile.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAP_DIM 65536
#define CAP_HIDDEN (1 << 20)
#define CAP_LAYERS 1024
#define CAP_VOCAB (1 << 24)
#define CAP_SEQ (1 << 24)
#define MAGIC_AK42 0x616b3432u   /* llama2.c export versions 1 and 2 start with "ak42" */

enum { SEG_EMB = 0, SEG_RMS_ATT, SEG_WQ, SEG_WK, SEG_WV, SEG_WO, SEG_RMS_FFN, SEG_W1, SEG_W2, SEG_W3,
       SEG_RMS_FINAL, SEG_FREQ_REAL, SEG_FREQ_IMAG, SEG_WCLS, SEG_COUNT };

static const char *const k_seg_names[SEG_COUNT] = {
    "token_embedding_table", "rms_att_weight", "wq", "wk", "wv", "wo", "rms_ffn_weight",
    "w1", "w2", "w3", "rms_final_weight", "freq_cis_real", "freq_cis_imag", "wcls",
};

typedef struct {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
} L2Header;

typedef struct {
    uint64_t elems[SEG_COUNT];   /* elements per segment (0 = absent) */
    uint64_t off[SEG_COUNT];     /* byte offset in the file */
    uint64_t total;              /* expected file size in bytes */
} L2Layout;

static int32_t rd_le32(const uint8_t *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t r;
    memcpy(&r, &v, sizeof r);
    return r;
}

static void read_header(const uint8_t *buf, L2Header *h) {
    h->dim = rd_le32(buf + 0);
    h->hidden_dim = rd_le32(buf + 4);
    h->n_layers = rd_le32(buf + 8);
    h->n_heads = rd_le32(buf + 12);
    h->n_kv_heads = rd_le32(buf + 16);
    h->vocab_size = rd_le32(buf + 20);
    h->seq_len = rd_le32(buf + 24);
}

static bool check_range(const char *fname, const char *field, int off, int64_t v, int64_t lo, int64_t hi,
                        Err *e) {
    if (v >= lo && v <= hi) return true;
    return err_set(e, ERR_FORMAT, "%s: header field %s (int32 at byte offset %d) is %" PRId64 "; must be in "
                   "%" PRId64 "..%" PRId64 "%s", fname, field, off, v, lo, hi,
                   " (is this a llama2.c legacy .bin checkpoint?)");
}

static bool validate_header(const L2Header *h, const char *fname, Err *e) {
    if ((uint32_t)h->dim == MAGIC_AK42)
        return err_set(e, ERR_UNSUPPORTED, "%s: llama2.c export format version %d (magic \"ak42\" at byte "
                       "offset 0) is not supported; export with the legacy version 0 format",
                       fname, (int)h->hidden_dim);
    int64_t vabs = h->vocab_size < 0 ? -(int64_t)h->vocab_size : (int64_t)h->vocab_size;
    if (!check_range(fname, "dim", 0, h->dim, 1, CAP_DIM, e)) return false;
    if (!check_range(fname, "hidden_dim", 4, h->hidden_dim, 1, CAP_HIDDEN, e)) return false;
    if (!check_range(fname, "n_layers", 8, h->n_layers, 1, CAP_LAYERS, e)) return false;
    if (!check_range(fname, "n_heads", 12, h->n_heads, 1, h->dim, e)) return false;
    if (!check_range(fname, "n_kv_heads", 16, h->n_kv_heads, 1, h->n_heads, e)) return false;
    if (vabs < 1 || vabs > CAP_VOCAB)
        return err_set(e, ERR_FORMAT, "%s: header field vocab_size (int32 at byte offset 20) is %d; |vocab_size| "
                       "must be in 1..%d (negative = separate classifier)", fname, (int)h->vocab_size, CAP_VOCAB);
    if (!check_range(fname, "seq_len", 24, h->seq_len, 1, CAP_SEQ, e)) return false;
    if (h->dim % h->n_heads != 0)
        return err_set(e, ERR_SHAPE, "%s: header field n_heads (%d, byte offset 12) does not divide dim (%d)",
                       fname, (int)h->n_heads, (int)h->dim);
    if (h->n_heads % h->n_kv_heads != 0)
        return err_set(e, ERR_SHAPE, "%s: header field n_kv_heads (%d, byte offset 16) does not divide "
                       "n_heads (%d)", fname, (int)h->n_kv_heads, (int)h->n_heads);
    int head = h->dim / h->n_heads;
    if (head % 2 != 0)
        return err_set(e, ERR_SHAPE, "%s: head size dim/n_heads = %d/%d = %d is odd; RoPE needs an even head "
                       "size", fname, (int)h->dim, (int)h->n_heads, head);
    return true;
}

static bool mul3(uint64_t a, uint64_t b, uint64_t c, uint64_t *out) {
    uint64_t t;
    return !__builtin_mul_overflow(a, b, &t) && !__builtin_mul_overflow(t, c, out);
}

static bool compute_layout(const L2Header *h, L2Layout *lay) {
    uint64_t d = (uint64_t)h->dim, hid = (uint64_t)h->hidden_dim, L = (uint64_t)h->n_layers;
    uint64_t V = (uint64_t)(h->vocab_size < 0 ? -(int64_t)h->vocab_size : (int64_t)h->vocab_size);
    uint64_t hs = d / (uint64_t)h->n_heads, kv = hs * (uint64_t)h->n_kv_heads;
    uint64_t *n = lay->elems;
    bool ok = mul3(V, d, 1, &n[SEG_EMB]) && mul3(L, d, 1, &n[SEG_RMS_ATT]) && mul3(L, d, d, &n[SEG_WQ]) &&
              mul3(L, kv, d, &n[SEG_WK]) && mul3(L, kv, d, &n[SEG_WV]) && mul3(L, d, d, &n[SEG_WO]) &&
              mul3(L, d, 1, &n[SEG_RMS_FFN]) && mul3(L, hid, d, &n[SEG_W1]) && mul3(L, d, hid, &n[SEG_W2]) &&
              mul3(L, hid, d, &n[SEG_W3]) && mul3(d, 1, 1, &n[SEG_RMS_FINAL]) &&
              mul3((uint64_t)h->seq_len, hs / 2, 1, &n[SEG_FREQ_REAL]) &&
              mul3((uint64_t)h->seq_len, hs / 2, 1, &n[SEG_FREQ_IMAG]);
    if (!ok) return false;
    n[SEG_WCLS] = h->vocab_size < 0 ? n[SEG_EMB] : 0;
    uint64_t off = LLAMA2C_HEADER_BYTES;
    for (int i = 0; i < SEG_COUNT; i++) {
        uint64_t bytes;
        lay->off[i] = off;
        if (__builtin_mul_overflow(n[i], (uint64_t)4, &bytes) || __builtin_add_overflow(off, bytes, &off))
            return false;
    }
    lay->total = off;
    return true;
}

bool llama2c_sniff(const uint8_t *buf, size_t len) {
    if (!buf || len < LLAMA2C_HEADER_BYTES) return false;
    L2Header h;
    read_header(buf, &h);
    L2Layout lay;
    return validate_header(&h, "", NULL) && compute_layout(&h, &lay) && lay.total == (uint64_t)len;
}

static Tensor f32_tensor(const uint8_t *buf, uint64_t off, int rows, int cols) {
    Tensor t = {.data = buf + off, .dtype = DT_F32, .rows = rows, .cols = cols};
    return t;
}

static int count_nonfinite(const uint8_t *p, uint64_t n) {
    const float *f = (const float *)(const void *)p;
    long long bad = 0;
    for (uint64_t i = 0; i < n; i++) bad += !isfinite(f[i]);
    return bad > 1000000000LL ? 1000000000 : (int)bad;
}

bool llama2c_parse(const uint8_t *buf, size_t len, const char *fname, Model *m, Err *e) {
    if (!fname) fname = "(buffer)";
    if (!buf || !m) return err_set(e, ERR_ARG, "%s: llama2c_parse: NULL argument", fname);
    if (((uintptr_t)buf & 3u) != 0)
        return err_set(e, ERR_ARG, "%s: llama2c_parse: buffer is not 4-byte aligned", fname);
    if (len < LLAMA2C_HEADER_BYTES)
        return err_set(e, ERR_FORMAT, "%s: file is %zu bytes, shorter than the %d-byte llama2.c header "
                       "(7 int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len)",
                       fname, len, LLAMA2C_HEADER_BYTES);
    L2Header h;
    read_header(buf, &h);
    if (!validate_header(&h, fname, e)) return false;
    L2Layout lay;
    if (!compute_layout(&h, &lay))
        return err_set(e, ERR_FORMAT, "%s: header sizes overflow 64 bits", fname);
    if (lay.total != (uint64_t)len) {
        bool shared = h.vocab_size > 0;
        uint64_t wcls_bytes = lay.elems[SEG_EMB] * 4u;
        char hint[200] = "";
        if (shared && (uint64_t)len == lay.total + wcls_bytes)
            snprintf(hint, sizeof hint, "; the extra bytes are exactly a [vocab, dim] classifier: vocab_size "
                     "should be negative (-%d) for an unshared classifier", (int)h.vocab_size);
        else if (!shared && (uint64_t)len + wcls_bytes == lay.total)
            snprintf(hint, sizeof hint, "; the missing bytes are exactly the wcls classifier: vocab_size should "
                     "be positive (%d) for a shared classifier", (int)-(int64_t)h.vocab_size);
        if ((uint64_t)len < lay.total) {
            int seg = SEG_COUNT - 1;   /* the first tensor that does not fit */
            for (int i = 0; i < SEG_COUNT; i++)
                if (lay.elems[i] && lay.off[i] + lay.elems[i] * 4u > (uint64_t)len) { seg = i; break; }
            return err_set(e, ERR_FORMAT, "%s: file is truncated: tensor %s (byte offset %" PRIu64 ", %" PRIu64
                           " bytes) runs past the end; expected %" PRIu64 " bytes in all for dim=%d hidden_dim=%d "
                           "n_layers=%d n_heads=%d n_kv_heads=%d vocab_size=%d seq_len=%d, actual %zu bytes%s",
                           fname, k_seg_names[seg], lay.off[seg], lay.elems[seg] * 4u, lay.total, (int)h.dim,
                           (int)h.hidden_dim, (int)h.n_layers, (int)h.n_heads, (int)h.n_kv_heads,
                           (int)h.vocab_size, (int)h.seq_len, len, hint);
        }
        return err_set(e, ERR_FORMAT, "%s: file has %" PRIu64 " bytes after the last tensor (%s): expected "
                       "%" PRIu64 " bytes in all for dim=%d hidden_dim=%d n_layers=%d n_heads=%d n_kv_heads=%d "
                       "vocab_size=%d seq_len=%d, actual %zu bytes%s", fname, (uint64_t)len - lay.total,
                       shared ? "freq_cis_imag" : "wcls", lay.total, (int)h.dim, (int)h.hidden_dim,
                       (int)h.n_layers, (int)h.n_heads, (int)h.n_kv_heads, (int)h.vocab_size, (int)h.seq_len,
                       len, hint);
    }

    int d = h.dim, hid = h.hidden_dim, L = h.n_layers, H = h.n_heads, KV = h.n_kv_heads;
    int V = h.vocab_size < 0 ? -h.vocab_size : h.vocab_size;
    int hs = d / H, kvd = hs * KV;
    bool shared = h.vocab_size > 0;

    LayerWeights *layers = xcalloc((size_t)L, sizeof *layers, e);
    if (!layers) return err_prefix(e, "%s", fname);

    ModelSpec *s = &m->spec;
    memset(s, 0, sizeof *s);
    snprintf(s->model_type, sizeof s->model_type, "llama2c");
    s->family = ARCH_LLAMA;
    s->vocab_size = V;
    s->d_model = d;
    s->n_layers = L;
    s->n_heads = H;
    s->n_kv_heads = KV;
    s->head_dim = hs;
    s->d_ff = hid;
    s->max_pos = h.seq_len;
    s->norm = NORM_RMSNORM;
    s->norm_eps = 1e-5f;
    s->act = ACT_SILU;
    s->gated_ffn = true;
    s->pos = POS_ROPE;
    s->tied_embeddings = shared;
    s->attn_kind = KV == H ? ATTN_MHA : (KV == 1 ? ATTN_MQA : ATTN_GQA);
    s->rope_theta = 10000.0f;
    s->rope_style = ROPE_INTERLEAVED;
    s->rotary_dim = hs;
    s->rope_scaling = ROPE_SCALE_NONE;
    s->rope_factor = 1.0f;
    s->rope_attn_factor = 1.0f;
    s->softmax_scale = 1.0f / sqrtf((float)hs);
    s->routed_scaling_factor = 1.0f;
    s->bos_id = 1;
    s->eos_id = -1;
    spec_add_eos(s, 2);
    s->pad_id = -1;
    s->dtype = DT_F32;

    Weights *w = &m->w;
    memset(w, 0, sizeof *w);
    w->tok_emb = f32_tensor(buf, lay.off[SEG_EMB], V, d);
    for (int l = 0; l < L; l++) {
        LayerWeights *lw = &layers[l];
        uint64_t ul = (uint64_t)l;
        lw->ln1_w = f32_tensor(buf, lay.off[SEG_RMS_ATT] + ul * (uint64_t)d * 4u, 1, d);
        lw->wq = f32_tensor(buf, lay.off[SEG_WQ] + ul * (uint64_t)d * (uint64_t)d * 4u, d, d);
        lw->wk = f32_tensor(buf, lay.off[SEG_WK] + ul * (uint64_t)kvd * (uint64_t)d * 4u, kvd, d);
        lw->wv = f32_tensor(buf, lay.off[SEG_WV] + ul * (uint64_t)kvd * (uint64_t)d * 4u, kvd, d);
        lw->wo = f32_tensor(buf, lay.off[SEG_WO] + ul * (uint64_t)d * (uint64_t)d * 4u, d, d);
        lw->ln2_w = f32_tensor(buf, lay.off[SEG_RMS_FFN] + ul * (uint64_t)d * 4u, 1, d);
        lw->w_gate = f32_tensor(buf, lay.off[SEG_W1] + ul * (uint64_t)hid * (uint64_t)d * 4u, hid, d);
        lw->w_down = f32_tensor(buf, lay.off[SEG_W2] + ul * (uint64_t)d * (uint64_t)hid * 4u, d, hid);
        lw->w_up = f32_tensor(buf, lay.off[SEG_W3] + ul * (uint64_t)hid * (uint64_t)d * 4u, hid, d);
        lw->d_ff = hid;
    }
    w->layers = layers;
    w->lnf_w = f32_tensor(buf, lay.off[SEG_RMS_FINAL], 1, d);
    w->lm_head = shared ? w->tok_emb : f32_tensor(buf, lay.off[SEG_WCLS], V, d);

    /* Parameters: everything but the RoPE tables. Bytes per decoded token: all layer
     * weights, the final norm, the classifier and one embedding row. */
    uint64_t params = 0, layer_elems = 0;
    for (int i = 0; i < SEG_COUNT; i++)
        if (i != SEG_FREQ_REAL && i != SEG_FREQ_IMAG) params += lay.elems[i];
    for (int i = SEG_RMS_ATT; i <= SEG_W3; i++) layer_elems += lay.elems[i];
    m->n_params = (long long)params;
    m->weight_bytes = (size_t)((layer_elems + (uint64_t)d + (uint64_t)V * (uint64_t)d + (uint64_t)d) * 4u);
    int bad = 0;
    for (int i = 0; i < SEG_COUNT && !m->layout_only; i++) {   /* (a layout-only load reads no weight) */
        if (i == SEG_FREQ_REAL || i == SEG_FREQ_IMAG || !lay.elems[i]) continue;
        int b = count_nonfinite(buf + lay.off[i], lay.elems[i]);
        bad = bad > 1000000000 - b ? 1000000000 : bad + b;
    }
    m->n_nonfinite = bad;
    if (m->path[0] == 0) snprintf(m->path, sizeof m->path, "%s", fname);
    return true;
}

Model *llama2c_load(const char *path, bool layout_only, Err *e) {
    if (!path || !*path) { err_set(e, ERR_ARG, "llama2c_load: empty path"); return NULL; }
    size_t plen = strlen(path);
    Model *m = xcalloc(1, sizeof *m, e);
    if (!m) return NULL;
    if (plen >= sizeof m->path) {
        free(m);
        err_set(e, ERR_ARG, "%.200s...: path longer than %zu bytes", path, sizeof m->path - 1);
        return NULL;
    }
    memcpy(m->path, path, plen + 1);
    m->layout_only = layout_only;
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(m->dir, sizeof m->dir, ".");
    else if (slash == path) snprintf(m->dir, sizeof m->dir, "/");
    else snprintf(m->dir, sizeof m->dir, "%.*s", (int)(slash - path), path);

    Mapped *map = mapped_open(path, e);
    if (!map) { free(m); return NULL; }
    m->maps = xmalloc(sizeof *m->maps, e);
    if (!m->maps) { mapped_close(map); free(m); return NULL; }
    m->maps[0] = map;
    m->n_maps = 1;
    if (!llama2c_parse(mapped_data(map), mapped_size(map), path, m, e)) {
        mapped_close(map);
        free(m->maps);
        free(m);
        return NULL;
    }
    return m;
}
