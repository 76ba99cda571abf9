/* config.json variations of real checkpoints, read as transformers 5.17 reads them (each rule
 * below was checked against transformers' config classes and modules; the numeric checks are
 * the fixtures in tests/fixtures/models), and fields of the wrong type or with values the
 * engine does not compute: an error that names the field, never a silent default. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
        /* some layers only (layer 1 here: spec_layer_window, checked below) */
        {"{\"model_type\": \"qwen3\", " LLAMA ", \"use_sliding_window\": true, \"sliding_window\": 4, \"max_window_layers\": 1}", NULL, 4},
        {"{\"model_type\": \"qwen2\", " LLAMA ", \"use_sliding_window\": true, \"sliding_window\": 4, \"max_window_layers\": 0, "
         "\"layer_types\": [\"full_attention\", \"sliding_attention\"]}", NULL, 4},
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
            /* the per-layer cases: layer 0 attends to every key, layer 1 slides */
            if (ok && cases[i].window > 0 && (strstr(cases[i].json, "\"max_window_layers\": 1") || strstr(cases[i].json, "[\"full_attention\", \"sliding")))
                CHECK_MSG(spec_layer_window(&s, 0) == 0 && spec_layer_window(&s, 1) == 4, "case %zu: layer windows %d, %d", i,
                          spec_layer_window(&s, 0), spec_layer_window(&s, 1));
            else if (ok) CHECK_MSG(spec_layer_window(&s, 0) == cases[i].window && spec_layer_window(&s, 1) == cases[i].window,
                                   "case %zu: layer windows %d, %d", i, spec_layer_window(&s, 0), spec_layer_window(&s, 1));
        }
    }
}

#define GEMMA "\"vocab_size\": 96, \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 7, " \
              "\"num_attention_heads\": 4, \"num_key_value_heads\": 1"

/* Gemma, Gemma 2 and Gemma 3 (text) as transformers' config classes and modules read them
 * (modeling_gemma*.py: Gemma3TextScaledWordEmbedding, Gemma3RMSNorm's 1 + w, layer_types, the
 * RoPE base of each layer type, query_pre_attn_scalar); the numbers are checked by the gemma*
 * fixtures. */
TEST(config_gemma_as_transformers) {
    ModelSpec s;
    Err e;
    /* Gemma-3-1B's keys (March 2025): pattern 6 by default: layer 5 global, the others slide */
    CHECK_MSG(parse("{\"model_type\": \"gemma3_text\", " GEMMA ", \"sliding_window\": 512, \"rope_theta\": 1000000, "
                    "\"rope_local_base_freq\": 10000, \"rope_scaling\": null, \"query_pre_attn_scalar\": 256, \"head_dim\": 256}", &s, &e), "%s", e.msg);
    CHECK(s.head_dim == 256 && s.embed_scale == 8.0f && s.norm_plus_one && s.sandwich_norm && s.qk_norm && s.tied_embeddings);
    CHECK(s.act == ACT_GELU_TANH && s.attn_softcap == 0 && s.final_softcap == 0);
    CHECK(s.rope_theta == 1e6f && s.rope_local_theta == 1e4f && s.rope_scaling == ROPE_SCALE_NONE);
    CHECK_MSG(s.softmax_scale == (float)(1.0 / 16.0), "scale %g", (double)s.softmax_scale);
    for (int l = 0; l < 7; l++) CHECK_MSG(spec_layer_window(&s, l) == (l == 5 ? 0 : 512), "layer %d: window %d", l, spec_layer_window(&s, l));
    /* sliding_window_pattern 2, rope_scaling linear on the full layers only, head_dim absent: 256 */
    CHECK_MSG(parse("{\"model_type\": \"gemma3_text\", " GEMMA ", \"sliding_window_pattern\": 2, \"sliding_window\": 8, "
                    "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 8.0}}", &s, &e), "%s", e.msg);
    CHECK(s.head_dim == 256 && s.rope_scaling == ROPE_SCALE_LINEAR && s.rope_factor == 8.0f && s.rope_local_theta == 1e4f);
    CHECK(spec_layer_window(&s, 0) == 8 && spec_layer_window(&s, 1) == 0 && spec_layer_window(&s, 2) == 8);
    CHECK_MSG(s.softmax_scale == (float)(1.0 / 16.0), "query_pre_attn_scalar's default 256: scale %g", (double)s.softmax_scale);
    /* transformers 5's keys: rope_parameters by layer type, layer_types */
    CHECK_MSG(parse("{\"model_type\": \"gemma3_text\", " GEMMA ", \"sliding_window\": 3, \"head_dim\": 16, "
                    "\"layer_types\": [\"full_attention\", \"sliding_attention\", \"full_attention\", \"full_attention\", "
                    "\"full_attention\", \"full_attention\", \"sliding_attention\"], \"query_pre_attn_scalar\": 20, "
                    "\"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\", \"rope_theta\": 500000.0}, "
                    "\"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 5000.0}}}", &s, &e), "%s", e.msg);
    CHECK(s.rope_theta == 5e5f && s.rope_local_theta == 5e3f && s.head_dim == 16);
    CHECK(spec_layer_window(&s, 0) == 0 && spec_layer_window(&s, 1) == 3 && spec_layer_window(&s, 6) == 3 && spec_layer_window(&s, 5) == 0);
    CHECK_MSG(s.softmax_scale == (float)pow(20.0, -0.5), "scale %g", (double)s.softmax_scale);
    /* Gemma 2: softcaps 50 / 30 unless given; null is None (no cap); even layers slide */
    CHECK_MSG(parse("{\"model_type\": \"gemma2\", " GEMMA "}", &s, &e), "%s", e.msg);
    CHECK(s.attn_softcap == 50.0f && s.final_softcap == 30.0f && s.sliding_window == 4096 && !s.qk_norm && s.rope_local_theta == 0);
    CHECK(spec_layer_window(&s, 0) == 4096 && spec_layer_window(&s, 1) == 0);
    CHECK_MSG(parse("{\"model_type\": \"gemma2\", " GEMMA ", \"attn_logit_softcapping\": null, \"final_logit_softcapping\": 15}", &s, &e), "%s", e.msg);
    CHECK(s.attn_softcap == 0 && s.final_softcap == 15.0f);
    /* Gemma 1: no sandwich norms, no window, head_dim^-0.5 */
    CHECK_MSG(parse("{\"model_type\": \"gemma\", " GEMMA ", \"head_dim\": 16, \"hidden_act\": \"gelu\"}", &s, &e), "%s", e.msg);
    CHECK(!s.sandwich_norm && s.norm_plus_one && s.embed_scale == 8.0f && s.sliding_window == 0 && s.act == ACT_GELU_TANH);
    CHECK(s.softmax_scale == 0.25f);
    /* Gemma 3 with a vision tower (Gemma-3-4B's config.json leaves out of text_config what equals
     * Gemma3TextConfig's defaults): its language model, ids from the outer config */
    CHECK_MSG(parse("{\"model_type\": \"gemma3\", \"eos_token_id\": [1, 106], \"torch_dtype\": \"bfloat16\", "
                    "\"text_config\": {\"hidden_size\": 2560, \"intermediate_size\": 10240, \"model_type\": \"gemma3_text\", "
                    "\"num_hidden_layers\": 34, \"rope_scaling\": {\"factor\": 8.0, \"rope_type\": \"linear\"}, \"sliding_window\": 1024}, "
                    "\"vision_config\": {\"hidden_size\": 1152}}", &s, &e), "%s", e.msg);
    CHECK(!strcmp(s.model_type, "gemma3") && s.d_model == 2560 && s.n_layers == 34 && s.n_heads == 8 && s.n_kv_heads == 4);
    CHECK(s.head_dim == 256 && s.vocab_size == 262208 && s.max_pos == 131072 && s.d_ff == 10240 && s.tied_embeddings);
    CHECK(s.n_eos == 2 && s.eos_ids[0] == 1 && s.eos_ids[1] == 106 && s.dtype == DT_BF16);
    CHECK(s.rope_scaling == ROPE_SCALE_LINEAR && s.rope_factor == 8.0f && s.rope_theta == 1e6f && s.rope_local_theta == 1e4f);
    CHECK(spec_layer_window(&s, 4) == 1024 && spec_layer_window(&s, 5) == 0 && s.softmax_scale == (float)(1.0 / 16.0));
    /* sliding_window_pattern 1: every layer global, so no window at all (info printed "window 512
     * in 0 of 7 layers"); a window of 0 is then harmless */
    CHECK_MSG(parse("{\"model_type\": \"gemma3_text\", " GEMMA ", \"sliding_window_pattern\": 1, \"sliding_window\": 512}", &s, &e), "%s", e.msg);
    CHECK_MSG(s.sliding_window == 0 && !s.swa_per_layer, "pattern 1: window %d, per layer %d", s.sliding_window, s.swa_per_layer);
    CHECK_MSG(parse("{\"model_type\": \"gemma3_text\", " GEMMA ", \"sliding_window_pattern\": 1, \"sliding_window\": 0}", &s, &e), "%s", e.msg);
    /* what is refused, naming the field */
    static const CfgCase bad[] = {
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"use_bidirectional_attention\": true}", "\"use_bidirectional_attention\" = true", -1},
        {"{\"model_type\": \"gemma3\", \"vision_config\": {}}", "\"gemma3\" needs a \"text_config\"", -1},
        {"{\"model_type\": \"gemma3\", \"text_config\": {\"hidden_size\": 64, \"head_dim\": 16, \"use_bidirectional_attention\": true}}",
         "\"use_bidirectional_attention\" = true", -1},
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"layer_types\": [\"full_attention\"]}", "\"layer_types\" must be a list of 7", -1},
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"query_pre_attn_scalar\": 0}", "\"query_pre_attn_scalar\" must be > 0", -1},
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"rope_parameters\": {\"full_attention\": 3}}", "\"rope_parameters\" must map", -1},
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"rope_parameters\": {\"sliding_attention\": {\"rope_type\": \"yarn\"}}}",
         "sliding_attention.rope_type \"yarn\"", -1},
        {"{\"model_type\": \"gemma2\", " GEMMA ", \"final_logit_softcapping\": -1}", "\"final_logit_softcapping\" must be > 0 or null", -1},
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"hidden_activation\": \"mish\"}", "hidden_activation \"mish\"", -1},
        /* transformers' layer_type_validation: one entry per layer, no more */
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"layer_types\": [\"full_attention\", \"full_attention\", \"full_attention\", "
         "\"full_attention\", \"full_attention\", \"full_attention\", \"full_attention\", \"sliding_attention\"]}", "\"layer_types\" must be a list of 7", -1},
        /* rope_parameters keyed by something other than the layer types, or not an object: it was
         * ignored (the defaults 1e6 / 1e4 used) */
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"rope_parameters\": {\"global\": {\"rope_theta\": 5e5}, \"local\": {\"rope_theta\": 5e3}}}",
         "\"rope_parameters\" has key \"global\"", -1},
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"rope_parameters\": {\"full_attention\": {\"rope_theta\": 5e5}, "
         "\"sliding_attention\": {\"rope_theta\": 5e3}, \"chunked_attention\": {}}}", "\"rope_parameters\" has key \"chunked_attention\"", -1},
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"rope_parameters\": [1, 2]}", "\"rope_parameters\" must be an object", -1},
        /* a scale that a float does not hold (1e-300^-0.5 = 1e150: inf, the logits NaN) or that is 0 */
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"query_pre_attn_scalar\": 1e-300}", "\"query_pre_attn_scalar\" = 1e-300", -1},
        {"{\"model_type\": \"gemma2\", " GEMMA ", \"query_pre_attn_scalar\": 1e300}", "\"query_pre_attn_scalar\" = 1e+300", -1},
        /* a cap of 0 divides by 0 in transformers (NaN); it was read as no cap */
        {"{\"model_type\": \"gemma2\", " GEMMA ", \"final_logit_softcapping\": 0}", "\"final_logit_softcapping\" must be > 0 or null", -1},
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"attn_logit_softcapping\": 0}", "\"attn_logit_softcapping\" must be > 0 or null", -1},
        /* a window of 0 keys in the sliding layers: transformers' mask lets such a query see nothing */
        {"{\"model_type\": \"gemma3_text\", " GEMMA ", \"sliding_window\": 0}", "\"sliding_window\" = 0", -1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool ok = parse(bad[i].json, &s, &e);
        CHECK_MSG(!ok && strstr(e.msg, bad[i].err) && strstr(e.msg, "m/config.json"), "case %zu: wanted '%s', got ok=%d '%s'", i, bad[i].err, ok, e.msg);
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

/* info says what Gemma 2 caps (its config.json: attn_logit_softcapping 5, final_logit_softcapping 3;
 * its GGUF twin the same keys): the caps change every score and logit, and info said nothing of them.
 * Gemma 3 (null caps) says nothing. */
TEST(info_names_gemma_softcaps) {
    if (access(test_bin(), X_OK) || access("tests/fixtures/models/gemma2/config.json", R_OK)) SKIP("needs %s and the gemma2 fixture", test_bin());
    static const struct { const char *model, *text, *json; } cases[] = {
        {"tests/fixtures/models/gemma2", "soft-capping    attention scores at 5, logits at 3", "\"softcap\": {\"attention\": 5, \"logits\": 3}"},
        {"tests/fixtures/gguf/gemma2/gemma2-BF16.gguf", "soft-capping    attention scores at 5, logits at 3", "\"softcap\": {\"attention\": 5, \"logits\": 3}"},
        {"tests/fixtures/models/gemma3", NULL, NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int json = 0; json < 2; json++) {
            char cmd[512], *out = NULL;
            snprintf(cmd, sizeof cmd, "%s info --model %s%s", test_bin(), cases[i].model, json ? " --json" : "");
            int rc = test_run(cmd, &out, 0);
            const char *want = json ? cases[i].json : cases[i].text;
            CHECK_MSG(rc == 0 && out && (want ? strstr(out, want) != NULL : strstr(out, "softcap") == NULL && strstr(out, "soft-cap") == NULL),
                      "%s%s: status %d, wanted '%s' in:\n%s", cases[i].model, json ? " --json" : "", rc, want ? want : "(none)", out ? out : "");
            free(out);
        }
    }
}
