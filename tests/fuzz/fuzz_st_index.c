/* Fuzzes the sharded-safetensors path: the input is written as model.safetensors.index.json
 * into a scratch directory that holds two valid shards (a.safetensors: "a.w", "a.b";
 * b.safetensors: "b.w"), then tensorset_open_dir() reads it (JSON, weight_map, shard names,
 * path traversal, missing or misplaced tensors, duplicates across shards). */
#include "fuzz_common.h"
#include "model/tensorfile.h"

static void put_shard(const char *dir, const char *name, const char *json, size_t data_len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t hl = strlen(json);
    uint8_t *b = calloc(1, 8 + hl + data_len);
    if (!b) abort();
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, json, hl);
    fuzz_write(path, b, 8 + hl + data_len);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    const char *dir = fuzz_tmpdir();
    if (!init) {
        put_shard(dir, "a.safetensors", "{\"a.w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                  "\"a.b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[16,20]}}", 20);
        put_shard(dir, "b.safetensors", "{\"b.w\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                  "\"__metadata__\":{\"format\":\"pt\"}}", 6);
        put_shard(dir, "c.safetensors", "{\"a.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        init = 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    fuzz_write(path, data, size);
    Err e = {0};
    TensorSet *s = tensorset_open_dir(dir, &e);
    if (!s) {
        fuzz_check_err(&e, dir, "tensorset_open_dir");
        return 0;
    }
    int n = tensorset_count(s);
    for (int i = 0; i < n; i++) {
        const TensorInfo *t = tensorset_at(s, i);
        if (!t || tensorset_find(s, t->name) != t) fuzz_fail("index lookup of tensor %d failed", i);
        fuzz_touch(t->data, t->nbytes);
    }
    Mapped **maps = NULL;
    int nm = 0;
    if (size && (data[0] & 1) && tensorset_take_maps(s, &maps, &nm, &e)) {
        for (int i = 0; i < nm; i++) mapped_close(maps[i]);
        free(maps);
    }
    tensorset_free(s);
    return 0;
}
