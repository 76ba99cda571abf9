/* Panel interface (htop's Panel "class"): a struct of function pointers and a state object
 * the panel owns (layout of the last frame, caches). Panels read the scene (selection, view
 * options) and the session's trace (trace_tok, trace_len, trace_dims); they never drive the
 * engine and never write the scene. Their keys are rows of the scene's keymap
 * (scene/keymap.c); a click calls a scene action.
 *
 * The app gives each panel a PanelCtx for drawing: the canvas, the rectangle to fill
 * (the panel draws its own frame with panel_frame) and which side it is on in compare
 * mode. Mouse clicks inside a panel's rectangle go to its click handler with the same
 * side index, so a panel keeps per-side layout (e.g. where its heatmap landed).
 */
#ifndef LLMSCOPE_TUI_PANEL_H
#define LLMSCOPE_TUI_PANEL_H
#include "scene/keys.h"
#include "scene/scene.h"
#include "tui/canvas.h"

/* Key handler results. */
enum { KR_IGNORED = 0, KR_PANEL = 1, KR_ALL = 2 };

typedef struct PanelCtx {
    const Scene *sc;
    Selection sel;       /* the scene's selection as seen from this side (scene_sel) */
    Session *s;          /* this side's session (read only) */
    Canvas *c;
    Rect r;              /* whole area, frame included */
    int side;            /* 0 = main (left in compare mode), 1 = right */
    bool focus;
    /* Work that takes long on a real-size model (the Residual panel's logit lens, the FFN panel's
     * activations of every layer) is done in pieces when the UI is interactive: deadline is the
     * time (panel_now_ms) after which the panel stops starting new pieces (0: no limit, compute
     * everything now: screenshots, lessons, tests) and draws what it has; it sets `more` when it
     * has more to compute, and the UI draws it again as soon as no key waits (app_run). At least
     * one piece runs per frame, and what the panel shows once it is done is what it shows
     * without a deadline. */
    double deadline;
    bool more;
} PanelCtx;

/* What a click on a panel asks for, read off the frame it was made on: the token to go to (pos < 0:
 * none; going there waits for work running in pieces), then the layer, head and attention key
 * column to select (-1: none; view actions). The App carries it out (app.c: at once, or after the
 * work when it goes to a token), so keys and clicks take one path. */
typedef struct { int side, pos, layer, head, key; } PanelClick;
#define PANEL_CLICK_NONE ((PanelClick){.side = 0, .pos = -1, .layer = -1, .head = -1, .key = -1})

typedef struct PanelClass {
    const char *name;    /* "attention": screenshot --panel, lessons */
    const char *title;   /* "Attention" */
    const char *tab;     /* short tab label ("Attn") */
    void *(*create)(void);
    void (*destroy)(void *st);
    void (*draw)(void *st, PanelCtx *ctx);
    /* Mouse press at (x, y) inside the rectangle last drawn on `side`: what it asks for, in *out
     * (set to PANEL_CLICK_NONE first); false when it asks for nothing. Reads the scene only. */
    bool (*click)(void *st, const Scene *sc, int side, int x, int y, int button, PanelClick *out);
    const char *help;    /* "key  what it does" lines, '\n'-separated (the keys are keymap rows) */
    const char *hint;    /* one short line shown on the frame's bottom border */
} PanelClass;

extern const PanelClass panel_attention, panel_kv, panel_residual, panel_norms, panel_position,
    panel_embeddings, panel_ffn, panel_output;
/* The trade-off view (not a tab: drawn over the panels while the scene's view.tradeoff is on). */
extern const PanelClass panel_tradeoff;
const PanelClass *panel_class(PanelId id);
int panel_find(const char *name);              /* PanelId or -1 (scene_panel_find) */

/* ---- helpers shared by panels (panels/common.c) ----------------------------------- */

/* Frame with "Title · detail" and the hint on the bottom border; returns the inner area. */
Rect panel_frame(PanelCtx *ctx, const char *title, const char *hint);
/* The monotonic clock in ms (PanelCtx.deadline). */
double panel_now_ms(void);
/* Whether another piece of work may start in this frame (PanelCtx.deadline). */
bool panel_time_left(const PanelCtx *ctx);
/* Centered message (e.g. "no tokens yet") in r. */
void panel_message(Canvas *c, Rect r, const char *msg);
/* The TraceTok at the cursor, or NULL before the first step. */
const TraceTok *panel_tok(const Session *s);
/* Token text for display ("<id>" when there is no tokenizer). */
const char *panel_tok_text(const Session *s, int id, char *buf, size_t cap);
/* Visible (escaped, "␣" for space) token text clipped to max_w columns into buf. */
const char *panel_tok_label(const Session *s, int id, char *buf, size_t cap, int max_w, bool unicode);
/* A probability p in [0, 1] as a percentage in at most 7 columns, one format from the top to
 * the tail: "42.1%", "3.14%", "0.012%", "0.009%", and "<0.001%" below 0.0005%; "0%" only for 0,
 * "100%" only for 1 and ">99.9%" just below, so a nonzero token never reads 0.000%. */
const char *panel_fmt_prob(double p, char *buf, size_t cap);
/* Of n wordings of one line (widest first), the index of the first that fits w columns, or the
 * last one (then drawn cut) when none does: a narrow panel says less, never half a number. */
int panel_pick_fit(const char *const *cand, int n, int w, bool unicode);
/* Draws the widest of the n wordings that fits w columns at (x, y) (canvas_text_fit); returns
 * the columns drawn. */
int panel_text_pick(Canvas *c, int x, int y, const char *const *cand, int n, int w, Style st);
/* The note under a table that left n columns out for want of width (names: their titles, ", "
 * apart): "+2 columns not shown: elems/tok/layer, now f32 (widen the window)", narrower
 * without the brackets, then "+2 columns: widen", then "+2 columns"; drawn dim at (x, y) in w columns. A table never drops a column
 * without it. */
void panel_hidden_note(Canvas *c, int x, int y, int w, int n, const char *names);
/* Short model description: "llama · GQA 8q/4kv · 5L · d64". */
void panel_model_line(const Session *s, char *buf, size_t cap);
#endif
