/* Shared by the CLI tests of generation defaults (test_gencfg.c, test_gencfg_info.c). */
#include "gencfg_fx.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

char gencfg_tmp[1024];

/* Runs `llmscope ARGS` (%D = gencfg_tmp); returns the status, *out stdout, *err stderr. */
int gencfg_cli(const char *args, char **out, char **err) {
    char expanded[2048], cmd[4096], errf[1200];
    size_t o = 0;
    for (const char *p = args; *p && o + 1100 < sizeof expanded; p++) {
        if (p[0] == '%' && p[1] == 'D') { o += (size_t)snprintf(expanded + o, sizeof expanded - o, "%s", gencfg_tmp); p++; }
        else expanded[o++] = *p;
    }
    expanded[o] = 0;
    snprintf(errf, sizeof errf, "%s/stderr.txt", gencfg_tmp);
    snprintf(cmd, sizeof cmd, "( timeout -k 5 120 %s %s </dev/null 2>'%s' )", test_bin(), expanded, errf);
    int rc = test_run(cmd, out, 0);
    snprintf(cmd, sizeof cmd, "cat '%s'", errf);
    test_run(cmd, err, 0);
    if (!*out) *out = strdup("");
    if (!*err) *err = strdup("");
    return rc;
}

bool gencfg_write_g(const char *dir, const char *json) {
    char path[1200];
    snprintf(path, sizeof path, "%s/g/generation_config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return false;
    const bool ok = fputs(json, f) >= 0;
    return fclose(f) == 0 && ok;
}
