/* The placeholder table: every live value a lesson may quote, what it needs, its argument and
 * a one-line description (docs/lessons.md lists the same; `llmscope lesson --placeholders`
 * prints this table). The values are computed in values.c; this file has no dependencies so
 * the parser (and its fuzz target) can validate names without the engine or the TUI.
 *
 * Unless noted, a value refers to the main session (A) at its cursor, selected layer and
 * selected head. "@B" reads the compare session, "@name" a reference model declared in the
 * lesson's "refs" (config-only directories give only PHN_SPEC values). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lesson/lesson.h"

static const PhSpec PH[] = {
    /* model: from the config (ModelSpec) */
    {"model.name", PHN_SPEC, PHA_NONE, "directory or file name of the model"},
    {"model.type", PHN_SPEC, PHA_NONE, "model_type from config.json (llama, qwen3, gpt2, deepseek_v3, ...)"},
    {"model.attention", PHN_SPEC, PHA_NONE, "attention kind: MHA, GQA, MQA or MLA"},
    {"model.layers", PHN_SPEC, PHA_NONE, "number of transformer blocks"},
    {"model.d_model", PHN_SPEC, PHA_NONE, "width of the residual stream"},
    {"model.heads", PHN_SPEC, PHA_NONE, "query heads per layer"},
    {"model.kv_heads", PHN_SPEC, PHA_NONE, "key/value heads per layer"},
    {"model.q_per_kv", PHN_SPEC, PHA_NONE, "query heads sharing one key/value head (heads / kv_heads)"},
    {"model.head_dim", PHN_SPEC, PHA_NONE, "dimensions per head"},
    {"model.d_ff", PHN_SPEC, PHA_NONE, "FFN hidden width"},
    {"model.ffn_ratio", PHN_SPEC, PHA_NONE, "d_ff / d_model"},
    {"model.vocab", PHN_SPEC, PHA_NONE, "vocabulary size"},
    {"model.context", PHN_SPEC, PHA_NONE, "max_position_embeddings (trained context length)"},
    {"model.norm", PHN_SPEC, PHA_NONE, "LayerNorm or RMSNorm"},
    {"model.norm_eps", PHN_SPEC, PHA_NONE, "epsilon of the norms"},
    {"model.act", PHN_SPEC, PHA_NONE, "FFN activation: SiLU, GELU, ReLU"},
    {"model.ffn", PHN_SPEC, PHA_NONE, "FFN form: SwiGLU (gated SiLU), GeGLU, or a plain GELU/ReLU MLP"},
    {"model.position", PHN_SPEC, PHA_NONE, "position encoding: RoPE or learned"},
    {"model.qk_norm", PHN_SPEC, PHA_NONE, "whether q and k are RMS-normalised per head (yes/no)"},
    {"model.tied", PHN_SPEC, PHA_NONE, "whether the unembedding is the embedding matrix (yes/no)"},
    {"model.params", PHN_SPEC, PHA_NONE, "parameter count, short (2.05M, 8.03B); counted from the config when there are no weights"},
    {"model.params_exact", PHN_SPEC, PHA_NONE, "parameter count with thousands separators"},
    {"model.active_params", PHN_SPEC, PHA_NONE, "parameters used per token (MoE: only the chosen experts), short"},
    {"model.active_share", PHN_SPEC, PHA_NONE, "active_params / params, percent"},
    {"model.experts", PHN_SPEC, PHA_NONE, "routed experts per MoE layer (0 = dense)"},
    {"model.experts_per_tok", PHN_SPEC, PHA_NONE, "experts chosen per token"},
    {"model.shared_experts", PHN_SPEC, PHA_NONE, "shared (always-on) experts"},
    {"model.expert_ff", PHN_SPEC, PHA_NONE, "hidden width of one expert"},
    {"model.moe_layers", PHN_SPEC, PHA_NONE, "number of layers with a routed MoE FFN"},
    {"model.kv_lora_rank", PHN_SPEC, PHA_NONE, "MLA: width d_c of the cached latent"},
    {"model.q_lora_rank", PHN_SPEC, PHA_NONE, "MLA: width of the query latent (0 = none)"},
    {"model.rope_head_dim", PHN_SPEC, PHA_NONE, "MLA: dims d_h^R of the shared RoPE key"},
    {"model.nope_head_dim", PHN_SPEC, PHA_NONE, "MLA: query/key dims per head without RoPE"},
    {"model.v_head_dim", PHN_SPEC, PHA_NONE, "MLA: value dims per head"},
    {"model.dtype", PHN_SPEC, PHA_NONE, "dtype of the checkpoint (BF16, F16, F32)"},

    /* RoPE */
    {"rope.theta", PHN_SPEC, PHA_NONE, "RoPE base theta"},
    {"rope.dims", PHN_SPEC, PHA_NONE, "dimensions rotated per head"},
    {"rope.pairs", PHN_SPEC, PHA_NONE, "rotating pairs per head (dims / 2)"},
    {"rope.scaling", PHN_SPEC, PHA_NONE, "rope_scaling type: none, linear, dynamic (NTK), llama3, yarn"},
    {"rope.factor", PHN_SPEC, PHA_NONE, "rope_scaling factor (1 = none)"},
    {"rope.orig_context", PHN_SPEC, PHA_NONE, "original_max_position_embeddings of the scaling (or the context)"},
    {"rope.wavelength_min", PHN_SPEC, PHA_INT_OPT, "shortest wavelength in tokens (2*pi/fastest frequency), at sequence length ARG (default: context)"},
    {"rope.wavelength_max", PHN_SPEC, PHA_INT_OPT, "longest wavelength in tokens, with the model's scaling, at sequence length ARG (default: context)"},
    {"rope.wavelength_max_unscaled", PHN_SPEC, PHA_NONE, "longest wavelength without any rope_scaling"},
    {"rope.slowest_turns", PHN_SPEC, PHA_INT, "turns (fractions of 2*pi) the slowest pair makes over ARG tokens, with scaling"},
    {"rope.slowest_turns_unscaled", PHN_SPEC, PHA_INT, "the same without rope_scaling"},
    {"rope.wl_linear", PHN_SPEC, PHA_NUM, "longest wavelength if this model's RoPE were stretched by factor ARG with linear scaling (position interpolation)"},
    {"rope.wl_ntk", PHN_SPEC, PHA_NUM, "... with dynamic NTK scaling, at ARG x the context"},
    {"rope.wl_ntk_aware", PHN_SPEC, PHA_NUM, "... with NTK-aware scaling by ARG: a fixed base theta * ARG^(d/(d-2))"},
    {"rope.mid_wl", PHN_SPEC, PHA_NONE, "wavelength in tokens of the middle rotary pair (index d/4), without scaling"},
    {"rope.mid_linear", PHN_SPEC, PHA_NUM, "the middle pair's wavelength under linear scaling by ARG"},
    {"rope.mid_ntk_aware", PHN_SPEC, PHA_NUM, "... under NTK-aware scaling by ARG"},
    {"rope.wl_llama3", PHN_SPEC, PHA_NUM, "... with Llama 3.1's llama3 scaling (low/high frequency factors 1 and 4)"},
    {"rope.wl_yarn", PHN_SPEC, PHA_NUM, "... with YaRN (beta_fast 32, beta_slow 1)"},
    {"rope.fast_linear", PHN_SPEC, PHA_NUM, "shortest wavelength (fastest pair) under linear scaling by ARG"},
    {"rope.fast_ntk", PHN_SPEC, PHA_NUM, "... under dynamic NTK scaling by ARG"},
    {"rope.fast_llama3", PHN_SPEC, PHA_NUM, "... under llama3 scaling by ARG"},
    {"rope.fast_yarn", PHN_SPEC, PHA_NUM, "... under YaRN by ARG"},
    {"rope.attn_factor", PHN_SPEC, PHA_NONE, "attention factor the scaling applies to cos/sin (YaRN; 1 otherwise)"},
    {"rope.angle_fast", PHN_TOKEN, PHA_NONE, "radians the fastest pair has turned at the cursor position"},
    {"rope.angle_slow", PHN_TOKEN, PHA_NONE, "radians the slowest pair has turned at the cursor position"},
    {"rope.q_norm", PHN_TOKEN, PHA_NONE, "|q| of the selected head before RoPE (rotated dims)"},
    {"rope.q_rot_norm", PHN_TOKEN, PHA_NONE, "|q| of the selected head after RoPE"},
    {"rope.norm_ratio", PHN_TOKEN, PHA_NONE, "|q after RoPE| / |q before| (a rotation keeps length: 1.000)"},

    /* KV cache: formulas (DeepSeek-V2 Table 1) from the config */
    {"kv.elems_layer", PHN_SPEC, PHA_NONE, "elements cached per token per layer"},
    {"kv.elems", PHN_SPEC, PHA_NONE, "elements cached per token, all layers"},
    {"kv.formula", PHN_SPEC, PHA_NONE, "the formula of the model's own attention with its numbers"},
    {"kv.dtype_bytes", PHN_SPEC, PHA_NONE, "bytes per element in the checkpoint's dtype"},
    {"kv.bytes_per_token", PHN_SPEC, PHA_NONE, "bytes per token, all layers, in the checkpoint's dtype (as `llmscope info`)"},
    {"kv.bytes_per_token_h", PHN_SPEC, PHA_NONE, "the same, human readable (KiB/MiB)"},
    {"kv.bytes_at", PHN_SPEC, PHA_INT_OPT, "cache bytes for ARG tokens (default: the context), human readable"},
    {"kv.as_mha", PHN_SPEC, PHA_NONE, "elements per token per layer if the attention were MHA"},
    {"kv.as_gqa", PHN_SPEC, PHA_NONE, "... if GQA (the model's groups, or n_h/4 when it is not GQA)"},
    {"kv.as_mqa", PHN_SPEC, PHA_NONE, "... if MQA"},
    {"kv.as_mla", PHN_SPEC, PHA_NONE, "... if MLA (the model's d_c + d_h^R, or DeepSeek-V2's 4*d_h + d_h/2)"},
    {"kv.formula_mha", PHN_SPEC, PHA_NONE, "the MHA formula with this model's numbers"},
    {"kv.formula_gqa", PHN_SPEC, PHA_NONE, "the GQA formula with this model's numbers"},
    {"kv.formula_mqa", PHN_SPEC, PHA_NONE, "the MQA formula with this model's numbers"},
    {"kv.formula_mla", PHN_SPEC, PHA_NONE, "the MLA formula with this model's numbers"},
    {"kv.mha_bytes_per_token", PHN_SPEC, PHA_NONE, "bytes per token, all layers, if it were MHA (checkpoint dtype)"},
    {"kv.saving_vs_mha", PHN_SPEC, PHA_NONE, "how many times smaller the cache is than MHA's (e.g. 4.0)"},
    {"kv.no_cache_tokens", PHN_SPEC, PHA_INT, "token-forwards to generate ARG tokens without a cache: 1+2+...+ARG"},
    {"kv.engine_bytes_per_token", PHN_SESSION, PHA_NONE, "bytes the engine's float32 cache grows per token (measured)"},
    {"kv.bytes_total", PHN_TOKEN, PHA_NONE, "bytes held in the engine's cache at the cursor (trace), human readable"},
    {"kv.bytes_total_exact", PHN_TOKEN, PHA_NONE, "the same in bytes"},
    {"kv.grew", PHN_TOKEN, PHA_NONE, "bytes the cache grew when the cursor token was appended (trace)"},
    {"kv.tokens", PHN_TOKEN, PHA_NONE, "tokens in the cache at the cursor"},

    /* tokens and the sequence */
    {"prompt.text", PHN_SESSION, PHA_NONE, "the prompt"},
    {"prompt.tokens", PHN_SESSION, PHA_NONE, "tokens in the prompt (with BOS)"},
    {"prompt.chars", PHN_SESSION, PHA_NONE, "characters (bytes) in the prompt"},
    {"seq.len", PHN_TOKEN, PHA_NONE, "tokens computed so far"},
    {"token.text", PHN_TOKEN, PHA_NONE, "text of the token at the cursor"},
    {"token.id", PHN_TOKEN, PHA_NONE, "id of the token at the cursor"},
    {"token.pos", PHN_TOKEN, PHA_NONE, "position of the cursor"},
    {"token.phase", PHN_TOKEN, PHA_NONE, "prefill or decode"},
    {"token.forward", PHN_TOKEN, PHA_NONE, "which forward call computed the cursor token, counted from the prompt's prefill (= 1)"},
    {"token.next", PHN_TOKEN, PHA_NONE, "text of the token chosen after the cursor"},
    {"token.at", PHN_TOKEN, PHA_INT, "text of the token at position ARG (negative: from the end)"},
    {"tokens.prefill", PHN_TOKEN, PHA_NONE, "tokens computed by the prefill"},
    {"tokens.decoded", PHN_TOKEN, PHA_NONE, "tokens computed one at a time by decode steps"},

    /* attention (selected layer and head, query = cursor) */
    {"attn.layer", PHN_SESSION, PHA_NONE, "selected layer"},
    {"attn.head", PHN_SESSION, PHA_NONE, "selected head"},
    {"attn.kv_head", PHN_SESSION, PHA_NONE, "the key/value head the selected query head reads"},
    {"attn.keys", PHN_TOKEN, PHA_NONE, "keys the query may attend to (cursor + 1)"},
    {"attn.masked", PHN_TOKEN, PHA_NONE, "computed tokens hidden from the query by the causal mask"},
    {"attn.max_key", PHN_TOKEN, PHA_NONE, "position of the key with the largest weight"},
    {"attn.max_key_text", PHN_TOKEN, PHA_NONE, "text of that key"},
    {"attn.max_weight", PHN_TOKEN, PHA_NONE, "its weight, percent"},
    {"attn.self_weight", PHN_TOKEN, PHA_NONE, "weight of the query on itself, percent"},
    {"attn.first_weight", PHN_TOKEN, PHA_NONE, "weight on position 0 (BOS), percent"},
    {"attn.sel_weight", PHN_TOKEN, PHA_NONE, "weight on the selected key column, percent"},
    {"attn.entropy", PHN_TOKEN, PHA_NONE, "entropy of the attention row, bits"},
    {"attn.entropy_max", PHN_TOKEN, PHA_NONE, "entropy of a uniform row over the same keys, bits"},
    {"attn.scale", PHN_SPEC, PHA_NONE, "the score scale 1/sqrt(d_k) (or the model's softmax_scale)"},
    {"attn.score_max", PHN_TOKEN, PHA_NONE, "largest scaled score q.k/sqrt(d) of the row"},
    {"attn.score_min", PHN_TOKEN, PHA_NONE, "smallest scaled score of the row"},
    {"attn.distinct_heads", PHN_TOKEN, PHA_NONE, "distinct most-attended keys among the layer's heads"},
    {"attn.head_max_key", PHN_TOKEN, PHA_INT, "most-attended key position of head ARG"},
    {"attn.head_max_key_text", PHN_TOKEN, PHA_INT, "its text"},
    {"attn.prev_heads", PHN_TOKEN, PHA_NONE, "heads (all layers) whose strongest key is the previous token"},
    {"attn.bos_heads", PHN_TOKEN, PHA_NONE, "heads (all layers) whose strongest key is position 0"},
    {"attn.visible_pairs", PHN_TOKEN, PHA_NONE, "query-key pairs the causal mask allows over the computed tokens: n(n+1)/2"},
    {"attn.hidden_pairs", PHN_TOKEN, PHA_NONE, "pairs it hides: n(n-1)/2 (a bidirectional encoder sees all n*n)"},
    {"attn.all_pairs", PHN_TOKEN, PHA_NONE, "n*n: every pair, as an encoder without a mask computes"},
    {"attn.total_heads", PHN_SPEC, PHA_NONE, "layers x heads"},

    /* residual stream and logit lens */
    {"resid.norm", PHN_TOKEN, PHA_NONE, "|residual| entering the selected layer"},
    {"resid.norm_first", PHN_TOKEN, PHA_NONE, "|residual| entering layer 0 (the embedding)"},
    {"resid.norm_final", PHN_TOKEN, PHA_NONE, "|residual| after the last layer"},
    {"resid.growth", PHN_TOKEN, PHA_NONE, "norm_final / norm_first"},
    {"resid.attn_out", PHN_TOKEN, PHA_NONE, "|attention output| the selected layer adds"},
    {"resid.mlp_out", PHN_TOKEN, PHA_NONE, "|FFN output| the selected layer adds"},
    {"resid.cos_next", PHN_TOKEN, PHA_NONE, "cos(residual before, after) the selected layer"},
    {"resid.cos_first_last", PHN_TOKEN, PHA_NONE, "cos(embedding, final residual)"},
    {"lens.top1", PHN_TOKEN, PHA_NONE, "logit-lens top token read from the residual entering the selected layer"},
    {"lens.top1_prob", PHN_TOKEN, PHA_NONE, "its probability, percent"},
    {"lens.settle_layer", PHN_TOKEN, PHA_NONE, "first layer whose input already predicts the final top token"},

    /* norms (ln1 of the selected layer at the cursor) */
    {"norm.mean", PHN_TOKEN, PHA_NONE, "mean of the norm's input"},
    {"norm.std", PHN_TOKEN, PHA_NONE, "standard deviation of the input"},
    {"norm.rms", PHN_TOKEN, PHA_NONE, "RMS of the input"},
    {"norm.min", PHN_TOKEN, PHA_NONE, "smallest input element"},
    {"norm.max", PHN_TOKEN, PHA_NONE, "largest input element"},
    {"norm.out_mean", PHN_TOKEN, PHA_NONE, "mean of the output (after gamma/beta)"},
    {"norm.out_std", PHN_TOKEN, PHA_NONE, "standard deviation of the output"},
    {"norm.out_rms", PHN_TOKEN, PHA_NONE, "RMS of the output"},
    {"norm.rms_min", PHN_TOKEN, PHA_NONE, "smallest input RMS over all computed tokens (this layer)"},
    {"norm.rms_max", PHN_TOKEN, PHA_NONE, "largest input RMS over all computed tokens"},
    {"norm.rms_spread", PHN_TOKEN, PHA_NONE, "rms_max / rms_min"},
    {"norm.final_rms", PHN_TOKEN, PHA_NONE, "RMS entering the final norm"},

    /* FFN (selected layer) */
    {"ffn.width", PHN_SPEC, PHA_NONE, "hidden width of the selected layer's FFN"},
    {"ffn.small", PHN_TOKEN, PHA_NONE, "activations below 10% of the largest magnitude, percent"},
    {"ffn.negative", PHN_TOKEN, PHA_NONE, "negative activations, percent"},
    {"ffn.zero", PHN_TOKEN, PHA_NONE, "activations exactly zero, percent"},
    {"ffn.top10_mass", PHN_TOKEN, PHA_NONE, "share of total |activation| carried by the top 10% of neurons, percent"},
    {"ffn.top_neuron", PHN_TOKEN, PHA_NONE, "index of the neuron with the largest |activation|"},
    {"ffn.top_value", PHN_TOKEN, PHA_NONE, "its activation"},

    /* MoE (selected layer) */
    {"moe.top_expert", PHN_TOKEN, PHA_NONE, "expert with the largest routing weight for the cursor token"},
    {"moe.top_weight", PHN_TOKEN, PHA_NONE, "its weight, percent"},
    {"moe.chosen", PHN_TOKEN, PHA_NONE, "the experts chosen for the cursor token"},
    {"moe.load_max", PHN_TOKEN, PHA_NONE, "tokens routed to the busiest expert (this layer, all computed tokens)"},
    {"moe.load_min", PHN_TOKEN, PHA_NONE, "tokens routed to the least used expert"},
    {"moe.busiest", PHN_TOKEN, PHA_NONE, "the busiest expert"},
    {"moe.idle", PHN_TOKEN, PHA_NONE, "experts that received no token"},
    {"moe.fair_load", PHN_TOKEN, PHA_NONE, "tokens per expert if the load were even (tokens x k / experts)"},

    /* logits and sampling (cursor position) */
    {"logits.top1", PHN_TOKEN, PHA_NONE, "most likely next token"},
    {"logits.top1_prob", PHN_TOKEN, PHA_NONE, "its probability, percent"},
    {"logits.top1_logit", PHN_TOKEN, PHA_NONE, "its logit"},
    {"logits.top2", PHN_TOKEN, PHA_NONE, "second most likely next token"},
    {"logits.top2_prob", PHN_TOKEN, PHA_NONE, "its probability, percent"},
    {"logits.top3", PHN_TOKEN, PHA_NONE, "third"},
    {"logits.top3_prob", PHN_TOKEN, PHA_NONE, "its probability, percent"},
    {"logits.top5_mass", PHN_TOKEN, PHA_NONE, "probability mass of the five most likely tokens, percent"},
    {"sample.top1_prob_at", PHN_TOKEN, PHA_NUM, "probability of the top token at temperature ARG, percent (exact: all logits recomputed from the final residual)"},
    {"sample.topp_count", PHN_TOKEN, PHA_NUM, "tokens kept by top-p = ARG (temperature 1, whole vocabulary)"},
    {"sample.topk_mass", PHN_TOKEN, PHA_INT, "probability mass of the top ARG tokens (temperature 1), percent"},

    /* embeddings and positions */
    {"embed.norm", PHN_TOKEN, PHA_NONE, "|embedding| of the cursor token"},
    {"embed.cos", PHN_TOKEN, PHA_INT2, "cos(embedding at position i, at position j) (negative: from the end)"},
    {"embed.nearest", PHN_TOKEN, PHA_NONE, "the vocabulary token whose embedding is closest (cosine) to the cursor token's"},
    {"embed.nearest_cos", PHN_TOKEN, PHA_NONE, "that cosine"},
    {"embed.pca_explained", PHN_TOKEN, PHA_NONE, "variance of the computed tokens' embeddings on the 2-D PCA map, percent"},
    {"pos.learned", PHN_SPEC, PHA_NONE, "yes if the model adds learned position vectors"},
    {"pos.cos_tok_pos", PHN_TOKEN, PHA_NONE, "cos(token embedding, position embedding) at the cursor (learned positions)"},
    {"pos.mean_abs_cos", PHN_TOKEN, PHA_NONE, "mean |cos(token, position)| over the computed tokens (learned positions)"},
    {"pos.keep", PHN_TOKEN, PHA_NONE, "cos(token embedding, token + position) at the cursor: how much of the token's direction survives"},
    {"pos.pos_norm", PHN_TOKEN, PHA_NONE, "|position embedding| at the cursor"},
    {"pos.random_cos", PHN_SPEC, PHA_NONE, "typical |cos| of two random directions in d_model dims: sqrt(2/(pi d))"},
    {"pos.sin_cos", PHN_TOKEN, PHA_INT, "cos(sinusoidal PE at the cursor, at cursor + ARG), d_model dims, base 10000"},

    /* measured loss (the program runs the model over assets/models/eval.txt) */
    {"eval.loss", PHN_WEIGHTS, PHA_NONE, "cross-entropy on assets/models/eval.txt, nats per token"},
    {"eval.ppl", PHN_WEIGHTS, PHA_NONE, "perplexity exp(loss) on the same text"},
    {"eval.tokens", PHN_WEIGHTS, PHA_NONE, "tokens scored"},
};

const PhSpec *lesson_ph_table(int *n) {
    if (n) *n = (int)(sizeof PH / sizeof PH[0]);
    return PH;
}

const PhSpec *lesson_ph_find(const char *name) {
    for (size_t i = 0; i < sizeof PH / sizeof PH[0]; i++)
        if (!strcmp(PH[i].name, name)) return &PH[i];
    return NULL;
}

static bool parse_int_str(const char *s, long *v) {
    if (!*s) return false;
    char *end;
    long x = strtol(s, &end, 10);
    if (*end) return false;
    if (x < -1000000000L || x > 1000000000L) return false;
    *v = x;
    return true;
}

static bool parse_num_str(const char *s) {
    if (!*s) return false;
    char *end;
    double x = strtod(s, &end);
    return !*end && x == x && x > -1e9 && x < 1e9;
}

bool lesson_ph_validate(const LessonPh *ph, const Lesson *l, Err *e) {
    const PhSpec *sp = lesson_ph_find(ph->key);
    if (!sp) return err_set(e, ERR_FORMAT, "unknown placeholder {%s} (llmscope lesson --placeholders lists them)", ph->key);
    long v;
    switch (sp->arg) {
    case PHA_NONE:
        if (ph->arg[0]) return err_set(e, ERR_FORMAT, "placeholder {%s} takes no argument (got \":%s\")", ph->key, ph->arg);
        break;
    case PHA_INT_OPT:
        if (ph->arg[0] && !parse_int_str(ph->arg, &v))
            return err_set(e, ERR_FORMAT, "placeholder {%s:%s}: the argument must be an integer", ph->key, ph->arg);
        break;
    case PHA_INT:
        if (!parse_int_str(ph->arg, &v))
            return err_set(e, ERR_FORMAT, "placeholder {%s}: needs an integer argument, like {%s:4}", ph->key, ph->key);
        break;
    case PHA_NUM:
        if (!parse_num_str(ph->arg))
            return err_set(e, ERR_FORMAT, "placeholder {%s}: needs a number argument, like {%s:0.7}", ph->key, ph->key);
        break;
    case PHA_INT2: {
        char a[48];
        snprintf(a, sizeof a, "%s", ph->arg);
        char *comma = strchr(a, ',');
        if (!comma) return err_set(e, ERR_FORMAT, "placeholder {%s}: needs two positions, like {%s:1,2}", ph->key, ph->key);
        *comma = 0;
        if (!parse_int_str(a, &v) || !parse_int_str(comma + 1, &v))
            return err_set(e, ERR_FORMAT, "placeholder {%s:%s}: both positions must be integers", ph->key, ph->arg);
        break;
    }
    }
    if (ph->ref[0] && strcmp(ph->ref, "A") && strcmp(ph->ref, "B")) {
        if (l) {
            bool found = false;
            for (int i = 0; i < l->n_refs; i++)
                if (!strcmp(l->refs[i].name, ph->ref)) found = true;
            if (!found) return err_set(e, ERR_FORMAT, "placeholder {%s@%s}: \"%s\" is not declared in \"refs\"", ph->key, ph->ref, ph->ref);
        }
        if (sp->need == PHN_SESSION || sp->need == PHN_TOKEN)
            return err_set(e, ERR_FORMAT, "placeholder {%s@%s}: %s needs a running model; a ref only gives its config%s",
                           ph->key, ph->ref, ph->key, sp->need == PHN_TOKEN ? " (use @B for the compare session)" : "");
    }
    return true;
}
