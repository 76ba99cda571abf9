/* Actions by name: the vocabulary the keymap (keymap.c) and lessons share. Each entry wraps
 * one scene_* action (scene.c) or changes one panel view option, with the signature
 * bool fn(Scene *, int arg, Err *); `true` after the doc marks a view action (scene.h: it changes
 * only what is shown, and the UI answers it while a prefill runs). To add an action: write the function here, add a row to
 * ACTIONS, and bind a key to it in keymap.c (the help screen lists the docs). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "analysis/derived.h"
#include "scene/scene.h"

static bool nothing(Err *e, const char *why) { return err_set(e, ERR_ARG, "%s", why); }

static bool a_step(Scene *sc, int arg, Err *e) { (void)arg; return scene_step(sc, e); }
static bool a_back(Scene *sc, int arg, Err *e) { (void)arg; return scene_step_back(sc, e); }
static bool a_first(Scene *sc, int arg, Err *e) { (void)arg; return scene_goto(sc, 0, 0, e); }
static bool a_last(Scene *sc, int arg, Err *e) { (void)arg; return scene_goto(sc, 0, -1, e); }
static bool a_stage_next(Scene *sc, int arg, Err *e) { (void)arg; return scene_step_into(sc, 1, e); }
static bool a_stage_prev(Scene *sc, int arg, Err *e) { (void)arg; return scene_step_into(sc, -1, e); }

static bool clamp_sel(Scene *sc, int v, bool layer, Err *e) {
    if (!sc->ses[0]) return nothing(e, "no model loaded");
    int n = layer ? session_model(sc->ses[0])->spec.n_layers : session_model(sc->ses[0])->spec.n_heads;
    v = v < 0 ? 0 : v >= n ? n - 1 : v;
    return layer ? scene_select_layer(sc, v, e) : scene_select_head(sc, v, e);
}
static bool a_layer_prev(Scene *sc, int arg, Err *e) { (void)arg; return clamp_sel(sc, scene_sel(sc, 0).layer - 1, true, e); }
static bool a_layer_next(Scene *sc, int arg, Err *e) { (void)arg; return clamp_sel(sc, scene_sel(sc, 0).layer + 1, true, e); }
static bool a_head_prev(Scene *sc, int arg, Err *e) { (void)arg; return clamp_sel(sc, scene_sel(sc, 0).head - 1, false, e); }
static bool a_head_next(Scene *sc, int arg, Err *e) { (void)arg; return clamp_sel(sc, scene_sel(sc, 0).head + 1, false, e); }

static bool a_ablate_toggle(Scene *sc, int arg, Err *e) {
    (void)arg;
    if (!sc->ses[0]) return nothing(e, "no model loaded");
    const Session *s = sc->ses[0];
    Selection sel = scene_sel(sc, 0);
    bool on = session_ablate_layer(s) == sel.layer && session_ablate_head(s) == sel.head;
    return scene_set_ablation(sc, -1, on ? -1 : sel.layer, sel.head, e);
}
static bool a_run_toggle(Scene *sc, int arg, Err *e) { (void)arg; return scene_set_running(sc, !sc->running, e); }
static bool a_side_toggle(Scene *sc, int arg, Err *e) { (void)arg; return scene_show_side(sc, sc->side_on ? -1 : sc->side_panel, e); }
static bool a_panel(Scene *sc, int arg, Err *e) { return scene_show_panel(sc, arg, e); }
static bool a_panel_next(Scene *sc, int arg, Err *e) { (void)arg; return scene_show_panel(sc, (sc->panel + 1) % PANEL_COUNT, e); }
static bool a_panel_prev(Scene *sc, int arg, Err *e) { (void)arg; return scene_show_panel(sc, (sc->panel + PANEL_COUNT - 1) % PANEL_COUNT, e); }

/* attention: key column and view */
static bool a_key_prev(Scene *sc, int arg, Err *e) {
    (void)arg;
    if (!sc->ses[0] || session_cursor(sc->ses[0]) < 0) return nothing(e, "no token computed yet");
    int k = sc->sel.key, q = session_cursor(sc->ses[0]);
    return scene_select_key(sc, k < 0 || k > q ? q : (k > 0 ? k - 1 : 0), e);
}
static bool a_key_next(Scene *sc, int arg, Err *e) {
    (void)arg;
    if (!sc->ses[0] || session_cursor(sc->ses[0]) < 0) return nothing(e, "no token computed yet");
    int k = sc->sel.key, q = session_cursor(sc->ses[0]);
    return scene_select_key(sc, k < 0 || k > q ? 0 : (k < q ? k + 1 : q), e);
}
static bool a_key_off(Scene *sc, int arg, Err *e) { (void)arg; return scene_key_off(sc, e); }
static bool a_attn_scores(Scene *sc, int arg, Err *e) { scene_note(sc, "attention.scores"); (void)arg; (void)e; sc->view.attn_scores = !sc->view.attn_scores; return true; }

/* embeddings: the selected token */
static bool emb_move(Scene *sc, int d, Err *e) { scene_note(sc, "embeddings.move");
    if (sc->view.emb_texts) {   /* texts view: the query text */
        int n = sc->view.texts.n, qy = sc->view.emb_query + d;
        if (n < 2) return nothing(e, "fewer than two texts: press E to enter more");
        sc->view.emb_query = (qy + n) % n;
        return true;
    }
    if (!sc->ses[0] || session_cursor(sc->ses[0]) < 0) return nothing(e, "no token computed yet");
    int q = session_cursor(sc->ses[0]), v = sc->view.emb_sel;
    int sel = v >= 0 && v <= q ? v : q;
    sel += d;
    sc->view.emb_sel = sel < 0 ? 0 : sel > q ? q : sel;
    return true;
}
static bool a_emb_prev(Scene *sc, int arg, Err *e) { (void)arg; return emb_move(sc, -1, e); }
static bool a_emb_next(Scene *sc, int arg, Err *e) { (void)arg; return emb_move(sc, 1, e); }
static bool a_emb_off(Scene *sc, int arg, Err *e) { scene_note(sc, "embeddings.off");
    (void)arg;
    if (sc->view.emb_sel < 0) return nothing(e, "no token is selected");
    sc->view.emb_sel = -1;
    return true;
}

/* embeddings: the residual layer shown (0 = token embedding .. n_layers = after the final norm) */
static bool emb_set_layer(Scene *sc, int l, Err *e) {
    if (!sc->ses[0]) return nothing(e, "no model loaded");
    int L = session_model(sc->ses[0])->spec.n_layers;
    if (l < 0) l = 0;
    if (l > L) l = L;
    if (l == sc->view.emb_layer) return nothing(e, l == 0 ? "already at the token embedding (layer 0)" : "already after the final norm");
    sc->view.emb_layer = l;
    return true;
}
static bool a_emb_layer(Scene *sc, int arg, Err *e) { scene_note(sc, "embeddings.layer"); return emb_set_layer(sc, arg, e); }
static bool a_emb_layer_next(Scene *sc, int arg, Err *e) { (void)arg; scene_note(sc, "embeddings.layer"); return emb_set_layer(sc, sc->view.emb_layer + 1, e); }
static bool a_emb_layer_prev(Scene *sc, int arg, Err *e) { (void)arg; scene_note(sc, "embeddings.layer"); return emb_set_layer(sc, sc->view.emb_layer - 1, e); }
static bool a_emb_texts(Scene *sc, int arg, Err *e) { scene_note(sc, "embeddings.texts"); (void)arg; (void)e; sc->view.emb_texts = !sc->view.emb_texts; return true; }
static bool a_emb_pool(Scene *sc, int arg, Err *e) { scene_note(sc, "embeddings.pool"); (void)arg;
    if (!sc->view.emb_texts) return nothing(e, "pooling applies to the texts view (t)");
    sc->view.emb_pool = sc->view.emb_pool == POOL_LAST ? POOL_MEAN : POOL_LAST;
    return true;
}
static bool a_emb_map(Scene *sc, int arg, Err *e) { scene_note(sc, "embeddings.map"); (void)arg; (void)e;
    sc->view.emb_map = !sc->view.emb_map;
    if (sc->view.emb_hold && sc->msg[0] && !sc->msg_error) sc->msg[0] = 0;   /* "... cancelled: v starts it again" is done */
    sc->view.emb_hold = false;              /* asked for again: the index and the fit may start */
    return true;
}

/* work on worker threads (the Embeddings panel's vocabulary index and map fit): stop it; the
 * panel starts nothing more until the map is asked for again (v) */
static bool a_work_cancel(Scene *sc, int arg, Err *e) { scene_note(sc, "work.cancel"); (void)arg;
    if (!derived_background_cancel()) return nothing(e, "no work to cancel");
    bool map = sc->view.emb_map;
    sc->view.emb_map = 0;
    sc->view.emb_hold = true;
    if (map) scene_status(sc, false, "vocabulary map fit cancelled: v starts it again");
    else scene_status(sc, false, "vocabulary indexing cancelled: v starts it again");
    return true;
}

/* kv: the what-if context length */
static long long kv_cur(const Scene *sc) {
    int own = sc->ses[0] && session_max_ctx(sc->ses[0]) > 0 ? session_max_ctx(sc->ses[0]) : 512;
    return sc->view.kv_ctx > 0 ? sc->view.kv_ctx : own;
}
static bool a_kv_more(Scene *sc, int arg, Err *e) { scene_note(sc, "kv.more"); (void)arg; (void)e; long long c = kv_cur(sc); if (c < (1LL << 21)) sc->view.kv_ctx = c * 2; return true; }
static bool a_kv_less(Scene *sc, int arg, Err *e) { scene_note(sc, "kv.less"); (void)arg; (void)e; long long c = kv_cur(sc); if (c > 16) sc->view.kv_ctx = c / 2; return true; }
static bool a_kv_reset(Scene *sc, int arg, Err *e) { scene_note(sc, "kv.reset"); (void)arg; (void)e; sc->view.kv_ctx = 0; return true; }
static bool a_kv_prec(Scene *sc, int arg, Err *e) { scene_note(sc, "kv.prec"); (void)arg; (void)e; sc->view.kv_prec = (sc->view.kv_prec + 1) % 4; return true; }

/* norms: which norm is shown */
int scene_norms_which(const Scene *sc) {
    if (sc->view.norms_which >= 0) return sc->view.norms_which;
    if (sc->sel.stage == STAGE_NORM2) return 1;
    if (sc->sel.stage == STAGE_FINAL_NORM) return 2;
    return 0;
}
static bool a_norms_next(Scene *sc, int arg, Err *e) { scene_note(sc, "norms.next"); (void)arg; (void)e; sc->view.norms_which = (scene_norms_which(sc) + 1) % 3; return true; }
static bool a_norms_follow(Scene *sc, int arg, Err *e) { scene_note(sc, "norms.follow"); (void)arg; (void)e; sc->view.norms_which = -1; return true; }

/* position: the lower-right view and the RoPE pairs shown */
static bool a_pos_view(Scene *sc, int arg, Err *e) { scene_note(sc, "position.view"); (void)arg; (void)e; sc->view.pos_view = !sc->view.pos_view; return true; }
static bool a_pos_prev(Scene *sc, int arg, Err *e) { scene_note(sc, "position.prev");
    (void)arg; (void)e;
    int p = sc->view.pos_pair0;
    sc->view.pos_pair0 = p < 0 ? 0 : (p > 0 ? p - 1 : -1);
    return true;
}
static bool a_pos_next(Scene *sc, int arg, Err *e) { scene_note(sc, "position.next");
    (void)arg;
    if (!sc->ses[0]) return nothing(e, "no model loaded");
    int P = trace_dims(session_trace(sc->ses[0]))->rot_dim / 2, p = sc->view.pos_pair0;
    sc->view.pos_pair0 = p < 0 ? 0 : (p + 1 < P ? p + 1 : p);
    return true;
}

/* output: the sampling preview */
static bool a_out(Scene *sc, int arg, Err *e) { scene_note(sc, "output.preview");
    SamplePreviewCfg *p = &sc->view.preview;
    switch (arg) {
    case 0: p->temperature = fmaxf(0.05f, p->temperature - 0.1f); p->greedy = false; return true;
    case 1: p->temperature = fminf(5.0f, p->temperature + 0.1f); p->greedy = false; return true;
    case 2: p->top_k = p->top_k > 1 ? p->top_k / 2 : 0; return true;
    case 3: p->top_k = p->top_k ? (p->top_k * 2 <= TRACE_TOPK ? p->top_k * 2 : TRACE_TOPK) : 1; return true;
    case 4: p->top_p = fmaxf(0.05f, p->top_p - 0.05f); return true;
    case 5: p->top_p = fminf(1.0f, p->top_p + 0.05f); return true;
    case 6: p->greedy = !p->greedy; return true;
    case 7: {
        if (!sc->ses[0] || !session_sampler(sc->ses[0])) return nothing(e, "no sampler");
        SamplerCfg c = sampler_cfg(session_sampler(sc->ses[0]));
        *p = (SamplePreviewCfg){c.temperature, c.top_k, c.top_p, c.greedy};
        return true;
    }
    default: return nothing(e, "unknown preview change");
    }
}

/* output: the quantization lens (analysis/quantlens.h) of the selected layer at the cursor.
 * ARG 0 cycles off -> Q8_0 -> Q4_K -> Q4_0 -> as loaded -> off; 1..4 picks one; -1 turns it off. */
static bool a_out_quant(Scene *sc, int arg, Err *e) { scene_note(sc, "output.quant");
    if (arg < -1 || arg > 4) return nothing(e, "quantization lens: ARG is 0 (next), 1..4 (Q8_0, Q4_K, Q4_0, as loaded) or -1 (off)");
    sc->view.quant_lens = arg == 0 ? (sc->view.quant_lens + 1) % 5 : arg < 0 ? 0 : arg;
    return true;
}
/* the trade-off view: quality against KV bytes of the measured family, over the panels */
static bool a_tradeoff(Scene *sc, int arg, Err *e) { scene_note(sc, "tradeoff.toggle"); (void)arg; (void)e; sc->view.tradeoff = !sc->view.tradeoff; return true; }

static bool a_chat_toggle(Scene *sc, int arg, Err *e) { (void)arg; return scene_set_chat(sc, !sc->chat, e); }

static const SceneAction ACTIONS[] = {
    {"step", a_step, "next token (the first step runs the prefill)", false},
    {"back", a_back, "previous token (nothing is recomputed)", false},
    {"first", a_first, "first token", false},
    {"last", a_last, "last computed token", false},
    {"stage.next", a_stage_next, "step into the next sublayer stage", false},
    {"stage.prev", a_stage_prev, "previous sublayer stage", false},
    {"layer.prev", a_layer_prev, "previous layer", true},
    {"layer.next", a_layer_next, "next layer", true},
    {"head.prev", a_head_prev, "previous head", true},
    {"head.next", a_head_next, "next head", true},
    {"ablate.toggle", a_ablate_toggle, "zero the selected head's output (hook_z) and recompute; again to undo", false},
    {"chat.toggle", a_chat_toggle, "chat mode: the prompt as a user message through the model's chat template (as run --chat)", false},
    {"run.toggle", a_run_toggle, "run: step on a timer until the end of text", false},
    {"side.toggle", a_side_toggle, "side panel on/off", true},
    {"panel", a_panel, "show panel ARG", true},
    {"panel.next", a_panel_next, "next panel", true},
    {"panel.prev", a_panel_prev, "previous panel", true},
    {"key.prev", a_key_prev, "attention: key column to the left", true},
    {"key.next", a_key_next, "attention: key column to the right", true},
    {"key.off", a_key_off, "attention: no key column", true},
    {"attention.scores", a_attn_scores, "attention: pre-softmax scores / pattern", true},
    {"embeddings.prev", a_emb_prev, "embeddings: select the previous token (texts view: the previous query text)", true},
    {"embeddings.next", a_emb_next, "embeddings: select the next token (texts view: the next query text)", true},
    {"embeddings.off", a_emb_off, "embeddings: back to the cursor", true},
    {"embeddings.layer", a_emb_layer, "embeddings: show residual layer ARG (0 = token embedding .. n_layers = after the final norm)", true},
    {"embeddings.layer_next", a_emb_layer_next, "embeddings: one residual layer up", true},
    {"embeddings.layer_prev", a_emb_layer_prev, "embeddings: one residual layer down", true},
    {"embeddings.map", a_emb_map, "embeddings: the prompt's tokens / the vocabulary map", true},
    {"work.cancel", a_work_cancel, "stop the work running on a worker thread (the Embeddings panel's vocabulary index or map; v starts it again)", true},
    {"embeddings.texts", a_emb_texts, "embeddings: the texts view (prompt vs prompt: sentence vectors, cosine matrix, ranking) on/off", true},
    {"embeddings.pool", a_emb_pool, "embeddings texts view: mean / last-token pooling", true},
    {"kv.more", a_kv_more, "kv: what-if context x2", true},
    {"kv.less", a_kv_less, "kv: what-if context /2", true},
    {"kv.reset", a_kv_reset, "kv: the session's context", true},
    {"kv.prec", a_kv_prec, "kv: next what-if precision of the cache (f32, bf16, fp8, int4)", true},
    {"norms.next", a_norms_next, "norms: ln1 / ln2 / final", true},
    {"norms.follow", a_norms_follow, "norms: follow the stage", true},
    {"position.view", a_pos_view, "position: sinusoid / scaling view", true},
    {"position.prev", a_pos_prev, "position: previous RoPE pairs", true},
    {"position.next", a_pos_next, "position: next RoPE pairs", true},
    {"tradeoff.toggle", a_tradeoff, "trade-off view on/off: bits/byte against KV bytes per token of the family (family.json), loaded model(s) marked", true},
    {"output.preview", a_out, "output: preview change ARG (0 T-, 1 T+, 2 k/2, 3 k*2, 4 p-, 5 p+, 6 greedy, 7 = sampler)", true},
    {"output.quant", a_out_quant, "output: quantization lens of the selected layer, ARG 0 next type (off, Q8_0, Q4_K, Q4_0, as loaded), 1..4 one, -1 off", true},
};

const SceneAction *scene_action_table(int *n) {
    if (n) *n = (int)(sizeof ACTIONS / sizeof ACTIONS[0]);
    return ACTIONS;
}

const SceneAction *scene_action_find(const char *name) {
    for (size_t i = 0; name && i < sizeof ACTIONS / sizeof ACTIONS[0]; i++)
        if (!strcmp(ACTIONS[i].name, name)) return &ACTIONS[i];
    return NULL;
}

bool scene_do(Scene *sc, const char *name, int arg, Err *e) {
    const SceneAction *a = scene_action_find(name);
    if (!a) return err_set(e, ERR_ARG, "unknown action \"%s\"", name ? name : "");
    return a->fn(sc, arg, e);
}
