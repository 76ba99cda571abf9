/* config.json -> ModelSpec, for every supported model_type.
 *
 * Accepts the older rope keys (`rope_theta` + `rope_scaling` {type|rope_type, factor, ...})
 * and the newer `rope_parameters` {rope_type, rope_theta, factor, ...}; `torch_dtype` or
 * `dtype`. Every dimension is checked (positive, within caps, heads dividing widths) so a
 * bad file ends in a message naming the file and the field, never in a crash later.
 */
#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "model/model.h"

#define CAP_DIM (1 << 20)
#define CAP_LAYERS 1024
#define CAP_VOCAB (1 << 24)
#define CAP_POS (1 << 24)

size_t dtype_size(DType t) { return t == DT_F32 ? 4 : 2; }

static const struct { const char *name; int block, bytes; } k_dtype_info[DT_COUNT] = {
    [DT_F32] = {"F32", 1, 4},     [DT_F16] = {"F16", 1, 2},     [DT_BF16] = {"BF16", 1, 2},
    [DT_Q4_0] = {"Q4_0", 32, 18}, [DT_Q4_1] = {"Q4_1", 32, 20}, [DT_Q5_0] = {"Q5_0", 32, 22},
    [DT_Q5_1] = {"Q5_1", 32, 24}, [DT_Q8_0] = {"Q8_0", 32, 34}, [DT_Q2_K] = {"Q2_K", 256, 84},
    [DT_Q3_K] = {"Q3_K", 256, 110}, [DT_Q4_K] = {"Q4_K", 256, 144}, [DT_Q5_K] = {"Q5_K", 256, 176},
    [DT_Q6_K] = {"Q6_K", 256, 210}, [DT_Q8_K] = {"Q8_K", 256, 292},
    [DT_IQ4_NL] = {"IQ4_NL", 32, 18}, [DT_IQ4_XS] = {"IQ4_XS", 256, 136},
};
const char *dtype_name(DType t) { return (unsigned)t < DT_COUNT ? k_dtype_info[t].name : "?"; }
int dtype_block(DType t) { return (unsigned)t < DT_COUNT ? k_dtype_info[t].block : 1; }
int dtype_block_bytes(DType t) { return (unsigned)t < DT_COUNT ? k_dtype_info[t].bytes : 4; }
const char *attn_kind_name(AttnKind k) {
    static const char *n[] = {"MHA", "GQA", "MQA", "MLA"};
    return (unsigned)k < 4 ? n[k] : "?";
}

typedef struct { const cJSON *root; const char *file; Err *e; bool bad; } Cfg;

static const cJSON *cfg_get(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return (v && !cJSON_IsNull(v)) ? v : NULL;
}

/* Integer field: absent -> dflt; present but not a whole number in [lo, hi] -> error. */
static int cfg_int(Cfg *c, const cJSON *o, const char *k, int dflt, long long lo, long long hi) {
    const cJSON *v = cfg_get(o, k);
    if (!v) return dflt;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
        if (!c->bad) {
            if (cJSON_IsNumber(v))
                err_set(c->e, ERR_FORMAT, "%s: field \"%s\" = %g is out of range (expected an integer in [%lld, %lld])",
                        c->file, k, v->valuedouble, lo, hi);
            else
                err_set(c->e, ERR_FORMAT, "%s: field \"%s\" must be an integer", c->file, k);
        }
        c->bad = true;
        return dflt;
    }
    return (int)v->valuedouble;
}

static double cfg_num(Cfg *c, const cJSON *o, const char *k, double dflt) {
    const cJSON *v = cfg_get(o, k);
    if (!v) return dflt;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        if (!c->bad) err_set(c->e, ERR_FORMAT, "%s: field \"%s\" must be a finite number", c->file, k);
        c->bad = true;
        return dflt;
    }
    return v->valuedouble;
}

/* A norm's epsilon: a finite number >= 0 that a float holds. A negative one made every norm of a
 * row whose mean square is below it NaN (rms_norm_eps -1: the logits NaN), 1e300 became inf. */
static double cfg_eps(Cfg *c, const cJSON *o, const char *k, double dflt) {
    double x = cfg_num(c, o, k, dflt);
    if (!(x >= 0 && x <= FLT_MAX)) {
        if (!c->bad) err_set(c->e, ERR_FORMAT, "%s: field \"%s\" = %g is out of range (expected a number from 0 to %g)", c->file, k, x, (double)FLT_MAX);
        c->bad = true;
        return dflt;
    }
    return x;
}

/* Boolean field: true/false (or a number, nonzero = true); anything else is an error
 * rather than a silent default (a string "false" would otherwise read as the default). */
static bool cfg_bool(Cfg *c, const cJSON *o, const char *k, bool dflt) {
    const cJSON *v = cfg_get(o, k);
    if (!v) return dflt;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    if (!c->bad) err_set(c->e, ERR_FORMAT, "%s: field \"%s\" must be true or false", c->file, k);
    c->bad = true;
    return dflt;
}

/* String field: absent or null -> NULL; present but not a string -> error. */
static const char *cfg_str(Cfg *c, const cJSON *o, const char *k) {
    const cJSON *v = cfg_get(o, k);
    if (!v) return NULL;
    if (cJSON_IsString(v)) return v->valuestring;
    if (!c->bad) err_set(c->e, ERR_FORMAT, "%s: field \"%s\" must be a string", c->file, k);
    c->bad = true;
    return NULL;
}

/* bos/eos may be an int or a list of ints (first is used). */
static int cfg_token_id(const cJSON *o, const char *k) {
    const cJSON *v = cfg_get(o, k);
    if (cJSON_IsArray(v)) v = cJSON_GetArrayItem(v, 0);
    /* (int) of a double outside int's range is undefined: such an id is "unknown" */
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 2147483647.0) return (int)v->valuedouble;
    return -1;
}

bool spec_is_eos(const ModelSpec *s, int id) {
    for (int i = 0; i < s->n_eos; i++)
        if (s->eos_ids[i] == id) return true;
    return false;
}

void spec_add_eos(ModelSpec *s, int id) {
    if (id < 0 || spec_is_eos(s, id) || s->n_eos >= (int)(sizeof s->eos_ids / sizeof s->eos_ids[0])) return;
    s->eos_ids[s->n_eos++] = id;
    s->eos_id = s->eos_ids[0];
}

/* eos_token_id: an int or a list of ints, every one kept. */
static void cfg_eos_ids(const cJSON *o, ModelSpec *s) {
    const cJSON *v = cfg_get(o, "eos_token_id");
    if (cJSON_IsArray(v)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, v)
            if (cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble <= 2147483647.0) spec_add_eos(s, (int)x->valuedouble);
    } else if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 2147483647.0) spec_add_eos(s, (int)v->valuedouble);
}

static bool parse_act(const char *a, ActKind *out) {
    if (!a) return false;
    if (!strcmp(a, "silu") || !strcmp(a, "swish")) *out = ACT_SILU;
    else if (!strcmp(a, "gelu_new") || !strcmp(a, "gelu_pytorch_tanh") || !strcmp(a, "gelu_fast") ||
             !strcmp(a, "gelu_tanh")) *out = ACT_GELU_TANH;
    else if (!strcmp(a, "gelu")) *out = ACT_GELU;
    else if (!strcmp(a, "relu")) *out = ACT_RELU;
    else return false;
    return true;
}

/* RoPE: new rope_parameters or old rope_theta + rope_scaling. */
static void parse_rope(Cfg *c, const cJSON *root, ModelSpec *s, int max_pos_cfg) {
    const cJSON *rp = cfg_get(root, "rope_parameters");
    const cJSON *rs = cfg_get(root, "rope_scaling");
    s->rope_theta = (float)cfg_num(c, root, "rope_theta", s->rope_theta);
    const cJSON *params = NULL;
    if (cJSON_IsObject(rp)) {
        params = rp;
        s->rope_theta = (float)cfg_num(c, rp, "rope_theta", s->rope_theta);
    } else if (cJSON_IsObject(rs)) {
        params = rs;
    }
    float prf = (float)cfg_num(c, root, "partial_rotary_factor", 1.0);
    if (params) prf = (float)cfg_num(c, params, "partial_rotary_factor", prf);
    if (!(prf > 0 && prf <= 1)) {
        if (!c->bad) err_set(c->e, ERR_FORMAT, "%s: field \"partial_rotary_factor\" = %g must be in (0, 1]", c->file, (double)prf);
        c->bad = true;
    }
    /* The value is checked, then not used: transformers 5.17's Llama/Mistral/Qwen rotary embedding
     * rotates the whole head whatever partial_rotary_factor says (inv_freq has head_dim/2
     * entries with a factor of 0.5), and DeepSeek's rotary part is qk_rope_head_dim. */
    s->rotary_dim = s->head_dim;
    s->rope_scaling = ROPE_SCALE_NONE;
    s->rope_factor = 1.0f;
    s->rope_orig_max_pos = max_pos_cfg;
    s->rope_attn_factor = 1.0f;
    if (!params) return;
    const char *type = cfg_str(c, params, "rope_type");
    if (!type) type = cfg_str(c, params, "type");
    if (!type || !strcmp(type, "default")) return;
    s->rope_factor = (float)cfg_num(c, params, "factor", 1.0);
    if (!(s->rope_factor > 0)) {
        if (!c->bad) err_set(c->e, ERR_FORMAT, "%s: rope \"factor\" must be > 0", c->file);
        c->bad = true;
    }
    s->rope_orig_max_pos = cfg_int(c, params, "original_max_position_embeddings", max_pos_cfg, 1, CAP_POS);
    if (!strcmp(type, "linear")) s->rope_scaling = ROPE_SCALE_LINEAR;
    else if (!strcmp(type, "dynamic")) s->rope_scaling = ROPE_SCALE_DYNAMIC;
    else if (!strcmp(type, "llama3")) {
        s->rope_scaling = ROPE_SCALE_LLAMA3;
        s->rope_low_freq_factor = (float)cfg_num(c, params, "low_freq_factor", 1.0);
        s->rope_high_freq_factor = (float)cfg_num(c, params, "high_freq_factor", 4.0);
        if (!(s->rope_high_freq_factor > s->rope_low_freq_factor)) {
            if (!c->bad) err_set(c->e, ERR_FORMAT, "%s: rope \"high_freq_factor\" must exceed \"low_freq_factor\"", c->file);
            c->bad = true;
        }
    } else if (!strcmp(type, "yarn")) {
        s->rope_scaling = ROPE_SCALE_YARN;
        s->yarn_beta_fast = (float)cfg_num(c, params, "beta_fast", 32.0);
        s->yarn_beta_slow = (float)cfg_num(c, params, "beta_slow", 1.0);
        s->yarn_mscale = (float)cfg_num(c, params, "mscale", 0.0);
        s->yarn_mscale_all_dim = (float)cfg_num(c, params, "mscale_all_dim", 0.0);
        s->yarn_truncate = cfg_bool(c, params, "truncate", true);
        s->rope_attn_factor = (float)cfg_num(c, params, "attention_factor", -1.0);
        /* Models that enlarge max_position_embeddings and keep the pretrained length in
         * original_max_position_embeddings use their ratio as the factor (HF rope utils). */
        if (cfg_get(params, "original_max_position_embeddings") && s->rope_orig_max_pos > 0)
            s->rope_factor = (float)max_pos_cfg / (float)s->rope_orig_max_pos;
    } else {
        if (!c->bad) err_set(c->e, ERR_UNSUPPORTED, "%s: rope type \"%s\" is not supported (supported: default, linear, dynamic, llama3, yarn)", c->file, type);
        c->bad = true;
    }
}

/* layer_types (transformers 5): a list of n_layers strings, each "full_attention" or
 * "sliding_attention" (layer_type_validation refuses a list of another length); marks
 * s->layer_swa and returns the sliding layers' count (-1: an error, named). */
static int parse_layer_types(Cfg *c, const cJSON *lt, ModelSpec *s) {
    const int L = s->n_layers;
    if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != L) {
        if (!c->bad) err_set(c->e, ERR_FORMAT, "%s: field \"layer_types\" must be a list of %d strings", c->file, L);
        c->bad = true;
        return -1;
    }
    int n = 0;
    for (int l = 0; l < L; l++) {
        const cJSON *it = cJSON_GetArrayItem(lt, l);
        bool slide = cJSON_IsString(it) && !strcmp(it->valuestring, "sliding_attention");
        if (!slide && !(cJSON_IsString(it) && !strcmp(it->valuestring, "full_attention"))) {
            if (!c->bad) err_set(c->e, ERR_UNSUPPORTED, "%s: field \"layer_types\"[%d] is not \"full_attention\" or \"sliding_attention\"", c->file, l);
            c->bad = true;
            return -1;
        }
        s->layer_swa[l] = slide;
        n += slide;
    }
    return n;
}

/* Sliding-window attention as transformers 5 decides it: Mistral and Mixtral slide in every layer
 * when sliding_window is set; Qwen2/Qwen3 only with use_sliding_window, and then per layer
 * (layer_types, or the layers from max_window_layers on); Llama ignores the field. */
static void parse_window(Cfg *c, const cJSON *root, ModelSpec *s, const char *mt) {
    s->sliding_window = 0;
    bool qwen = !strcmp(mt, "qwen2") || !strcmp(mt, "qwen3") || !strcmp(mt, "qwen3_moe") || !strcmp(mt, "qwen2_moe");
    if (!strcmp(mt, "mistral") || !strcmp(mt, "mixtral")) {
        s->sliding_window = cfg_int(c, root, "sliding_window", 0, 0, CAP_POS);
        return;
    }
    if (!qwen || !cfg_bool(c, root, "use_sliding_window", false)) return;
    int W = cfg_int(c, root, "sliding_window", 0, 0, CAP_POS);
    if (!W || c->bad) return;
    if (!strcmp(mt, "qwen3_moe")) {
        err_set(c->e, ERR_UNSUPPORTED, "%s: field \"use_sliding_window\" = true is not supported for qwen3_moe", c->file);
        c->bad = true;
        return;
    }
    const int L = s->n_layers;
    int n_slide = 0;
    const cJSON *lt = cfg_get(root, "layer_types");
    if (lt) {
        if ((n_slide = parse_layer_types(c, lt, s)) < 0) return;
    } else {
        int mwl = cfg_int(c, root, "max_window_layers", 28, 0, CAP_LAYERS);
        for (int l = 0; l < L; l++) { s->layer_swa[l] = l >= mwl; n_slide += l >= mwl; }
    }
    if (n_slide > 0) s->sliding_window = W;
    s->swa_per_layer = n_slide > 0 && n_slide < L;
}

/* Gemma 2/3: which layers have the sliding window. layer_types when given (transformers 5 writes
 * it); else the class's pattern: Gemma 2 alternates (even layers slide), Gemma 3 slides except in
 * every sliding_window_pattern-th layer ((i + 1) % pattern == 0 is global; 6 when not given). */
static void parse_gemma_layers(Cfg *c, const cJSON *root, ModelSpec *s, bool g3) {
    const int L = s->n_layers;
    s->swa_per_layer = true;
    const cJSON *lt = cfg_get(root, "layer_types");
    if (lt) {
        parse_layer_types(c, lt, s);
        return;
    }
    int pattern = 2;
    if (g3) {
        pattern = cfg_int(c, root, "_sliding_window_pattern", 6, 1, CAP_LAYERS + 1);
        pattern = cfg_int(c, root, "sliding_window_pattern", pattern, 1, CAP_LAYERS + 1);
    }
    for (int l = 0; l < L; l++) s->layer_swa[l] = (l + 1) % pattern != 0;
}

/* After parse_gemma_layers: no sliding layer (sliding_window_pattern 1, or layer_types all
 * full_attention) is no window at all; a sliding layer needs a window of at least one key
 * (transformers' mask with sliding_window 0 lets such a query see no key). */
static void gemma_window_check(Cfg *c, ModelSpec *s) {
    if (c->bad) return;
    int n_slide = 0;
    for (int l = 0; l < s->n_layers; l++) n_slide += s->layer_swa[l];
    if (!n_slide) {
        s->sliding_window = 0;
        s->swa_per_layer = false;
    } else if (s->sliding_window < 1) {
        err_set(c->e, ERR_FORMAT, "%s: field \"sliding_window\" = 0, but %d of %d layers slide (layer_types or sliding_window_pattern): "
                "a window needs at least 1 key", c->file, n_slide, s->n_layers);
        c->bad = true;
    }
}

/* Gemma 3's RoPE: full-attention layers rotate with rope_theta (and rope_scaling), sliding ones
 * with rope_local_base_freq and no scaling. transformers 5 writes both as rope_parameters keyed
 * by layer type; the released checkpoints have rope_theta, rope_scaling, rope_local_base_freq. */
static void parse_gemma3_rope(Cfg *c, const cJSON *root, ModelSpec *s) {
    const cJSON *rp = cfg_get(root, "rope_parameters");
    if (rp && !cJSON_IsObject(rp)) {
        if (!c->bad) err_set(c->e, ERR_FORMAT, "%s: field \"rope_parameters\" must be an object", c->file);
        c->bad = true;
        return;
    }
    /* keyed by layer type when any value is an object (a single RoPE's fields are numbers,
     * strings and lists): then only the two layer types are keys; another key ("global",
     * "local") was ignored and the defaults used */
    bool keyed = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, rp) keyed |= cJSON_IsObject(it);
    if (keyed) {
        cJSON_ArrayForEach(it, rp) {
            if (strcmp(it->string, "full_attention") != 0 && strcmp(it->string, "sliding_attention") != 0) {
                if (!c->bad) err_set(c->e, ERR_FORMAT, "%s: field \"rope_parameters\" has key \"%.100s\": keyed by layer type, its keys are "
                                     "\"full_attention\" and \"sliding_attention\"", c->file, it->string);
                c->bad = true;
                return;
            }
        }
    }
    const cJSON *full = cJSON_IsObject(rp) ? cfg_get(rp, "full_attention") : NULL;
    const cJSON *local = cJSON_IsObject(rp) ? cfg_get(rp, "sliding_attention") : NULL;
    s->rope_theta = 1000000.0f;
    s->rope_local_theta = 10000.0f;
    if (full || local) {
        if ((full && !cJSON_IsObject(full)) || (local && !cJSON_IsObject(local))) {
            if (!c->bad) err_set(c->e, ERR_FORMAT, "%s: field \"rope_parameters\" must map \"full_attention\" and \"sliding_attention\" to objects", c->file);
            c->bad = true;
            return;
        }
        cJSON *tmp = cJSON_CreateObject();   /* the full layers' parameters as parse_rope reads them */
        if (!tmp || (full && !cJSON_AddItemReferenceToObject(tmp, "rope_parameters", (cJSON *)full))) {
            cJSON_Delete(tmp);
            if (!c->bad) err_set(c->e, ERR_MEMORY, "out of memory");
            c->bad = true;
            return;
        }
        parse_rope(c, tmp, s, s->max_pos);
        cJSON_Delete(tmp);
        if (local) {
            const char *lt = cfg_str(c, local, "rope_type");
            if (lt && strcmp(lt, "default") != 0) {
                if (!c->bad) err_set(c->e, ERR_UNSUPPORTED, "%s: rope_parameters.sliding_attention.rope_type \"%s\" is not supported (default only)", c->file, lt);
                c->bad = true;
                return;
            }
            s->rope_local_theta = (float)cfg_num(c, local, "rope_theta", s->rope_local_theta);
        }
    } else {
        parse_rope(c, root, s, s->max_pos);
        s->rope_local_theta = (float)cfg_num(c, root, "rope_local_base_freq", s->rope_local_theta);
    }
    if (!(s->rope_local_theta > 0) || !(s->rope_theta > 0)) {
        if (!c->bad) err_set(c->e, ERR_FORMAT, "%s: RoPE bases must be > 0", c->file);
        c->bad = true;
    }
}

static float yarn_get_mscale(float scale, float mscale) {
    if (scale <= 1.0f) return 1.0f;
    return 0.1f * mscale * logf(scale) + 1.0f;
}

bool config_parse(const char *json, size_t len, const char *name, ModelSpec *s, Err *e) {
    memset(s, 0, sizeof *s);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        const char *ep = cJSON_GetErrorPtr();
        long off = (ep && ep >= json && ep <= json + len) ? (long)(ep - json) : -1;
        int line = 1;   /* an editor shows lines: count them up to the byte cJSON stopped at */
        for (long i = 0; i < off; i++) line += json[i] == '\n';
        return err_set(e, ERR_FORMAT, "%s: not valid JSON (near byte %ld, line %d)", name, off, line);
    }
    if (!cJSON_IsObject(root)) { cJSON_Delete(root); return err_set(e, ERR_FORMAT, "%s: top level must be a JSON object", name); }
    Cfg c = {root, name, e, false};
    const char *mt = cfg_str(&c, root, "model_type");
    if (!mt) { cJSON_Delete(root); return c.bad ? false : err_set(e, ERR_FORMAT, "%s: field \"model_type\" is missing", name); }
    snprintf(s->model_type, sizeof s->model_type, "%s", mt);
    s->bos_id = cfg_token_id(root, "bos_token_id");
    s->eos_id = -1;
    s->n_eos = 0;
    cfg_eos_ids(root, s);
    s->pad_id = cfg_token_id(root, "pad_token_id");
    const char *dt = cfg_str(&c, root, "torch_dtype");
    if (!dt) dt = cfg_str(&c, root, "dtype");
    s->dtype = (dt && !strcmp(dt, "bfloat16")) ? DT_BF16 : (dt && !strcmp(dt, "float16")) ? DT_F16 : DT_F32;
    s->rope_theta = 10000.0f;
    s->rope_style = ROPE_HALF;

    bool is_gpt2 = !strcmp(mt, "gpt2"), unscaled = false;
    bool is_llama_like = !strcmp(mt, "llama") || !strcmp(mt, "mistral") || !strcmp(mt, "qwen2") ||
                         !strcmp(mt, "qwen3") || !strcmp(mt, "mixtral") || !strcmp(mt, "qwen3_moe") ||
                         !strcmp(mt, "qwen2_moe");
    bool is_ds = !strcmp(mt, "deepseek_v2") || !strcmp(mt, "deepseek_v3");
    bool is_gemma = !strcmp(mt, "gemma") || !strcmp(mt, "gemma2") || !strcmp(mt, "gemma3_text");
    if (!strcmp(mt, "gemma3")) {
        /* Gemma 3 with its vision tower (Gemma-3-4B and up): its language model alone, as
         * transformers runs it on text (Gemma3ForConditionalGeneration without pixel_values): the
         * text_config as a gemma3_text config, with the ids and dtype of the outer config where it
         * has none of its own; the vision tower's weights are not read */
        const cJSON *tc = cfg_get(root, "text_config");
        if (!cJSON_IsObject(tc)) {
            cJSON_Delete(root);
            return err_set(e, ERR_FORMAT, "%s: model_type \"gemma3\" needs a \"text_config\" object (the language model's config)", name);
        }
        cJSON *t = cJSON_Duplicate(tc, true);
        bool ok = t != NULL;
        if (ok) {
            cJSON_DeleteItemFromObjectCaseSensitive(t, "model_type");
            ok = cJSON_AddStringToObject(t, "model_type", "gemma3_text") != NULL;
        }
        static const char *const outer[] = {"bos_token_id", "eos_token_id", "pad_token_id", "torch_dtype", "dtype", "tie_word_embeddings"};
        for (size_t i = 0; ok && i < sizeof outer / sizeof outer[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, outer[i]);
            if (v && !cJSON_GetObjectItemCaseSensitive(t, outer[i])) ok = cJSON_AddItemToObject(t, outer[i], cJSON_Duplicate(v, true));
        }
        char *txt = ok ? cJSON_PrintUnformatted(t) : NULL;
        cJSON_Delete(t);
        cJSON_Delete(root);
        if (!txt) return err_set(e, ERR_MEMORY, "out of memory");
        bool r = config_parse(txt, strlen(txt), name, s, e);
        cJSON_free(txt);
        if (r) snprintf(s->model_type, sizeof s->model_type, "gemma3");
        return r;
    }
    if (!strcmp(mt, "smollm3")) {   /* every 4th layer without RoPE (no_rope_layers): running it as llama would be wrong */
        cJSON_Delete(root);
        return err_set(e, ERR_UNSUPPORTED, "%s: model_type \"smollm3\" (layers without RoPE, \"no_rope_layers\") is not supported", name);
    }
    if (!is_gpt2 && !is_llama_like && !is_ds && !is_gemma) {
        err_set(e, ERR_UNSUPPORTED, "%s: model_type \"%s\" is not supported (supported: gpt2, llama, mistral, qwen2, qwen3, mixtral, qwen3_moe, deepseek_v2, deepseek_v3, gemma, gemma2, gemma3_text)", name, mt);   /* before the delete: the message quotes a string in root */
        cJSON_Delete(root);
        return false;
    }
    if (is_gpt2) {
        s->family = ARCH_GPT2;
        s->vocab_size = cfg_int(&c, root, "vocab_size", 50257, 1, CAP_VOCAB);
        s->d_model = cfg_int(&c, root, "n_embd", 768, 1, CAP_DIM);
        s->n_layers = cfg_int(&c, root, "n_layer", 12, 1, CAP_LAYERS);
        s->n_heads = cfg_int(&c, root, "n_head", 12, 1, CAP_DIM);
        s->n_kv_heads = s->n_heads;
        s->d_ff = cfg_int(&c, root, "n_inner", 4 * s->d_model, 1, CAP_DIM);
        s->max_pos = cfg_int(&c, root, "n_positions", 1024, 1, CAP_POS);
        s->norm = NORM_LAYERNORM;
        s->norm_eps = (float)cfg_eps(&c, root, "layer_norm_epsilon", 1e-5);
        const char *act = cfg_str(&c, root, "activation_function");
        if (!act) act = "gelu_new";
        if (!parse_act(act, &s->act)) {
            err_set(e, ERR_UNSUPPORTED, "%s: activation_function \"%s\" is not supported", name, act);   /* before the delete: the message quotes a string in root */
            cJSON_Delete(root);
            return false;
        }
        s->gated_ffn = false;
        s->pos = POS_LEARNED;
        s->qkv_bias = s->o_bias = s->mlp_bias = true;
        s->tied_embeddings = cfg_bool(&c, root, "tie_word_embeddings", true);
        /* scale_attn_weights false: scores not divided by sqrt(head_dim) (set after the generic
         * scale below); a per-layer 1/(layer+1) factor is not something the engine computes */
        unscaled = !cfg_bool(&c, root, "scale_attn_weights", true);
        if (cfg_bool(&c, root, "scale_attn_by_inverse_layer_idx", false) && !c.bad) {
            cJSON_Delete(root);
            return err_set(e, ERR_UNSUPPORTED, "%s: field \"scale_attn_by_inverse_layer_idx\" = true is not supported", name);
        }
        if (s->bos_id < 0) s->bos_id = 50256 < s->vocab_size ? 50256 : -1;
        if (s->eos_id < 0) spec_add_eos(s, s->bos_id);
    } else {
        s->family = is_ds ? ARCH_DEEPSEEK : ARCH_LLAMA;
        /* Gemma3TextConfig's own defaults (the text_config of a Gemma 3 with a vision tower leaves
         * out what equals them: Gemma-3-4B's gives neither heads nor vocab_size) */
        const bool g3d = !strcmp(mt, "gemma3_text");
        s->vocab_size = cfg_int(&c, root, "vocab_size", g3d ? 262208 : 32000, 1, CAP_VOCAB);
        s->d_model = cfg_int(&c, root, "hidden_size", g3d ? 2304 : 4096, 1, CAP_DIM);
        s->n_layers = cfg_int(&c, root, "num_hidden_layers", g3d ? 26 : 32, 1, CAP_LAYERS);
        s->n_heads = cfg_int(&c, root, "num_attention_heads", g3d ? 8 : 32, 1, CAP_DIM);
        s->n_kv_heads = cfg_int(&c, root, "num_key_value_heads", g3d ? 4 : s->n_heads, 1, CAP_DIM);
        s->d_ff = cfg_int(&c, root, "intermediate_size", g3d ? 9216 : 4 * s->d_model, 1, CAP_DIM);
        s->max_pos = cfg_int(&c, root, "max_position_embeddings", g3d ? 131072 : 2048, 1, CAP_POS);
        s->norm = NORM_RMSNORM;
        s->norm_eps = (float)cfg_eps(&c, root, "rms_norm_eps", 1e-6);
        const char *act = cfg_str(&c, root, "hidden_act");
        if (!act) act = "silu";
        if (!parse_act(act, &s->act)) {
            err_set(e, ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported", name, act);   /* before the delete: the message quotes a string in root */
            cJSON_Delete(root);
            return false;
        }
        s->gated_ffn = true;
        s->pos = POS_ROPE;
        int hd_default = s->n_heads > 0 ? s->d_model / s->n_heads : 0;
        s->head_dim = cfg_int(&c, root, "head_dim", hd_default, 1, CAP_DIM);
        /* Biases as transformers builds each class: Mistral/Mixtral never have any; Qwen2 always
         * has q/k/v (never o); attention_bias adds q/k/v/o on Llama and Qwen3; mlp_bias is Llama's. */
        bool mistral_like = !strcmp(mt, "mistral") || !strcmp(mt, "mixtral");
        bool qwen2_like = !strcmp(mt, "qwen2") || !strcmp(mt, "qwen2_moe");
        bool attn_bias = !mistral_like && !qwen2_like && cfg_bool(&c, root, "attention_bias", false);
        s->qkv_bias = attn_bias || qwen2_like;
        s->o_bias = attn_bias;
        s->mlp_bias = !strcmp(mt, "llama") && cfg_bool(&c, root, "mlp_bias", false);
        s->qk_norm = !strcmp(mt, "qwen3") || !strcmp(mt, "qwen3_moe");
        s->tied_embeddings = cfg_bool(&c, root, "tie_word_embeddings", false);
        parse_window(&c, root, s, mt);
        if (is_gemma) {
            /* Gemma (transformers' modeling_gemma, gemma2, gemma3): embeddings times sqrt(hidden),
             * RMSNorm as x * (1 + w), gelu_pytorch_tanh (hidden_activation; Gemma 1's hidden_act is
             * not what its MLP uses), head_dim 256 and tied embeddings unless given; Gemma 2/3 add a
             * norm after attention and after the FFN, query_pre_attn_scalar^-0.5 as the score scale
             * and a sliding window in some layers; Gemma 3 q_norm/k_norm and two RoPE bases. */
            bool g2 = !strcmp(mt, "gemma2"), g3 = !strcmp(mt, "gemma3_text");
            s->embed_scale = (float)sqrt((double)s->d_model);
            s->norm_plus_one = true;
            s->sandwich_norm = g2 || g3;
            s->qk_norm = g3;
            s->qkv_bias = s->o_bias = cfg_bool(&c, root, "attention_bias", false);
            s->mlp_bias = false;
            s->tied_embeddings = cfg_bool(&c, root, "tie_word_embeddings", true);
            if (!cfg_get(root, "head_dim")) s->head_dim = 256;
            const char *ha = cfg_str(&c, root, "hidden_activation");
            if (!ha) ha = "gelu_pytorch_tanh";
            if (!c.bad && !parse_act(ha, &s->act)) {
                err_set(e, ERR_UNSUPPORTED, "%s: hidden_activation \"%s\" is not supported", name, ha);   /* before the delete: the message quotes a string in root */
                cJSON_Delete(root);
                return false;
            }
            if (g2 || g3) {
                s->sliding_window = cfg_int(&c, root, "sliding_window", 4096, 0, CAP_POS);
                parse_gemma_layers(&c, root, s, g3);
                gemma_window_check(&c, s);
                /* null is None (no capping); an absent key takes the class default (Gemma 2: 50, 30) */
                const bool an = cJSON_GetObjectItemCaseSensitive(root, "attn_logit_softcapping") != NULL;
                const bool fn = cJSON_GetObjectItemCaseSensitive(root, "final_logit_softcapping") != NULL;
                s->attn_softcap = (float)cfg_num(&c, root, "attn_logit_softcapping", g2 && !an ? 50.0 : 0.0);
                s->final_softcap = (float)cfg_num(&c, root, "final_logit_softcapping", g2 && !fn ? 30.0 : 0.0);
                /* a cap given as a number divides the scores or logits (0: NaN in transformers) */
                const char *bad_cap = cfg_get(root, "attn_logit_softcapping") && !(s->attn_softcap > 0) ? "attn_logit_softcapping"
                                    : cfg_get(root, "final_logit_softcapping") && !(s->final_softcap > 0) ? "final_logit_softcapping" : NULL;
                if (bad_cap && !c.bad) {
                    cJSON_Delete(root);
                    return err_set(e, ERR_FORMAT, "%s: field \"%s\" must be > 0 or null (no capping)", name, bad_cap);
                }
                if (cfg_bool(&c, root, "use_bidirectional_attention", false) && !c.bad) {
                    cJSON_Delete(root);
                    return err_set(e, ERR_UNSUPPORTED, "%s: field \"use_bidirectional_attention\" = true (an embedding model such as EmbeddingGemma, "
                                   "not a causal language model) is not supported", name);
                }
            }
        }

        if (!strcmp(mt, "mixtral")) {
            s->n_experts = cfg_int(&c, root, "num_local_experts", 8, 1, ROUTE_MAX_EXPERTS);
            s->n_experts_per_tok = cfg_int(&c, root, "num_experts_per_tok", 2, 1, 65536);
            s->moe_d_ff = s->d_ff;
            s->route_scoring = ROUTE_SOFTMAX;
            s->norm_topk_prob = true;
            s->routed_scaling_factor = 1.0f;
            s->moe_layer_freq = 1;
        } else if (!strcmp(mt, "qwen3_moe") || !strcmp(mt, "qwen2_moe")) {
            s->n_experts = cfg_int(&c, root, "num_experts", 0, 0, ROUTE_MAX_EXPERTS);
            if (!s->n_experts) s->n_experts = cfg_int(&c, root, "num_local_experts", 0, 0, ROUTE_MAX_EXPERTS);
            s->n_experts_per_tok = cfg_int(&c, root, "num_experts_per_tok", 1, 1, 65536);
            s->moe_d_ff = cfg_int(&c, root, "moe_intermediate_size", s->d_ff, 1, CAP_DIM);
            s->route_scoring = ROUTE_SOFTMAX;
            s->norm_topk_prob = cfg_bool(&c, root, "norm_topk_prob", false);   /* transformers' default for both */
            s->routed_scaling_factor = 1.0f;
            s->moe_layer_freq = cfg_int(&c, root, "decoder_sparse_step", 1, 1, CAP_LAYERS);
            const cJSON *mo = cfg_get(root, "mlp_only_layers");
            const cJSON *it;
            if (cJSON_IsArray(mo)) cJSON_ArrayForEach(it, mo)
                if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble < 1024) s->mlp_only[(int)it->valuedouble] = 1;
            if (!strcmp(mt, "qwen2_moe")) {
                cJSON_Delete(root);
                return err_set(e, ERR_UNSUPPORTED, "%s: model_type \"qwen2_moe\" (shared-expert gate) is not supported yet", name);
            }
        } else if (is_ds) {
            s->q_lora_rank = cfg_int(&c, root, "q_lora_rank", 0, 0, CAP_DIM);
            s->kv_lora_rank = cfg_int(&c, root, "kv_lora_rank", 512, 1, CAP_DIM);
            s->qk_nope_head_dim = cfg_int(&c, root, "qk_nope_head_dim", 128, 0, CAP_DIM);
            s->qk_rope_head_dim = cfg_int(&c, root, "qk_rope_head_dim", 64, 2, CAP_DIM);
            s->v_head_dim = cfg_int(&c, root, "v_head_dim", 128, 1, CAP_DIM);
            s->head_dim = s->qk_nope_head_dim + s->qk_rope_head_dim;
            s->n_experts = cfg_int(&c, root, "n_routed_experts", 0, 0, ROUTE_MAX_EXPERTS);
            s->n_experts_per_tok = cfg_int(&c, root, "num_experts_per_tok", 1, 1, 65536);
            s->moe_d_ff = cfg_int(&c, root, "moe_intermediate_size", 1, 1, CAP_DIM);
            s->n_shared_experts = cfg_int(&c, root, "n_shared_experts", 0, 0, 65536);
            bool v3 = !strcmp(mt, "deepseek_v3");   /* absent keys take transformers' defaults of each class */
            s->first_k_dense_replace = cfg_int(&c, root, "first_k_dense_replace", v3 ? 3 : 0, 0, CAP_LAYERS + 1);
            s->moe_layer_freq = cfg_int(&c, root, "moe_layer_freq", 1, 1, CAP_LAYERS);
            s->routed_scaling_factor = (float)cfg_num(&c, root, "routed_scaling_factor", v3 ? 2.5 : 1.0);
            s->n_group = cfg_int(&c, root, "n_group", v3 && !cJSON_GetObjectItemCaseSensitive(root, "n_group") ? 8 : 1, 1, ROUTE_MAX_EXPERTS);
            s->topk_group = cfg_int(&c, root, "topk_group", v3 && !cJSON_GetObjectItemCaseSensitive(root, "topk_group") ? 4 : 1, 1, ROUTE_MAX_EXPERTS);
            const char *sf = cfg_str(&c, root, "scoring_func");
            s->route_scoring = (sf && !strcmp(sf, "sigmoid")) || (!sf && v3) ? ROUTE_SIGMOID : ROUTE_SOFTMAX;
            s->has_score_bias = v3;
            s->norm_topk_prob = v3 ? cfg_bool(&c, root, "norm_topk_prob", true) : false;
            if (!v3) {
                const char *tm = cfg_str(&c, root, "topk_method");
                if (!tm || !strcmp(tm, "greedy")) { s->n_group = 1; s->topk_group = 1; }
                else if (strcmp(tm, "group_limited_greedy") != 0) {
                    err_set(e, ERR_UNSUPPORTED, "%s: topk_method \"%s\" is not supported", name, tm);   /* before the delete: the message quotes a string in root */
                    cJSON_Delete(root);
                    return false;
                }
            }
            /* DeepSeek-V3 applies rope to pairs (2i, 2i+1) when rope_interleave; HF's V2 code
             * always uses the complex (interleaved) form. */
            s->rope_style = (!v3 || cfg_bool(&c, root, "rope_interleave", true)) ? ROPE_INTERLEAVED : ROPE_HALF;
            s->v3_yarn_softmax_mscale = true;
        }
    }
    if (c.bad) { cJSON_Delete(root); return false; }

    /* cross-field checks */
    if (s->family != ARCH_DEEPSEEK) {
        if (s->head_dim <= 0) s->head_dim = s->d_model / s->n_heads;
        if (s->family == ARCH_GPT2 && s->d_model % s->n_heads) {
            cJSON_Delete(root);
            return err_set(e, ERR_SHAPE, "%s: n_embd %d is not divisible by n_head %d", name, s->d_model, s->n_heads);
        }
        if (s->family == ARCH_LLAMA && !cfg_get(root, "head_dim") && s->d_model % s->n_heads) {
            cJSON_Delete(root);
            return err_set(e, ERR_SHAPE, "%s: hidden_size %d is not divisible by num_attention_heads %d (and no head_dim is given)", name, s->d_model, s->n_heads);
        }
    }
    if (s->n_heads % s->n_kv_heads) {
        cJSON_Delete(root);
        return err_set(e, ERR_SHAPE, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", name, s->n_heads, s->n_kv_heads);
    }
    if (s->pos == POS_ROPE) {
        int rd = s->family == ARCH_DEEPSEEK ? s->qk_rope_head_dim : s->head_dim;
        int save_hd = s->head_dim;
        s->head_dim = rd;
        if (!strcmp(mt, "gemma3_text")) parse_gemma3_rope(&c, root, s);
        else parse_rope(&c, root, s, s->max_pos);
        s->head_dim = save_hd;
        if (c.bad) { cJSON_Delete(root); return false; }
        if (s->rotary_dim % 2 || s->rotary_dim <= 0) {
            cJSON_Delete(root);
            return err_set(e, ERR_SHAPE, "%s: rotary dimension %d (head_dim) must be even and positive", name, s->rotary_dim);
        }
    }
    if (s->n_group < 1) { s->n_group = 1; s->topk_group = 1; }
    if (s->n_experts) {
        if (s->n_experts_per_tok > s->n_experts) {
            cJSON_Delete(root);
            return err_set(e, ERR_SHAPE, "%s: num_experts_per_tok %d exceeds the number of experts %d", name, s->n_experts_per_tok, s->n_experts);
        }
        if (s->n_group < 1 || s->n_experts % s->n_group || s->topk_group > s->n_group) {
            cJSON_Delete(root);
            return err_set(e, ERR_SHAPE, "%s: n_group %d / topk_group %d do not divide %d experts", name, s->n_group, s->topk_group, s->n_experts);
        }
        if (s->n_group > 1 && s->n_experts / s->n_group < 2 && s->route_scoring == ROUTE_SIGMOID) {
            cJSON_Delete(root);
            return err_set(e, ERR_SHAPE, "%s: sigmoid group routing needs at least 2 experts per group", name);
        }
        if (s->n_group > 1 && s->n_experts_per_tok > s->topk_group * (s->n_experts / s->n_group)) {
            cJSON_Delete(root);
            return err_set(e, ERR_SHAPE, "%s: num_experts_per_tok %d exceeds the experts in %d selected groups", name, s->n_experts_per_tok, s->topk_group);
        }
    }
    /* Softmax scale. DeepSeek-V2/V3 multiply 1/sqrt(d) by mscale(factor, mscale_all_dim)^2
     * under YaRN (DeepSeek's own code and HF's). */
    int qk_dim = s->family == ARCH_DEEPSEEK ? s->qk_nope_head_dim + s->qk_rope_head_dim : s->head_dim;
    s->softmax_scale = unscaled ? 1.0f : 1.0f / sqrtf((float)qk_dim);
    if (!strcmp(mt, "gemma2") || !strcmp(mt, "gemma3_text")) {
        /* config.query_pre_attn_scalar ** -0.5 (Python: a double, then a float32 tensor op) */
        double qs = cfg_num(&c, root, "query_pre_attn_scalar", 256.0);
        if (c.bad || !(qs > 0)) {
            cJSON_Delete(root);
            return c.bad ? false : err_set(e, ERR_FORMAT, "%s: field \"query_pre_attn_scalar\" must be > 0", name);
        }
        s->softmax_scale = (float)pow(qs, -0.5);
        if (!isfinite(s->softmax_scale) || !(s->softmax_scale > 0)) {   /* 1e-300: inf (the logits NaN); 1e300: 0 */
            cJSON_Delete(root);
            return err_set(e, ERR_FORMAT, "%s: field \"query_pre_attn_scalar\" = %g gives a score scale (its -0.5th power) of %g, "
                           "outside a float's range", name, qs, pow(qs, -0.5));
        }
    }
    if (s->v3_yarn_softmax_mscale && s->rope_scaling == ROPE_SCALE_YARN && s->yarn_mscale_all_dim != 0.0f) {
        float ms = yarn_get_mscale(s->rope_factor, s->yarn_mscale_all_dim);
        s->softmax_scale *= ms * ms;
    }
    if (s->family == ARCH_DEEPSEEK) s->attn_kind = ATTN_MLA;
    else if (s->n_kv_heads == s->n_heads) s->attn_kind = ATTN_MHA;
    else if (s->n_kv_heads == 1) s->attn_kind = ATTN_MQA;
    else s->attn_kind = ATTN_GQA;
    cJSON_Delete(root);
    return true;
}

size_t spec_kv_elems_per_token_layer(const ModelSpec *s) {
    if (s->attn_kind == ATTN_MLA) return (size_t)s->kv_lora_rank + (size_t)s->qk_rope_head_dim;
    return 2u * (size_t)s->n_kv_heads * (size_t)s->head_dim;
}

size_t kv_elems_as(const ModelSpec *s, AttnKind kind, int n_groups) {
    /* per head: a key of d_qk and a value of d_v (equal except in DeepSeek's MLA dims) */
    bool ds = s->family == ARCH_DEEPSEEK;
    size_t dk = ds ? (size_t)(s->qk_nope_head_dim + s->qk_rope_head_dim) : (size_t)s->head_dim;
    size_t dv = ds ? (size_t)s->v_head_dim : (size_t)s->head_dim;
    switch (kind) {
    case ATTN_MHA: return (size_t)s->n_heads * (dk + dv);
    case ATTN_GQA: return (size_t)(n_groups > 0 ? n_groups : s->n_kv_heads) * (dk + dv);
    case ATTN_MQA: return dk + dv;
    case ATTN_MLA:
        if (s->attn_kind == ATTN_MLA) return (size_t)s->kv_lora_rank + (size_t)s->qk_rope_head_dim;
        return 4u * dk + dk / 2u;   /* d_c = 4 d_h, d_h^R = d_h / 2 (DeepSeek-V2 Table 1) */
    }
    return 0;
}
