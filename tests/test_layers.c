/* The floors of src/ point one way, and no source file (src/ and tests/) grows past a page budget.
 *
 * Every `#include "dir/x.h"` line under src/ is an edge from the including file's directory
 * to dir. Directories have floors:
 *   core 0 < {model, tokenizer} 1 < engine 2 < trace 3 < session 4 < analysis 5 < scene 6
 *        < lesson 7 < tui 8 < cli 9
 * An edge may only go down (to a lower floor) or stay inside its own directory, so there
 * can be no cycle between directories. model and tokenizer share a floor and must not
 * include each other. (tui sits above lesson: the App draws the lesson pane; lesson/ knows
 * no TUI.) A new directory must be given a floor here before it builds. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"

#define MAX_LINES 900

/* Known debts being paid off by the scene redesign (issue 12); each entry must go. */
static const struct { const char *file, *to; } EXCEPT_EDGE[] = {
    {"", ""},                             /* none left */
};
static const char *const EXCEPT_LONG[] = {""};   /* none left */

static bool excepted_edge(const char *file, const char *to) {
    for (size_t i = 0; i < sizeof EXCEPT_EDGE / sizeof EXCEPT_EDGE[0]; i++)
        if (!strcmp(EXCEPT_EDGE[i].file, file) && !strcmp(EXCEPT_EDGE[i].to, to)) return true;
    return false;
}
static bool excepted_long(const char *file) {
    for (size_t i = 0; i < sizeof EXCEPT_LONG / sizeof EXCEPT_LONG[0]; i++)
        if (!strcmp(EXCEPT_LONG[i], file)) return true;
    return false;
}

static const struct { const char *dir; int floor; } FLOORS[] = {
    {"core", 0}, {"model", 1}, {"tokenizer", 1}, {"template", 1}, {"engine", 2}, {"trace", 3}, {"session", 4},
    {"analysis", 5}, {"scene", 6}, {"lesson", 7}, {"tui", 8}, {"cli", 9},
};

static int floor_of(const char *dir) {
    for (size_t i = 0; i < sizeof FLOORS / sizeof FLOORS[0]; i++)
        if (!strcmp(FLOORS[i].dir, dir)) return FLOORS[i].floor;
    return -1;
}

/* NULL if from -> to is allowed, else why not. */
static const char *edge_problem(const char *from, const char *to) {
    int a = floor_of(from), b = floor_of(to);
    if (a < 0) return "the including directory has no floor in tests/test_layers.c";
    if (b < 0) return "the included directory has no floor in tests/test_layers.c";
    if (!strcmp(from, to)) return NULL;
    if (b < a) return NULL;
    return b == a ? "sideways between directories of one floor" : "upward (a higher floor)";
}

typedef struct { int files, edges, bad, long_files; bool lengths_only; TestCtx *T_; } Walk;

static void check_file(Walk *w, const char *path, const char *top) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    TestCtx *T_ = w->T_;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        n++;
        if (w->lengths_only) continue;
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (strncmp(p, "#include \"", 10)) continue;
        p += 10;
        const char *q = strchr(p, '"'), *slash = strchr(p, '/');
        if (!q || !slash || slash > q) continue;     /* "x.h": same directory */
        char to[64];
        snprintf(to, sizeof to, "%.*s", (int)(slash - p), p);
        w->edges++;
        const char *why = edge_problem(top, to);
        if (why && !excepted_edge(path, to)) { w->bad++; FAILF("%s:%d includes \"%.*s\": %s -> %s is %s", path, n, (int)(q - p), p, top, to, why); }
    }
    fclose(f);
    w->files++;
    if (n > MAX_LINES && !excepted_long(path)) { w->long_files++; FAILF("%s has %d lines (at most %d: split it by what it does)", path, n, MAX_LINES); }
}

static void walk(Walk *w, const char *dir, const char *top) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) walk(w, p, top ? top : de->d_name);
        else {
            size_t n = strlen(de->d_name);
            if ((top || w->lengths_only) && n > 2 && (!strcmp(de->d_name + n - 2, ".c") || !strcmp(de->d_name + n - 2, ".h"))) check_file(w, p, top);
        }
    }
    closedir(d);
}

TEST(layers_rule_itself) {
    /* the rule can fail: these are the edges the old tree had */
    CHECK(edge_problem("model", "engine") != NULL);      /* loader used engine/ops.h for bf16 */
    CHECK(edge_problem("engine", "trace") != NULL);      /* the hook contract lived in trace/ */
    CHECK(edge_problem("lesson", "tui") != NULL);        /* the player wrote App fields */
    CHECK(edge_problem("tui", "cli") != NULL);
    CHECK(edge_problem("model", "tokenizer") != NULL);   /* same floor, sideways */
    CHECK(edge_problem("nowhere", "core") != NULL);
    CHECK(edge_problem("engine", "model") == NULL);
    CHECK(edge_problem("tui", "lesson") == NULL);
    CHECK(edge_problem("scene", "scene") == NULL);
}

TEST(layers_include_graph_points_down) {
    if (access("src/core", R_OK) != 0) SKIP("src/ not found (run from the repository root)");
    Walk w = {0};
    w.T_ = T_;
    walk(&w, "src", NULL);
    CHECK_MSG(w.files > 80 && w.edges > 150, "scanned only %d files, %d edges", w.files, w.edges);
}

TEST(layers_test_files_within_the_page_budget) {
    if (access("tests/harness.h", R_OK) != 0) SKIP("tests/ not found (run from the repository root)");
    Walk w = {0};
    w.T_ = T_;
    w.lengths_only = true;      /* tests sit on no floor: only the page budget */
    walk(&w, "tests", NULL);
    CHECK_MSG(w.files > 50, "scanned only %d files", w.files);
    CHECK_EQ_INT(w.long_files, 0);
}
