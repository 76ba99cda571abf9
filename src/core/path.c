#include "core/path.h"
#include <stdio.h>
#include <string.h>

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
