#include "cli/cli.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cli_opt(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], name, n)) {
            if (argv[i][n] == '=') return argv[i] + n + 1;
            if (argv[i][n] == 0 && i + 1 < argc) return argv[i + 1];
        }
    }
    return NULL;
}

bool cli_flag(int argc, char **argv, const char *name) {
    for (int i = 1; i < argc; i++) if (!strcmp(argv[i], name)) return true;
    return false;
}

int cli_opt_int(int argc, char **argv, const char *name, int dflt) {
    const char *v = cli_opt(argc, argv, name);
    if (!v) return dflt;
    char *end; errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < -2147483647L || x > 2147483647L) {
        fprintf(stderr, "llmscope: %s: '%s' is not an integer\n", name, v);
        exit(2);
    }
    return (int)x;
}

double cli_opt_double(int argc, char **argv, const char *name, double dflt) {
    const char *v = cli_opt(argc, argv, name);
    if (!v) return dflt;
    char *end; errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || end == v || !isfinite(x)) {
        fprintf(stderr, "llmscope: %s: '%s' is not a number\n", name, v);
        exit(2);
    }
    return x;
}

bool cli_parse_ids(const char *s, int **ids, int *n, Err *e) {
    int cap = 16, k = 0;
    int *a = malloc(sizeof(int) * (size_t)cap);
    if (!a) return err_set(e, ERR_MEMORY, "out of memory");
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *end; errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > 2147483647L) {
            free(a);
            return err_set(e, ERR_ARG, "--ids: '%s' is not a list of non-negative integers (at '%.16s')", s, p);
        }
        if (k == cap) { int *b = realloc(a, sizeof(int) * (size_t)(cap *= 2)); if (!b) { free(a); return err_set(e, ERR_MEMORY, "out of memory"); } a = b; }
        a[k++] = (int)v;
        p = end;
        if (*p && *p != ',' && *p != ' ') { free(a); return err_set(e, ERR_ARG, "--ids: unexpected '%c' in '%s'", *p, s); }
    }
    if (!k) { free(a); return err_set(e, ERR_ARG, "--ids: no ids given"); }
    *ids = a; *n = k;
    return true;
}

int cli_fail(const Err *e) {
    fprintf(stderr, "llmscope: %s\n", e->msg[0] ? e->msg : "error");
    return 1;
}

const char *cli_default_model(char *out, size_t cap) {
    const char *env = getenv("LLMSCOPE_MODEL");
    if (env && *env) { snprintf(out, cap, "%s", env); return out; }
    /* The bundled models live in assets/models of the source tree; the binary sits in
     * build/ (or build/<sanitizer>/) of that tree. */
    char exe[2048];
    ssize_t r = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (r > 0) {
        exe[r] = 0;
        for (int up = 0; up < 4; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = 0;
            char probe[2200];
            snprintf(probe, sizeof probe, "%s/assets/models/story-gqa/config.json", exe);
            if (access(probe, R_OK) == 0) {
                snprintf(out, cap, "%s/assets/models/story-gqa", exe);
                return out;
            }
        }
    }
    snprintf(out, cap, "assets/models/story-gqa");
    return out;
}

const char *cli_model_arg(int argc, char **argv, char *buf, size_t cap) {
    const char *m = cli_opt(argc, argv, "--model");
    if (m) return m;
    return cli_default_model(buf, cap);
}

void cli_print_floats(FILE *f, const float *x, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i) fputc(',', f);
        if (isfinite(x[i])) fprintf(f, "%.9g", (double)x[i]);
        else fputs("null", f);
    }
    fputc(']', f);
}
