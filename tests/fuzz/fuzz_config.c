/* Fuzzes config_parse (model/config.c): config.json of every supported model_type mapped to a
 * ModelSpec. A spec that parses must be usable: every dimension positive, heads dividing as
 * the engine assumes, RoPE dims even, expert counts consistent. */
#include "fuzz_common.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *name = "fuzz/config.json";
    ModelSpec s;
    Err e = {0};
    if (!config_parse((const char *)data, size, name, &s, &e)) {
        fuzz_check_err(&e, name, "config_parse");
        return 0;
    }
    if (s.vocab_size <= 0 || s.d_model <= 0 || s.n_layers <= 0 || s.n_heads <= 0 || s.n_kv_heads <= 0 ||
        s.head_dim <= 0 || s.d_ff <= 0 || s.max_pos <= 0)
        fuzz_fail("non-positive dimension accepted: V=%d d=%d L=%d H=%d KV=%d hd=%d ff=%d P=%d", s.vocab_size,
                  s.d_model, s.n_layers, s.n_heads, s.n_kv_heads, s.head_dim, s.d_ff, s.max_pos);
    if (s.n_heads % s.n_kv_heads) fuzz_fail("H=%d not a multiple of KV=%d", s.n_heads, s.n_kv_heads);
    if (s.pos == POS_ROPE && (s.rotary_dim <= 0 || s.rotary_dim % 2))
        fuzz_fail("rotary_dim %d accepted", s.rotary_dim);
    if (s.pos == POS_ROPE && s.family != ARCH_DEEPSEEK && s.rotary_dim > s.head_dim)
        fuzz_fail("rotary_dim %d > head_dim %d", s.rotary_dim, s.head_dim);
    if (s.n_experts < 0 || s.n_experts_per_tok < 0 || (s.n_experts && s.n_experts_per_tok > s.n_experts))
        fuzz_fail("experts %d / per token %d accepted", s.n_experts, s.n_experts_per_tok);
    if (s.n_experts && s.moe_d_ff <= 0) fuzz_fail("moe_d_ff %d with %d experts", s.moe_d_ff, s.n_experts);
    if (s.family == ARCH_DEEPSEEK && (s.kv_lora_rank <= 0 || s.qk_rope_head_dim <= 0 || s.v_head_dim <= 0))
        fuzz_fail("MLA dims kv_lora=%d rope=%d v=%d", s.kv_lora_rank, s.qk_rope_head_dim, s.v_head_dim);
    if (s.sliding_window < 0) fuzz_fail("sliding_window %d", s.sliding_window);
    if (s.bos_id < -1 || s.eos_id < -1 || s.pad_id < -1) fuzz_fail("token ids %d %d %d", s.bos_id, s.eos_id, s.pad_id);
    if (memchr(s.model_type, 0, sizeof s.model_type) == NULL) fuzz_fail("model_type not terminated");
    volatile size_t sink = spec_kv_elems_per_token_layer(&s);
    for (int k = ATTN_MHA; k <= ATTN_MLA; k++) sink += kv_elems_as(&s, (AttnKind)k, s.n_kv_heads);
    sink += strlen(attn_kind_name(s.attn_kind)) + strlen(dtype_name(s.dtype));
    (void)sink;
    return 0;
}
