/* The scene: what the class is looking at, and the only way to change it (htop's State +
 * Action). One Scene owns both sessions (A, and B in compare mode), one selection (layer,
 * head, stage, attention key), the panel choice, the panels' view options, the sampler
 * settings, run mode and the status line. It offers named actions (scene_step,
 * scene_select_head, scene_set_prompt, scene_load_model, scene_show_panel, ...); the TUI's
 * keys (through the keymap table, keymap.c), mouse clicks, lesson steps, `screenshot` and
 * tests all call these same actions. Panels read the scene (const) and the trace; nobody
 * else writes the scene's fields.
 *
 * In compare mode every action applies to both sessions: they step together, share the
 * selection (clamped to each model when read, scene_sel) and the view options.
 *
 * Actions return false with e filled (what went wrong; in compare mode prefixed "A: "/"B: ")
 * and also leave that message on the status line, so a key handler may ignore e.
 * Ownership: scene_new returns a Scene freed with scene_free; sessions it loads (and those
 * given with own = true) are freed by it.
 */
#ifndef LLMSCOPE_SCENE_H
#define LLMSCOPE_SCENE_H
#include "analysis/sampling.h"
#include "analysis/simtexts.h"
#include "engine/gencfg.h"
#include "session/session.h"

/* Panels the scene can show (their drawing lives in tui/panels/). */
typedef enum {
    PANEL_ATTENTION = 0, PANEL_KV, PANEL_RESIDUAL, PANEL_NORMS, PANEL_POSITION,
    PANEL_EMBEDDINGS, PANEL_FFN, PANEL_OUTPUT, PANEL_COUNT
} PanelId;
const char *scene_panel_name(int panel);         /* "attention"; NULL outside the range */
int scene_panel_find(const char *name);          /* PanelId or -1 */
/* "attention kv residual ..." (for messages). */
const char *scene_panel_names(void);
/* Panel shown for a sublayer stage (step-into). */
int scene_panel_for_stage(Stage st);

/* The selection: one for the scene (both sides of compare mode). */
typedef struct {
    int layer, head;          /* as chosen; scene_sel clamps them to a side's model */
    Stage stage;              /* sublayer cursor (step-into) */
    int key;                  /* attention key column, -1 = none */
} Selection;

/* Panel view options (what a panel's own keys change). */
typedef struct {
    bool attn_scores;         /* attention: pre-softmax scores instead of the pattern */
    int emb_sel;              /* embeddings: selected position, -1 = the cursor */
    int emb_layer;            /* embeddings: residual layer shown, 0 = token embedding .. n_layers = final norm */
    int emb_map;              /* embeddings: 0 the prompt's tokens (PCA at emb_layer), 1 the vocabulary map */
    bool emb_hold;            /* embeddings: the vocabulary index / map work was cancelled (work.cancel): the panel
                               * starts none until the map is asked for again (embeddings.map) or a model is loaded */
    bool emb_texts;           /* embeddings: the texts view (prompt vs prompt) instead of the tokens */
    int emb_pool;             /* embeddings texts view: PoolKind (mean / last) */
    int emb_query;            /* embeddings texts view: the query text (0-based) the list is ranked against */
    SimTexts texts;           /* embeddings texts view: the texts compared (scene_set_texts) */
    long long kv_ctx;         /* kv: what-if context length, 0 = the session's context */
    int kv_prec;              /* kv: what-if element precision (KvPrec: f32, bf16, fp8, int4), 0 = f32 */
    int norms_which;          /* norms: -1 follow the stage, 0 ln1, 1 ln2, 2 final */
    int pos_view;             /* position: bottom-right 0 sinusoid, 1 scaling */
    int pos_pair0;            /* position: first RoPE pair shown when zoomed, -1 spread */
    SamplePreviewCfg preview; /* output: the sampling preview */
    int quant_lens;           /* output: the quantization lens, 0 off, 1 Q8_0, 2 Q4_K, 3 Q4_0, 4 as loaded */
    bool tradeoff;            /* the trade-off view (quality against KV bytes of the family) over the panels */
} SceneView;

#define SCENE_MSG_CAP 256
#define SCENE_TRAIL 64

typedef struct Scene {
    Session *ses[2];          /* [1] = compare session or NULL */
    bool own[2];
    int n_ses;                /* 0, 1 or 2 (compare mode) */
    Selection sel;
    int panel;                /* main panel (PanelId) */
    int side_panel;           /* shown beside the main one when wide (-1 = none) */
    bool side_on;
    bool stage_follow;        /* step-into shows the stage's panel */
    SceneView view;
    SamplerCfg scfg;          /* sampler of new sessions (and of A) */
    /* The model's sampling defaults as `run` reads them (engine/gencfg.h), under gen_opts (the
     * sampling options `tui` was given): while gen_follow is on, each model loaded into slot A
     * samples with them (scene_sampler_model turns it on; setting a sampler by hand, or a lesson's
     * start, turns it off: lessons decode greedily unless a step sets a sampler, and
     * scene_lesson_closed turns it on again); a compare model in slot B samples with its own model's
     * defaults the same way. gen_desc says
     * what the defaults are for A's model ("sampling with temperature 0.6, ... (generation_config.json)"
     * or the error that keeps them from use). */
    GenOverride gen_opts;
    bool gen_follow;
    /* The sampling options `lesson` was given (none by default): a lesson's player puts them over
     * every sampler the lesson sets, its greedy start and each step's `sampler` action
     * (gen_override_cfg), as `run` puts them over the model's defaults. */
    GenOverride lesson_opts;
    char gen_desc[SCENE_MSG_CAP];
    bool chat;                /* prompts go through the model's chat template (scene_set_chat) */
    bool running;             /* run mode: the app's timer steps */
    int max_ctx;              /* context of sessions the scene loads (0 = the model's) */
    char msg[SCENE_MSG_CAP];  /* status line: errors, hints */
    bool msg_error;
    /* The names of the actions applied, oldest first (the last SCENE_TRAIL; n_trail counts
     * all): how tests see that a key and a lesson step took the same path. */
    const char *trail[SCENE_TRAIL];
    int n_trail;
    /* Work in pieces, so an interactive UI never freezes: with chunked set (the TUI), the
     * actions that would compute for long only start it: a prompt's prefill (set_prompt, step
     * on a new prompt, load_model), the re-run after an ablation (set_ablation), compare slot
     * B catching up with A (load_model into slot 1), and the model load itself (on a worker
     * thread: session_new touches nothing the UI reads). scene_prefill_tick runs the next piece
     * and puts the progress on the status line; scene_prefill_stop ends it leaving a consistent
     * scene (what each job keeps: scene_prefill_stop below). Every action that reads tokens
     * finishes pending work first (scene_settle). Without chunked (screenshot, lesson --check,
     * tests) the same actions run it to the end at once. */
    bool chunked;
    struct {
        int kind;             /* SceneJob; 0 = none (scene_busy is false) */
        int chunk, dchunk;    /* tokens per piece: prefill, decode steps (scene_piece_size) */
        double t0, last_ms;
        int ran;              /* tokens run so far (for tok/s) */
        bool reprefill;       /* a model loading into slot A takes over A's prefill under way */
        char done_msg[SCENE_MSG_CAP];   /* the status line when it ends */
    } job;
    struct SceneLoad *load;   /* a model being loaded on a worker thread (job SCENE_JOB_LOAD) */
    /* Called before a long action (model load) so a UI can show the status line first. */
    void (*busy_cb)(void *ud);
    void *busy_ud;
    /* called before the scene frees a session it owns, so that what was made with its model
     * (the App's compare band engines, which borrow the model) goes first */
    void (*release_cb)(void *ud, const Session *s);
    void *release_ud;
} Scene;

/* Work in pieces (Scene.job.kind). */
typedef enum { SCENE_JOB_NONE = 0, SCENE_JOB_PREFILL, SCENE_JOB_RERUN, SCENE_JOB_FOLLOW, SCENE_JOB_LOAD } SceneJob;

Scene *scene_new(void);
/* Chat mode on/off: the prompt (now and later ones) becomes a user message through the model's
 * chat template, as `run --chat`. Turning it on fails (and stays off) when the model has no template. */
bool scene_set_chat(Scene *sc, bool on, Err *e);
void scene_free(Scene *sc);
/* Back to the defaults a fresh scene has (compare off, panels, views, sampler, selection,
 * run mode, status); the main session stays loaded. */
void scene_reset(Scene *sc);
/* Puts a session in slot 0 (main) or 1 (compare); the previous one is freed if owned. */
void scene_set_session(Scene *sc, int slot, Session *s, bool own);
/* The selection as seen from side 0/1: layer and head clamped to that side's model, the
 * key dropped when it lies past that side's cursor. */
Selection scene_sel(const Scene *sc, int side);

/* Norm the norms panel shows: 0 ln1, 1 ln2, 2 final (view.norms_which, or the stage's). */
int scene_norms_which(const Scene *sc);

/* Records an action's name in the trail (every scene_* action and view change calls it). */
void scene_note(Scene *sc, const char *action);

/* Status line. */
void scene_status(Scene *sc, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- named actions ------------------------------------------------------------------------ */

/* Loads a model into slot 0 (set to the scene's prompt, prefilled, keeping the selection and the
 * panels' view options as far as the new model has them: layer, head, the Embeddings panel's
 * residual layer and the Position panel's first RoPE pair clamped to it, the key column and the
 * Embeddings panel's selected token dropped) or slot 1 (compare mode on: brought to A's prompt,
 * length and cursor). */
bool scene_load_model(Scene *sc, int slot, const char *path, Err *e);
void scene_compare_off(Scene *sc);
/* The texts the Embeddings panel compares as sentence vectors (prompt vs prompt): n in
 * 1..SIM_TEXTS_MAX, each non-empty, one line, shorter than SIM_TEXT_CAP bytes. Turns the
 * panel's texts view on and makes text 0 the query. */
bool scene_set_texts(Scene *sc, const char *const *texts, int n, Err *e);
/* Tokenizes text for every session (prefill: and runs the prefill). */
bool scene_set_prompt(Scene *sc, const char *text, bool prefill, Err *e);
bool scene_step(Scene *sc, Err *e);              /* prefill, or next token (decoding at the end) */
bool scene_step_back(Scene *sc, Err *e);         /* cursor - 1 (nothing recomputed) */
/* Cursor of `side` to pos (negative counts from the end); the other side moves by as much. */
bool scene_goto(Scene *sc, int side, int pos, Err *e);
bool scene_step_into(Scene *sc, int dir, Err *e);   /* one sublayer stage +1/-1 */
/* Jumps to a stage (and a layer when layer >= 0). */
bool scene_set_stage(Scene *sc, Stage st, int layer, Err *e);
bool scene_select_layer(Scene *sc, int layer, Err *e);
bool scene_select_head(Scene *sc, int head, Err *e);
/* Attention key column (0..cursor, negative from the cursor back: -1 = the cursor), or off. */
bool scene_select_key(Scene *sc, int key, Err *e);
bool scene_key_off(Scene *sc, Err *e);
bool scene_show_panel(Scene *sc, int panel, Err *e);
bool scene_show_side(Scene *sc, int panel, Err *e);  /* -1: side panel off */
/* Zeroes one head's hook_z in slot (-1 both) and recomputes; layer < 0 clears. */
bool scene_set_ablation(Scene *sc, int slot, int layer, int head, Err *e);
/* Sampler for slot (-1 both, 0 A, 1 B); slot <= 0 also sets the scene's default. Ends
 * gen_follow: a sampler set by hand (or by a lesson) stays when another model is loaded. */
bool scene_set_sampler(Scene *sc, int slot, SamplerCfg cfg, Err *e);
/* The model's sampling defaults (of A's model) under o (NULL: the options recorded before), as
 * `run` merges them: recorded, gen_follow on, gen_desc set; with apply, every session samples with
 * its own model's defaults (reseeded; compare slot B with B's, greedy with the reason on the status
 * line when B's are wrong) and the status line says so. False (e and the status line naming every bad field,
 * the sampler unchanged) when the defaults the choice needs are wrong. */
bool scene_sampler_model(Scene *sc, const GenOverride *o, bool apply, Err *e);
/* A lesson has closed (its player is gone): lessons decode greedily while they run (their start
 * resets the sampler), and now every session samples with its model's defaults again, under the
 * recorded options, as scene_sampler_model(apply); the status line says so ("lesson closed; the
 * model's own sampling again: ..."), or names the wrong fields that keep it greedy. */
bool scene_lesson_closed(Scene *sc, Err *e);
bool scene_set_running(Scene *sc, bool on, Err *e);
/* One run-mode tick: steps, and stops at the end of text or on an error. */
bool scene_tick(Scene *sc, Err *e);
/* Work in pieces (see Scene.chunked): is any pending; run the next piece (max_tokens per
 * session, <= 0: sized to take about a quarter of a second; a load only checks whether the
 * worker is done); stop it. What scene_prefill_stop leaves:
 *   prefill: the prompt becomes the tokens that ran (text = their text; the first step after
 *     it decodes); with none run, the prompt stays, not prefilled;
 *   re-run after an ablation: the ablation stays; the tokens recomputed so far are kept, those
 *     after them dropped (in the prompt: as a stopped prefill);
 *   compare B catching up, or a model still loading: as if it had not been asked (B removed,
 *     compare mode off; a load's result is thrown away when the worker ends).
 * scene_settle runs what is pending to the end (waits for a load). */
bool scene_busy(const Scene *sc);
bool scene_prefill_tick(Scene *sc, int max_tokens, Err *e);
void scene_prefill_stop(Scene *sc);
bool scene_settle(Scene *sc, Err *e);
/* The size of the next piece after one of `ran` tokens took `ms` milliseconds (work.c says why
 * a prefill piece never goes below SCENE_PREFILL_PIECE_MIN tokens). */
#define SCENE_PREFILL_PIECE_MIN 16
int scene_piece_size(int ran, double ms, bool decode);
/* The slot a model is being loaded into on a worker (job SCENE_JOB_LOAD), whose model is about
 * to be replaced; -1 when none. */
int scene_load_slot(const Scene *sc);
/* Model loads still running on worker threads, abandoned ones included (tests wait for 0). */
int scene_loads_running(void);

/* ---- actions by name (the keymap's and the lessons' vocabulary) ---------------------------- */

typedef bool (*SceneActFn)(Scene *sc, int arg, Err *e);
typedef struct {
    const char *name;         /* "step", "layer.next", "attention.toggle_scores" */
    SceneActFn fn;
    const char *doc;          /* one line for the help screen */
    /* A view action: it changes only what is shown (the panel, the layer / head / key selected, a
     * panel's view option) and neither runs the model nor waits for pending work (scene_settle), so
     * a UI answers it while work runs in pieces (a prefill, a re-run, B catching up, a load); the
     * others wait for the work's end. tests/test_scene.c checks that a view action leaves pending
     * work as it was. */
    bool view;
} SceneAction;
const SceneAction *scene_action_find(const char *name);
const SceneAction *scene_action_table(int *n);
/* Runs the action `name` with arg. False (e filled) when unknown or when it does nothing. */
bool scene_do(Scene *sc, const char *name, int arg, Err *e);

/* ---- the keymap (keymap.c): keys -> named actions --------------------------------------------- */

/* KeyBinding.panel of the rows that apply, before all others, while work runs on worker
 * threads (the Embeddings panel's vocabulary index or map fit: analysis/derived.h) */
#define KEYMAP_WORKING (-2)
/* KeyBinding.panel of the rows that apply while the trade-off view covers the panels (instead of
 * the hidden main panel's rows, whose keys would change what cannot be seen) */
#define KEYMAP_TRADEOFF (-3)
typedef struct {
    int key;                  /* TK_* or a code point (scene/keys.h) */
    int panel;                /* -1: any panel; KEYMAP_WORKING: any, while work runs on a worker thread; KEYMAP_TRADEOFF:
                                 while the trade-off view is shown; else only while this panel is the main one (and shown) */
    const char *action;       /* a SceneAction name */
    int arg;
} KeyBinding;
const KeyBinding *scene_keymap(int *n);
/* The binding of key: while work runs on a worker thread the KEYMAP_WORKING rows, then the
 * current main panel's (the trade-off view's while it covers the panels), then the global ones;
 * NULL when none. */
const KeyBinding *scene_key_binding(const Scene *sc, int key);
/* Runs the key's action. Returns false when the key is not bound or did nothing (e says which). */
bool scene_key(Scene *sc, int key, Err *e);
/* A key a lesson sends ({"do":"keys"}): the panel's and the global rows only, never the
 * KEYMAP_WORKING ones. A lesson's {esc} means the panel's Esc (the Embeddings panel: follow the
 * cursor); the work on a worker thread is what the step waits to show, and only the user's own
 * Esc stops it. */
bool scene_key_scripted(Scene *sc, int key, Err *e);
#endif
