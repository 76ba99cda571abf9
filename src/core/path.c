#include "core/path.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *path_base_name(const char *path, bool strip_bin, char *buf, size_t cap) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path ? path : "");
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
    const char *b = strrchr(tmp, '/');
    snprintf(buf, cap, "%s", b ? b + 1 : tmp);
    char *dot = strip_bin ? strrchr(buf, '.') : NULL;
    if (dot && !strcmp(dot, ".bin")) *dot = 0;
    return buf;
}

const char *path_find_above_exe(const char *rel, int levels, char *out, size_t cap) {
    char dir[4096], probe[4200];
    const ssize_t r = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (r <= 0) return NULL;
    dir[r] = 0;
    struct stat st;
    for (int up = 0; up <= levels; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash) break;
        *slash = 0;
        snprintf(probe, sizeof probe, "%s/%s", dir, rel);
        if (stat(probe, &st) == 0) { snprintf(out, cap, "%s", dir); return out; }
    }
    return NULL;
}
