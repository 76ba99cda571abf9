/* The scene and its named actions (see scene.h). Every change to what the class sees goes
 * through one of these functions; the keymap (keymap.c) and the lesson player call them. */
#include "core/path.h"
#include "core/i18n.h"
#include "scene/scene_int.h"
#include "analysis/derived.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const PANEL_NAMES[PANEL_COUNT] = {
    "attention", "kv", "residual", "norms", "position", "embeddings", "ffn", "output"};

const char *scene_panel_name(int p) { return p >= 0 && p < PANEL_COUNT ? PANEL_NAMES[p] : NULL; }

int scene_panel_find(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < PANEL_COUNT; i++)
        if (!strcmp(PANEL_NAMES[i], name)) return i;
    /* also accept 1..8 and common short names */
    if (name[0] >= '1' && name[0] < '1' + PANEL_COUNT && !name[1]) return name[0] - '1';
    static const struct { const char *alias; int id; } A[] = {
        {"attn", PANEL_ATTENTION}, {"kvcache", PANEL_KV}, {"kv-cache", PANEL_KV}, {"resid", PANEL_RESIDUAL},
        {"norm", PANEL_NORMS}, {"pos", PANEL_POSITION}, {"rope", PANEL_POSITION}, {"embed", PANEL_EMBEDDINGS},
        {"mlp", PANEL_FFN}, {"moe", PANEL_FFN}, {"logits", PANEL_OUTPUT}, {"out", PANEL_OUTPUT}};
    for (size_t i = 0; i < sizeof A / sizeof A[0]; i++)
        if (!strcmp(A[i].alias, name)) return A[i].id;
    return -1;
}

const char *scene_panel_names(void) { return "attention kv residual norms position embeddings ffn output"; }

int scene_panel_for_stage(Stage st) {
    switch (st) {
    case STAGE_EMBED: return PANEL_EMBEDDINGS;
    case STAGE_POS: case STAGE_ROPE: return PANEL_POSITION;
    case STAGE_NORM1: case STAGE_NORM2: case STAGE_FINAL_NORM: return PANEL_NORMS;
    case STAGE_QKV: case STAGE_SCORES: case STAGE_SOFTMAX: return PANEL_ATTENTION;
    case STAGE_ATTN_OUT: case STAGE_ADD1: case STAGE_ADD2: return PANEL_RESIDUAL;
    case STAGE_FFN: return PANEL_FFN;
    case STAGE_LOGITS: case STAGE_SAMPLE: return PANEL_OUTPUT;
    default: return PANEL_ATTENTION;
    }
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void defaults(Scene *sc) {
    sc->sel = (Selection){.layer = 0, .head = 0, .stage = STAGE_EMBED, .key = -1};
    sc->panel = PANEL_ATTENTION;
    sc->side_panel = PANEL_OUTPUT;
    sc->side_on = true;
    sc->stage_follow = true;
    sc->view = (SceneView){.attn_scores = false, .emb_sel = -1, .emb_layer = 0, .emb_map = 0, .kv_ctx = 0, .norms_which = -1, .pos_view = 0,
                           .pos_pair0 = -1, .preview = {.temperature = 0.7f, .top_k = 0, .top_p = 1.0f, .greedy = false}};
    sc->scfg = (SamplerCfg){.greedy = true, .temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 42};
    sc->gen_follow = false;   /* greedy until asked (a lesson's start comes here); gen_opts stay */
    sc->running = false;
    sc->msg[0] = 0;
    sc->msg_error = false;
}

Scene *scene_new(void) {
    Scene *sc = calloc(1, sizeof *sc);
    if (!sc) return NULL;
    defaults(sc);
    sc->gen_opts = (GenOverride){.seed = 42};   /* no sampling option given: run's --seed default */
    return sc;
}

void scene_free(Scene *sc) {
    if (!sc) return;
    scene_load_abandon(sc);
    for (int i = 0; i < 2; i++)
        if (sc->own[i] && sc->ses[i]) derived_background_cancel_model(session_model(sc->ses[i]));
    derived_wait_model_readers();   /* a panel's index or map job may still read a model */
    for (int i = 0; i < 2; i++)
        if (sc->own[i] && sc->ses[i]) {
            if (sc->release_cb) sc->release_cb(sc->release_ud, sc->ses[i]);
            session_free(sc->ses[i]);
        }
    free(sc);
}

void scene_set_session(Scene *sc, int slot, Session *s, bool own) {
    if (slot < 0 || slot > 1) return;
    if (sc->ses[slot] && sc->own[slot] && sc->ses[slot] != s) {
        /* a panel's index or map job may still read its model: it is of no use now, so it is
         * asked to stop (it checks between rows: milliseconds) rather than waited for (seconds
         * on a big vocabulary) */
        derived_background_cancel_model(session_model(sc->ses[slot]));
        derived_wait_model_readers();
        if (sc->release_cb) sc->release_cb(sc->release_ud, sc->ses[slot]);
        session_free(sc->ses[slot]);
    }
    if (s && s != sc->ses[slot]) sc->view.emb_hold = false;   /* a new model: its panels' work may start */
    sc->ses[slot] = s;
    sc->own[slot] = own;
    if (slot == 0 && !s && sc->ses[1]) scene_set_session(sc, 1, NULL, false);
    sc->n_ses = sc->ses[1] ? 2 : (sc->ses[0] ? 1 : 0);
    if (s && slot == 0 && session_sampler(s)) sc->scfg = sampler_cfg(session_sampler(s));
}

void scene_reset(Scene *sc) {
    scene_load_abandon(sc);
    sc->job.kind = SCENE_JOB_NONE;
    scene_set_session(sc, 1, NULL, false);
    defaults(sc);
}

Selection scene_sel(const Scene *sc, int side) {
    Selection s = sc->sel;
    const Session *ses = side >= 0 && side < 2 ? sc->ses[side] : NULL;
    if (!ses) return s;
    const ModelSpec *sp = &session_model(ses)->spec;
    s.layer = s.layer < 0 ? 0 : s.layer >= sp->n_layers ? sp->n_layers - 1 : s.layer;
    s.head = s.head < 0 ? 0 : s.head >= sp->n_heads ? sp->n_heads - 1 : s.head;
    if (s.key > session_cursor(ses)) s.key = -1;
    return s;
}

void scene_note(Scene *sc, const char *action) {
    if (sc->n_trail >= SCENE_TRAIL) {
        memmove(sc->trail, sc->trail + 1, sizeof sc->trail[0] * (SCENE_TRAIL - 1));
        sc->trail[SCENE_TRAIL - 1] = action;
    } else sc->trail[sc->n_trail] = action;
    sc->n_trail++;
}

void scene_status(Scene *sc, bool error, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc->msg, sizeof sc->msg, tr(fmt), ap);   /* the catalogue keeps fmt's conversions */
    va_end(ap);
    sc->msg_error = error;
}

bool scene_fail(Scene *sc, Err *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc->msg, sizeof sc->msg, tr(fmt), ap);   /* the status line speaks the UI's language */
    va_end(ap);
    sc->msg_error = true;
    return err_set(e, e && e->code ? e->code : ERR_ARG, "%s", sc->msg);
}

const char *scene_tag(const Scene *sc, int i) { return sc->n_ses > 1 ? (i ? "B: " : "A: ") : ""; }

/* Finishes pending work (an action that reads tokens needs them all). */
static bool settle(Scene *sc, Err *e) { return scene_settle(sc, e); }

static bool need_model(Scene *sc, Err *e) {
    if (sc->ses[0]) return true;
    return scene_fail(sc, e, "no model loaded: press m to choose one");
}

/* The model's defaults under the recorded options for session s: the choice and gen_desc. */
static bool model_choice(Scene *sc, const Session *s, GenChoice *c, Err *e) {
    Err e2 = {0};
    if (!gen_choose(&session_model(s)->spec, &sc->gen_opts, c, &e2)) {
        snprintf(sc->gen_desc, sizeof sc->gen_desc, "%.*s", (int)strcspn(e2.msg, "\n"), e2.msg);
        return err_set(e, e2.code, "%s", e2.msg);
    }
    gen_describe(c, true, sc->gen_desc, sizeof sc->gen_desc);
    return true;
}

/* The sampler session i takes while the scene follows the models' defaults: its own model's, as
 * `run --model` would with the recorded options (compare slot B too). When the fields it needs are
 * wrong: greedy, and *why (for the status line) says so, prefixed with the side in compare mode. */
static SamplerCfg own_choice(Scene *sc, int i, const Session *s, char *why, size_t cap) {
    GenChoice c;
    Err e2 = {0};
    why[0] = 0;
    if (gen_choose(&session_model(s)->spec, &sc->gen_opts, &c, &e2)) return c.cfg;
    snprintf(why, cap, tr("%s%.*s; greedy (s: sampling settings)"), i ? "B: " : "", (int)strcspn(e2.msg, "\n"), e2.msg);
    SamplerCfg g = sc->scfg;
    g.greedy = true;
    return g;
}

/* ---- sessions: load, follow, prompt ------------------------------------------------------------ */

bool scene_load_model(Scene *sc, int slot, const char *path, Err *e) {
    scene_note(sc, "load_model");
    if (slot < 0 || slot > 1) return scene_fail(sc, e, "no slot %d (0 = A, 1 = B)", slot);
    if (slot == 1 && !sc->ses[0]) return scene_fail(sc, e, "compare mode needs a model in slot A first");
    /* pending work ends first; a prefill of A's prompt is begun again on the new model */
    bool reprefill = slot == 0 && sc->job.kind == SCENE_JOB_PREFILL;
    if (sc->job.kind && !reprefill && !settle(sc, e)) return false;
    sc->job.kind = SCENE_JOB_NONE;
    sc->job.reprefill = reprefill;
    int max_ctx = sc->max_ctx ? sc->max_ctx : (sc->ses[0] ? session_max_ctx(sc->ses[0]) : 0);
    if (sc->chunked) return scene_load_start(sc, slot, path, max_ctx, e);   /* on a worker; the UI goes on */
    scene_status(sc, false, "loading model...");
    if (sc->busy_cb) sc->busy_cb(sc->busy_ud);
    Err e2 = {0};
    Session *s = session_new(path, max_ctx, &e2);
    if (!s) return scene_fail(sc, e, "%s", e2.msg[0] ? e2.msg : tr("cannot load the model"));
    return scene_load_finish(sc, slot, path, s, e);
}

/* A model loaded into slot A: the scene's choices made on the model it replaces (by the view keys
 * too, which act on the model still shown while the new one loads) carry over only as far as the
 * new model has them, so that what is drawn and the next key start from the same place: the layer
 * and head (every action keeps them within A's model; scene_sel clamps them for B), the
 * Embeddings panel's residual layer and the Position panel's first RoPE pair are brought into its
 * range (none: the pairs spread), and the attention key column and the Embeddings panel's selected
 * token, positions of the old model's tokens, go (as with a new prompt). Without this the Position
 * panel drew no dial after story-gqa's pair 11 met story-mla's 4 pairs, and its keys seemed dead. */
static void fit_view_to_model(Scene *sc, const Session *s) {
    const ModelSpec *sp = &session_model(s)->spec;
    Selection *sel = &sc->sel;
    sel->layer = sel->layer < 0 ? 0 : sel->layer >= sp->n_layers ? sp->n_layers - 1 : sel->layer;
    sel->head = sel->head < 0 ? 0 : sel->head >= sp->n_heads ? sp->n_heads - 1 : sel->head;
    sel->key = -1;
    SceneView *v = &sc->view;
    v->emb_sel = -1;
    v->emb_layer = v->emb_layer < 0 ? 0 : v->emb_layer > sp->n_layers ? sp->n_layers : v->emb_layer;
    const int pairs = sp->pos == POS_ROPE ? trace_dims(session_trace(s))->rot_dim / 2 : 0;
    if (v->pos_pair0 >= pairs) v->pos_pair0 = pairs - 1;   /* -1 when the new model has none */
}

bool scene_load_finish(Scene *sc, int slot, const char *path, Session *s, Err *e) {
    Err e2 = {0};
    const Session *ref = sc->ses[0];
    bool prefill = false;
    char bwhy[SCENE_MSG_CAP] = "";
    if (slot == 1) {
        /* following the models' defaults, B samples with its own model's (as `run --model B` would with
         * the same options: each strip shows what its model writes; the band scores both on A's text);
         * else with A's sampler (set by hand, or a lesson's greedy one) */
        session_set_sampler(s, sc->gen_follow ? own_choice(sc, 1, s, bwhy, sizeof bwhy) : sampler_cfg(session_sampler(ref)));
        if (!session_follow_begin(s, ref, &e2)) { session_free(s); return scene_fail(sc, e, "B: %s", e2.msg); }
    } else if (ref) {
        /* the new model reads the same prompt, prefilled; the selection stays */
        session_set_sampler(s, sc->scfg);
        bool ok = session_prompt(ref)[0] ? session_set_prompt(s, session_prompt(ref), &e2)
                                 : (session_n_prompt(ref) ? session_set_ids(s, session_prompt_ids(ref), session_n_prompt(ref), &e2) : true);
        if (!ok) { session_free(s); return scene_fail(sc, e, "%s", e2.msg); }
        prefill = session_n_prompt(ref) && (session_prefilled(ref) || sc->job.reprefill);
    }
    SamplerCfg keep = sc->scfg;
    /* following the model's defaults (the TUI's start): the new model's, as `run` would take them;
     * when they are wrong, greedy and the status line says why */
    Err ge = {0};
    GenChoice gc;
    bool gen_bad = false;
    if (slot == 0 && sc->gen_follow) {
        if (model_choice(sc, s, &gc, &ge)) keep = gc.cfg;
        else {
            gen_bad = true;
            keep.greedy = true;
        }
    }
    scene_set_session(sc, slot, s, true);
    if (slot == 0) fit_view_to_model(sc, s);
    sc->scfg = keep;
    if (slot == 0) session_set_sampler(s, keep);
    if (slot == 0 && sc->ses[1] && !session_follow_begin(sc->ses[1], s, &e2)) return scene_fail(sc, e, "B: %s", e2.msg);
    sc->running = false;
    sc->job.kind = SCENE_JOB_NONE;
    sc->job.reprefill = false;
    char nm[256], msg[SCENE_MSG_CAP];
    const Model *mdl = session_model(s);
    /* the note on fields our sampler lacks: those that act in the decode the model now runs */
    const char *note = gen_defaults_unapplied(&mdl->spec.gen, !sampler_cfg(session_sampler(s)).greedy);
    bool warn = mdl->warning[0] || gen_bad || bwhy[0] || note[0];
    if (mdl->warning[0]) snprintf(msg, sizeof msg, "%s", mdl->warning);
    else if (gen_bad) snprintf(msg, sizeof msg, tr("%s; greedy (s: sampling settings)"), sc->gen_desc);
    else if (bwhy[0]) snprintf(msg, sizeof msg, "%s", bwhy);
    else if (note[0]) snprintf(msg, sizeof msg, "%s", note);
    else snprintf(msg, sizeof msg, tr("loaded %s"), path_base_name(path, true, nm, sizeof nm));
    if (slot == 1) {
        if (!scene_begin_work(sc, SCENE_JOB_FOLLOW, msg, e)) { scene_set_session(sc, 1, NULL, false); return false; }
    } else if (prefill && !scene_begin_work(sc, SCENE_JOB_PREFILL, msg, e)) return false;
    if (!sc->job.kind) scene_status(sc, warn, "%s", msg);
    return true;
}

void scene_compare_off(Scene *sc) {
    scene_note(sc, "compare_off");
    if (sc->job.kind == SCENE_JOB_FOLLOW) sc->job.kind = SCENE_JOB_NONE;
    scene_set_session(sc, 1, NULL, false);
    scene_status(sc, false, "compare mode off");
}

bool scene_set_prompt(Scene *sc, const char *text, bool prefill, Err *e) {
    scene_note(sc, "set_prompt");
    if (sc->job.kind == SCENE_JOB_LOAD && !settle(sc, e)) return false;
    if (!need_model(sc, e)) return false;
    for (int i = 0; i < sc->n_ses; i++) {
        Err e2 = {0};
        Session *s = sc->ses[i];
        bool set = sc->chat ? session_set_chat_prompt(s, text, &e2) : session_set_prompt(s, text, &e2);
        if (!set) return scene_fail(sc, e, "%s%s", scene_tag(sc, i), e2.msg[0] ? e2.msg : tr("cannot set the prompt"));
    }
    sc->job.kind = SCENE_JOB_NONE;   /* work on the previous prompt is dropped with it */
    sc->sel.stage = STAGE_EMBED;
    sc->sel.key = -1;
    sc->view.emb_sel = -1;
    scene_status(sc, false, "prompt set: %d tokens", session_n_prompt(sc->ses[0]));
    return !prefill || scene_begin_work(sc, SCENE_JOB_PREFILL, NULL, e);
}

bool scene_set_texts(Scene *sc, const char *const *texts, int n, Err *e) {
    scene_note(sc, "set_texts");
    if (n < 1 || n > SIM_TEXTS_MAX) return scene_fail(sc, e, "texts: give 1 to %d texts (got %d)", SIM_TEXTS_MAX, n);
    for (int i = 0; i < n; i++) {
        size_t len = texts[i] ? strlen(texts[i]) : 0;
        if (!len) return scene_fail(sc, e, "texts: text %d is empty", i + 1);
        if (len >= SIM_TEXT_CAP) return scene_fail(sc, e, "texts: text %d has %zu bytes; at most %d fit", i + 1, len, SIM_TEXT_CAP - 1);
        if (strpbrk(texts[i], "\n\r")) return scene_fail(sc, e, "texts: text %d holds a line break; give one text per line", i + 1);
    }
    sc->view.texts.n = n;
    for (int i = 0; i < n; i++) snprintf(sc->view.texts.text[i], SIM_TEXT_CAP, "%s", texts[i]);
    sc->view.emb_texts = true;
    sc->view.emb_query = 0;
    if (n == 1) scene_status(sc, false, "%d text to compare", n);
    else scene_status(sc, false, "%d texts to compare", n);
    return true;
}

bool scene_set_chat(Scene *sc, bool on, Err *e) {
    scene_note(sc, "set_chat");
    if (!need_model(sc, e)) return false;
    bool was = sc->chat;
    sc->chat = on;
    char text[SESSION_PROMPT_MAX];
    snprintf(text, sizeof text, "%s", session_prompt(sc->ses[0]));
    Err e2 = {0};
    if (!scene_set_prompt(sc, text, false, &e2)) {
        sc->chat = was;
        Err e3 = {0};
        scene_set_prompt(sc, text, false, &e3);
        return scene_fail(sc, e, "chat mode: %s", e2.msg);
    }
    scene_status(sc, false, on ? "chat mode: the prompt is a user message through the model's chat template (%d tokens)"
                               : "chat mode off: the prompt is plain text (%d tokens)", session_n_prompt(sc->ses[0]));
    return true;
}

/* ---- stepping ------------------------------------------------------------------------------------ */

bool scene_step(Scene *sc, Err *e) {
    scene_note(sc, "step");
    if (!need_model(sc, e)) return false;
    if (sc->job.kind) return settle(sc, e);
    if (sc->chunked && !session_prefilled(sc->ses[0]) && session_n_prompt(sc->ses[0])) return scene_begin_work(sc, SCENE_JOB_PREFILL, NULL, e);
    bool ok = true;
    for (int i = 0; i < sc->n_ses; i++) {
        Err e2 = {0};
        if (!session_step(sc->ses[i], &e2)) {
            ok = false;
            scene_fail(sc, e, "%s%s", scene_tag(sc, i), e2.msg[0] ? e2.msg : tr("cannot step"));
        }
    }
    if (ok) sc->msg[0] = 0, sc->msg_error = false;
    return ok;
}

bool scene_step_back(Scene *sc, Err *e) {
    scene_note(sc, "step_back");
    if (!need_model(sc, e) || !settle(sc, e)) return false;
    bool any = false;
    for (int i = 0; i < sc->n_ses; i++) any |= session_back(sc->ses[i]);
    sc->msg[0] = 0;
    sc->msg_error = false;
    if (!any) return err_set(e, ERR_ARG, "already at the first token");
    return true;
}

bool scene_goto(Scene *sc, int side, int pos, Err *e) {
    scene_note(sc, "goto");
    if (!need_model(sc, e) || !settle(sc, e)) return false;
    if (side < 0 || side >= sc->n_ses) return scene_fail(sc, e, "no side %d", side);
    Session *s = sc->ses[side];
    int len = session_len(s);
    if (len <= 0) return scene_fail(sc, e, "no token has been computed yet (step first)");
    int p = pos < 0 ? len + pos : pos;
    if (p < 0 || p >= len) return scene_fail(sc, e, "%sposition %d is outside the %d computed tokens", scene_tag(sc, side), pos, len);
    int delta = p - session_cursor(s);
    for (int k = 0; k < sc->n_ses; k++) {
        Session *o = sc->ses[k];
        int want = k == side ? p : session_cursor(o) + delta, n = session_len(o);
        session_goto(o, want < 0 ? 0 : want >= n ? n - 1 : want);
    }
    if (sc->sel.key > session_cursor(sc->ses[0])) sc->sel.key = -1;
    return true;
}

static bool stage_applies(const Session *s, Stage st) {
    const ModelSpec *sp = &session_model(s)->spec;
    if (st == STAGE_POS) return sp->pos == POS_LEARNED;
    if (st == STAGE_ROPE) return sp->pos == POS_ROPE;
    return true;
}

/* One stage forward or back on A's model; crossing the ends of the stage list moves every
 * session to the next/previous token (decoding when at the end). */
static bool step_into_once(Scene *sc, int dir, Err *e) {
    Session *s0 = sc->ses[0];
    if (session_cursor(s0) < 0) return scene_fail(sc, e, "no token computed yet: step first");
    const int L = session_model(s0)->spec.n_layers;
    Selection *sel = &sc->sel;
    if (sel->layer >= L) sel->layer = L - 1;
    for (int guard = 0; guard < STAGE_COUNT * 2; guard++) {
        int st = (int)sel->stage + (dir > 0 ? 1 : -1);
        if (dir > 0) {
            if (sel->stage == STAGE_ADD2 && sel->layer < L - 1) { sel->layer++; st = STAGE_NORM1; }
            if (st >= STAGE_COUNT) {        /* past "sample": the next token */
                if (session_cursor(s0) + 1 >= session_len(s0)) {
                    if (!scene_step(sc, e)) return false;
                } else
                    for (int i = 0; i < sc->n_ses; i++) session_goto(sc->ses[i], session_cursor(sc->ses[i]) + 1);
                sel->stage = STAGE_EMBED;
                sel->layer = 0;
                return true;
            }
        } else {
            if (sel->stage == STAGE_NORM1 && sel->layer > 0) { sel->layer--; st = STAGE_ADD2; }
            if (st < 0) {
                if (session_cursor(s0) == 0) return scene_fail(sc, e, "already at the first stage of the first token");
                for (int i = 0; i < sc->n_ses; i++) session_back(sc->ses[i]);
                sel->stage = STAGE_SAMPLE;
                sel->layer = L - 1;
                return true;
            }
        }
        sel->stage = (Stage)st;
        if (stage_applies(s0, sel->stage)) return true;
    }
    return true;
}

bool scene_step_into(Scene *sc, int dir, Err *e) {
    scene_note(sc, "step_into");
    if (!need_model(sc, e) || !settle(sc, e)) return false;
    bool ok = step_into_once(sc, dir, e);
    if (sc->sel.key > session_cursor(sc->ses[0])) sc->sel.key = -1;
    if (sc->stage_follow) sc->panel = scene_panel_for_stage(sc->sel.stage);
    return ok;
}

bool scene_set_stage(Scene *sc, Stage st, int layer, Err *e) {
    scene_note(sc, "set_stage");
    if (!need_model(sc, e)) return false;
    if ((unsigned)st >= STAGE_COUNT) return scene_fail(sc, e, "no stage %d", (int)st);
    const Session *s0 = sc->ses[0];
    const ModelSpec *sp = &session_model(s0)->spec;
    if (st == STAGE_POS && sp->pos != POS_LEARNED)
        return scene_fail(sc, e, "stage \"position\" applies to learned positions; %s uses RoPE (stage \"rope\")", session_model_path(s0));
    if (st == STAGE_ROPE && sp->pos != POS_ROPE)
        return scene_fail(sc, e, "stage \"rope\" applies to RoPE models; %s adds learned positions (stage \"position\")", session_model_path(s0));
    for (int i = 0; i < sc->n_ses; i++)
        if (session_cursor(sc->ses[i]) < 0) return scene_fail(sc, e, "%sno token computed yet: step first", scene_tag(sc, i));
    if (layer >= 0 && !scene_select_layer(sc, layer, e)) return false;
    sc->sel.stage = st;
    if (sc->stage_follow) sc->panel = scene_panel_for_stage(st);
    return true;
}

/* ---- selection ------------------------------------------------------------------------------------ */

bool scene_select_layer(Scene *sc, int layer, Err *e) {
    scene_note(sc, "select_layer");
    if (!need_model(sc, e)) return false;
    int L = session_model(sc->ses[0])->spec.n_layers;
    if (layer < 0 || layer >= L) return scene_fail(sc, e, "no layer %d (the model has %d)", layer, L);
    sc->sel.layer = layer;
    return true;
}

bool scene_select_head(Scene *sc, int head, Err *e) {
    scene_note(sc, "select_head");
    if (!need_model(sc, e)) return false;
    int H = session_model(sc->ses[0])->spec.n_heads;
    if (head < 0 || head >= H) return scene_fail(sc, e, "no head %d (the model has %d)", head, H);
    sc->sel.head = head;
    return true;
}

bool scene_select_key(Scene *sc, int key, Err *e) {
    scene_note(sc, "select_key");
    if (!need_model(sc, e)) return false;
    int q = session_cursor(sc->ses[0]);
    if (q < 0) return scene_fail(sc, e, "no token computed yet: step first");
    int k = key < 0 ? q + 1 + key : key;
    if (k < 0 || k > q) return scene_fail(sc, e, "key %d: keys run from 0 to the query %d", key, q);
    sc->sel.key = k;
    return true;
}

bool scene_key_off(Scene *sc, Err *e) {
    scene_note(sc, "key_off");
    if (sc->sel.key < 0) return err_set(e, ERR_ARG, "no key column is selected");
    sc->sel.key = -1;
    return true;
}

bool scene_show_panel(Scene *sc, int panel, Err *e) {
    scene_note(sc, "show_panel");
    if (panel < 0 || panel >= PANEL_COUNT) return scene_fail(sc, e, "no panel %d (%s)", panel, scene_panel_names());
    sc->panel = panel;
    sc->view.tradeoff = false;      /* choosing a panel leaves the trade-off view */
    return true;
}

bool scene_show_side(Scene *sc, int panel, Err *e) {
    scene_note(sc, "show_side");
    if (panel < 0) { sc->side_on = false; return true; }
    if (panel >= PANEL_COUNT) return scene_fail(sc, e, "no panel %d (%s)", panel, scene_panel_names());
    sc->side_panel = panel;
    sc->side_on = true;
    return true;
}

/* ---- what-ifs: ablation, sampler, run mode ---------------------------------------------------------- */

bool scene_set_ablation(Scene *sc, int slot, int layer, int head, Err *e) {
    scene_note(sc, "set_ablation");
    if (!need_model(sc, e) || !settle(sc, e)) return false;
    if (slot >= sc->n_ses) return scene_fail(sc, e, "slot B: compare mode is off");
    for (int i = 0; i < sc->n_ses; i++) {
        if (slot >= 0 && slot != i) continue;
        Err e2 = {0};
        if (!session_set_ablation_begin(sc->ses[i], layer < 0 ? -1 : layer, layer < 0 ? -1 : head, &e2))
            return scene_fail(sc, e, "%s%s", scene_tag(sc, i), e2.msg);
    }
    char msg[SCENE_MSG_CAP];
    if (layer >= 0) {
        sc->sel.layer = layer;
        sc->sel.head = head;
        snprintf(msg, sizeof msg, tr("head %d of layer %d zeroed (hook_z); tokens recomputed"), head, layer);
    } else snprintf(msg, sizeof msg, "%s", tr("ablation cleared"));
    /* the recomputation (in pieces when chunked) */
    if (!scene_begin_work(sc, SCENE_JOB_RERUN, msg, e)) return false;
    if (!sc->job.kind) scene_status(sc, false, "%s", msg);
    return true;
}

bool scene_set_sampler(Scene *sc, int slot, SamplerCfg cfg, Err *e) {
    scene_note(sc, "set_sampler");
    if (slot >= 1 && sc->n_ses < 2) return scene_fail(sc, e, "slot B: compare mode is off");
    if (slot <= 0) sc->scfg = cfg;
    sc->gen_follow = false;
    for (int i = 0; i < sc->n_ses; i++)
        if (slot < 0 || slot == i) session_set_sampler(sc->ses[i], cfg);
    scene_status(sc, false, "sampling: %s", cfg.greedy ? tr("greedy") : tr("temperature / top-k / top-p"));
    return true;
}

bool scene_sampler_model(Scene *sc, const GenOverride *o, bool apply, Err *e) {
    scene_note(sc, "sampler_model");
    if (o) sc->gen_opts = *o;
    if (!need_model(sc, e)) return false;
    GenChoice c;
    Err e2 = {0};
    if (!model_choice(sc, sc->ses[0], &c, &e2)) {
        scene_status(sc, true, "%s", sc->gen_desc);
        return err_set(e, e2.code, "%s", e2.msg);
    }
    sc->gen_follow = true;
    if (!apply) return true;
    sc->scfg = c.cfg;
    session_set_sampler(sc->ses[0], c.cfg);
    char why[SCENE_MSG_CAP] = "";
    if (sc->n_ses > 1) session_set_sampler(sc->ses[1], own_choice(sc, 1, sc->ses[1], why, sizeof why));   /* B: its own model's */
    if (why[0]) scene_status(sc, true, "%s", why);
    else scene_status(sc, false, "%s", sc->gen_desc);
    return true;
}

bool scene_lesson_closed(Scene *sc, Err *e) {
    scene_note(sc, "lesson_closed");
    if (!sc->ses[0]) return true;
    Err e2 = {0};
    if (!scene_sampler_model(sc, NULL, true, &e2)) {   /* A's fields are wrong: A stays greedy, and says why */
        sc->gen_follow = true;   /* models loaded later take their own, as at the UI's start */
        char why[SCENE_MSG_CAP];
        if (sc->n_ses > 1) session_set_sampler(sc->ses[1], own_choice(sc, 1, sc->ses[1], why, sizeof why));
        scene_status(sc, true, "lesson closed; %.*s; greedy (s: sampling settings)", (int)strcspn(e2.msg, "\n"), e2.msg);
        return err_set(e, e2.code, "%s", e2.msg);
    }
    if (!sc->msg_error) scene_status(sc, false, "lesson closed; the model's own sampling again: %s", sc->gen_desc);
    return true;
}

bool scene_set_running(Scene *sc, bool on, Err *e) {
    scene_note(sc, "set_running");
    if (on && !need_model(sc, e)) return false;
    sc->running = on;
    scene_status(sc, false, on ? "running: r pauses" : "paused");
    return true;
}

bool scene_tick(Scene *sc, Err *e) {
    scene_note(sc, "tick");
    if (!sc->running || !sc->ses[0]) return false;
    Session *s = sc->ses[0];
    const TraceTok *t = trace_tok(session_trace(s), session_cursor(s));
    bool at_eos = t && spec_is_eos(&session_model(s)->spec, t->next_id) && session_cursor(s) == session_len(s) - 1;
    if (at_eos || !scene_step(sc, e)) {
        sc->running = false;
        if (!sc->msg_error) scene_status(sc, false, "stopped");
        return false;
    }
    return true;
}
