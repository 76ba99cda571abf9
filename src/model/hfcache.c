/* Resolves a model argument: an existing path, or a Hugging Face repo id looked up in the
 * local hub cache (models--owner--name/snapshots/<rev>/). Never downloads anything. */
#include "model/tensorfile.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_CACHES 4
#define REPO_PART_MAX 96

static bool id_char_ok(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static bool part_ok(const char *p, size_t n) {
    if (n == 0 || n > REPO_PART_MAX) return false;
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char_ok(p[i])) return false;
    return true;
}

/* "owner/name" with HF's character set; fills the two parts. */
static bool split_repo_id(const char *arg, char *owner, char *name) {
    const char *slash = strchr(arg, '/');
    if (!slash || strchr(slash + 1, '/')) return false;
    size_t no = (size_t)(slash - arg), nn = strlen(slash + 1);
    if (!part_ok(arg, no) || !part_ok(slash + 1, nn)) return false;
    memcpy(owner, arg, no);
    owner[no] = 0;
    memcpy(name, slash + 1, nn + 1);
    return true;
}

static bool put(char *out, size_t cap, const char *s, Err *e) {
    size_t n = strlen(s);
    if (n >= cap) return err_set(e, ERR_ARG, "resolved model path is %zu bytes, longer than the %zu allowed: %s",
                                 n, cap - 1, s);
    memcpy(out, s, n + 1);
    return true;
}

static bool has_config(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    return file_exists(p);
}

/* The revision in refs/main, trimmed and checked to be a plain name. */
static bool read_ref_main(const char *repo_dir, char *rev, size_t cap) {
    char p[4200];
    snprintf(p, sizeof p, "%s/refs/main", repo_dir);
    size_t n = 0;
    char *s = file_read_all(p, &n, 1024, NULL);
    if (!s) return false;
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    bool ok = n > i && n - i < cap && part_ok(s + i, n - i);
    if (ok) memcpy(rev, s + i, n - i + 1);
    free(s);
    return ok;
}

/* Picks a snapshot in repo_dir. Returns 1 found (path in snap), 0 none. */
static int pick_snapshot(const char *repo_dir, char *snap, size_t cap) {
    char rev[256], p[4200];
    bool ref_dir = false;
    char ref_path[4200] = "";
    if (read_ref_main(repo_dir, rev, sizeof rev)) {
        snprintf(ref_path, sizeof ref_path, "%s/snapshots/%s", repo_dir, rev);
        if (dir_exists(ref_path)) {
            ref_dir = true;
            if (has_config(ref_path)) { snprintf(snap, cap, "%s", ref_path); return 1; }
        }
    }
    snprintf(p, sizeof p, "%s/snapshots", repo_dir);
    DIR *d = opendir(p);
    char best[256] = "";
    time_t best_t = 0;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            const char *nm = de->d_name;
            size_t nl = strlen(nm);
            if (nm[0] == '.' || nl >= sizeof best) continue;
            char sp[4200];
            snprintf(sp, sizeof sp, "%s/%s", p, nm);
            struct stat st;
            if (stat(sp, &st) != 0 || !S_ISDIR(st.st_mode) || !has_config(sp)) continue;
            if (!best[0] || st.st_mtime > best_t || (st.st_mtime == best_t && strcmp(nm, best) > 0)) {
                memcpy(best, nm, nl + 1);
                best_t = st.st_mtime;
            }
        }
        closedir(d);
    }
    if (best[0]) { snprintf(snap, cap, "%s/%s", p, best); return 1; }
    if (ref_dir) { snprintf(snap, cap, "%s", ref_path); return 1; }
    return 0;
}

bool model_resolve_path(const char *arg, char *out, size_t cap, Err *e) {
    if (!arg || !*arg) return err_set(e, ERR_ARG, "empty model path");
    if (!out || cap == 0) return err_set(e, ERR_ARG, "model_resolve_path: no output buffer");
    out[0] = 0;
    struct stat st;
    if (stat(arg, &st) == 0) return put(out, cap, arg, e);

    char owner[REPO_PART_MAX + 1], name[REPO_PART_MAX + 1];
    if (!split_repo_id(arg, owner, name))
        return err_set(e, ERR_IO, "%s: no such file or directory (and not a Hugging Face repo id "
                       "of the form owner/name)", arg);

    /* Candidate hub caches, most specific first (empty variables are ignored). */
    char caches[MAX_CACHES][2048];
    int nc = 0;
    const char *v;
    if ((v = getenv("HF_HUB_CACHE")) && *v) snprintf(caches[nc++], sizeof caches[0], "%s", v);
    if ((v = getenv("HF_HOME")) && *v) snprintf(caches[nc++], sizeof caches[0], "%s/hub", v);
    if ((v = getenv("XDG_CACHE_HOME")) && *v) snprintf(caches[nc++], sizeof caches[0], "%s/huggingface/hub", v);
    if ((v = getenv("HOME")) && *v) snprintf(caches[nc++], sizeof caches[0], "%s/.cache/huggingface/hub", v);

    char looked[700] = "";
    size_t lk = 0;
    for (int i = 0; i < nc; i++) {
        bool dup = false;
        for (int j = 0; j < i; j++) dup = dup || strcmp(caches[i], caches[j]) == 0;
        if (dup) continue;
        char repo_dir[2400], snap[4200];
        snprintf(repo_dir, sizeof repo_dir, "%s/models--%s--%s", caches[i], owner, name);
        const char *why = "not found";
        if (dir_exists(repo_dir)) {
            if (pick_snapshot(repo_dir, snap, sizeof snap)) return put(out, cap, snap, e);
            why = "no snapshot with config.json; incomplete download?";
        }
        if (lk < sizeof looked) {
            int w = snprintf(looked + lk, sizeof looked - lk, "%s%s (%s)", lk ? ", " : "", repo_dir, why);
            if (w > 0) lk += (size_t)w;
        }
    }
    if (nc == 0) snprintf(looked, sizeof looked, "nowhere: HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME and HOME are unset");
    return err_set(e, ERR_IO, "%s: not a file or directory, and repo %s/%s is not in the Hugging Face cache; "
                   "looked in: %s. Download it first (e.g. `huggingface-cli download %s/%s`) or set "
                   "HF_HUB_CACHE", arg, owner, name, looked, owner, name);
}
