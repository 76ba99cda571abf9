/* Small GGUF files for tests (gguf_fx.c): metadata entries written from text into a byte buffer,
 * and a copy of a GGUF file with entries added. Little-endian hosts only, as the parser. */
#ifndef LLMSCOPE_TEST_GGUF_FX_H
#define LLMSCOPE_TEST_GGUF_FX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/gguf.h"

typedef struct { unsigned char *p; size_t n, cap; } Bytes;   /* p: malloc'd, the caller frees */
void gfx_add(Bytes *b, const void *d, size_t n);   /* aborts when out of memory */
void gfx_u32(Bytes *b, uint32_t v);
void gfx_u64(Bytes *b, uint64_t v);
void gfx_str(Bytes *b, const char *s);             /* u64 length, then the bytes */

/* One metadata entry: key, GGUF value type, value as text ("20", "0.9", "x" for a string, "true";
 * an array: i32 items, comma-separated). */
typedef struct { const char *key; GgufValueType type; const char *val; } Kv;
void gfx_kv(Bytes *b, const Kv *kv);

/* A copy of the GGUF at src (at most 16 MiB) written to dst with these entries put first, and a
 * padding string entry that keeps the tensor data at the file's alignment; false on failure. */
bool gguf_with(const char *src, const char *dst, const Kv *kvs, int n);
#endif
