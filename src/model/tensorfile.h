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
 * 1) and m->w.layers; release with model_free(). */
Model *llama2c_load(const char *path, Err *e);
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

/* ---- GGUF (model/gguf.c) --------------------------------------------------------------
 * The file format of ggml / llama.cpp, versions 2 and 3 (little-endian only):
 *
 *   "GGUF"  u32 version  u64 n_tensors  u64 n_kv
 *   n_kv  x { string key, u32 value_type, value }
 *   n_tensors x { string name, u32 n_dims (1..4), u64 ne[n_dims], u32 ggml_type, u64 offset }
 *   padding to general.alignment (a u32 power of two, default 32)
 *   data section: tensor i at data_start + offset_i (offset_i a multiple of the alignment)
 *
 *   string = u64 length + that many bytes (not NUL-terminated)
 *   value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool (1 byte, 0 or 1),
 *                8 string, 9 array (u32 element type, u64 count, elements; no nested
 *                arrays), 10 u64, 11 i64, 12 f64
 *   ne[0] is the innermost (fastest) dimension: a weight W[out, in] has ne = {in, out}; a
 *   row of ne[0] elements is ne[0]/block_size blocks of block_bytes (see ggml_type_info).
 *
 * What is checked (as ggml's own gguf reader does): every length and count against the bytes
 * left and against caps (keys and names <= 65535 bytes, <= 2^24 keys or tensors, <= 4 dims),
 * duplicate keys and names, known value and ggml types, ne[0] a multiple of the type's block,
 * element counts without overflow, offsets aligned, inside the file and not overlapping.
 * The parser never reads outside [buf, buf+len); all pointers it returns point into buf. */
#define GGUF_MAX_KV (1u << 24)
#define GGUF_MAX_TENSORS (1u << 24)
#define GGUF_MAX_NAME 65535u
#define GGUF_DEFAULT_ALIGNMENT 32u

typedef enum { GGUF_UINT8 = 0, GGUF_INT8, GGUF_UINT16, GGUF_INT16, GGUF_UINT32, GGUF_INT32,
               GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY, GGUF_UINT64, GGUF_INT64,
               GGUF_FLOAT64, GGUF_NTYPES } GgufValueType;

typedef struct { const char *s; size_t len; } GgufStr;   /* points into the buffer */

typedef struct {
    char *key;                 /* NUL-terminated copy (owned by the GgufFile) */
    GgufValueType type;
    /* scalars (also the element type of an array: arr_type) */
    union { uint64_t u; int64_t i; double f; } v;   /* unsigned/bool -> u, signed -> i, float -> f */
    GgufStr str;               /* GGUF_STRING */
    GgufValueType arr_type;    /* GGUF_ARRAY */
    uint64_t arr_n;
    const uint8_t *arr_data;   /* first element (numeric arrays: packed little-endian) */
    GgufStr *arr_strs;         /* string arrays: arr_n entries (owned by the GgufFile) */
} GgufKV;

typedef struct {
    GgufStr name;
    uint32_t type;             /* ggml type id */
    int n_dims;
    int64_t ne[4];             /* unused dims are 1 */
    uint64_t offset;           /* relative to the data section */
    size_t nbytes;
    const uint8_t *data;       /* buf + data_start + offset */
} GgufTensor;

typedef struct {
    uint32_t version;
    uint32_t alignment;
    size_t data_start;         /* byte offset of the data section in the file */
    int64_t n_kv, n_tensors;
    GgufKV *kv;
    GgufTensor *tensors;
    const char *fname;         /* not owned */
} GgufFile;

/* ggml type table: name ("Q4_K"), elements per block and bytes per block; false for ids
 * that are not ggml types. */
bool ggml_type_info(uint32_t type, const char **name, int *block, int *block_bytes);

/* Parses a whole GGUF file held in buf (buf must outlive the result). Returns a GgufFile to
 * free with gguf_free(), or NULL with e naming the file, the field and the byte offset. */
GgufFile *gguf_parse(const uint8_t *buf, size_t len, const char *fname, Err *e);
void gguf_free(GgufFile *g);                                    /* NULL is fine */
const GgufKV *gguf_find(const GgufFile *g, const char *key);    /* NULL if absent */
const GgufTensor *gguf_find_tensor(const GgufFile *g, const char *name);
/* Typed getters: false when absent or of a type that does not convert exactly (any integer
 * type for _int, any number for _float, bool or integer for _bool). */
bool gguf_get_int(const GgufFile *g, const char *key, int64_t *out);
bool gguf_get_float(const GgufFile *g, const char *key, double *out);
bool gguf_get_bool(const GgufFile *g, const char *key, bool *out);
/* A string value copied into out (truncated to cap-1; false if absent or not a string). */
bool gguf_get_str(const GgufFile *g, const char *key, char *out, size_t cap);
/* Element i of a numeric array as a double / int64 (false if out of range or not numeric). */
bool gguf_arr_float(const GgufKV *kv, uint64_t i, double *out);
bool gguf_arr_int(const GgufKV *kv, uint64_t i, int64_t *out);
/* True when the buffer starts with the GGUF magic. */
bool gguf_sniff(const uint8_t *buf, size_t len);
/* Maps path, parses it and maps the architecture onto a Model (model/gguf_load.c). */
Model *gguf_load(const char *path, Err *e);

#endif
