/* Trace export: the values seen at chosen hook points over a prefill and decode steps, streamed
 * to disk as they are produced, one .npy file per hook point (numpy format 1.0, '<f4',
 * C order), so memory stays bounded whatever the prompt length.
 *
 * Shapes are exact (docs/hooks.md, "Exporting"): [pos, ...] points are their rows concatenated
 * in the order they ran ([positions, ...]; hook_logits: the rows that were computed);
 * attention points (hook_attn_scores, hook_pattern) are [n_heads, T, T] with T the positions
 * announced by export_set_positions: query t's row holds the keys 0..t as the engine computed
 * them and the masked entries (later keys, keys outside a sliding window) as -inf in scores and
 * 0 in the pattern, so decode-time rows and a prefill-time matrix give the same file.
 *
 * Files are written as NAME.npy.part and renamed to NAME.npy by export_finish only when every
 * write succeeded and the tensor is complete; export_free removes what was not finished. Without
 * export_set_dir the files go to a private temporary directory (for --json and tests) that
 * export_free removes. The first write error stops the export (export_failed) and names the
 * file. */
#ifndef LLMSCOPE_EXPORT_H
#define LLMSCOPE_EXPORT_H
#include <stdio.h>
#include "engine/hooks.h"
#include "core/err.h"

typedef struct Export Export;
/* patterns: comma-separated globs ("blocks.*.attn.hook_pattern,hook_logits"); each must match
 * some hook point name. Registers one observer on h (removed by export_free). */
Export *export_new(Hooks *h, const char *patterns, Err *e);
void export_free(Export *x);
/* Every pattern must name a point of a model with n_layers blocks ("blocks.40.*" on 28 layers
 * is an error naming the pattern). */
bool export_check_layers(const Export *x, int n_layers, Err *e);
/* Write NAME.npy files into dir (created if missing; checked writable now). Before any event. */
bool export_set_dir(Export *x, const char *dir, Err *e);
/* Positions the run will have (prompt + generated): attention points are [H, n, n]. Before any
 * event; needed only when an attention point is exported. */
void export_set_positions(Export *x, int n_positions);
/* True once a write (or a shape check) failed; e gets the message. */
bool export_failed(const Export *x, Err *e);
/* Completes every file (final shape in the header) and, with export_set_dir, renames
 * NAME.npy.part to NAME.npy and writes ids.npy ('<i4', [n_ids]: the ids that ran). */
bool export_finish(Export *x, const int *ids, int n_ids, Err *e);
int export_count(const Export *x);
/* Patterns that matched no value this model computed (e.g. hook_pos_embed on a RoPE model):
 * the i-th of them, NULL past the end. */
const char *export_unmatched(const Export *x, int i);
/* {"ids": [the token ids that ran], "hooks": [{"name", "shape", "data"}] (, what extra writes)}
 * streamed from the files (masked scores as null); extra, if given, writes further members
 * (starting with ",\n"). False with e set if the export failed or f could not be written. */
bool export_write_json(const Export *x, FILE *f, const int *ids, int n_ids,
                       void (*extra)(void *ud, FILE *f), void *ud, Err *e);
/* The collected tensor of a name, read back (NULL if none). Valid until the next export_get
 * on x or export_free. shape[0..ndim). */
const float *export_get(Export *x, const char *name, int *ndim, int shape[4]);
/* One whole array as a .npy file ('<f4' / '<i4'), written to PATH.part and renamed. */
bool npy_write(const char *path, const float *data, int ndim, const int *shape, Err *e);
bool npy_write_i32(const char *path, const int *data, int ndim, const int *shape, Err *e);
#endif
