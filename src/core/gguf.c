/* GGUF buffer parser (the format is described in model/tensorfile.h and docs/formats.md).
 *
 * A cursor walks the buffer; every read first checks the bytes left, every count is checked
 * against the bytes its smallest possible encoding would need before anything is allocated,
 * so a hostile header cannot make us allocate or loop beyond what the file holds. */
#include "core/gguf.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *name; int block, bytes; } GgmlType;

/* ggml.h enum ggml_type and the block layouts of ggml-common.h (see docs/formats.md). */
static const GgmlType k_types[] = {
    [0] = {"F32", 1, 4},        [1] = {"F16", 1, 2},       [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},     [6] = {"Q5_0", 32, 22},    [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},     [9] = {"Q8_1", 32, 36},    [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},  [12] = {"Q4_K", 256, 144}, [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},  [15] = {"Q8_K", 256, 292}, [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74}, [18] = {"IQ3_XXS", 256, 98}, [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},  [21] = {"IQ3_S", 256, 110}, [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136}, [24] = {"I8", 1, 1},      [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},       [27] = {"I64", 1, 8},      [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},  [30] = {"BF16", 1, 2},     [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},  [39] = {"MXFP4", 32, 17},  [40] = {"NVFP4", 64, 36},
    [41] = {"Q1_0", 128, 18},   [42] = {"Q2_0", 64, 18},
};

bool ggml_type_info(uint32_t type, const char **name, int *block, int *block_bytes) {
    if (type >= sizeof k_types / sizeof k_types[0] || !k_types[type].name) return false;
    if (name) *name = k_types[type].name;
    if (block) *block = k_types[type].block;
    if (block_bytes) *block_bytes = k_types[type].bytes;
    return true;
}

static const char *const k_vtype_names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                            "string", "array", "u64", "i64", "f64"};
static const size_t k_vtype_size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *gguf_value_type_name(GgufValueType t) {
    return (unsigned)t < sizeof k_vtype_names / sizeof k_vtype_names[0] ? k_vtype_names[t] : "unknown";
}

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    const char *fname;
    Err *e;
} Cur;

static size_t cur_left(const Cur *c) { return c->len - c->pos; }

static bool cur_need(Cur *c, size_t n, const char *what) {
    if (cur_left(c) < n)
        return err_set(c->e, ERR_FORMAT, "%s: truncated GGUF file: %s needs %zu bytes at offset %zu but only %zu are left",
                       c->fname, what, n, c->pos, cur_left(c));
    return true;
}

static uint64_t rd_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static bool cur_u32(Cur *c, uint32_t *v, const char *what) {
    if (!cur_need(c, 4, what)) return false;
    *v = (uint32_t)rd_le(c->buf + c->pos, 4);
    c->pos += 4;
    return true;
}

static bool cur_u64(Cur *c, uint64_t *v, const char *what) {
    if (!cur_need(c, 8, what)) return false;
    *v = rd_le(c->buf + c->pos, 8);
    c->pos += 8;
    return true;
}

static bool cur_str(Cur *c, GgufStr *s, uint64_t cap, const char *what) {
    uint64_t n;
    size_t at = c->pos;
    if (!cur_u64(c, &n, what)) return false;
    if (n > cap)
        return err_set(c->e, ERR_FORMAT, "%s: %s at offset %zu has length %" PRIu64 " (limit %" PRIu64 ")", c->fname, what, at, n, cap);
    if (n > cur_left(c))
        return err_set(c->e, ERR_FORMAT, "%s: %s at offset %zu has length %" PRIu64 " but only %zu bytes are left in the file",
                       c->fname, what, at, n, cur_left(c));
    s->s = (const char *)c->buf + c->pos;
    s->len = (size_t)n;
    c->pos += (size_t)n;
    return true;
}

/* A scalar of type t at the cursor into kv->v. */
static bool cur_scalar(Cur *c, GgufValueType t, GgufKV *kv, const char *key) {
    size_t n = k_vtype_size[t];
    if (!cur_need(c, n, "a metadata value")) return err_prefix(c->e, "key \"%s\"", key);
    uint64_t raw = rd_le(c->buf + c->pos, (int)n);
    size_t at = c->pos;
    c->pos += n;
    switch (t) {
    case GGUF_UINT8: case GGUF_UINT16: case GGUF_UINT32: case GGUF_UINT64: kv->v.u = raw; break;
    case GGUF_INT8: kv->v.i = (int8_t)raw; break;
    case GGUF_INT16: kv->v.i = (int16_t)raw; break;
    case GGUF_INT32: kv->v.i = (int32_t)raw; break;
    case GGUF_INT64: kv->v.i = (int64_t)raw; break;
    case GGUF_FLOAT32: { uint32_t u = (uint32_t)raw; float f; memcpy(&f, &u, 4); kv->v.f = f; break; }
    case GGUF_FLOAT64: { double d; memcpy(&d, &raw, 8); kv->v.f = d; break; }
    case GGUF_BOOL:
        if (raw > 1) return err_set(c->e, ERR_FORMAT, "%s: key \"%s\": bool at offset %zu is %" PRIu64 " (must be 0 or 1)", c->fname, key, at, raw);
        kv->v.u = raw;
        break;
    default: break;
    }
    return true;
}

static bool parse_kv(Cur *c, GgufKV *kv, int64_t idx) {
    GgufStr k;
    size_t at = c->pos;
    if (!cur_str(c, &k, GGUF_MAX_NAME, "metadata key")) return false;
    if (k.len == 0 || memchr(k.s, 0, k.len))
        return err_set(c->e, ERR_FORMAT, "%s: metadata key %" PRId64 " at offset %zu is empty or holds a NUL byte", c->fname, idx, at);
    kv->key = malloc(k.len + 1);
    if (!kv->key) return err_set(c->e, ERR_MEMORY, "out of memory");
    memcpy(kv->key, k.s, k.len);
    kv->key[k.len] = 0;
    uint32_t t;
    at = c->pos;
    if (!cur_u32(c, &t, "metadata value type")) return false;
    if (t >= GGUF_NTYPES)
        return err_set(c->e, ERR_FORMAT, "%s: key \"%s\": value type %u at offset %zu is not a GGUF type (0..12)", c->fname, kv->key, t, at);
    kv->type = (GgufValueType)t;
    if (t == GGUF_STRING) return cur_str(c, &kv->str, UINT64_MAX, "string value");
    if (t != GGUF_ARRAY) return cur_scalar(c, kv->type, kv, kv->key);
    uint32_t et;
    uint64_t n;
    at = c->pos;
    if (!cur_u32(c, &et, "array element type") || !cur_u64(c, &n, "array length")) return false;
    if (et >= GGUF_NTYPES || et == GGUF_ARRAY)
        return err_set(c->e, ERR_FORMAT, "%s: key \"%s\": array element type %u at offset %zu is not allowed (0..12 except 9, arrays do not nest)",
                       c->fname, kv->key, et, at);
    kv->arr_type = (GgufValueType)et;
    kv->arr_n = n;
    kv->arr_data = c->buf + c->pos;
    size_t min_elem = et == GGUF_STRING ? 8 : k_vtype_size[et];
    if (n > cur_left(c) / min_elem)
        return err_set(c->e, ERR_FORMAT, "%s: key \"%s\": array of %" PRIu64 " %s at offset %zu needs at least %zu bytes each but only %zu bytes are left",
                       c->fname, kv->key, n, k_vtype_names[et], at, min_elem, cur_left(c));
    if (et != GGUF_STRING) {
        const uint8_t *p = c->buf + c->pos;
        if (et == GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (p[i] > 1) return err_set(c->e, ERR_FORMAT, "%s: key \"%s\": bool element %" PRIu64 " is %u (must be 0 or 1)", c->fname, kv->key, i, p[i]);
        c->pos += (size_t)n * min_elem;
        return true;
    }
    kv->arr_strs = malloc(sizeof(GgufStr) * (size_t)(n ? n : 1));
    if (!kv->arr_strs) return err_set(c->e, ERR_MEMORY, "out of memory for %" PRIu64 " strings of key \"%s\"", n, kv->key);
    for (uint64_t i = 0; i < n; i++)
        if (!cur_str(c, &kv->arr_strs[i], UINT64_MAX, "array string"))
            return err_prefix(c->e, "key \"%s\" element %" PRIu64, kv->key, i);
    return true;
}

static bool parse_tensor_info(Cur *c, GgufTensor *t, int64_t idx) {
    size_t at = c->pos;
    if (!cur_str(c, &t->name, GGUF_MAX_NAME, "tensor name")) return false;
    if (t->name.len == 0)
        return err_set(c->e, ERR_FORMAT, "%s: tensor %" PRId64 " at offset %zu has an empty name", c->fname, idx, at);
    int nl = (int)(t->name.len > 200 ? 200 : t->name.len);
    uint32_t nd;
    at = c->pos;
    if (!cur_u32(c, &nd, "tensor n_dims")) return false;
    if (nd < 1 || nd > 4)
        return err_set(c->e, ERR_FORMAT, "%s: tensor \"%.*s\": n_dims %u at offset %zu (must be 1..4)", c->fname, nl, t->name.s, nd, at);
    t->n_dims = (int)nd;
    for (int d = 0; d < 4; d++) t->ne[d] = 1;
    int64_t numel = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t v;
        at = c->pos;
        if (!cur_u64(c, &v, "tensor dimension")) return false;
        if (v == 0 || v > (uint64_t)INT64_MAX || (uint64_t)numel > (uint64_t)INT64_MAX / v)
            return err_set(c->e, ERR_FORMAT, "%s: tensor \"%.*s\": dimension %u is %" PRIu64 " at offset %zu (must be >= 1, element count below 2^63)",
                           c->fname, nl, t->name.s, d, v, at);
        t->ne[d] = (int64_t)v;
        numel *= (int64_t)v;
    }
    at = c->pos;
    if (!cur_u32(c, &t->type, "tensor type")) return false;
    const char *tn;
    int block, bb;
    if (!ggml_type_info(t->type, &tn, &block, &bb))
        return err_set(c->e, ERR_FORMAT, "%s: tensor \"%.*s\": ggml type %u at offset %zu is not a known ggml type", c->fname, nl, t->name.s, t->type, at);
    if (t->ne[0] % block)
        return err_set(c->e, ERR_FORMAT, "%s: tensor \"%.*s\": ne[0] = %" PRId64 " is not a multiple of the %s block size %d",
                       c->fname, nl, t->name.s, t->ne[0], tn, block);
    uint64_t blocks = (uint64_t)numel / (uint64_t)block;
    if (blocks > SIZE_MAX / (uint64_t)bb)
        return err_set(c->e, ERR_FORMAT, "%s: tensor \"%.*s\" is too large (%" PRId64 " elements)", c->fname, nl, t->name.s, numel);
    t->nbytes = (size_t)(blocks * (uint64_t)bb);
    return cur_u64(c, &t->offset, "tensor offset");
}

static int cmp_offset(const void *a, const void *b) {
    const GgufTensor *x = *(const GgufTensor *const *)a, *y = *(const GgufTensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_str(const void *a, const void *b) {
    const GgufStr *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = n ? memcmp(x->s, y->s, n) : 0;
    if (r) return r;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

void gguf_free(GgufFile *g) {
    if (!g) return;
    if (g->kv)
        for (int64_t i = 0; i < g->n_kv; i++) { free(g->kv[i].key); free(g->kv[i].arr_strs); }
    free(g->kv);
    free(g->tensors);
    free(g);
}

bool gguf_sniff(const uint8_t *buf, size_t len) { return len >= 4 && !memcmp(buf, "GGUF", 4); }

GgufFile *gguf_parse(const uint8_t *buf, size_t len, const char *fname, Err *e) {
    Cur c = {buf, len, 0, fname ? fname : "(buffer)", e};
    if (len < 4 || memcmp(buf, "GGUF", 4)) {
        err_set(e, ERR_FORMAT, "%s: not a GGUF file (the first 4 bytes are not \"GGUF\")", c.fname);
        return NULL;
    }
    c.pos = 4;
    GgufFile *g = calloc(1, sizeof *g);
    if (!g) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    g->fname = c.fname;
    uint64_t nt, nkv;
    if (!cur_u32(&c, &g->version, "version")) goto fail;
    if (g->version == 1) { err_set(e, ERR_UNSUPPORTED, "%s: GGUF version 1 (32-bit counts) is not supported; convert the file again with a current llama.cpp", c.fname); goto fail; }
    if (g->version != 2 && g->version != 3) {
        if ((g->version & 0xFFFF) == 0 && g->version)
            err_set(e, ERR_UNSUPPORTED, "%s: GGUF version field is 0x%08x: a big-endian GGUF file (only little-endian is supported)", c.fname, g->version);
        else
            err_set(e, ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (versions 2 and 3 are)", c.fname, g->version);
        goto fail;
    }
    if (!cur_u64(&c, &nt, "tensor count") || !cur_u64(&c, &nkv, "metadata count")) goto fail;
    /* smallest encodings: a key/value 8+1+4+1 bytes, a tensor info 8+1+4+8+4+8 bytes */
    if (nkv > GGUF_MAX_KV || nkv > cur_left(&c) / 14) {
        err_set(e, ERR_FORMAT, "%s: metadata count %" PRIu64 " (offset 16) is more than the %zu bytes left can hold (limit %u)", c.fname, nkv, cur_left(&c), GGUF_MAX_KV);
        goto fail;
    }
    if (nt > GGUF_MAX_TENSORS || nt > cur_left(&c) / 33) {
        err_set(e, ERR_FORMAT, "%s: tensor count %" PRIu64 " (offset 8) is more than the %zu bytes left can hold (limit %u)", c.fname, nt, cur_left(&c), GGUF_MAX_TENSORS);
        goto fail;
    }
    g->kv = calloc((size_t)(nkv ? nkv : 1), sizeof(GgufKV));
    g->tensors = calloc((size_t)(nt ? nt : 1), sizeof(GgufTensor));
    if (!g->kv || !g->tensors) { err_set(e, ERR_MEMORY, "out of memory"); goto fail; }
    for (uint64_t i = 0; i < nkv; i++) {
        g->n_kv = (int64_t)i + 1;   /* so gguf_free releases what this entry allocated */
        if (!parse_kv(&c, &g->kv[i], (int64_t)i)) goto fail;
    }
    if (nkv > 1) {   /* duplicate keys: sort copies of the key pointers */
        const char **keys = malloc(sizeof(char *) * (size_t)nkv);
        if (!keys) { err_set(e, ERR_MEMORY, "out of memory"); goto fail; }
        for (uint64_t i = 0; i < nkv; i++) keys[i] = g->kv[i].key;
        qsort(keys, (size_t)nkv, sizeof *keys, cmp_cstr);
        for (uint64_t i = 1; i < nkv; i++)
            if (!strcmp(keys[i], keys[i - 1])) {
                err_set(e, ERR_FORMAT, "%s: duplicate metadata key \"%.200s\"", c.fname, keys[i]);
                free(keys); goto fail;
            }
        free(keys);
    }
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const GgufKV *al = gguf_find(g, "general.alignment");
    if (al) {
        if (al->type != GGUF_UINT32 || al->v.u == 0 || (al->v.u & (al->v.u - 1)) || al->v.u > (1u << 30)) {
            err_set(e, ERR_FORMAT, "%s: general.alignment must be a u32 power of two (got type %s, value %" PRIu64 ")",
                    c.fname, k_vtype_names[al->type], al->type == GGUF_UINT32 ? al->v.u : 0);
            goto fail;
        }
        g->alignment = (uint32_t)al->v.u;
    }
    for (uint64_t i = 0; i < nt; i++) {
        if (!parse_tensor_info(&c, &g->tensors[i], (int64_t)i)) goto fail;
        g->n_tensors = (int64_t)i + 1;
    }
    /* data section */
    size_t ds = c.pos + (g->alignment - c.pos % g->alignment) % g->alignment;
    if (ds > len && nt > 0) {
        err_set(e, ERR_FORMAT, "%s: truncated GGUF file: the data section would start at offset %zu past the end (%zu bytes)", c.fname, ds, len);
        goto fail;
    }
    g->data_start = ds;
    size_t dlen = ds <= len ? len - ds : 0;
    GgufTensor **order = malloc(sizeof(GgufTensor *) * (size_t)(nt ? nt : 1));
    if (!order) { err_set(e, ERR_MEMORY, "out of memory"); goto fail; }
    for (uint64_t i = 0; i < nt; i++) {
        GgufTensor *t = &g->tensors[i];
        int nl = (int)(t->name.len > 200 ? 200 : t->name.len);
        if (t->offset % g->alignment) {
            err_set(e, ERR_FORMAT, "%s: tensor \"%.*s\": offset %" PRIu64 " is not a multiple of the alignment %u", c.fname, nl, t->name.s, t->offset, g->alignment);
            free(order); goto fail;
        }
        if (t->offset > dlen || t->nbytes > dlen - t->offset) {
            err_set(e, ERR_FORMAT, "%s: tensor \"%.*s\": data [%" PRIu64 ", %" PRIu64 ") of the data section is past the end of the file (data section holds %zu bytes)",
                    c.fname, nl, t->name.s, t->offset, t->offset + (uint64_t)t->nbytes, dlen);
            free(order); goto fail;
        }
        t->data = buf + ds + t->offset;
        order[i] = t;
    }
    qsort(order, (size_t)nt, sizeof *order, cmp_offset);
    for (uint64_t i = 1; i < nt; i++) {
        const GgufTensor *a = order[i - 1], *b = order[i];
        if (a->offset + a->nbytes > b->offset) {
            err_set(e, ERR_FORMAT, "%s: tensors \"%.*s\" [%" PRIu64 ", %" PRIu64 ") and \"%.*s\" [%" PRIu64 ", ...) overlap in the data section",
                    c.fname, (int)(a->name.len > 100 ? 100 : a->name.len), a->name.s, a->offset, a->offset + (uint64_t)a->nbytes,
                    (int)(b->name.len > 100 ? 100 : b->name.len), b->name.s, b->offset);
            free(order); goto fail;
        }
    }
    free(order);
    /* duplicate names: sort copies of the names */
    if (nt > 1) {
        GgufStr *names = malloc(sizeof(GgufStr) * (size_t)nt);
        if (!names) { err_set(e, ERR_MEMORY, "out of memory"); goto fail; }
        for (uint64_t i = 0; i < nt; i++) names[i] = g->tensors[i].name;
        qsort(names, (size_t)nt, sizeof *names, cmp_str);
        for (uint64_t i = 1; i < nt; i++)
            if (names[i].len == names[i - 1].len && !memcmp(names[i].s, names[i - 1].s, names[i].len)) {
                err_set(e, ERR_FORMAT, "%s: duplicate tensor name \"%.*s\"", c.fname, (int)(names[i].len > 200 ? 200 : names[i].len), names[i].s);
                free(names); goto fail;
            }
        free(names);
    }
    return g;
fail:
    gguf_free(g);
    return NULL;
}


const GgufKV *gguf_find(const GgufFile *g, const char *key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key && !strcmp(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const GgufTensor *gguf_find_tensor(const GgufFile *g, const char *name) {
    size_t n = strlen(name);
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].name.len == n && !memcmp(g->tensors[i].name.s, name, n)) return &g->tensors[i];
    return NULL;
}

static bool is_uint(GgufValueType t) { return t == GGUF_UINT8 || t == GGUF_UINT16 || t == GGUF_UINT32 || t == GGUF_UINT64; }
static bool is_sint(GgufValueType t) { return t == GGUF_INT8 || t == GGUF_INT16 || t == GGUF_INT32 || t == GGUF_INT64; }

bool gguf_get_int(const GgufFile *g, const char *key, int64_t *out) {
    const GgufKV *kv = gguf_find(g, key);
    if (!kv) return false;
    if (is_uint(kv->type)) { if (kv->v.u > (uint64_t)INT64_MAX) return false; *out = (int64_t)kv->v.u; return true; }
    if (is_sint(kv->type)) { *out = kv->v.i; return true; }
    return false;
}

bool gguf_get_float(const GgufFile *g, const char *key, double *out) {
    const GgufKV *kv = gguf_find(g, key);
    if (!kv) return false;
    if (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) { *out = kv->v.f; return true; }
    if (is_uint(kv->type)) { *out = (double)kv->v.u; return true; }
    if (is_sint(kv->type)) { *out = (double)kv->v.i; return true; }
    return false;
}

bool gguf_get_bool(const GgufFile *g, const char *key, bool *out) {
    const GgufKV *kv = gguf_find(g, key);
    if (!kv) return false;
    if (kv->type == GGUF_BOOL || is_uint(kv->type)) { *out = kv->v.u != 0; return true; }
    if (is_sint(kv->type)) { *out = kv->v.i != 0; return true; }
    return false;
}

bool gguf_get_str(const GgufFile *g, const char *key, char *out, size_t cap) {
    const GgufKV *kv = gguf_find(g, key);
    if (!kv || kv->type != GGUF_STRING || cap == 0) return false;
    size_t n = kv->str.len < cap - 1 ? kv->str.len : cap - 1;
    memcpy(out, kv->str.s, n);
    out[n] = 0;
    return true;
}

static bool arr_raw(const GgufKV *kv, uint64_t i, uint64_t *raw) {
    if (kv->type != GGUF_ARRAY || i >= kv->arr_n || kv->arr_type == GGUF_STRING) return false;
    size_t sz = k_vtype_size[kv->arr_type];
    *raw = rd_le(kv->arr_data + (size_t)i * sz, (int)sz);
    return true;
}

bool gguf_arr_int(const GgufKV *kv, uint64_t i, int64_t *out) {
    uint64_t raw;
    if (!arr_raw(kv, i, &raw)) return false;
    switch (kv->arr_type) {
    case GGUF_UINT8: case GGUF_UINT16: case GGUF_UINT32: case GGUF_BOOL: *out = (int64_t)raw; return true;
    case GGUF_UINT64: if (raw > (uint64_t)INT64_MAX) return false; *out = (int64_t)raw; return true;
    case GGUF_INT8: *out = (int8_t)raw; return true;
    case GGUF_INT16: *out = (int16_t)raw; return true;
    case GGUF_INT32: *out = (int32_t)raw; return true;
    case GGUF_INT64: *out = (int64_t)raw; return true;
    default: return false;
    }
}

bool gguf_arr_float(const GgufKV *kv, uint64_t i, double *out) {
    uint64_t raw;
    if (!arr_raw(kv, i, &raw)) return false;
    if (kv->arr_type == GGUF_FLOAT32) { uint32_t u = (uint32_t)raw; float f; memcpy(&f, &u, 4); *out = f; return true; }
    if (kv->arr_type == GGUF_FLOAT64) { double d; memcpy(&d, &raw, 8); *out = d; return true; }
    int64_t v;
    if (!gguf_arr_int(kv, i, &v)) return false;
    *out = (double)v;
    return true;
}
