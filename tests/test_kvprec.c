/* KV-cache what-if precision (analysis/kvcalc.h, KV panel key p): bytes at f32 / bf16 / fp8 / int4. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "analysis/kvcalc.h"

TEST(kv_precision_bytes_per_element) {
    CHECK_EQ_INT(kv_prec_bits(KVP_F32), 32);
    CHECK_EQ_INT(kv_prec_bits(KVP_BF16), 16);
    CHECK_EQ_INT(kv_prec_bits(KVP_FP8), 8);
    CHECK_EQ_INT(kv_prec_bits(KVP_INT4), 4);
    CHECK_STR(kv_prec_name(KVP_INT4), "int4");
    /* story-gqa: 96 elements per token and layer, 6 layers: 2,304 B/token in f32 ... 288 B in int4 */
    CHECK_NEAR(kv_bytes_bits(96, 6, 1, 32), 2304.0, 0);
    CHECK_NEAR(kv_bytes_bits(96, 6, 1, 16), 1152.0, 0);
    CHECK_NEAR(kv_bytes_bits(96, 6, 1, 8), 576.0, 0);
    CHECK_NEAR(kv_bytes_bits(96, 6, 1, 4), 288.0, 0);
    /* the f32 path agrees with kv_bytes at 4 bytes per element; an odd count of int4 elements is half bytes */
    CHECK_NEAR(kv_bytes_bits(108, 61, 4096, 32), kv_bytes(108, 61, 4096, 4), 0);
    CHECK_NEAR(kv_bytes_bits(3, 1, 1, 4), 1.5, 0);
}

TEST(kv_panel_cycles_the_precision_with_p) {
    if (!file_exists("assets/models/story-gqa/model.safetensors")) SKIP("bundled models missing");
    const char *want[] = {"f32", "bf16", "fp8", "int4", "f32"};
    /* MHA row, B/token column, at each precision (384 elems x 6 layers) */
    const char *mha[] = {"9.00 KiB", "4.50 KiB", "2.25 KiB", "1.12 KiB", "9.00 KiB"};
    for (int k = 0; k < 5; k++) {
        char cmd[512], keys[8] = "", *out = NULL;
        for (int i = 0; i < k; i++) strcat(keys, "p");
        snprintf(cmd, sizeof cmd, "%s screenshot --model assets/models/story-gqa --panel kv --prompt \"Once upon a time\" "
                 "--size 100x30 --ascii%s%s", test_bin(), k ? " --keys " : "", keys);
        CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
        char col[64];
        snprintf(col, sizeof col, "B/tok %s", want[k]);
        CHECK_MSG(out && (strstr(out, want[k]) && strstr(out, col)), "precision %s not shown:\n%s", want[k], out ? out : "");
        const char *row = out ? strstr(out, "MHA ") : NULL;
        CHECK_MSG(row && strstr(row, mha[k]) && (size_t)(strstr(row, mha[k]) - row) < 90, "MHA bytes at %s: want %s", want[k], mha[k]);
        free(out);
    }
}
