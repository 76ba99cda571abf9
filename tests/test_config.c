/* config.json variations of real checkpoints, read as transformers 5.17 reads them (each rule
 * below was checked against transformers' config classes and modules; the numeric checks are
 * the fixtures in tests/fixtures/models), and fields of the wrong type or with values the
 * engine does not compute: an error that names the field, never a silent default. */
#include <string.h>
#include "harness.h"
#include "model/model.h"

#define LLAMA "\"vocab_size\": 96, \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, " \
              "\"num_attention_heads\": 4, \"num_key_value_heads\": 2"
#define GPT2 "\"model_type\": \"gpt2\", \"vocab_size\": 96, \"n_embd\": 32, \"n_layer\": 2, \"n_head\": 4, \"n_positions\": 32"

typedef struct {
    const char *json;    /* config.json body */
    const char *err;     /* NULL: must parse; else a substring of the error */
    int window;          /* expected sliding_window when it parses (-1: not checked) */
} CfgCase;

static bool parse(const char *json, ModelSpec *s, Err *e) {
    memset(e, 0, sizeof *e);
    return config_parse(json, strlen(json), "m/config.json", s, e);
}

TEST(config_sliding_window_as_transformers) {
    static const CfgCase cases[] = {
        /* Llama has no sliding window: the field is ignored (LlamaAttention never reads it) */
        {"{\"model_type\": \"llama\", " LLAMA ", \"sliding_window\": 4}", NULL, 0},
        {"{\"model_type\": \"mistral\", " LLAMA ", \"sliding_window\": 4}", NULL, 4},
        {"{\"model_type\": \"mistral\", " LLAMA ", \"sliding_window\": null}", NULL, 0},
        {"{\"model_type\": \"mixtral\", " LLAMA ", \"sliding_window\": 6}", NULL, 6},
        /* Qwen2.5 as shipped: a window size present, use_sliding_window false */
        {"{\"model_type\": \"qwen2\", " LLAMA ", \"use_sliding_window\": false, \"sliding_window\": 32768, \"max_window_layers\": 1}", NULL, 0},
        /* on: the layers from max_window_layers on slide (default 28 >= 2 layers: none) */
        {"{\"model_type\": \"qwen2\", " LLAMA ", \"use_sliding_window\": true, \"sliding_window\": 4}", NULL, 0},
        {"{\"model_type\": \"qwen2\", " LLAMA ", \"use_sliding_window\": true, \"sliding_window\": 4, \"max_window_layers\": 0}", NULL, 4},
        {"{\"model_type\": \"qwen3\", " LLAMA ", \"use_sliding_window\": true, \"sliding_window\": 4, \"max_window_layers\": 1}",
         "sliding window in 1 of 2 layers (\"max_window_layers\")", -1},
        {"{\"model_type\": \"qwen2\", " LLAMA ", \"use_sliding_window\": true, \"sliding_window\": 4, \"max_window_layers\": 0, "
         "\"layer_types\": [\"full_attention\", \"sliding_attention\"]}", "sliding window in 1 of 2 layers (\"layer_types\")", -1},
        {"{\"model_type\": \"qwen2\", " LLAMA ", \"use_sliding_window\": true, \"sliding_window\": 4, "
         "\"layer_types\": [\"sliding_attention\", \"sliding_attention\"]}", NULL, 4},
        {"{\"model_type\": \"qwen2\", " LLAMA ", \"use_sliding_window\": true, \"sliding_window\": 4, "
         "\"layer_types\": [\"sliding_attention\", \"chunked_attention\"]}", "\"layer_types\"[1]", -1},
        {"{\"model_type\": \"qwen2\", " LLAMA ", \"use_sliding_window\": true, \"sliding_window\": 4, \"layer_types\": 3}",
         "\"layer_types\" must be a list", -1},
        {"{\"model_type\": \"qwen3_moe\", " LLAMA ", \"num_experts\": 4, \"use_sliding_window\": true, \"sliding_window\": 4}",
         "\"use_sliding_window\" = true is not supported for qwen3_moe", -1},
        {"{\"model_type\": \"qwen2\", " LLAMA ", \"use_sliding_window\": \"yes\", \"sliding_window\": 4}",
         "\"use_sliding_window\" must be true or false", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ModelSpec s;
        Err e;
        bool ok = parse(cases[i].json, &s, &e);
        if (cases[i].err) {
            CHECK_MSG(!ok && strstr(e.msg, cases[i].err) && strstr(e.msg, "m/config.json"),
                      "case %zu: wanted an error with '%s', got ok=%d '%s'", i, cases[i].err, ok, e.msg);
        } else {
            CHECK_MSG(ok, "case %zu: %s", i, e.msg);
            if (ok) CHECK_MSG(s.sliding_window == cases[i].window, "case %zu: window %d, expected %d", i, s.sliding_window, cases[i].window);
        }
    }
}

TEST(config_biases_as_transformers) {
    static const struct { const char *json; bool qkv, o, mlp; } cases[] = {
        {"{\"model_type\": \"llama\", " LLAMA ", \"attention_bias\": true, \"mlp_bias\": true}", true, true, true},
        {"{\"model_type\": \"llama\", " LLAMA "}", false, false, false},
        {"{\"model_type\": \"qwen2\", " LLAMA "}", true, false, false},
        /* Qwen2 has no attention_bias: q/k/v always, o never */
        {"{\"model_type\": \"qwen2\", " LLAMA ", \"attention_bias\": true}", true, false, false},
        {"{\"model_type\": \"qwen3\", " LLAMA ", \"attention_bias\": true, \"mlp_bias\": true}", true, true, false},
        /* Mistral's projections never have a bias */
        {"{\"model_type\": \"mistral\", " LLAMA ", \"attention_bias\": true, \"mlp_bias\": true}", false, false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ModelSpec s;
        Err e;
        bool ok = parse(cases[i].json, &s, &e);
        CHECK_MSG(ok, "case %zu: %s", i, e.msg);
        if (!ok) continue;
        CHECK_MSG(s.qkv_bias == cases[i].qkv && s.o_bias == cases[i].o && s.mlp_bias == cases[i].mlp,
                  "case %zu: qkv %d o %d mlp %d", i, s.qkv_bias, s.o_bias, s.mlp_bias);
    }
}

TEST(config_defaults_as_transformers) {
    ModelSpec s;
    Err e;
    /* Qwen3MoeConfig's default norm_topk_prob is false (Qwen3-30B-A3B's file says true) */
    REQUIRE(parse("{\"model_type\": \"qwen3_moe\", " LLAMA ", \"num_experts\": 4, \"num_experts_per_tok\": 2}", &s, &e));
    CHECK(!s.norm_topk_prob);
    REQUIRE(parse("{\"model_type\": \"qwen3_moe\", " LLAMA ", \"num_experts\": 4, \"norm_topk_prob\": true}", &s, &e));
    CHECK(s.norm_topk_prob);
    /* DeepseekV3Config: n_group 8, topk_group 4, routed_scaling_factor 2.5, first_k_dense_replace 3 */
    REQUIRE(parse("{\"model_type\": \"deepseek_v3\", " LLAMA ", \"n_routed_experts\": 16, \"num_experts_per_tok\": 2, "
                  "\"kv_lora_rank\": 16, \"qk_nope_head_dim\": 8, \"qk_rope_head_dim\": 8, \"v_head_dim\": 8}", &s, &e));
    CHECK_EQ_INT(s.n_group, 8);
    CHECK_EQ_INT(s.topk_group, 4);
    CHECK_NEAR(s.routed_scaling_factor, 2.5, 0);
    CHECK_EQ_INT(s.first_k_dense_replace, 3);
    CHECK(s.norm_topk_prob);
    /* DeepseekV2Config: greedy routing over all experts, factor 1 */
    REQUIRE(parse("{\"model_type\": \"deepseek_v2\", " LLAMA ", \"n_routed_experts\": 16, \"num_experts_per_tok\": 2, "
                  "\"kv_lora_rank\": 16, \"qk_nope_head_dim\": 8, \"qk_rope_head_dim\": 8, \"v_head_dim\": 8}", &s, &e));
    CHECK_EQ_INT(s.n_group, 1);
    CHECK_NEAR(s.routed_scaling_factor, 1.0, 0);
    CHECK_EQ_INT(s.first_k_dense_replace, 0);
    /* eos_token_id as a list, bos_token_id null (Llama 3.x) */
    REQUIRE(parse("{\"model_type\": \"llama\", " LLAMA ", \"bos_token_id\": null, \"eos_token_id\": [7, 9, 11]}", &s, &e));
    CHECK_EQ_INT(s.bos_id, -1);
    CHECK_EQ_INT(s.n_eos, 3);
    CHECK(spec_is_eos(&s, 7) && spec_is_eos(&s, 9) && spec_is_eos(&s, 11) && !spec_is_eos(&s, 8));
    /* partial_rotary_factor: transformers' Llama rotates the whole head whatever it says */
    REQUIRE(parse("{\"model_type\": \"llama\", " LLAMA ", \"partial_rotary_factor\": 0.5}", &s, &e));
    CHECK_EQ_INT(s.rotary_dim, s.head_dim);
    /* head_dim given explicitly and different from hidden/heads */
    REQUIRE(parse("{\"model_type\": \"llama\", " LLAMA ", \"head_dim\": 24}", &s, &e));
    CHECK_EQ_INT(s.head_dim, 24);
    CHECK_EQ_INT(s.rotary_dim, 24);
    /* GPT-2: scale_attn_weights false means no 1/sqrt(head_dim); reorder_and_upcast_attn is
     * the same arithmetic in float32 */
    REQUIRE(parse("{" GPT2 ", \"scale_attn_weights\": false, \"reorder_and_upcast_attn\": true}", &s, &e));
    CHECK_NEAR(s.softmax_scale, 1.0, 0);
    REQUIRE(parse("{" GPT2 "}", &s, &e));
    CHECK_NEAR(s.softmax_scale, 1.0 / sqrt(8.0), 1e-7);
    CHECK(s.tied_embeddings);
    REQUIRE(parse("{" GPT2 ", \"tie_word_embeddings\": false}", &s, &e));
    CHECK(!s.tied_embeddings);
}

TEST(config_fields_engine_cannot_compute_are_errors) {
    static const struct { const char *json, *err; } cases[] = {
        {"{" GPT2 ", \"scale_attn_by_inverse_layer_idx\": true}", "\"scale_attn_by_inverse_layer_idx\" = true is not supported"},
        {"{\"model_type\": \"smollm3\", " LLAMA "}", "\"no_rope_layers\""},
        {"{\"model_type\": \"qwen2_moe\", " LLAMA ", \"num_experts\": 4}", "qwen2_moe"},
        {"{\"model_type\": 7, " LLAMA "}", "\"model_type\" must be a string"},
        {"{\"model_type\": \"llama\", " LLAMA ", \"hidden_act\": 1}", "\"hidden_act\" must be a string"},
        {"{\"model_type\": \"llama\", " LLAMA ", \"tie_word_embeddings\": \"false\"}", "\"tie_word_embeddings\" must be true or false"},
        {"{\"model_type\": \"llama\", " LLAMA ", \"attention_bias\": [true]}", "\"attention_bias\" must be true or false"},
        {"{\"model_type\": \"llama\", " LLAMA ", \"torch_dtype\": 16}", "\"torch_dtype\" must be a string"},
        {"{\"model_type\": \"llama\", " LLAMA ", \"rope_scaling\": {\"rope_type\": 3, \"factor\": 2}}", "\"rope_type\" must be a string"},
        {"{\"model_type\": \"llama\", " LLAMA ", \"rope_scaling\": {\"rope_type\": \"longrope\", \"factor\": 2}}", "rope type \"longrope\""},
        {"{\"model_type\": \"deepseek_v3\", " LLAMA ", \"n_routed_experts\": 12, \"kv_lora_rank\": 16, \"qk_nope_head_dim\": 8, "
         "\"qk_rope_head_dim\": 8, \"v_head_dim\": 8}", "n_group 8 / topk_group 4"},
        {"{" GPT2 ", \"activation_function\": \"swiglu\"}", "activation_function \"swiglu\""},
        {"{" GPT2 ", \"scale_attn_weights\": \"no\"}", "\"scale_attn_weights\" must be true or false"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ModelSpec s;
        Err e;
        bool ok = parse(cases[i].json, &s, &e);
        CHECK_MSG(!ok && strstr(e.msg, cases[i].err) && strstr(e.msg, "m/config.json"),
                  "case %zu: wanted an error with '%s', got ok=%d '%s'", i, cases[i].err, ok, e.msg);
    }
}
