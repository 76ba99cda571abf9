/* Read-only memory-mapped files. */
#include "model/tensorfile.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct Mapped {
    uint8_t *data;
    size_t size;
    char path[];
};

static const char *file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

Mapped *mapped_open(const char *path, Err *e) {
    if (!path || !*path) { err_set(e, ERR_ARG, "mapped_open: empty path"); return NULL; }
    /* O_NONBLOCK so that opening a FIFO does not hang before fstat rejects it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) { err_set(e, ERR_IO, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int en = errno;
        close(fd);
        err_set(e, ERR_IO, "%s: cannot stat: %s", path, strerror(en));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        err_set(e, ERR_IO, "%s: is %s, expected a regular file", path, file_kind(st.st_mode));
        return NULL;
    }
    if (st.st_size <= 0) {
        close(fd);
        err_set(e, ERR_FORMAT, "%s: file is empty (0 bytes)", path);
        return NULL;
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        err_set(e, ERR_IO, "%s: file of %lld bytes is too large to map", path, (long long)st.st_size);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    size_t plen = strlen(path);
    Mapped *m = xmalloc(sizeof *m + plen + 1, e);
    if (!m) { close(fd); return NULL; }
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int en = errno;
    close(fd);
    if (p == MAP_FAILED) {
        free(m);
        err_set(e, ERR_IO, "%s: mmap of %zu bytes failed: %s", path, size, strerror(en));
        return NULL;
    }
    m->data = p;
    m->size = size;
    memcpy(m->path, path, plen + 1);
    return m;
}

const uint8_t *mapped_data(const Mapped *m) { return m ? m->data : NULL; }
size_t mapped_size(const Mapped *m) { return m ? m->size : 0; }
const char *mapped_path(const Mapped *m) { return m ? m->path : ""; }

void mapped_close(Mapped *m) {
    if (!m) return;
    if (m->data) munmap(m->data, m->size);
    free(m);
}
