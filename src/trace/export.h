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
 * write succeeded and the tensor is complete; export_free removes what was not finished, and
 * export_remove_unfinished does the same from a signal handler. Without export_set_dir the files
 * go to a private temporary directory (for --json and tests) that export_free removes. The first
 * write error stops the export (export_failed) and names the file.
 *
 * A directory export ends with DIR/llmscope-export.txt, the manifest: the names of its files.
 * The next export into DIR replaces them (files the old manifest lists and the new export does
 * not write are removed once the new one is complete); a .npy file in DIR that no manifest lists
 * was not written by an export and makes export_set_dir refuse the directory, naming it. */
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
/* Write NAME.npy files into dir (created if missing; checked writable now; refused, naming
 * them, when it holds .npy or .npy.part files that no manifest of a previous export lists).
 * Before any event. */
bool export_set_dir(Export *x, const char *dir, Err *e);
/* Positions the run will have (prompt + generated): attention points are [H, n, n]. Before any
 * event; needed only when an attention point is exported. */
void export_set_positions(Export *x, int n_positions);
/* True once a write (or a shape check) failed; e gets the message. */
bool export_failed(const Export *x, Err *e);
/* Completes every file (final shape in the header) and, with export_set_dir, renames
 * NAME.npy.part to NAME.npy (and the arrays of export_add_array), writes ids.npy ('<i4',
 * [n_ids]: the ids that ran; none when ids is NULL), removes the previous export's files that
 * were not written again, and writes the manifest. */
bool export_finish(Export *x, const int *ids, int n_ids, Err *e);
/* A whole array that joins the export as NAME.npy ('<f4'), written now as NAME.npy.part and
 * renamed by export_finish with the rest. At most 16. */
bool export_add_array(Export *x, const char *name, const float *data, int ndim, const int *shape, Err *e);
/* Async-signal-safe (unlink and rmdir only): removes every file the live exports of this process
 * have created and not finished, and their private temporary directories. For a SIGINT/SIGTERM
 * handler that then exits. */
void export_remove_unfinished(void);
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
