/* Fuzzes safetensors_parse (model/safetensors.c) on arbitrary bytes: the u64 header length,
 * the header JSON (dtype, shape, data_offsets, __metadata__), overlap and range checks. */
#include "fuzz_common.h"
#include "model/tensorfile.h"

static unsigned bits_of(const char *dt) {
    if (!strcmp(dt, "F64") || !strcmp(dt, "I64") || !strcmp(dt, "U64") || !strcmp(dt, "C64")) return 64;
    if (!strcmp(dt, "F32") || !strcmp(dt, "I32") || !strcmp(dt, "U32")) return 32;
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16") || !strcmp(dt, "I16") || !strcmp(dt, "U16")) return 16;
    if (!strcmp(dt, "F6_E2M3") || !strcmp(dt, "F6_E3M2")) return 6;
    if (!strcmp(dt, "F4")) return 4;
    return 8;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *fname = "fuzz.safetensors";
    TensorInfo *ts = NULL;
    int n = -1;
    Err e = {0};
    if (!safetensors_parse(data, size, fname, &ts, &n, &e)) {
        fuzz_check_err(&e, fname, "safetensors_parse");
        if (ts || n != 0) fuzz_fail("failed parse left output behind");
        return 0;
    }
    if (n < 0 || (n > 0 && !ts)) fuzz_fail("bad count %d", n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | data[i];
    size_t data_start = 8 + (size_t)hlen;
    for (int i = 0; i < n; i++) {
        const TensorInfo *t = &ts[i];
        if (t->offset < data_start || t->offset > size || t->nbytes > size - t->offset)
            fuzz_fail("tensor '%s' [%zu, +%zu) outside the %zu-byte buffer", t->name, t->offset, t->nbytes, size);
        if ((const uint8_t *)t->data != data + t->offset) fuzz_fail("tensor '%s' data pointer mismatch", t->name);
        if (t->ndim < 0 || t->ndim > TENSOR_MAX_DIMS) fuzz_fail("tensor '%s' ndim %d", t->name, t->ndim);
        int64_t numel = tensorinfo_numel(t);
        if (numel < 0) fuzz_fail("tensor '%s' negative numel", t->name);
        if ((uint64_t)numel * bits_of(t->dtype_str) / 8 != t->nbytes)
            fuzz_fail("tensor '%s' numel %lld x %s != %zu bytes", t->name, (long long)numel, t->dtype_str, t->nbytes);
        if (t->supported && t->dtype != DT_F32 && t->dtype != DT_F16 && t->dtype != DT_BF16)
            fuzz_fail("tensor '%s' supported with dtype %d", t->name, (int)t->dtype);
        fuzz_touch(t->data, t->nbytes);
        /* pairwise overlap (n is small for fuzz inputs) */
        for (int j = 0; j < i && n <= 256; j++) {
            const TensorInfo *u = &ts[j];
            if (t->nbytes && u->nbytes && t->offset < u->offset + u->nbytes && u->offset < t->offset + t->nbytes)
                fuzz_fail("tensors '%s' and '%s' overlap but were accepted", t->name, u->name);
            if (!strcmp(t->name, u->name)) fuzz_fail("duplicate name '%s' accepted", t->name);
        }
    }
    free(ts);
    return 0;
}
