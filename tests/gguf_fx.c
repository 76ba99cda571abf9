/* Small GGUF files for tests: metadata entries written from text, a model file with entries added
 * (see gguf_fx.h). */
#include "gguf_fx.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"

void gfx_add(Bytes *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) abort();
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
void gfx_u32(Bytes *b, uint32_t v) { gfx_add(b, &v, 4); }   /* little-endian hosts only, as the parser */
void gfx_u64(Bytes *b, uint64_t v) { gfx_add(b, &v, 8); }
void gfx_str(Bytes *b, const char *s) { gfx_u64(b, strlen(s)); gfx_add(b, s, strlen(s)); }

void gfx_kv(Bytes *b, const Kv *kv) {
    gfx_str(b, kv->key);
    gfx_u32(b, (uint32_t)kv->type);
    switch (kv->type) {
    case GGUF_INT32: { int32_t x = (int32_t)strtol(kv->val, NULL, 10); gfx_add(b, &x, 4); break; }
    case GGUF_UINT8: { uint8_t x = (uint8_t)strtoul(kv->val, NULL, 10); gfx_add(b, &x, 1); break; }
    case GGUF_INT64: { int64_t x = strtoll(kv->val, NULL, 10); gfx_add(b, &x, 8); break; }
    case GGUF_ARRAY: {   /* i32 items, comma-separated */
        uint64_t n = 1;
        for (const char *c = kv->val; *c; c++) n += *c == ',';
        gfx_u32(b, GGUF_INT32);
        gfx_u64(b, n);
        for (const char *c = kv->val; c; c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL) {
            int32_t x = (int32_t)strtol(c, NULL, 10);
            gfx_add(b, &x, 4);
        }
        break;
    }
    case GGUF_UINT32: { uint32_t x = (uint32_t)strtoul(kv->val, NULL, 10); gfx_add(b, &x, 4); break; }
    case GGUF_FLOAT32: { float x = strtof(kv->val, NULL); gfx_add(b, &x, 4); break; }
    case GGUF_FLOAT64: { double x = strtod(kv->val, NULL); gfx_add(b, &x, 8); break; }
    case GGUF_BOOL: { uint8_t x = kv->val[0] == 't'; gfx_add(b, &x, 1); break; }
    case GGUF_STRING: gfx_str(b, kv->val); break;
    default: abort();
    }
}

/* A copy of the GGUF at src with these metadata entries put first; a padding string entry keeps
 * the tensor data at the file's alignment (the inserted bytes are a multiple of it). */
bool gguf_with(const char *src, const char *dst, const Kv *kvs, int n) {
    Err e = {0};
    size_t len;
    char *buf = file_read_all(src, &len, 16u << 20, &e);
    if (!buf) return false;
    GgufFile *f = gguf_parse((const uint8_t *)buf, len, src, &e);
    uint32_t align = f ? f->alignment : 0;
    gguf_free(f);
    Bytes b = {0};
    for (int i = 0; i < n; i++) gfx_kv(&b, &kvs[i]);
    static const char pad_key[] = "llmscope.test.padding";
    size_t fixed = b.n + 8 + strlen(pad_key) + 4 + 8, pad = align ? (align - fixed % align) % align : 0;
    char *padv = calloc(1, pad + 1);
    memset(padv, 'x', pad);
    Kv p = {pad_key, GGUF_STRING, padv};
    gfx_kv(&b, &p);
    free(padv);
    uint64_t nkv;
    memcpy(&nkv, buf + 16, 8);
    nkv += (uint64_t)n + 1;
    FILE *o = align ? fopen(dst, "wb") : NULL;
    bool ok = o && fwrite(buf, 1, 16, o) == 16 && fwrite(&nkv, 8, 1, o) == 1 && fwrite(b.p, 1, b.n, o) == b.n &&
              fwrite(buf + 24, 1, len - 24, o) == len - 24;
    if (o) ok = fclose(o) == 0 && ok;
    free(b.p);
    free(buf);
    return ok;
}

