/* Trace export streamed to disk (see export.h and docs/hooks.md, "Exporting").
 * Each point's file is created on its first event with a fixed 128-byte .npy header and
 * written in place with pwrite: rows appended, attention rows at their final offsets of the
 * [H, T, T] array. What is held in memory: the item table and one [n, T] block for an
 * attention event (n <= 64 query rows of a prefill chunk). */
#include "trace/export.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_HDR 128        /* bytes before the data of every file we write (a multiple of 64) */
#define EXPORT_PATH 4096

typedef struct {
    char name[160];
    HookPoint point;
    int layer;
    bool attn;             /* [H, T, T] point */
    int ndim;
    long long shape[4];    /* rows: [rows written, row dims...]; attn: [H, T, T] */
    size_t row_elems;      /* floats per row (rows) */
    long long done;        /* rows written, or query positions written (attn) */
    int fd;                /* -1 when closed (files are reopened on demand) */
    unsigned long long used;
    bool final;            /* renamed to NAME.npy */
} Item;

struct Export {
    Item *items;
    int n, cap;
    char **globs;
    int nglobs;
    bool want[HP_COUNT][HOOK_MAX_LAYERS + 1];   /* [point][layer, or HOOK_MAX_LAYERS for global] */
    int idx[HP_COUNT][HOOK_MAX_LAYERS + 1];     /* item of (point, layer), -1 before its first event */
    Hooks *h;
    int id;
    char dir[EXPORT_PATH];
    bool have_dir, tmpdir;
    int T;
    int n_open, max_open;
    unsigned long long clock;
    float *buf;
    size_t buf_cap;
    float *got;
    bool failed;
    Err err;
};

static bool fail(Export *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(Export *x, const char *fmt, ...) {
    if (x->failed) return false;
    x->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err.msg, sizeof x->err.msg, fmt, ap);
    va_end(ap);
    x->err.code = ERR_IO;
    return false;
}

static void item_path(const Export *x, const Item *it, bool part, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s.npy%s", x->dir, it->name, part ? ".part" : "");
}

/* The 128-byte header: magic, version 1.0, little-endian u16 length, the dict padded with
 * spaces, '\n'. */
static bool npy_header(char out[NPY_HDR], const char *descr, int ndim, const long long *shape) {
    char sh[160] = "";
    size_t k = 0;
    for (int d = 0; d < ndim; d++)
        k += (size_t)snprintf(sh + k, sizeof sh - k, "%lld%s", shape[d], ndim == 1 ? "," : d + 1 < ndim ? ", " : "");
    char dict[NPY_HDR];
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, sh);
    if (dl < 0 || dl > NPY_HDR - 11) return false;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (char)(NPY_HDR - 10);
    out[9] = 0;
    memcpy(out + 10, dict, (size_t)dl);
    memset(out + 10 + dl, ' ', (size_t)(NPY_HDR - 11 - dl));
    out[NPY_HDR - 1] = '\n';
    return true;
}

static bool write_all(int fd, const void *p, size_t n, off_t off, const char *path, Err *e) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, c, n, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return err_set(e, ERR_IO, "%s: write failed at byte %lld: %s", path, (long long)off, w < 0 ? strerror(errno) : "no space written");
        c += w; n -= (size_t)w; off += w;
    }
    return true;
}

/* ---- the file of an item ---- */

static void item_close(Export *x, Item *it) {
    if (it->fd < 0) return;
    if (close(it->fd) != 0 && !x->failed) {
        char p[EXPORT_PATH];
        item_path(x, it, !it->final, p, sizeof p);
        fail(x, "%s: %s", p, strerror(errno));
    }
    it->fd = -1;
    x->n_open--;
}

static bool ensure_dir(Export *x) {
    if (x->have_dir) return true;
    const char *t = getenv("TMPDIR");
    snprintf(x->dir, sizeof x->dir, "%s/llmscope-trace-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(x->dir)) return fail(x, "%s: cannot create a temporary directory for the export: %s", x->dir, strerror(errno));
    x->have_dir = x->tmpdir = true;
    return true;
}

static int item_fd(Export *x, Item *it, bool create) {
    it->used = ++x->clock;
    if (it->fd >= 0) return it->fd;
    if (x->n_open >= x->max_open) {   /* close the least recently used */
        Item *lru = NULL;
        for (int i = 0; i < x->n; i++)
            if (x->items[i].fd >= 0 && (!lru || x->items[i].used < lru->used)) lru = &x->items[i];
        if (lru) item_close(x, lru);
    }
    char p[EXPORT_PATH];
    item_path(x, it, true, p, sizeof p);
    int fd = open(p, O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0666);
    if (fd < 0) { fail(x, "%s: cannot write: %s", p, strerror(errno)); return -1; }
    it->fd = fd;
    x->n_open++;
    return fd;
}

static bool item_write(Export *x, Item *it, const void *data, size_t bytes, off_t off) {
    int fd = item_fd(x, it, false);
    if (fd < 0) return false;
    char p[EXPORT_PATH];
    item_path(x, it, true, p, sizeof p);
    Err e = {0};
    if (!write_all(fd, data, bytes, off, p, &e)) return fail(x, "%s", e.msg);
    return true;
}

static bool item_write_header(Export *x, Item *it) {
    char hdr[NPY_HDR];
    if (!npy_header(hdr, "<f4", it->ndim, it->shape)) return fail(x, "%s: shape too large for a .npy header", it->name);
    return item_write(x, it, hdr, NPY_HDR, 0);
}

static Item *item_get(Export *x, const HookEvent *ev) {
    if ((unsigned)ev->point >= HP_COUNT || ev->layer >= HOOK_MAX_LAYERS) return NULL;
    int *slot = &x->idx[ev->point][ev->layer < 0 ? HOOK_MAX_LAYERS : ev->layer];
    if (*slot >= 0) return &x->items[*slot];
    if (!ensure_dir(x)) return NULL;
    if (x->n == x->cap) {
        int nc = x->cap ? 2 * x->cap : 32;
        Item *ni = realloc(x->items, sizeof(Item) * (size_t)nc);
        if (!ni) { fail(x, "out of memory"); return NULL; }
        x->items = ni;
        x->cap = nc;
    }
    Item *it = &x->items[x->n];
    memset(it, 0, sizeof *it);
    snprintf(it->name, sizeof it->name, "%s", ev->name);
    it->point = ev->point;
    it->layer = ev->layer;
    it->fd = -1;
    if (item_fd(x, it, true) < 0) return NULL;
    *slot = x->n++;
    return it;
}

/* ---- the observer ---- */

static bool ask(void *ud, HookPoint p, int layer) {
    const Export *x = ud;
    if (x->failed || (unsigned)p >= HP_COUNT || layer >= HOOK_MAX_LAYERS) return false;
    return x->want[p][layer < 0 ? HOOK_MAX_LAYERS : layer];
}

static void observe_attn(Export *x, Item *it, const HookEvent *ev) {
    const int H = ev->shape[0], n = ev->shape[1], Tk = ev->shape[2], T = x->T;
    if (!it->ndim) {
        if (T <= 0) { fail(x, "%s: the number of positions was not given before the run", it->name); return; }
        it->attn = true;
        it->ndim = 3;
        it->shape[0] = H; it->shape[1] = T; it->shape[2] = T;
        if (!item_write_header(x, it)) return;
    }
    if (ev->ndim != 3 || H != it->shape[0] || ev->pos0 != it->done || ev->pos0 + n > T || Tk > T || Tk < ev->pos0 + n) {
        fail(x, "%s: query rows %d..%d over %d keys do not follow the %lld rows written (%d positions announced)",
             it->name, ev->pos0, ev->pos0 + n - 1, Tk, it->done, T);
        return;
    }
    size_t need = (size_t)n * (size_t)T;
    if (need > x->buf_cap) {
        float *nb = realloc(x->buf, sizeof(float) * need);
        if (!nb) { fail(x, "%s: out of memory for %d rows of %d keys", it->name, n, T); return; }
        x->buf = nb;
        x->buf_cap = need;
    }
    const float fill = ev->point == HP_PATTERN ? 0.0f : -INFINITY;
    for (int h = 0; h < H; h++) {
        for (int i = 0; i < n; i++) {
            float *dst = x->buf + (size_t)i * (size_t)T;
            memcpy(dst, ev->data + ((size_t)h * (size_t)n + (size_t)i) * (size_t)Tk, sizeof(float) * (size_t)Tk);
            for (int j = Tk; j < T; j++) dst[j] = fill;
        }
        off_t off = NPY_HDR + (off_t)sizeof(float) * ((off_t)h * T + ev->pos0) * T;
        if (!item_write(x, it, x->buf, sizeof(float) * need, off)) return;
    }
    it->done += n;
}

static void observe(void *ud, HookEvent *ev) {
    Export *x = ud;
    if (x->failed) return;
    Item *it = item_get(x, ev);
    if (!it) return;
    if (ev->point == HP_ATTN_SCORES || ev->point == HP_PATTERN) { observe_attn(x, it, ev); return; }
    const int nd = ev->ndim < 1 ? 1 : ev->ndim;
    const int rows = ev->ndim >= 1 ? ev->shape[0] : 1;
    size_t re = 1;
    for (int d = 1; d < nd; d++) re *= (size_t)ev->shape[d];
    if (!it->ndim) {
        it->ndim = nd;
        for (int d = 1; d < nd; d++) it->shape[d] = ev->shape[d];
        it->row_elems = re;
        if (!item_write_header(x, it)) return;
    }
    bool same = nd == it->ndim;
    for (int d = 1; d < nd && same; d++) same = it->shape[d] == ev->shape[d];
    if (!same) { fail(x, "%s: a row shape changed during the run", it->name); return; }
    off_t off = NPY_HDR + (off_t)sizeof(float) * (off_t)it->done * (off_t)re;
    if (!item_write(x, it, ev->data, sizeof(float) * (size_t)rows * re, off)) return;
    it->done += rows;
    it->shape[0] = it->done;
}

/* ---- public ---- */

static bool glob_any(const Export *x, int g, int n_layers) {
    char nm[160];
    for (int p = 0; p < HP_COUNT; p++) {
        if (hook_point_is_global((HookPoint)p)) {
            hook_point_name((HookPoint)p, 0, nm, sizeof nm);
            if (hook_glob_match(x->globs[g], nm)) return true;
            continue;
        }
        for (int l = 0; l < n_layers; l++) {
            hook_point_name((HookPoint)p, l, nm, sizeof nm);
            if (hook_glob_match(x->globs[g], nm)) return true;
        }
    }
    return false;
}

Export *export_new(Hooks *h, const char *patterns, Err *e) {
    Export *x = calloc(1, sizeof *x);
    char *dup = x ? strdup(patterns ? patterns : "") : NULL;
    int cnt = 1;
    for (const char *p = patterns ? patterns : ""; *p; p++) cnt += *p == ',';
    if (x) x->globs = calloc((size_t)cnt, sizeof(char *));
    if (!x || !dup || !x->globs) { free(dup); export_free(x); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    x->id = -1;
    for (char *tok = strtok(dup, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ') tok++;
        size_t l = strlen(tok);
        while (l > 0 && tok[l - 1] == ' ') tok[--l] = 0;
        if (*tok) x->globs[x->nglobs++] = strdup(tok);
    }
    free(dup);
    if (!x->nglobs) { export_free(x); err_set(e, ERR_ARG, "--hooks: no hook names given"); return NULL; }
    for (int g = 0; g < x->nglobs; g++)
        if (!x->globs[g] || strlen(x->globs[g]) >= 128 || !glob_any(x, g, HOOK_MAX_LAYERS)) {
            err_set(e, ERR_ARG, "--hooks: \"%s\" matches no hook point (docs/hooks.md lists them)", x->globs[g] ? x->globs[g] : "");
            export_free(x);
            return NULL;
        }
    char nm[160];
    for (int p = 0; p < HP_COUNT; p++)
        for (int l = 0; l <= HOOK_MAX_LAYERS; l++) x->idx[p][l] = -1;
    for (int p = 0; p < HP_COUNT; p++)
        for (int l = 0; l <= HOOK_MAX_LAYERS; l++) {
            bool global = hook_point_is_global((HookPoint)p);
            if (global != (l == HOOK_MAX_LAYERS)) continue;
            hook_point_name((HookPoint)p, l, nm, sizeof nm);
            for (int g = 0; g < x->nglobs && !x->want[p][l]; g++) x->want[p][l] = hook_glob_match(x->globs[g], nm);
        }
    struct rlimit rl;
    long lim = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 1024;
    x->max_open = (int)(lim - 64 > 1024 ? 1024 : lim - 64 < 8 ? 8 : lim - 64);
    x->h = h;
    x->id = hooks_add(h, "*", ask, observe, x);
    if (x->id < 0) { export_free(x); err_set(e, ERR_ARG, "--hooks: too many observers on this engine"); return NULL; }
    return x;
}

bool export_check_layers(const Export *x, int n_layers, Err *e) {
    for (int g = 0; g < x->nglobs; g++)
        if (!glob_any(x, g, n_layers))
            return err_set(e, ERR_ARG, "--hooks: \"%s\" names no point of this model (blocks 0..%d)", x->globs[g], n_layers - 1);
    return true;
}

bool export_set_dir(Export *x, const char *dir, Err *e) {
    if (x->n) return err_set(e, ERR_ARG, "export: the directory must be set before the run");
    if (strlen(dir) + 200 >= sizeof x->dir) return err_set(e, ERR_ARG, "--npy %s: path too long", dir);
    struct stat st;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return err_set(e, ERR_IO, "--npy %s: cannot create the directory: %s", dir, strerror(errno));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return err_set(e, ERR_IO, "--npy %s: exists and is not a directory", dir);
    char probe[EXPORT_PATH];
    snprintf(probe, sizeof probe, "%s/.llmscope-write-test-%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return err_set(e, ERR_IO, "--npy %s: cannot write files there: %s", dir, strerror(errno));
    close(fd);
    unlink(probe);
    snprintf(x->dir, sizeof x->dir, "%s", dir);
    x->have_dir = true;
    x->tmpdir = false;
    return true;
}

void export_set_positions(Export *x, int n_positions) { x->T = n_positions; }

bool export_failed(const Export *x, Err *e) {
    if (!x->failed) return false;
    if (e) *e = x->err;
    return true;
}

bool export_finish(Export *x, const int *ids, int n_ids, Err *e) {
    for (int i = 0; i < x->n && !x->failed; i++) {
        Item *it = &x->items[i];
        if (it->attn && it->done != x->T)
            fail(x, "%s: %lld of the %d positions announced were run", it->name, it->done, x->T);
        else if (item_write_header(x, it))
            item_close(x, it);
    }
    if (!x->failed && !x->tmpdir) {
        for (int i = 0; i < x->n && !x->failed; i++) {
            char a[EXPORT_PATH], b[EXPORT_PATH];
            item_path(x, &x->items[i], true, a, sizeof a);
            item_path(x, &x->items[i], false, b, sizeof b);
            if (rename(a, b) != 0) fail(x, "%s: cannot rename to %s: %s", a, b, strerror(errno));
            else x->items[i].final = true;
        }
        if (!x->failed && ids) {
            char p[EXPORT_PATH];
            snprintf(p, sizeof p, "%s/ids.npy", x->dir);
            int sh[1] = {n_ids};
            Err we = {0};
            if (!npy_write_i32(p, ids, 1, sh, &we)) fail(x, "%s", we.msg);
        }
    }
    return !export_failed(x, e);
}

int export_count(const Export *x) { return x->n; }

const char *export_unmatched(const Export *x, int i) {
    char nm[160];
    for (int g = 0; g < x->nglobs; g++) {
        bool hit = false;
        for (int k = 0; k < x->n && !hit; k++) {
            hook_point_name(x->items[k].point, x->items[k].layer, nm, sizeof nm);
            hit = hook_glob_match(x->globs[g], nm);
        }
        if (!hit && i-- == 0) return x->globs[g];
    }
    return NULL;
}

void export_free(Export *x) {
    if (!x) return;
    if (x->h && x->id >= 0) hooks_remove(x->h, x->id);
    for (int i = 0; i < x->n; i++) {
        Item *it = &x->items[i];
        if (it->fd >= 0) close(it->fd);
        if (x->tmpdir || !it->final) {
            char p[EXPORT_PATH];
            item_path(x, it, !it->final, p, sizeof p);
            unlink(p);
        }
    }
    if (x->tmpdir) rmdir(x->dir);
    free(x->items);
    for (int i = 0; i < x->nglobs; i++) free(x->globs[i]);
    free(x->globs);
    free(x->buf);
    free(x->got);
    free(x);
}

/* ---- reading back (JSON, tests, --emb-layer) ---- */

static size_t item_elems(const Item *it) {
    size_t n = 1;
    for (int d = 0; d < it->ndim; d++) n *= (size_t)it->shape[d];
    return n;
}

/* Reads elements [from, from + count) of an item's data. */
static bool item_read(const Export *x, const Item *it, float *out, size_t from, size_t count, Err *e) {
    char p[EXPORT_PATH];
    item_path(x, it, !it->final, p, sizeof p);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(e, ERR_IO, "%s: cannot read: %s", p, strerror(errno));
    char *c = (char *)out;
    size_t n = count * sizeof(float);
    off_t off = NPY_HDR + (off_t)(from * sizeof(float));
    while (n > 0) {
        ssize_t r = pread(fd, c, n, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { close(fd); return err_set(e, ERR_IO, "%s: read failed at byte %lld: %s", p, (long long)off, r < 0 ? strerror(errno) : "file too short"); }
        c += r; n -= (size_t)r; off += r;
    }
    close(fd);
    return true;
}

const float *export_get(Export *x, const char *name, int *ndim, int shape[4]) {
    for (int i = 0; i < x->n; i++) {
        const Item *it = &x->items[i];
        if (strcmp(it->name, name) || !it->ndim) continue;
        size_t n = item_elems(it);
        free(x->got);
        x->got = malloc(sizeof(float) * n + 1);
        Err e = {0};
        if (!x->got || !item_read(x, it, x->got, 0, n, &e)) return NULL;
        *ndim = it->ndim;
        for (int d = 0; d < it->ndim; d++) shape[d] = (int)it->shape[d];
        return x->got;
    }
    return NULL;
}

static int cmp_item(const void *a, const void *b) {
    const Item *p = *(const Item *const *)a, *q = *(const Item *const *)b;
    if (p->layer != q->layer) return p->layer - q->layer;
    return (int)p->point - (int)q->point;
}

bool export_write_json(const Export *x, FILE *f, const int *ids, int n_ids,
                       void (*extra)(void *ud, FILE *f), void *ud, Err *e) {
    if (export_failed(x, e)) return false;
    const Item **order = malloc(sizeof(Item *) * (size_t)(x->n + 1));
    enum { BLK = 65536 };
    float *blk = malloc(sizeof(float) * BLK);
    if (!order || !blk) { free(order); free(blk); return err_set(e, ERR_MEMORY, "out of memory"); }
    for (int i = 0; i < x->n; i++) order[i] = &x->items[i];
    qsort(order, (size_t)x->n, sizeof *order, cmp_item);
    bool ok = true;
    fprintf(f, "{\"ids\": [");
    for (int i = 0; i < n_ids; i++) fprintf(f, "%s%d", i ? ", " : "", ids[i]);
    fprintf(f, "],\n\"hooks\": [");
    for (int i = 0; i < x->n && ok; i++) {
        const Item *it = order[i];
        fprintf(f, "%s\n {\"name\": \"%s\", \"shape\": [", i ? "," : "", it->name);
        for (int d = 0; d < it->ndim; d++) fprintf(f, "%s%lld", d ? ", " : "", it->shape[d]);
        fprintf(f, "], \"data\": [");
        size_t tot = item_elems(it);
        for (size_t k0 = 0; k0 < tot && ok; k0 += BLK) {
            size_t nb = tot - k0 < BLK ? tot - k0 : BLK;
            ok = item_read(x, it, blk, k0, nb, e);
            for (size_t k = 0; k < nb && ok; k++) {
                if (k0 + k) fputc(',', f);
                if (isfinite(blk[k])) fprintf(f, "%.9g", (double)blk[k]); else fputs("null", f);
            }
            if (ferror(f)) ok = false;
        }
        fprintf(f, "]}");
    }
    free(order);
    free(blk);
    if (!ok) { if (!e || !e->code) err_set(e, ERR_IO, "stdout: write failed: %s", strerror(errno)); return false; }
    fprintf(f, "\n]");
    if (extra) extra(ud, f);
    fprintf(f, "}\n");
    if (fflush(f) != 0 || ferror(f)) return err_set(e, ERR_IO, "stdout: write failed: %s", strerror(errno));
    return true;
}

/* ---- whole arrays ---- */

static bool npy_write_raw(const char *path, const char *descr, const void *data, size_t esize, int ndim, const int *shape, Err *e) {
    long long sh[8];
    size_t tot = 1;
    if (ndim < 1 || ndim > 8) return err_set(e, ERR_ARG, "%s: %d dimensions", path, ndim);
    for (int d = 0; d < ndim; d++) { sh[d] = shape[d]; tot *= (size_t)(shape[d] > 0 ? shape[d] : 0); }
    char hdr[NPY_HDR], part[EXPORT_PATH];
    if (!npy_header(hdr, descr, ndim, sh)) return err_set(e, ERR_ARG, "%s: shape too large for a .npy header", path);
    snprintf(part, sizeof part, "%s.part", path);
    int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) return err_set(e, ERR_IO, "%s: cannot write: %s", part, strerror(errno));
    bool ok = write_all(fd, hdr, NPY_HDR, 0, part, e) && write_all(fd, data, tot * esize, NPY_HDR, part, e);
    if (close(fd) != 0 && ok) ok = err_set(e, ERR_IO, "%s: %s", part, strerror(errno));
    if (ok && rename(part, path) != 0) ok = err_set(e, ERR_IO, "%s: cannot rename to %s: %s", part, path, strerror(errno));
    if (!ok) unlink(part);
    return ok;
}

bool npy_write(const char *path, const float *data, int ndim, const int *shape, Err *e) {
    return npy_write_raw(path, "<f4", data, sizeof(float), ndim, shape, e);
}

bool npy_write_i32(const char *path, const int *data, int ndim, const int *shape, Err *e) {
    _Static_assert(sizeof(int) == 4, "int is 32 bits");
    return npy_write_raw(path, "<i4", data, sizeof(int), ndim, shape, e);
}
