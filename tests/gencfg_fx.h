/* Shared by the CLI tests of generation defaults (test_gencfg.c, test_gencfg_info.c): running
 * the binary in a scratch directory. */
#ifndef LLMSCOPE_TESTS_GENCFG_FX_H
#define LLMSCOPE_TESTS_GENCFG_FX_H

/* The scratch directory of the running test, for %D. */
extern char gencfg_tmp[1024];
/* Runs `llmscope ARGS` (%D = gencfg_tmp); returns the status, *out stdout, *err stderr. */
int gencfg_cli(const char *args, char **out, char **err);
/* Writes json as DIR/g/generation_config.json (the test's model copy); false when it cannot. */
#include <stdbool.h>
bool gencfg_write_g(const char *dir, const char *json);
#endif
