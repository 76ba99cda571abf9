#include "core/err.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool err_set(Err *e, int code, const char *fmt, ...) {
    if (!e) return false;
    e->code = code ? code : ERR_FORMAT;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return false;
}

bool err_prefix(Err *e, const char *fmt, ...) {
    if (!e) return false;
    char pre[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old);
    if (!e->code) e->code = ERR_FORMAT;
    return false;
}

void *xmalloc(size_t n, Err *e) {
    void *p = malloc(n ? n : 1);
    if (!p) err_set(e, ERR_MEMORY, "out of memory allocating %zu bytes", n);
    return p;
}

void *xcalloc(size_t n, size_t size, Err *e) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) err_set(e, ERR_MEMORY, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

char *file_read_all(const char *path, size_t *len, size_t max_bytes, Err *e) {
    /* O_NONBLOCK: opening a FIFO named config.json must not hang before fstat rejects it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) { err_set(e, ERR_IO, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        err_set(e, ERR_IO, "%s: not a regular file", path);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) { close(fd); err_set(e, ERR_IO, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(f);
        err_set(e, ERR_FORMAT, "%s: file is %lld bytes, more than the %zu allowed for this kind of file",
                path, (long long)st.st_size, max_bytes);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = xmalloc(n + 1, e);
    if (!buf) { fclose(f); return NULL; }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf); fclose(f);
        err_set(e, ERR_IO, "%s: read failed", path);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool dir_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void path_join(char *out, size_t cap, const char *dir, const char *name) {
    size_t n = strlen(dir);
    if (n && dir[n - 1] == '/') snprintf(out, cap, "%s%s", dir, name);
    else snprintf(out, cap, "%s/%s", dir, name);
}

char *file_read_head(const char *path, size_t n, size_t *len, Err *e) {
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) { err_set(e, ERR_IO, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); err_set(e, ERR_IO, "%s: not a regular file", path); return NULL; }
    char *b = malloc(n + 1);
    if (!b) { close(fd); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    ssize_t r = read(fd, b, n);
    close(fd);
    if (r < 0) { free(b); err_set(e, ERR_IO, "%s: read failed", path); return NULL; }
    *len = (size_t)r;
    b[r] = 0;
    return b;
}
