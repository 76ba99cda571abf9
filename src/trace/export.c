/* Trace export streamed to disk (see export.h and docs/hooks.md, "Exporting").
 * Each point's file is created on its first event with a fixed 128-byte .npy header and
 * written in place with pwrite: rows appended, attention rows at their final offsets of the
 * [H, T, T] array. What is held in memory: the item table and one [n, T] block for an
 * attention event (n <= 64 query rows of a prefill chunk). */
#include "trace/export.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_HDR 128        /* bytes before the data of every file we write (a multiple of 64) */
#define EXPORT_PATH 4096
#define EXPORT_MANIFEST "llmscope-export.txt"
#define EXTRA_MAX 16       /* whole arrays added with export_add_array */
#define REG_N 64           /* names per registry block */

/* The names of the files an export creates (relative to its directory), for
 * export_remove_unfinished in a signal handler: blocks that never move once linked, each name
 * written before the count that publishes it. */
typedef struct RegBlock {
    struct RegBlock *_Atomic next;
    atomic_int n;
    char name[REG_N][176];
} RegBlock;

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
    RegBlock *_Atomic reg_head;
    RegBlock *reg_tail;
    int live;              /* slot in g_live, -1 when not registered */
    char extra[EXTRA_MAX][160];   /* export_add_array names, NAME.npy.part until export_finish */
    int n_extra;
    bool extra_final;
    char **old;            /* the files a previous export's manifest lists (export_set_dir) */
    int n_old;
    bool had_manifest;
    bool made_dir;         /* export_set_dir created the directory: removed again unless the export completes */
    bool done;             /* export_finish completed (manifest written) */
};

/* The exports that have a directory, for export_remove_unfinished. */
#define EXPORT_LIVE 8
static Export *_Atomic g_live[EXPORT_LIVE];

static void live_add(Export *x) {
    for (int i = 0; i < EXPORT_LIVE && x->live < 0; i++) {
        Export *none = NULL;
        if (atomic_compare_exchange_strong(&g_live[i], &none, x)) x->live = i;
    }
}

/* Records that file (a name in x->dir) is about to be created; false when out of memory. */
static bool reg_add(Export *x, const char *file) {
    RegBlock *b = x->reg_tail;
    if (!b || atomic_load(&b->n) == REG_N) {
        RegBlock *nb = calloc(1, sizeof *nb);
        if (!nb) return false;
        if (b) atomic_store(&b->next, nb);
        else atomic_store(&x->reg_head, nb);
        x->reg_tail = b = nb;
    }
    int i = atomic_load(&b->n);
    snprintf(b->name[i], sizeof b->name[i], "%s", file);
    atomic_store(&b->n, i + 1);
    return true;
}

/* Async-signal-safe: only strlen, memcpy, unlink and rmdir. */
void export_remove_unfinished(void) {
    char p[EXPORT_PATH];
    for (int s = 0; s < EXPORT_LIVE; s++) {
        Export *x = atomic_load(&g_live[s]);
        if (!x) continue;
        size_t dl = strlen(x->dir);
        for (RegBlock *b = atomic_load(&x->reg_head); b; b = atomic_load(&b->next)) {
            int n = atomic_load(&b->n);
            for (int i = 0; i < n; i++) {
                size_t nl = strlen(b->name[i]);
                if (dl + 1 + nl >= sizeof p) continue;
                memcpy(p, x->dir, dl);
                p[dl] = '/';
                memcpy(p + dl + 1, b->name[i], nl + 1);
                unlink(p);
            }
        }
        if (x->tmpdir || x->made_dir) rmdir(x->dir);   /* only when empty */
    }
}

static bool npy_write_raw(const char *path, bool via_part, const char *descr, const void *data, size_t esize, int ndim, const int *shape, Err *e);
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
    live_add(x);
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
    char part[200];
    snprintf(part, sizeof part, "%s.npy.part", it->name);
    if (!reg_add(x, part)) { fail(x, "out of memory"); return NULL; }
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
    if (x) x->live = -1;
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

/* A name a manifest may list and an export may remove: a plain NAME.npy in the directory. */
static bool manifest_name_ok(const char *nm) {
    size_t n = strlen(nm);
    return n > 4 && n < 160 && !strchr(nm, '/') && nm[0] != '.' && !strcmp(nm + n - 4, ".npy");
}

/* The names DIR/llmscope-export.txt lists (lines that are not comments and are plain NAME.npy
 * names; anything else is ignored, never removed). */
static bool manifest_read(Export *x, const char *dir, Err *e) {
    char p[EXPORT_PATH];
    snprintf(p, sizeof p, "%s/%s", dir, EXPORT_MANIFEST);
    FILE *f = fopen(p, "r");
    if (!f) return true;
    x->had_manifest = true;
    char line[512];
    int cap = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '#' || !manifest_name_ok(line)) continue;
        if (x->n_old == cap) {
            if (cap >= 1 << 20) { ok = err_set(e, ERR_FORMAT, "%s: more than %d names", p, cap); break; }
            int nc = cap ? 2 * cap : 64;
            char **no = realloc(x->old, sizeof(char *) * (size_t)nc);
            if (!no) { ok = err_set(e, ERR_MEMORY, "out of memory"); break; }
            x->old = no;
            cap = nc;
        }
        if (!(x->old[x->n_old] = strdup(line))) ok = err_set(e, ERR_MEMORY, "out of memory");
        else x->n_old++;
    }
    fclose(f);
    return ok;
}

static bool old_listed(const Export *x, const char *nm) {
    for (int i = 0; i < x->n_old; i++)
        if (!strcmp(x->old[i], nm)) return true;
    return false;
}

bool export_set_dir(Export *x, const char *dir, Err *e) {
    if (x->n) return err_set(e, ERR_ARG, "export: the directory must be set before the run");
    if (strlen(dir) + 200 >= sizeof x->dir) return err_set(e, ERR_ARG, "--npy %s: path too long", dir);
    struct stat st;
    bool made = mkdir(dir, 0777) == 0;
    if (!made && errno != EEXIST) return err_set(e, ERR_IO, "--npy %s: cannot create the directory: %s", dir, strerror(errno));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return err_set(e, ERR_IO, "--npy %s: exists and is not a directory", dir);
    char probe[EXPORT_PATH];
    snprintf(probe, sizeof probe, "%s/.llmscope-write-test-%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) { if (made) rmdir(dir); return err_set(e, ERR_IO, "--npy %s: cannot write files there: %s", dir, strerror(errno)); }
    close(fd);
    unlink(probe);
    /* A previous export's files (its manifest lists them) are replaced when this one completes;
     * .npy files no manifest lists were not written by an export of ours: refused, never
     * overwritten or left to mix with this run. */
    if (!manifest_read(x, dir, e)) return false;
    DIR *d = opendir(dir);
    if (!d) return err_set(e, ERR_IO, "--npy %s: cannot list the directory: %s", dir, strerror(errno));
    char names[600] = "";
    size_t k = 0;
    int foreign = 0;
    for (struct dirent *de; (de = readdir(d));) {
        const char *nm = de->d_name;
        size_t n = strlen(nm);
        bool npy = (n > 4 && !strcmp(nm + n - 4, ".npy")) || (n > 9 && !strcmp(nm + n - 9, ".npy.part"));
        if (!npy || old_listed(x, nm)) continue;
        if (foreign++ < 4 && k < sizeof names - 200) k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "", nm);
    }
    closedir(d);
    if (foreign) {
        char more[48] = "";
        if (foreign > 4) snprintf(more, sizeof more, " and %d more", foreign - 4);
        return err_set(e, ERR_ARG, "--npy %s: the directory holds %d .npy file%s that no llmscope export manifest (%s) lists: "
                       "%s%s (they would mix with this export: move or remove them, or choose an empty or new directory)",
                       dir, foreign, foreign == 1 ? "" : "s", EXPORT_MANIFEST, names, more);
    }
    snprintf(x->dir, sizeof x->dir, "%s", dir);
    x->have_dir = true;
    x->tmpdir = false;
    x->made_dir = made;
    live_add(x);
    return true;
}

void export_set_positions(Export *x, int n_positions) { x->T = n_positions; }

bool export_failed(const Export *x, Err *e) {
    if (!x->failed) return false;
    if (e) *e = x->err;
    return true;
}

static bool is_new_file(const Export *x, const char *nm, bool ids) {
    char b[200];
    if (ids && !strcmp(nm, "ids.npy")) return true;
    for (int i = 0; i < x->n; i++) {
        snprintf(b, sizeof b, "%s.npy", x->items[i].name);
        if (!strcmp(b, nm)) return true;
    }
    for (int i = 0; i < x->n_extra; i++) {
        snprintf(b, sizeof b, "%s.npy", x->extra[i]);
        if (!strcmp(b, nm)) return true;
    }
    return false;
}

/* DIR/llmscope-export.txt, written whole through a .part name: the files of this export; while
 * they replace a previous export's (replacing), also the previous files still there, so that
 * every file of ours in the directory is always listed by the manifest. */
static bool manifest_write(Export *x, bool ids, bool replacing) {
    char p[EXPORT_PATH], part[EXPORT_PATH];
    snprintf(p, sizeof p, "%s/%s", x->dir, EXPORT_MANIFEST);
    snprintf(part, sizeof part, "%s.part", p);
    FILE *f = fopen(part, "w");
    if (!f) return fail(x, "%s: cannot write: %s", part, strerror(errno));
    fprintf(f, "# llmscope trace --npy: the files of one export (docs/hooks.md, \"Exporting\"). The next export into\n"
               "# this directory replaces them; files not listed here are never touched.\n%s\n",
            replacing ? "# status: replacing a previous export (not complete)" : "# status: complete");
    if (ids) fprintf(f, "ids.npy\n");
    for (int i = 0; i < x->n; i++) fprintf(f, "%s.npy\n", x->items[i].name);
    for (int i = 0; i < x->n_extra; i++) fprintf(f, "%s.npy\n", x->extra[i]);
    for (int i = 0; replacing && i < x->n_old; i++)
        if (!is_new_file(x, x->old[i], ids)) fprintf(f, "%s\n", x->old[i]);
    bool ok = !ferror(f);
    if (fclose(f) != 0) ok = false;
    if (!ok) { unlink(part); return fail(x, "%s: write failed: %s", part, strerror(errno)); }
    if (rename(part, p) != 0) { unlink(part); return fail(x, "%s: cannot rename to %s: %s", part, p, strerror(errno)); }
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
        /* the manifest first lists the old and the new files, then the files change, then it lists
         * only the new ones: a directory never holds a file of ours that its manifest omits */
        if (!reg_add(x, EXPORT_MANIFEST ".part")) fail(x, "out of memory");
        else manifest_write(x, ids != NULL, true);
        for (int i = 0; i < x->n && !x->failed; i++) {
            char a[EXPORT_PATH], b[EXPORT_PATH];
            item_path(x, &x->items[i], true, a, sizeof a);
            item_path(x, &x->items[i], false, b, sizeof b);
            if (rename(a, b) != 0) fail(x, "%s: cannot rename to %s: %s", a, b, strerror(errno));
            else x->items[i].final = true;
        }
        for (int i = 0; i < x->n_extra && !x->failed; i++) {
            char a[EXPORT_PATH], b[EXPORT_PATH];
            snprintf(b, sizeof b, "%s/%s.npy", x->dir, x->extra[i]);
            snprintf(a, sizeof a, "%s.part", b);
            if (rename(a, b) != 0) fail(x, "%s: cannot rename to %s: %s", a, b, strerror(errno));
        }
        x->extra_final = !x->failed;
        if (!x->failed && ids) {
            char p[EXPORT_PATH];
            snprintf(p, sizeof p, "%s/ids.npy", x->dir);
            int sh[1] = {n_ids};
            Err we = {0};
            if (!reg_add(x, "ids.npy.part")) fail(x, "out of memory");
            else if (!npy_write_i32(p, ids, 1, sh, &we)) fail(x, "%s", we.msg);
        }
        /* the previous export's files that this one did not write again */
        for (int i = 0; i < x->n_old && !x->failed; i++) {
            if (is_new_file(x, x->old[i], ids != NULL)) continue;
            char p[EXPORT_PATH];
            struct stat st;
            snprintf(p, sizeof p, "%s/%s", x->dir, x->old[i]);
            if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && unlink(p) != 0)
                fail(x, "%s: cannot remove this file of the previous export: %s", p, strerror(errno));
        }
        if (!x->failed) manifest_write(x, ids != NULL, false);
    }
    x->done = !x->failed;
    return !export_failed(x, e);
}

bool export_add_array(Export *x, const char *name, const float *data, int ndim, const int *shape, Err *e) {
    if (x->failed) return !export_failed(x, e);
    if (x->n_extra == EXTRA_MAX || strlen(name) >= sizeof x->extra[0]) return err_set(e, ERR_ARG, "export: too many arrays or a name too long (%s)", name);
    if (!ensure_dir(x)) return !export_failed(x, e);
    char part[200], p[EXPORT_PATH];
    snprintf(part, sizeof part, "%s.npy.part", name);
    if (!reg_add(x, part)) return err_set(e, ERR_MEMORY, "out of memory");
    snprintf(x->extra[x->n_extra++], sizeof x->extra[0], "%s", name);
    snprintf(p, sizeof p, "%s/%s", x->dir, part);
    Err we = {0};
    if (!npy_write_raw(p, false, "<f4", data, sizeof(float), ndim, shape, &we)) { fail(x, "%s", we.msg); return !export_failed(x, e); }
    return true;
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
    for (int i = 0; i < x->n_extra; i++) {
        if (x->extra_final && !x->tmpdir) continue;
        char p[EXPORT_PATH];
        snprintf(p, sizeof p, "%s/%s.npy%s", x->dir, x->extra[i], x->extra_final ? "" : ".part");
        unlink(p);
    }
    if (x->tmpdir || (x->made_dir && !x->done)) rmdir(x->dir);   /* a directory this export made, when empty */
    /* a signal handler (on this thread) walks x until here: the files above are gone by now */
    if (x->live >= 0) atomic_store(&g_live[x->live], NULL);
    for (RegBlock *b = atomic_load(&x->reg_head), *nb; b; b = nb) { nb = atomic_load(&b->next); free(b); }
    for (int i = 0; i < x->n_old; i++) free(x->old[i]);
    free(x->old);
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

/* Writes the whole file: via_part, to PATH.part renamed to PATH at the end; else to PATH itself. */
static bool npy_write_raw(const char *path, bool via_part, const char *descr, const void *data, size_t esize, int ndim, const int *shape, Err *e) {
    long long sh[8];
    size_t tot = 1;
    if (ndim < 1 || ndim > 8) return err_set(e, ERR_ARG, "%s: %d dimensions", path, ndim);
    for (int d = 0; d < ndim; d++) { sh[d] = shape[d]; tot *= (size_t)(shape[d] > 0 ? shape[d] : 0); }
    char hdr[NPY_HDR], part[EXPORT_PATH];
    if (!npy_header(hdr, descr, ndim, sh)) return err_set(e, ERR_ARG, "%s: shape too large for a .npy header", path);
    snprintf(part, sizeof part, "%s%s", path, via_part ? ".part" : "");
    int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) return err_set(e, ERR_IO, "%s: cannot write: %s", part, strerror(errno));
    bool ok = write_all(fd, hdr, NPY_HDR, 0, part, e) && write_all(fd, data, tot * esize, NPY_HDR, part, e);
    if (close(fd) != 0 && ok) ok = err_set(e, ERR_IO, "%s: %s", part, strerror(errno));
    if (ok && via_part && rename(part, path) != 0) ok = err_set(e, ERR_IO, "%s: cannot rename to %s: %s", part, path, strerror(errno));
    if (!ok) unlink(part);
    return ok;
}

bool npy_write(const char *path, const float *data, int ndim, const int *shape, Err *e) {
    return npy_write_raw(path, true, "<f4", data, sizeof(float), ndim, shape, e);
}

bool npy_write_i32(const char *path, const int *data, int ndim, const int *shape, Err *e) {
    _Static_assert(sizeof(int) == 4, "int is 32 bits");
    return npy_write_raw(path, true, "<i4", data, sizeof(int), ndim, shape, e);
}
