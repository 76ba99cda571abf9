#ifndef LLMSCOPE_GGUF_H
#define LLMSCOPE_GGUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

/* ---- GGUF buffer parser (core/gguf.c; the model mapping is model/gguf_load.c, the tokenizer tokenizer/gguf_tok.c)
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

typedef struct GgufFile {
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
/* "u8", "i32", "f32", "bool", "string", "array", ... (gguf-py's short names), for messages. */
const char *gguf_value_type_name(GgufValueType t);
/* True when the buffer starts with the GGUF magic. */
bool gguf_sniff(const uint8_t *buf, size_t len);
#endif
