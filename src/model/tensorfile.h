/* Checkpoint file layer: memory-mapped files, safetensors (single file and sharded sets),
 * llama2.c .bin checkpoints, and Hugging Face cache resolution. docs/formats.md describes
 * each format as parsed here and what is validated.
 *
 * Every parser works on a buffer (fuzzable; it never reads outside [buf, buf+len) and never
 * exits); the *_open / *_load functions are a thin mmap layer on top. No global state.
 * Errors fill an Err naming the file, the field and the byte offset where it applies.
 */
#ifndef LLMSCOPE_TENSORFILE_H
#define LLMSCOPE_TENSORFILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "model/model.h"
#include "core/gguf.h"

/* ---- memory-mapped files (model/mmapfile.c) ------------------------------------------
 * Read-only, MAP_PRIVATE. Empty files, directories, devices and FIFOs are rejected. */
Mapped *mapped_open(const char *path, Err *e);
const uint8_t *mapped_data(const Mapped *m);
size_t mapped_size(const Mapped *m);
const char *mapped_path(const Mapped *m);
void mapped_close(Mapped *m);                 /* NULL is fine */

/* ---- safetensors (model/safetensors.c) ----------------------------------------------- */
#define SAFETENSORS_MAX_HEADER (100u * 1024u * 1024u)   /* header JSON cap, bytes */
#define TENSOR_MAX_DIMS 8

typedef struct {
    char name[256];
    DType dtype;               /* meaningful only when supported */
    int supported;             /* 1 for F32/F16/BF16; 0 for other known dtypes (I64, F64, U8, ...) */
    char dtype_str[16];        /* as written in the header ("F32", "I64", ...) */
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    size_t offset;             /* absolute byte offset of the data in the file (8 + N + begin) */
    size_t nbytes;             /* end - begin */
    const void *data;          /* buf + offset; not necessarily aligned */
    const char *file;          /* file name used in messages (not owned) */
} TensorInfo;

/* Parses a whole safetensors file held in buf. On success *out is a malloc'd array of
 * *n_out entries in header order (free() it; may be NULL when the file has no tensors);
 * the entries point into buf and at fname, which must outlive them. */
bool safetensors_parse(const uint8_t *buf, size_t len, const char *fname,
                       TensorInfo **out, int *n_out, Err *e);

/* The element count of a tensor (product of shape; 1 for a scalar). */
int64_t tensorinfo_numel(const TensorInfo *t);

/* A set of safetensors files (one file or the shards of model.safetensors.index.json),
 * each mapped once, with a name index. */
typedef struct TensorSet TensorSet;

/* dir/model.safetensors, else dir/model.safetensors.index.json; otherwise an error
 * "no model.safetensors or model.safetensors.index.json in DIR". */
TensorSet *tensorset_open_dir(const char *dir, Err *e);
/* One .safetensors file. */
TensorSet *tensorset_open_file(const char *path, Err *e);
const TensorInfo *tensorset_find(const TensorSet *s, const char *name);   /* NULL if absent */
int tensorset_count(const TensorSet *s);
const TensorInfo *tensorset_at(const TensorSet *s, int i);                /* file order */
/* Hands the mappings over to the caller (e.g. append them to Model.maps): *maps is a
 * malloc'd array of *n Mapped* the caller closes with mapped_close() and then free()s.
 * Tensor data pointers stay valid while those mappings live; the set keeps its index
 * (names, shapes) until tensorset_free() but must not be asked for data afterwards
 * beyond what the caller already copied out. Returns false if already taken. */
bool tensorset_take_maps(TensorSet *s, Mapped ***maps, int *n, Err *e);
void tensorset_free(TensorSet *s);          /* closes the maps unless taken; NULL is fine */

/* ---- llama2.c checkpoints (model/llama2c.c) -----------------------------------------
 * Legacy (version 0) format: 7 int32 header then f32 weights. */
#define LLAMA2C_HEADER_BYTES 28

/* Fills m->spec, m->w (Tensors pointing into buf), m->n_params, m->weight_bytes,
 * m->n_nonfinite and m->path (= fname). m must be zeroed. On success m->w.layers is a
 * calloc'd array the caller free()s (model_free does); on failure nothing is left
 * allocated. buf must be 4-byte aligned (an mmap or malloc buffer is). */
bool llama2c_parse(const uint8_t *buf, size_t len, const char *fname, Model *m, Err *e);
/* Maps path and parses it. The Model owns the mapping in m->maps[0] (a malloc'd array of
 * 1) and m->w.layers; release with model_free(). layout_only: the weights are not scanned
 * for NaN/Inf (see model_load_layout). */
Model *llama2c_load(const char *path, bool layout_only, Err *e);
/* True when the file looks like a llama2.c checkpoint rather than something else (by name
 * ending in .bin and a plausible header); used to pick a loader. */
bool llama2c_sniff(const uint8_t *buf, size_t len);

/* ---- Hugging Face cache (model/hfcache.c) --------------------------------------------
 * arg that exists as a file or directory -> itself. Else "owner/name" -> the snapshot
 * directory in the HF hub cache ($HF_HUB_CACHE, $HF_HOME/hub,
 * $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub, in that order):
 * models--owner--name/snapshots/<rev> for the rev in refs/main, else the newest snapshot
 * holding config.json. The error lists where it looked. */
bool model_resolve_path(const char *arg, char *out, size_t cap, Err *e);

/* ---- GGUF: the buffer parser is core/gguf.h (the tokenizer reads GGUF files too) ---------- */
/* Maps path, parses it and maps the architecture onto a Model (model/gguf_load.c).
 * layout_only: no weight is read (Q/K rows not un-permuted, a split kv_b not joined: the
 * tensors keep their shapes for the counts; see model_load_layout). */
Model *gguf_load(const char *path, bool layout_only, Err *e);

#endif
