/* App: the terminal UI's state, layout and key dispatch (htop's ScreenManager).
 *
 * Layout, top to bottom: header (model, attention kind, phase, position, stage) / panel
 * tabs / token strip / main panel (+ side panel when wide, or two sessions side by side in
 * compare mode) / function bar. Below MIN_W x MIN_H a "terminal too small" notice is
 * drawn instead. Rendering goes to a Canvas (app_render), so the whole UI runs headless in
 * tests and `screenshot`; app_run adds the curses loop around it.
 *
 * What is shown lives in the App's Scene (scene/scene.h): sessions, selection, panel choice,
 * view options, sampler, run mode, status line. A key goes: app_handle -> the App's overlays
 * (prompt editor, model menu, sampler form, help; app_overlay.c) -> the lesson pane's
 * presenter keys -> scene_key (the keymap table) -> a named scene action -> the session ->
 * the engine; the next app_render draws the panels from the scene and the trace. The App
 * owns only terminal things: overlays, the hit map for the mouse, panel layout caches.
 * Ownership: app_new returns an App (with its Scene) freed with app_free; sessions given
 * with own = true are freed by the scene.
 */
#ifndef LLMSCOPE_TUI_APP_H
#define LLMSCOPE_TUI_APP_H
#include "analysis/compare.h"
#include "scene/keys.h"
#include "scene/scene.h"
#include "tui/canvas.h"
#include "tui/panel.h"

#define APP_MIN_W 60
#define APP_MIN_H 16
#define APP_MAX_MODELS 32
#define APP_MAX_HITS 512

typedef enum { OV_NONE = 0, OV_HELP, OV_PROMPT, OV_MODEL, OV_SAMPLER, OV_TEXTS } Overlay;

typedef enum { HIT_NONE = 0, HIT_TOKEN, HIT_TAB, HIT_FKEY, HIT_PANEL, HIT_MENU } HitKind;
typedef struct { Rect r; HitKind kind; int arg, side; } Hit;

typedef struct {
    char buf[8192];
    size_t len, cur;           /* bytes; cur sits on a grapheme boundary */
} LineEdit;

/* A key or a click made while work runs in pieces that waits for its end (app_run hands it over
 * then): key, else a click: a panel's (PanelClick, click.pos < 0: none) and the panel it was made
 * on (-1: none; shown as the main panel), as read off the frame it was made on. */
typedef struct { int key; PanelClick click; int panel; } AppWaiting;

typedef struct App {
    Scene *sc;                 /* owned: everything the panels show */
    void *pst[PANEL_COUNT];    /* panel states (layout of the last frame, caches) */
    void *pst_tradeoff;        /* the trade-off view's state (family.json cache) */
    Overlay overlay;
    LineEdit edit;
    char models[APP_MAX_MODELS][512];
    int n_models, menu_sel, menu_target;
    SamplerCfg scfg;           /* the sampler form's working copy (applied on Enter) */
    SimTexts tedit;            /* the texts editor's working copy (E; applied with F2 / Ctrl-X) */
    int tline;                 /* its line being edited (in `edit`) */
    int sfield;
    bool sdefaults;            /* the form holds the model's defaults ('d'): Enter follows them again */
    char sdesc[256];           /* those defaults described (or why they cannot be used), for the form */
    int help_top, help_page;   /* the help's first row shown, rows in view (the last frame) */
    int run_ms;                /* run-mode timer period */
    bool quit;
    AppWaiting typed[32];      /* keys and clicks made during work in pieces, handled after it */
    int n_typed;
    int w, h;
    bool too_small;
    Hit hits[APP_MAX_HITS];
    int n_hits;
    Rect main_r[2];
    double frame_ms;           /* time the last app_render took */
    /* Interactive (the scene's `chunked`): each frame's panels compute for about panel_budget_ms
     * (at least one piece each; 0: one piece) and leave the rest for the next frames; panels_more
     * says the last frame left some (PanelCtx.deadline, .more). */
    double panel_budget_ms;
    bool panels_more;
    double frame_t0;           /* when the frame being drawn began */
    /* guided lesson + lesson menu (tui/lesson_pane.c); NULL until L or `lesson` opens one */
    struct LessonUi *lesson;
    bool hint;                 /* first-screen key hint (tui/first_hint.h); any key hides it */
    CompareCache cmp;          /* compare mode's loss / KL band (tui/compare_band.c) */
} App;

App *app_new(void);
void app_free(App *a);
/* Shorthands for scene_set_session / scene_show_panel(scene_panel_find(name)). */
void app_set_session(App *a, int slot, Session *s, bool own);
bool app_select_panel(App *a, const char *name);
/* Lists the bundled models (directories under models_dir with a config.json, and *.bin). */
void app_scan_models(App *a, const char *models_dir);
/* Puts a model the user gave (--model, --compare) first in the F3/F6 menus, unless the scan
 * already lists it (same file or directory). */
void app_add_model(App *a, const char *path);

/* Draws the whole UI for a w x h canvas (resizes the canvas). */
void app_render(App *a, Canvas *c);
/* Compare mode's band under the token strips (tui/compare_band.c): per-token loss of A and B
 * on A's text, B - A, KL(A||B), means in its header. Rows it takes (0 outside compare mode);
 * draw returns the rows drawn. */
int compare_band_rows(const App *a, const Canvas *c);
int compare_band_draw(App *a, Canvas *c, Rect r);
/* The band's numbers are computed in pieces between frames (a 0.6B model takes a minute for
 * 500 tokens): true while some are left (the loop calls compare_band_work when idle, which
 * runs about a quarter of a second of it and returns true when it did). */
bool compare_band_pending(const App *a);
bool compare_band_work(App *a);
/* Draws one panel filling the canvas (screenshot). */
void app_render_panel(App *a, Canvas *c, int panel);
/* Handles one event; returns KR_*. Sets a->quit on q/F10/interrupt. */
int app_handle(App *a, const TuiEvent *ev);
/* Handles a key or click that waited for work in pieces to end (a->typed); returns KR_*. */
int app_handle_waiting(App *a, const AppWaiting *w);
/* The interactive loop on a terminal. Returns false with e filled if curses cannot start. */
bool app_run(App *a, Err *e);

/* Line editor (UTF-8, grapheme-aware). Returns true when the key was consumed. */
void lineedit_set(LineEdit *le, const char *text);
bool lineedit_key(LineEdit *le, int key);

/* ---- shared between app.c and app_overlay.c ---------------------------------------------- */
void app_add_hit(App *a, Rect r, HitKind kind, int arg, int side);
const char *app_model_basename(const char *path, char *buf, size_t cap);
void app_draw_overlay(App *a, Canvas *c);
int app_overlay_key(App *a, int key);          /* KR_IGNORED when no overlay is open */
void app_open_overlay(App *a, Overlay ov);
#endif
