/* Lessons: guided tours of a model, stored as data (one JSON file per lesson, lessons/ in
 * English and lessons/zh/ in Chinese; the format and its JSON schema are in docs/lessons.md).
 *
 * A lesson names a model and a prompt, then lists steps. A step has narration, a list of
 * controller actions (the same things keys do: load a model, set the prompt, step tokens,
 * step into a sublayer, select panel/layer/head/token, highlight a cell, compare two models,
 * zero a head through the hook_z write hook, change sampling, press panel keys) and an
 * optional question whose answer is revealed on demand.
 *
 * Narration, questions and answers are templates: {name}, {name:arg}, {name@ref},
 * {name:arg@ref} are replaced by values computed from the live Session, its Trace and the
 * ModelSpec (placeholders.c lists them; `{{` and `}}` are literal braces). So a number a
 * lesson quotes is the model's, never typed in.
 *
 * Layers of this module:
 *   lesson.c        parse + static validation (buffer-based, no TUI or GSL: fuzzable)
 *   placeholders.c  the placeholder table (names, what each needs, arguments, docs)
 *   values.c        computes placeholder values from sessions and reference models
 *   player.c        plays a lesson on a Scene through its named actions (headless or in the TUI)
 * (`lesson --check` lives in tui/lesson_check.c, `llmscope lesson` in cli/cmd_lesson.c.)
 *
 * Ownership: lesson_parse/lesson_load return a Lesson freed with lesson_free; every string
 * in it is owned by it. A LessonPlayer owns its Lesson and borrows the Scene.
 */
#ifndef LLMSCOPE_LESSON_H
#define LLMSCOPE_LESSON_H
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "core/err.h"
#include "core/i18n.h"
#include "analysis/derived.h"
#include "engine/sampler.h"

#define LESSON_MAX_BYTES (1u << 20)   /* a lesson file larger than this is refused */
#define LESSON_MAX_STEPS 64
#define LESSON_MAX_ACTIONS 32
#define LESSON_MAX_REFS 16
#define LESSON_MAX_TEXT 4000          /* bytes of one narration/question/answer template */

#define LESSON_UNSET INT_MIN          /* an optional integer that was not given */
#define LESSON_LAST (INT_MIN + 1)     /* "last" layer / head / position */

typedef enum {
    LA_LOAD = 0,     /* {"do":"load","model":PATH,"slot":"A"|"B"}: slot B turns compare mode on */
    LA_PROMPT,       /* {"do":"prompt","text":T,"prefill":true}: all sessions */
    LA_STEP,         /* {"do":"step","n":1}: prefill first, then decode one token per step */
    LA_BACK,         /* {"do":"back","n":1}: cursor back (nothing recomputed) */
    LA_TOKEN,        /* {"do":"token","pos":P}: cursor to P (negative counts from the end) */
    LA_KEY,          /* {"do":"key","pos":P} or {"do":"key","off":true}: attention key column */
    LA_HIGHLIGHT,    /* {"do":"highlight","token":P,"key":K,"layer":L,"head":H}: select + mark */
    LA_STAGE,        /* {"do":"stage","stage":NAME,"layer":L}: step into a sublayer stage */
    LA_STEP_INTO,    /* {"do":"step_into","n":N}: N stages forward (negative: back) */
    LA_PANEL,        /* {"do":"panel","panel":NAME} */
    LA_SIDE,         /* {"do":"side","panel":NAME} or {"do":"side","off":true} */
    LA_LAYER,        /* {"do":"layer","layer":L}  (L may be "last") */
    LA_HEAD,         /* {"do":"head","head":H}    (H may be "last") */
    LA_COMPARE,      /* {"do":"compare","model":PATH} or {"do":"compare","off":true} */
    LA_ABLATE,       /* {"do":"ablate","layer":L,"head":H,"slot":"A"} or {"do":"ablate","off":true} */
    LA_SAMPLER,      /* {"do":"sampler","greedy":b,"temperature":t,"top_k":k,"top_p":p,"seed":s,"slot":"B"} */
    LA_KEYS,         /* {"do":"keys","keys":"v"}: keys sent to the TUI (panel options) */
    LA_TEXTS,        /* {"do":"texts","texts":["A","B",...]}: the Embeddings panel's texts (scene_set_texts) */
    LA_COUNT
} LessonActKind;

const char *lesson_action_name(LessonActKind k);

typedef struct {
    LessonActKind kind;
    int n;              /* step/back/step_into count */
    int pos, key;       /* positions (negative from the end, LESSON_LAST); LESSON_UNSET = not given */
    int layer, head;    /* >= 0, LESSON_LAST or LESSON_UNSET */
    int stage;          /* LA_STAGE: a Stage (session.h) */
    int slot;           /* LA_LOAD: 0 = A, 1 = B; ablate/sampler: 0 A, 1 B, -1 both */
    bool off;           /* compare / ablate / side / key: turn off */
    bool prefill;       /* LA_PROMPT */
    char *str;          /* model path, prompt text, panel name, keys, or the texts joined by '\n' */
    SamplerCfg sampler; /* LA_SAMPLER (fields not given keep greedy/1.0/0/1.0/42) */
} LessonAction;

#define LESSON_MAX_TARGETS 4
#define LESSON_MAX_CHOICES 9

/* Predict, then reveal: the student commits an answer before the live value is shown. */
typedef enum { LP_NONE = 0, LP_NUMBER, LP_CHOICE, LP_TOKEN } LessonPredKind;

typedef struct {
    LessonPredKind kind;        /* LP_NONE: the step has no prediction */
    char *ask;                  /* question template */
    char *value;                /* template of the live answer (a number, one of choices, a token) */
    char *explain;              /* template shown with the score (may be NULL) */
    char *try_answer;           /* what `lesson --check` types in */
    char *choices[LESSON_MAX_CHOICES];
    int n_choices;
} LessonPredict;

typedef struct {
    char *title;        /* short heading (may be NULL) */
    char *text;         /* narration template */
    char *question;     /* question template, NULL = none */
    char *answer;       /* answer template (present iff question) */
    LessonAction *actions;
    int n_actions;
    char *target[LESSON_MAX_TARGETS];   /* named screen elements to look at ("attention.cell") */
    int n_targets;
    LessonPredict predict;
} LessonStep;

typedef struct { char name[32]; char *path; } LessonRef;

typedef struct Lesson {
    char *id, *title, *summary, *lang, *model, *prompt;
    char file[512];     /* the name given to lesson_parse (used in every message) */
    LessonRef refs[LESSON_MAX_REFS];
    int n_refs;
    LessonStep *steps;
    int n_steps;
} Lesson;

/* Parses and validates one lesson (buffer-based; name is used in messages, e.g. the path).
 * Checks types, required fields, action verbs and their fields, stage names, and every
 * placeholder (known name, argument, declared ref). Returns NULL with e filled ("FILE:
 * steps[2].actions[1]: ..."). Panel names are checked by lesson_validate_panels (they
 * live in the TUI). */
Lesson *lesson_parse(const char *buf, size_t len, const char *name, Err *e);
Lesson *lesson_load(const char *path, Err *e);
void lesson_free(Lesson *l);
/* Stage keyword ("softmax", "norm1", ...) -> Stage, or -1. */
int lesson_stage_find(const char *name);
const char *lesson_stage_keyword(int stage);

/* ---- targets (targets.c) ------------------------------------------------------------------ */

/* Named screen elements a step points at. The TUI's panels register these names with the
 * rectangle they drew them in (tui/canvas.h, canvas_target); the lesson pane highlights
 * them and `lesson --check` verifies each landed on something drawn. */
typedef enum { TGA_NONE = 0, TGA_OPT_INT, TGA_INT, TGA_KV } TargetArg;
typedef struct {
    const char *name; TargetArg arg; const char *doc;
    const char *label;        /* what the lesson pane calls it ("growth chart"; English, N_: shown through tr) */
} TargetSpec;
const TargetSpec *lesson_target_table(int *n);
/* A step target's name as the pane says it, in lang: its label with the argument
 * ("layer row 2"); a key of the key bar is its key ("F6"). Writes into out. */
const char *lesson_target_label(const char *name, UiLang lang, char *out, size_t cap);
/* Checks "panel.element[:arg]" against the table (e is filled with what is wrong). */
bool lesson_target_validate(const char *name, Err *e);
/* The panel (or "tokens", "keys", "header") a target belongs to: the text before the first '.'
 * or ':' (into out). */
void lesson_target_owner(const char *name, char *out, size_t cap);

/* ---- predictions (predict.c) -------------------------------------------------------------- */

/* Reads a number as lessons print it: "1,536", "12.5%", "-3.2e-4", "2.00 MiB" (the unit is
 * ignored). False when s holds no number. */
bool lesson_parse_number(const char *s, double *out);

typedef struct {
    bool right;                 /* choice/token: equal; number: within 5% (or exact for 0) */
    double live, given;         /* number: the values compared */
    double abs_err, rel_err;    /* number: |given - live| and that over |live| (NAN if live is 0) */
    int choice;                 /* choice: the index of the live value in choices (-1 = none) */
    char text[640];             /* what the pane says */
} LessonScore;

/* Scores `given` against the live value `live` (the expanded value template) for pred.
 * False (e filled) when the live value does not fit the kind (not a number, not one of the
 * choices, empty) or when given is empty / not a number for a number prediction. */
bool lesson_predict_score(const LessonPredict *pred, const char *live, const char *given, bool zh, LessonScore *out, Err *e);

/* ---- templates ------------------------------------------------------------------------ */

typedef struct {
    char key[48];       /* "kv.bytes_per_token" */
    char arg[48];       /* after ':' ("" if none) */
    char ref[32];       /* after '@' ("" = the main session, "B" = compare session, or a ref) */
} LessonPh;

/* Calls cb for each placeholder of tpl in order. Returns false (e filled) on a syntax
 * error (unclosed '{', empty or over-long name) or when cb returns false. */
typedef bool (*LessonPhFn)(void *ud, const LessonPh *ph, Err *e);
bool lesson_template_scan(const char *tpl, LessonPhFn cb, void *ud, Err *e);

/* ---- placeholders (placeholders.c) ------------------------------------------------------ */

typedef enum {
    PHN_SPEC = 0,       /* the model's config only: works on config-only refs */
    PHN_WEIGHTS,        /* the model's weights (refs that have them, or the session) */
    PHN_SESSION,        /* the session (prompt, selection) */
    PHN_TOKEN,          /* a computed token at the cursor (the trace) */
    PHN_FAMILY,         /* assets/models/family.json (the measured family); no model needed */
} PhNeed;

typedef enum {
    PHA_NONE = 0,       /* no argument */
    PHA_INT_OPT,        /* optional integer */
    PHA_INT,            /* required integer */
    PHA_NUM,            /* required number */
    PHA_INT2,           /* required "i,j" */
    PHA_NAME,           /* required name: lowercase letters, digits, '-' (a family.json variant) */
} PhArgKind;

/* Every row of placeholders.def by identifier ("model.name" is PH_model_name): value
 * functions pick their row with IS(model_name), an integer compare, never by the name. */
typedef enum {
#define PH(id, name, need, arg, fn, doc) PH_##id,
#include "lesson/placeholders.def"
#undef PH
    PH_COUNT
} PhId;

typedef struct {
    PhId id;
    const char *name;
    PhNeed need;
    PhArgKind arg;
    const char *doc;    /* one line for docs/lessons.md and `llmscope lesson --placeholders` */
} PhSpec;

const PhSpec *lesson_ph_find(const char *name);
const PhSpec *lesson_ph_table(int *n);
/* Validates one placeholder against the table and the lesson's refs (NULL: refs unchecked). */
bool lesson_ph_validate(const LessonPh *ph, const Lesson *l, Err *e);

/* ---- values (values.c) ----------------------------------------------------------------------- */

struct Session;
struct Model;

#define LESSON_MARK_ON '\x01'         /* lesson_expand(marks=true) wraps each value in these */
#define LESSON_MARK_OFF '\x02'
#define LESSON_EVAL_CACHE 16

/* What values are read from: the scene (borrowed: its sessions A and B and its selection),
 * reference models (loaded on first use, config-only allowed) and a cache of measured
 * losses. Init with lesson_values_init, release with lesson_values_done. */
typedef struct {
    const Lesson *lesson;
    char root[1024];
    const struct Scene *sc;
    struct Model *ref_model[LESSON_MAX_REFS];
    bool ref_tried[LESSON_MAX_REFS];
    char ref_err[LESSON_MAX_REFS][300];
    struct { char path[1024]; double loss; long tokens; bool ok; char err[300]; } eval[LESSON_EVAL_CACHE];
    int n_eval;
    bool zh;                    /* words like yes/no, prefill/decode in Chinese */
    DerivedCache dc;            /* PCA map and neighbours (analysis/derived.h), as the panels keep */
} LessonValues;

void lesson_values_init(LessonValues *v, const Lesson *l, const char *root);
void lesson_values_done(LessonValues *v);
/* One value as text. False (e filled: what is missing and why) when it cannot be computed
 * now, e.g. attention before any token was computed or moe.* on a dense layer. */
bool lesson_value(LessonValues *v, const LessonPh *ph, char *out, size_t cap, Err *e);
/* {family.*}: a value of assets/models/family.json under root (family.c). */
bool lesson_family_value(const char *root, const LessonPh *ph, char *out, size_t cap, Err *e);
/* Expands a template into a malloc'd string (NULL only when out of memory). A value that
 * cannot be computed reads "?" and the first such error goes to e (e->code stays 0 when
 * all values were computed). With marks, each value is wrapped in LESSON_MARK_ON/OFF. */
char *lesson_expand(LessonValues *v, const char *tpl, bool marks, Err *e);
/* Parameters counted from the config alone (embeddings, attention incl. MLA, dense and MoE
 * FFNs, norms), and those used per token (only the routed experts a token picks). */
long long lesson_spec_params(const struct Model *m, long long *active);

/* ---- player (player.c) ------------------------------------------------------------------------ */

struct Scene;

/* Plays a lesson on a Scene: every action is a named scene action, the same ones keys reach
 * through the keymap (scene/scene.h); the player knows nothing of the TUI. Going forward applies the next steps' actions; going back replays the
 * lesson from its start (model, prompt) up to the target step, so every step's screen is
 * the same however it was reached (sampling is greedy unless a step sets a sampler). */
typedef struct LessonPlayer {
    Lesson *lesson;             /* owned */
    struct Scene *sc;           /* borrowed */
    LessonValues vals;
    char root[1024];
    int step;                   /* step shown (-1 before the first) */
    bool revealed;              /* the answer of the step's question is shown */
    bool pred_done;             /* the step's prediction was answered (score in pred_score) */
    char pred_given[128];       /* what the student answered */
    LessonScore pred_score;
    bool hl_on;                 /* a highlight action marked a cell in this step */
    int hl_token, hl_key, hl_layer, hl_head;
    char prompt[8192];          /* the prompt now */
} LessonPlayer;

/* Takes ownership of l (freed with the player, also on failure). Does not touch the scene. */
LessonPlayer *lesson_player_new(struct Scene *sc, Lesson *l, const char *root, Err *e);
void lesson_player_free(LessonPlayer *p);
/* Shows step k (0-based): resets the scene to the lesson's start when going back or when
 * nothing was played yet. On failure e names the file, the step and the action. */
bool lesson_player_goto(LessonPlayer *p, int k, Err *e);
/* Applies one action now (used by goto; exposed for tests). */
bool lesson_player_apply(LessonPlayer *p, const LessonAction *a, Err *e);
/* Commits an answer to the current step's prediction: expands its value live, scores it
 * (p->pred_score, p->pred_done). False (e filled) when the step has no prediction or the
 * value cannot be computed / scored. */
bool lesson_player_predict(LessonPlayer *p, const char *given, Err *e);
/* Expands a template against the scene's current sessions (see lesson_expand). */
char *lesson_player_expand(LessonPlayer *p, const char *tpl, bool marks, Err *e);

/* ---- where lessons live ----------------------------------------------------------------- */

/* The directory that holds lessons/ and assets/: $LLMSCOPE_ROOT, else the source tree the
 * binary was built in (walking up from it), else ".". */
const char *lesson_find_root(char *out, size_t cap);
/* "<root>/lessons" for "en", "<root>/lessons/zh" for "zh". */
void lesson_dir(const char *root, const char *lang, char *out, size_t cap);
/* Lesson files of a directory, sorted (malloc'd array of malloc'd paths). Returns count. */
int lesson_list_files(const char *dir, char ***paths);
void lesson_free_list(char **paths, int n);
/* Resolves NAME (a path, an id, a file stem or a number like "6") to a file in dir. */
bool lesson_resolve(const char *dir, const char *name, char *out, size_t cap, Err *e);
/* A path from a lesson, made absolute against root unless it already is. */
void lesson_path(const char *root, const char *p, char *out, size_t cap);
#endif
