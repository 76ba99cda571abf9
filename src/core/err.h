/* Errors: library code returns a status and fills an Err with a human message
 * (what, where, what to do). Only src/cli decides to exit.
 * An Err is a plain value owned by the caller; nothing to free. */
#ifndef LLMSCOPE_ERR_H
#define LLMSCOPE_ERR_H
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int code;          /* 0 = ok */
    char msg[1024];
} Err;

enum { ERR_OK = 0, ERR_IO = 1, ERR_FORMAT = 2, ERR_SHAPE = 3, ERR_MEMORY = 4,
       ERR_UNSUPPORTED = 5, ERR_ARG = 6 };

/* Sets e->code and formats e->msg; returns false so callers can `return err_set(...)`.
 * e may be NULL. */
bool err_set(Err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prepends context to an existing message: "ctx: old message". */
bool err_prefix(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void err_clear(Err *e) { if (e) { e->code = 0; e->msg[0] = 0; } }

/* Memory helpers that never return NULL silently: on failure they fill e and return NULL. */
void *xmalloc(size_t n, Err *e);
void *xcalloc(size_t n, size_t size, Err *e);

/* Reads a whole file (NUL-terminated, *len excludes the NUL). Caller frees. max_bytes caps the size. */
char *file_read_all(const char *path, size_t *len, size_t max_bytes, Err *e);
/* The first (up to) n bytes of a regular file (NULL for anything else, e.g. a FIFO, which is
 * opened without blocking); *len gets the count. Caller frees. */
char *file_read_head(const char *path, size_t n, size_t *len, Err *e);
bool file_exists(const char *path);
bool dir_exists(const char *path);
/* Joins a directory and a name into out (size cap). */
void path_join(char *out, size_t cap, const char *dir, const char *name);

#endif
