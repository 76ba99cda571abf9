/* safetensors: buffer parser and multi-file (sharded) tensor sets.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON, then the data section.
 * The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} with
 * offsets relative to the data section; "__metadata__" holds string metadata. */
#include "model/tensorfile.h"
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_JSON_MAX (64u * 1024u * 1024u)
#define MAX_SHARDS 4096
#define JSON_INT_MAX 9007199254740992.0   /* 2^53: larger numbers are not exact in a double */

/* ---- dtypes ---------------------------------------------------------------------------- */

typedef struct { const char *name; int bits; int supported; DType dt; } DtypeDesc;

static const DtypeDesc k_dtypes[] = {
    {"F32", 32, 1, DT_F32}, {"F16", 16, 1, DT_F16}, {"BF16", 16, 1, DT_BF16},
    {"F64", 64, 0, DT_F32}, {"I64", 64, 0, DT_F32}, {"U64", 64, 0, DT_F32},
    {"I32", 32, 0, DT_F32}, {"U32", 32, 0, DT_F32}, {"I16", 16, 0, DT_F32},
    {"U16", 16, 0, DT_F32}, {"I8", 8, 0, DT_F32},   {"U8", 8, 0, DT_F32},
    {"BOOL", 8, 0, DT_F32}, {"C64", 64, 0, DT_F32}, {"F8_E4M3", 8, 0, DT_F32},
    {"F8_E5M2", 8, 0, DT_F32}, {"F8_E8M0", 8, 0, DT_F32}, {"F6_E2M3", 6, 0, DT_F32},
    {"F6_E3M2", 6, 0, DT_F32}, {"F4", 4, 0, DT_F32},
};

static const DtypeDesc *dtype_lookup(const char *s) {
    for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (strcmp(k_dtypes[i].name, s) == 0) return &k_dtypes[i];
    return NULL;
}

/* ---- helpers --------------------------------------------------------------------------- */

static uint64_t rd_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* A JSON number that is a non-negative integer exactly representable in a double. */
static bool json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > JSON_INT_MAX) return false;
    uint64_t u = (uint64_t)d;
    if ((double)u != d) return false;
    *out = u;
    return true;
}

/* Describes a JSON value briefly for messages. */
static void json_describe(const cJSON *v, char *out, size_t cap) {
    if (!v) { snprintf(out, cap, "missing"); return; }
    if (cJSON_IsNumber(v)) { snprintf(out, cap, "%.17g", v->valuedouble); return; }
    if (cJSON_IsString(v)) { snprintf(out, cap, "\"%.40s\"", v->valuestring); return; }
    if (cJSON_IsArray(v)) { snprintf(out, cap, "an array"); return; }
    if (cJSON_IsObject(v)) { snprintf(out, cap, "an object"); return; }
    if (cJSON_IsBool(v)) { snprintf(out, cap, "a boolean"); return; }
    snprintf(out, cap, "null");
}

static int cmp_info_name(const void *a, const void *b) {
    const TensorInfo *x = *(const TensorInfo *const *)a, *y = *(const TensorInfo *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_info_offset(const void *a, const void *b) {
    const TensorInfo *x = *(const TensorInfo *const *)a, *y = *(const TensorInfo *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return 0;
}

int64_t tensorinfo_numel(const TensorInfo *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];   /* validated not to overflow */
    return n;
}

/* ---- one entry ------------------------------------------------------------------------- */

static bool parse_entry(const cJSON *item, const char *fname, const uint8_t *data,
                        size_t data_start, size_t data_len, TensorInfo *t, Err *e) {
    const char *name = item->string ? item->string : "";
    size_t nlen = strlen(name);
    if (nlen >= sizeof t->name)
        return err_set(e, ERR_FORMAT, "%s: tensor name \"%.60s...\" is %zu bytes; at most %zu allowed",
                       fname, name, nlen, sizeof t->name - 1);
    memcpy(t->name, name, nlen + 1);
    t->file = fname;
    if (!cJSON_IsObject(item))
        return err_set(e, ERR_FORMAT, "%s: tensor '%s': header entry is not a JSON object", fname, name);

    /* dtype */
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dt) || !dt->valuestring) {
        char d[64];
        json_describe(dt, d, sizeof d);
        return err_set(e, ERR_FORMAT, "%s: tensor '%s': field \"dtype\" is %s, expected a string such as \"F32\"",
                       fname, name, d);
    }
    const DtypeDesc *dd = dtype_lookup(dt->valuestring);
    if (!dd)
        return err_set(e, ERR_FORMAT, "%s: tensor '%s': unknown dtype \"%.32s\" (known: F32 F16 BF16 F64 I64 "
                       "U64 I32 U32 I16 U16 I8 U8 BOOL C64 F8_E4M3 F8_E5M2 F8_E8M0 F6_E2M3 F6_E3M2 F4)",
                       fname, name, dt->valuestring);
    snprintf(t->dtype_str, sizeof t->dtype_str, "%s", dd->name);
    t->supported = dd->supported;
    t->dtype = dd->dt;

    /* shape */
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsArray(sh)) {
        char d[64];
        json_describe(sh, d, sizeof d);
        return err_set(e, ERR_FORMAT, "%s: tensor '%s': field \"shape\" is %s, expected an array of integers",
                       fname, name, d);
    }
    int nd = cJSON_GetArraySize(sh);
    if (nd > TENSOR_MAX_DIMS)
        return err_set(e, ERR_FORMAT, "%s: tensor '%s': \"shape\" has %d dimensions; at most %d supported",
                       fname, name, nd, TENSOR_MAX_DIMS);
    t->ndim = nd;
    uint64_t numel = 1;
    bool overflow = false;
    int k = 0;
    for (const cJSON *d = sh->child; d; d = d->next, k++) {
        uint64_t v;
        if (!json_uint(d, &v)) {
            char s[64];
            json_describe(d, s, sizeof s);
            return err_set(e, ERR_FORMAT, "%s: tensor '%s': \"shape\" dimension %d is %s, expected a "
                           "non-negative integer", fname, name, k, s);
        }
        t->shape[k] = (int64_t)v;
        if (__builtin_mul_overflow(numel, v, &numel)) overflow = true;
    }
    uint64_t bits = 0;
    if (overflow || __builtin_mul_overflow(numel, (uint64_t)dd->bits, &bits))
        return err_set(e, ERR_SHAPE, "%s: tensor '%s': \"shape\" element count overflows 64 bits",
                       fname, name);

    /* data_offsets */
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    uint64_t b = 0, en = 0;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &b) ||
        !json_uint(off->child->next, &en)) {
        char d[64];
        json_describe(off, d, sizeof d);
        return err_set(e, ERR_FORMAT, "%s: tensor '%s': field \"data_offsets\" is %s, expected "
                       "[begin, end] with non-negative integers", fname, name, d);
    }
    if (b > en)
        return err_set(e, ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" [%" PRIu64 ", %" PRIu64 "] has begin > end",
                       fname, name, b, en);
    if (en > (uint64_t)data_len)
        return err_set(e, ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" [%" PRIu64 ", %" PRIu64 "] (file bytes "
                       "%" PRIu64 "..%" PRIu64 ") extend past the end of the data section (%zu bytes, file "
                       "ends at byte offset %zu)", fname, name, b, en, (uint64_t)data_start + b,
                       (uint64_t)data_start + en, data_len, data_start + data_len);
    if (bits % 8 != 0 || bits / 8 != en - b)
        return err_set(e, ERR_SHAPE, "%s: tensor '%s': \"shape\" x dtype %s needs %" PRIu64 "%s bytes but "
                       "\"data_offsets\" [%" PRIu64 ", %" PRIu64 "] span %" PRIu64 " bytes", fname, name,
                       dd->name, bits / 8, bits % 8 ? ".x" : "", b, en, en - b);
    t->offset = data_start + (size_t)b;
    t->nbytes = (size_t)(en - b);
    t->data = data + b;
    return true;
}

/* ---- whole file ------------------------------------------------------------------------ */

static bool is_json_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool safetensors_parse(const uint8_t *buf, size_t len, const char *fname,
                       TensorInfo **out, int *n_out, Err *e) {
    if (!fname) fname = "(buffer)";
    if (out) *out = NULL;
    if (n_out) *n_out = 0;
    if (!buf || !out || !n_out) return err_set(e, ERR_ARG, "%s: safetensors_parse: NULL argument", fname);
    if (len < 8)
        return err_set(e, ERR_FORMAT, "%s: file is %zu bytes, too short for the 8-byte header length "
                       "at byte offset 0", fname, len);
    uint64_t n = rd_le64(buf);
    if (n > (uint64_t)(len - 8))
        return err_set(e, ERR_FORMAT, "%s: header length %" PRIu64 " (u64 at byte offset 0) exceeds the "
                       "%zu bytes that follow it; not a safetensors file or truncated", fname, n, len - 8);
    if (n > SAFETENSORS_MAX_HEADER)
        return err_set(e, ERR_FORMAT, "%s: header length %" PRIu64 " (u64 at byte offset 0) exceeds the "
                       "%u-byte cap", fname, n, SAFETENSORS_MAX_HEADER);
    size_t hlen = (size_t)n;
    const uint8_t *hdr = buf + 8;
    size_t i0 = 0;
    while (i0 < hlen && is_json_ws(hdr[i0])) i0++;
    if (i0 == hlen || hdr[i0] != '{')
        return err_set(e, ERR_FORMAT, "%s: header length %zu: header JSON at byte offset 8 does not start "
                       "with '{'; not a safetensors file", fname, hlen);

    /* Copy so cJSON always sees a NUL-terminated string of exactly the header. */
    char *copy = xmalloc(hlen + 1, e);
    if (!copy) return err_prefix(e, "%s: header", fname);
    memcpy(copy, hdr, hlen);
    copy[hlen] = 0;
    if (memchr(copy, 0, hlen)) {
        size_t at = (size_t)((char *)memchr(copy, 0, hlen) - copy);
        free(copy);
        return err_set(e, ERR_FORMAT, "%s: header JSON contains a NUL byte at byte offset %zu", fname, 8 + at);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, hlen, &end, 0);
    if (!root) {
        size_t at = end && end >= copy && end <= copy + hlen ? (size_t)(end - copy) : 0;
        free(copy);
        return err_set(e, ERR_FORMAT, "%s: header JSON (%zu bytes at byte offset 8) does not parse near "
                       "byte offset %zu", fname, hlen, 8 + at);
    }
    size_t used = end && end >= copy && end <= copy + hlen ? (size_t)(end - copy) : hlen;
    for (size_t i = used; i < hlen; i++) {
        if (!is_json_ws((uint8_t)copy[i])) {
            cJSON_Delete(root);
            free(copy);
            return err_set(e, ERR_FORMAT, "%s: header JSON has trailing bytes after the object at byte "
                           "offset %zu (only whitespace padding is allowed)", fname, 8 + i);
        }
    }
    free(copy);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(e, ERR_FORMAT, "%s: header JSON is not an object", fname);
    }

    size_t data_start = 8 + hlen, data_len = len - data_start;
    int count = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (it->string && strcmp(it->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) {
                cJSON_Delete(root);
                return err_set(e, ERR_FORMAT, "%s: \"__metadata__\" is not a JSON object", fname);
            }
            continue;
        }
        count++;
    }
    TensorInfo *ts = NULL;
    const TensorInfo **idx = NULL;
    if (count > 0) {
        ts = xcalloc((size_t)count, sizeof *ts, e);
        idx = ts ? xcalloc((size_t)count, sizeof *idx, e) : NULL;
        if (!ts || !idx) {
            free(ts);
            cJSON_Delete(root);
            return err_prefix(e, "%s: %d tensors", fname, count);
        }
    }
    int k = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (it->string && strcmp(it->string, "__metadata__") == 0) continue;
        if (!parse_entry(it, fname, buf + data_start, data_start, data_len, &ts[k], e)) goto fail;
        idx[k] = &ts[k];
        k++;
    }
    cJSON_Delete(root);
    root = NULL;

    if (count > 1) {
        /* duplicate names */
        qsort(idx, (size_t)count, sizeof *idx, cmp_info_name);
        for (int i = 1; i < count; i++)
            if (strcmp(idx[i - 1]->name, idx[i]->name) == 0) {
                err_set(e, ERR_FORMAT, "%s: tensor name '%s' appears twice in the header", fname, idx[i]->name);
                goto fail;
            }
        /* overlapping data ranges */
        qsort(idx, (size_t)count, sizeof *idx, cmp_info_offset);
        for (int i = 1; i < count; i++) {
            const TensorInfo *a = idx[i - 1], *b = idx[i];
            if (b->offset < a->offset + a->nbytes) {
                err_set(e, ERR_FORMAT, "%s: tensors '%s' (data_offsets [%zu, %zu]) and '%s' (data_offsets "
                        "[%zu, %zu]) overlap", fname, a->name, a->offset - data_start,
                        a->offset - data_start + a->nbytes, b->name, b->offset - data_start,
                        b->offset - data_start + b->nbytes);
                goto fail;
            }
        }
    }
    free(idx);
    *out = ts;
    *n_out = count;
    return true;
fail:
    cJSON_Delete(root);
    free(idx);
    free(ts);
    return false;
}

/* ---- tensor sets ----------------------------------------------------------------------- */

struct TensorSet {
    TensorInfo *t;
    int n;
    int *order;            /* indices into t sorted by name */
    Mapped **maps;
    int n_maps;
    bool maps_taken;
    char **files;          /* owned paths, one per shard (TensorInfo.file points here) */
    int n_files;
};

void tensorset_free(TensorSet *s) {
    if (!s) return;
    if (!s->maps_taken)
        for (int i = 0; i < s->n_maps; i++) mapped_close(s->maps[i]);
    if (!s->maps_taken) free(s->maps);
    for (int i = 0; i < s->n_files; i++) free(s->files[i]);
    free(s->files);
    free(s->order);
    free(s->t);
    free(s);
}

int tensorset_count(const TensorSet *s) { return s ? s->n : 0; }

const TensorInfo *tensorset_at(const TensorSet *s, int i) {
    if (!s || i < 0 || i >= s->n) return NULL;
    return &s->t[i];
}

const TensorInfo *tensorset_find(const TensorSet *s, const char *name) {
    if (!s || !name) return NULL;
    int lo = 0, hi = s->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const TensorInfo *t = &s->t[s->order[mid]];
        int c = strcmp(t->name, name);
        if (c == 0) return t;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

bool tensorset_take_maps(TensorSet *s, Mapped ***maps, int *n, Err *e) {
    if (!s || !maps || !n) return err_set(e, ERR_ARG, "tensorset_take_maps: NULL argument");
    if (s->maps_taken) return err_set(e, ERR_ARG, "tensorset_take_maps: maps already taken");
    *maps = s->maps;
    *n = s->n_maps;
    s->maps = NULL;
    s->maps_taken = true;
    return true;
}

static char *str_dup(const char *s, Err *e) {
    size_t n = strlen(s);
    char *p = xmalloc(n + 1, e);
    if (p) memcpy(p, s, n + 1);
    return p;
}

static bool join_checked(char *out, size_t cap, const char *dir, const char *name, Err *e) {
    size_t n = strlen(dir);
    int w = (n && dir[n - 1] == '/') ? snprintf(out, cap, "%s%s", dir, name)
                                     : snprintf(out, cap, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= cap)
        return err_set(e, ERR_ARG, "path too long: %s/%s", dir, name);
    return true;
}

/* Appends one mapped shard's tensors to the set. Takes ownership of map on success. */
static bool set_add_shard(TensorSet *s, const char *path, Err *e) {
    char *fpath = str_dup(path, e);
    if (!fpath) return false;
    s->files[s->n_files++] = fpath;
    Mapped *m = mapped_open(path, e);
    if (!m) return false;
    s->maps[s->n_maps++] = m;
    TensorInfo *ts = NULL;
    int nt = 0;
    if (!safetensors_parse(mapped_data(m), mapped_size(m), fpath, &ts, &nt, e)) return false;
    if (nt > 0) {
        if (s->n > (1 << 28) - nt) { free(ts); return err_set(e, ERR_FORMAT, "%s: too many tensors", path); }
        TensorInfo *nt_arr = realloc(s->t, (size_t)(s->n + nt) * sizeof *s->t);
        if (!nt_arr) { free(ts); return err_set(e, ERR_MEMORY, "out of memory indexing %s", path); }
        s->t = nt_arr;
        memcpy(s->t + s->n, ts, (size_t)nt * sizeof *ts);
        s->n += nt;
    }
    free(ts);
    return true;
}

/* Sorts the name index; duplicate names across shards are an error. */
static bool set_build_index(TensorSet *s, Err *e) {
    if (s->n == 0) return true;
    const TensorInfo **p = xcalloc((size_t)s->n, sizeof *p, e);
    s->order = xcalloc((size_t)s->n, sizeof *s->order, e);
    if (!p || !s->order) { free(p); return false; }
    for (int i = 0; i < s->n; i++) p[i] = &s->t[i];
    qsort(p, (size_t)s->n, sizeof *p, cmp_info_name);
    for (int i = 0; i < s->n; i++) {
        s->order[i] = (int)(p[i] - s->t);
        if (i > 0 && strcmp(p[i - 1]->name, p[i]->name) == 0) {
            err_set(e, ERR_FORMAT, "tensor '%s' appears in both %s and %s", p[i]->name, p[i - 1]->file,
                    p[i]->file);
            free(p);
            return false;
        }
    }
    free(p);
    return true;
}

TensorSet *tensorset_open_file(const char *path, Err *e) {
    TensorSet *s = xcalloc(1, sizeof *s, e);
    if (!s) return NULL;
    s->maps = xcalloc(1, sizeof *s->maps, e);
    s->files = xcalloc(1, sizeof *s->files, e);
    if (!s->maps || !s->files || !set_add_shard(s, path, e) || !set_build_index(s, e)) {
        tensorset_free(s);
        return NULL;
    }
    return s;
}

static bool shard_name_ok(const char *f) {
    if (!*f || strcmp(f, ".") == 0 || strcmp(f, "..") == 0) return false;
    if (strlen(f) > 255) return false;
    return strchr(f, '/') == NULL && strchr(f, '\\') == NULL;
}

static TensorSet *open_index(const char *dir, const char *index_path, Err *e) {
    size_t jlen = 0;
    char *json = file_read_all(index_path, &jlen, INDEX_JSON_MAX, e);
    if (!json) return NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, jlen, &end, 0);
    if (!root) {
        size_t at = end && end >= json && end <= json + jlen ? (size_t)(end - json) : 0;
        free(json);
        err_set(e, ERR_FORMAT, "%s: JSON does not parse near byte offset %zu", index_path, at);
        return NULL;
    }
    free(json);
    TensorSet *s = NULL;
    char **names = NULL;     /* distinct shard file names (borrowed from root) */
    int n_names = 0;
    const cJSON *wm = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) {
        err_set(e, ERR_FORMAT, "%s: field \"weight_map\" is missing or not an object", index_path);
        goto fail;
    }
    if (!wm->child) {
        err_set(e, ERR_FORMAT, "%s: \"weight_map\" is empty", index_path);
        goto fail;
    }
    names = xcalloc(MAX_SHARDS, sizeof *names, e);
    if (!names) goto fail;
    int last = -1;
    for (const cJSON *it = wm->child; it; it = it->next) {
        const char *tn = it->string ? it->string : "";
        if (!cJSON_IsString(it) || !it->valuestring) {
            err_set(e, ERR_FORMAT, "%s: \"weight_map\" entry '%.255s' is not a file name string", index_path, tn);
            goto fail;
        }
        const char *f = it->valuestring;
        if (!shard_name_ok(f)) {
            err_set(e, ERR_FORMAT, "%s: \"weight_map\" entry '%.255s': shard \"%.255s\" must be a plain file "
                    "name inside %s", index_path, tn, f, dir);
            goto fail;
        }
        if (last >= 0 && strcmp(names[last], f) == 0) continue;
        int j = 0;
        while (j < n_names && strcmp(names[j], f) != 0) j++;
        if (j == n_names) {
            if (n_names == MAX_SHARDS) {
                err_set(e, ERR_FORMAT, "%s: \"weight_map\" names more than %d shard files", index_path, MAX_SHARDS);
                goto fail;
            }
            names[n_names++] = it->valuestring;
        }
        last = j;
    }
    s = xcalloc(1, sizeof *s, e);
    if (!s) goto fail;
    s->maps = xcalloc((size_t)n_names, sizeof *s->maps, e);
    s->files = xcalloc((size_t)n_names, sizeof *s->files, e);
    if (!s->maps || !s->files) goto fail;
    for (int i = 0; i < n_names; i++) {
        char p[4096];
        if (!join_checked(p, sizeof p, dir, names[i], e)) goto fail;
        if (!set_add_shard(s, p, e)) {
            err_prefix(e, "%s lists shard %s", index_path, names[i]);
            goto fail;
        }
    }
    if (!set_build_index(s, e)) goto fail;
    /* Every weight_map entry must be in the shard it names. */
    for (const cJSON *it = wm->child; it; it = it->next) {
        const TensorInfo *t = tensorset_find(s, it->string);
        const char *f = it->valuestring;
        if (!t) {
            err_set(e, ERR_FORMAT, "%s: \"weight_map\" puts tensor '%.255s' in %s, but that file has no such "
                    "tensor", index_path, it->string, f);
            goto fail;
        }
        const char *base = strrchr(t->file, '/');
        base = base ? base + 1 : t->file;
        if (strcmp(base, f) != 0) {
            err_set(e, ERR_FORMAT, "%s: \"weight_map\" puts tensor '%.255s' in %s, but it is in %s",
                    index_path, it->string, f, t->file);
            goto fail;
        }
    }
    free(names);
    cJSON_Delete(root);
    return s;
fail:
    free(names);
    cJSON_Delete(root);
    tensorset_free(s);
    return NULL;
}

TensorSet *tensorset_open_dir(const char *dir, Err *e) {
    if (!dir || !*dir) { err_set(e, ERR_ARG, "tensorset_open_dir: empty directory name"); return NULL; }
    if (!dir_exists(dir)) { err_set(e, ERR_IO, "%s: not a directory", dir); return NULL; }
    char single[4096], index[4096];
    if (!join_checked(single, sizeof single, dir, "model.safetensors", e) ||
        !join_checked(index, sizeof index, dir, "model.safetensors.index.json", e))
        return NULL;
    if (file_exists(single)) return tensorset_open_file(single, e);
    if (file_exists(index)) return open_index(dir, index, e);
    err_set(e, ERR_IO, "no model.safetensors or model.safetensors.index.json in %s", dir);
    return NULL;
}
