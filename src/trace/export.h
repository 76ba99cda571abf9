/* Trace export: collects chosen hook points over prefill and decode steps and writes them
 * as JSON ({"hooks": [{"name", "shape", "data"}]}) or one .npy file per hook.
 * Rows of [pos, ...] points are concatenated along pos; attention points
 * ([n_heads, q_pos, k_pos]) are assembled into full [n_heads, T, T] matrices, so decode-time
 * rows and a prefill-time matrix give the same result. Masked scores are -inf (null in JSON). */
#ifndef LLMSCOPE_EXPORT_H
#define LLMSCOPE_EXPORT_H
#include <stdio.h>
#include "engine/hooks.h"
#include "core/err.h"

typedef struct Export Export;
/* patterns: comma-separated globs ("blocks.*.attn.hook_pattern,hook_logits"). */
Export *export_new(Hooks *h, const char *patterns, Err *e);
void export_free(Export *x);
int export_count(const Export *x);
/* {"ids": [the token ids that ran: prompt then generated], "hooks": [{"name", "shape", "data"}]} */
bool export_write_json(const Export *x, FILE *f, const int *ids, int n_ids);
bool export_write_npy(const Export *x, const char *dir, Err *e);
/* Access for tests: the collected tensor of a name (NULL if none). shape[0..ndim). */
const float *export_get(const Export *x, const char *name, int *ndim, int shape[4]);
bool npy_write(const char *path, const float *data, int ndim, const int *shape, Err *e);
#endif
