#include "trace/export.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char name[160];
    HookPoint point;
    int layer;
    bool attn;          /* [H, q, k] point */
    int row_shape[3];   /* per-position shape (after dim 0) */
    int row_ndim;
    size_t row_elems;
    float *data;        /* rows: [npos][row_elems]; attn: per query [H][maxT] */
    int npos, cap, maxT;
    int pos0;           /* first absolute position collected */
    int heads;
} Item;

struct Export {
    Item *items;
    int n, cap;
    char **globs;
    int nglobs;
    Hooks *h;
    int id;
    /* assembled outputs (built lazily) */
};

static Item *find_item(Export *x, const char *name) {
    for (int i = 0; i < x->n; i++) if (!strcmp(x->items[i].name, name)) return &x->items[i];
    if (x->n == x->cap) {
        int nc = x->cap ? 2 * x->cap : 32;
        Item *ni = realloc(x->items, sizeof(Item) * (size_t)nc);
        if (!ni) return NULL;
        x->items = ni;
        x->cap = nc;
    }
    Item *it = &x->items[x->n++];
    memset(it, 0, sizeof *it);
    snprintf(it->name, sizeof it->name, "%s", name);
    it->pos0 = -1;
    return it;
}

static bool grow(Item *it, int need_rows, size_t row) {
    if (need_rows <= it->cap) return true;
    int nc = it->cap ? it->cap : 16;
    while (nc < need_rows) nc *= 2;
    float *nd = realloc(it->data, sizeof(float) * (size_t)nc * row);
    if (!nd) return false;
    it->data = nd;
    it->cap = nc;
    return true;
}

static void observe(void *ud, HookEvent *ev) {
    Export *x = ud;
    bool match = false;
    for (int i = 0; i < x->nglobs && !match; i++) match = hook_glob_match(x->globs[i], ev->name);
    if (!match) return;
    Item *it = find_item(x, ev->name);
    if (!it) return;
    it->point = ev->point;
    it->layer = ev->layer;
    if (ev->point == HP_ATTN_SCORES || ev->point == HP_PATTERN) {
        it->attn = true;
        int H = ev->shape[0], n = ev->shape[1], T = ev->shape[2];
        it->heads = H;
        /* store each query row padded to a growing maxT: keep rows of length maxT_alloc */
        if (T > it->maxT) {
            /* re-pad existing rows */
            int oldT = it->maxT, newT = T < 64 ? 64 : T;
            while (newT < T) newT *= 2;
            if (newT > oldT) {
                float *nd = malloc(sizeof(float) * (size_t)(it->cap ? it->cap : 1) * (size_t)H * (size_t)newT);
                if (!nd) return;
                for (int r = 0; r < it->npos; r++)
                    for (int h = 0; h < H; h++) {
                        float *dst = nd + ((size_t)r * H + h) * newT;
                        for (int j = 0; j < newT; j++) dst[j] = j < oldT ? it->data[((size_t)r * H + h) * oldT + j] : (ev->point == HP_PATTERN ? 0.0f : -INFINITY);
                    }
                free(it->data);
                it->data = nd;
                it->maxT = newT;
            }
        }
        size_t row = (size_t)H * (size_t)it->maxT;
        if (!grow(it, it->npos + n, row)) return;
        if (it->pos0 < 0) it->pos0 = ev->pos0;
        for (int i = 0; i < n; i++) {
            float *dst = it->data + (size_t)(it->npos + i) * row;
            for (int h = 0; h < H; h++)
                for (int j = 0; j < it->maxT; j++)
                    dst[(size_t)h * it->maxT + j] = j < T ? ev->data[((size_t)h * n + i) * T + j] : (ev->point == HP_PATTERN ? 0.0f : -INFINITY);
        }
        it->npos += n;
        return;
    }
    int rows = ev->ndim >= 1 ? ev->shape[0] : 1;
    size_t re = 1;
    it->row_ndim = ev->ndim - 1;
    for (int d = 1; d < ev->ndim; d++) { re *= (size_t)ev->shape[d]; it->row_shape[d - 1] = ev->shape[d]; }
    it->row_elems = re;
    if (!grow(it, it->npos + rows, re)) return;
    if (it->pos0 < 0) it->pos0 = ev->pos0;
    memcpy(it->data + (size_t)it->npos * re, ev->data, sizeof(float) * (size_t)rows * re);
    it->npos += rows;
}

Export *export_new(Hooks *h, const char *patterns, Err *e) {
    Export *x = calloc(1, sizeof *x);
    if (!x) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    char *dup = strdup(patterns);
    int cnt = 1;
    for (const char *p = patterns; *p; p++) cnt += *p == ',';
    x->globs = calloc((size_t)cnt, sizeof(char *));
    for (char *tok = strtok(dup, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ') tok++;
        if (*tok) x->globs[x->nglobs++] = strdup(tok);
    }
    free(dup);
    if (!x->nglobs) { export_free(x); err_set(e, ERR_ARG, "--hooks: no hook names given"); return NULL; }
    /* every pattern must match at least one known point */
    for (int g = 0; g < x->nglobs; g++) {
        bool any = false;
        char nm[160];
        for (int p = 0; p < HP_COUNT && !any; p++)
            for (int l = -1; l < 4 && !any; l++) {
                if (hook_point_is_global((HookPoint)p) != (l < 0)) continue;
                hook_point_name((HookPoint)p, l < 0 ? 0 : l, nm, sizeof nm);
                any = hook_glob_match(x->globs[g], nm);
                if (!any && strchr(x->globs[g], '.')) {
                    HookPoint hp; int hl;
                    if (hook_point_parse(x->globs[g], &hp, &hl)) any = true;
                }
            }
        if (!any) { err_set(e, ERR_ARG, "--hooks: \"%s\" matches no hook point (see docs/hooks.md)", x->globs[g]); export_free(x); return NULL; }
    }
    x->h = h;
    x->id = hooks_add(h, "*", NULL, observe, x);
    return x;
}

void export_free(Export *x) {
    if (!x) return;
    if (x->h && x->id >= 0) hooks_remove(x->h, x->id);
    for (int i = 0; i < x->n; i++) free(x->items[i].data);
    free(x->items);
    for (int i = 0; i < x->nglobs; i++) free(x->globs[i]);
    free(x->globs);
    free(x);
}

int export_count(const Export *x) { return x->n; }

/* Builds the final contiguous tensor of an item. Caller frees. */
static float *assemble(const Item *it, int *ndim, int shape[4]) {
    if (it->attn) {
        int H = it->heads, Q = it->npos, K = it->pos0 + it->npos;
        if (K > it->maxT) K = it->maxT;
        float *o = malloc(sizeof(float) * (size_t)H * (size_t)Q * (size_t)K + 1);
        if (!o) return NULL;
        for (int h = 0; h < H; h++)
            for (int q = 0; q < Q; q++)
                for (int k = 0; k < K; k++)
                    o[((size_t)h * Q + q) * K + k] = it->data[((size_t)q * H + h) * it->maxT + k];
        *ndim = 3; shape[0] = H; shape[1] = Q; shape[2] = K;
        return o;
    }
    size_t n = (size_t)it->npos * it->row_elems;
    float *o = malloc(sizeof(float) * n + 1);
    if (!o) return NULL;
    memcpy(o, it->data, sizeof(float) * n);
    *ndim = 1 + it->row_ndim;
    shape[0] = it->npos;
    for (int d = 0; d < it->row_ndim; d++) shape[d + 1] = it->row_shape[d];
    return o;
}

const float *export_get(const Export *x, const char *name, int *ndim, int shape[4]) {
    for (int i = 0; i < x->n; i++)
        if (!strcmp(x->items[i].name, name)) {
            static float *last;
            free(last);
            last = assemble(&x->items[i], ndim, shape);
            return last;
        }
    return NULL;
}

static int cmp_item(const void *a, const void *b) {
    const Item *x = a, *y = b;
    if (x->layer != y->layer) return x->layer - y->layer;
    return (int)x->point - (int)y->point;
}

bool export_write_json(const Export *x, FILE *f, const int *ids, int n_ids) {
    Item *sorted = malloc(sizeof(Item) * (size_t)(x->n ? x->n : 1));
    if (!sorted) return false;
    memcpy(sorted, x->items, sizeof(Item) * (size_t)x->n);
    qsort(sorted, (size_t)x->n, sizeof(Item), cmp_item);
    fprintf(f, "{\"ids\": [");
    for (int i = 0; i < n_ids; i++) fprintf(f, "%s%d", i ? ", " : "", ids[i]);
    fprintf(f, "],\n\"hooks\": [");
    for (int i = 0; i < x->n; i++) {
        int nd, sh[4];
        float *d = assemble(&sorted[i], &nd, sh);
        if (!d) continue;
        size_t tot = 1;
        fprintf(f, "%s\n {\"name\": \"%s\", \"shape\": [", i ? "," : "", sorted[i].name);
        for (int k = 0; k < nd; k++) { fprintf(f, "%s%d", k ? ", " : "", sh[k]); tot *= (size_t)sh[k]; }
        fprintf(f, "], \"data\": [");
        for (size_t k = 0; k < tot; k++) {
            if (k) fputc(',', f);
            if (isfinite(d[k])) fprintf(f, "%.9g", (double)d[k]); else fputs("null", f);
        }
        fprintf(f, "]}");
        free(d);
    }
    fprintf(f, "\n]}\n");
    free(sorted);
    return true;
}

bool npy_write(const char *path, const float *data, int ndim, const int *shape, Err *e) {
    FILE *f = fopen(path, "wb");
    if (!f) return err_set(e, ERR_IO, "%s: cannot write", path);
    char dict[256], sh[128] = "";
    size_t tot = 1;
    for (int k = 0; k < ndim; k++) {
        char t[24];
        snprintf(t, sizeof t, "%d%s", shape[k], ndim == 1 ? "," : (k + 1 < ndim ? ", " : ""));
        strncat(sh, t, sizeof sh - strlen(sh) - 1);
        tot *= (size_t)shape[k];
    }
    int dl = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", sh);
    int total = 10 + dl + 1;
    int pad = (64 - total % 64) % 64;
    unsigned short hl = (unsigned short)(dl + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    unsigned char hb[2] = {(unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    fwrite(hb, 1, 2, f);
    fwrite(dict, 1, (size_t)dl, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    size_t w = fwrite(data, sizeof(float), tot, f);
    if (fclose(f) != 0 || w != tot) return err_set(e, ERR_IO, "%s: write failed", path);
    return true;
}

bool export_write_npy(const Export *x, const char *dir, Err *e) {
    mkdir(dir, 0755);
    for (int i = 0; i < x->n; i++) {
        int nd, sh[4];
        float *d = assemble(&x->items[i], &nd, sh);
        if (!d) return err_set(e, ERR_MEMORY, "out of memory");
        char p[2048];
        snprintf(p, sizeof p, "%s/%s.npy", dir, x->items[i].name);
        bool ok = npy_write(p, d, nd, sh, e);
        free(d);
        if (!ok) return false;
    }
    return true;
}
