/* KV-cache rounding (see kvround.h). */
#include "engine/kvround.h"
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include "core/dtype.h"
#include "engine/quant.h"

static const struct { const char *name; DType t; } k_types[] = {
    {"f32", DT_F32}, {"f16", DT_F16}, {"bf16", DT_BF16}, {"q8_0", DT_Q8_0}, {"q4_0", DT_Q4_0}};

bool kv_round_supported(DType t) {
    for (size_t i = 0; i < sizeof k_types / sizeof *k_types; i++) if (k_types[i].t == t) return true;
    return false;
}

bool kv_round_parse(const char *name, DType *out) {
    for (size_t i = 0; name && i < sizeof k_types / sizeof *k_types; i++)
        if (!strcasecmp(name, k_types[i].name)) { *out = k_types[i].t; return true; }
    return false;
}

const char *kv_round_name(DType t) {
    for (size_t i = 0; i < sizeof k_types / sizeof *k_types; i++) if (k_types[i].t == t) return k_types[i].name;
    return "?";
}

static float round_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) u |= 0x400000u;   /* NaN stays a (quiet) NaN */
    else u += 0x7fffu + ((u >> 16) & 1u);                                     /* nearest, ties to even */
    u &= 0xffff0000u;
    memcpy(&f, &u, 4);
    return f;
}

void kv_round_vec(DType t, float *x, int n) {
    if (t == DT_F16) { for (int i = 0; i < n; i++) x[i] = f16_to_f32(f32_to_f16(x[i])); return; }
    if (t == DT_BF16) { for (int i = 0; i < n; i++) x[i] = round_bf16(x[i]); return; }
    if (t != DT_Q8_0 && t != DT_Q4_0) return;
    enum { QK = 32 };
    unsigned char blk[64];              /* one block: Q8_0 34 bytes, Q4_0 18 */
    float buf[QK];
    for (int i0 = 0; i0 < n; i0 += QK) {
        const int m = n - i0 < QK ? n - i0 : QK;
        memcpy(buf, x + i0, sizeof(float) * (size_t)m);
        if (m < QK) memset(buf + m, 0, sizeof(float) * (size_t)(QK - m));
        quant_quantize(t, buf, QK, blk);
        quant_dequant(t, blk, 1, buf);
        memcpy(x + i0, buf, sizeof(float) * (size_t)m);
    }
}
