/* App: the terminal UI's state, layout and key dispatch (htop's ScreenManager).
 *
 * Layout, top to bottom: header (model, attention kind, phase, position, stage) / panel
 * tabs / token strip / main panel (+ side panel when wide, or two sessions side by side in
 * compare mode) / function bar. Below MIN_W x MIN_H a "terminal too small" notice is
 * drawn instead. Rendering goes to a Canvas (app_render), so the whole UI runs headless in
 * tests and `screenshot`; app_run adds the curses loop around it.
 *
 * Every action goes through the Session (session.h); in compare mode both sessions are
 * stepped together. Ownership: app_new returns an App freed with app_free; sessions given
 * with own=true are freed by the app.
 */
#ifndef LLMSCOPE_TUI_APP_H
#define LLMSCOPE_TUI_APP_H
#include "session/session.h"
#include "tui/canvas.h"
#include "tui/keys.h"
#include "tui/panel.h"

#define APP_MIN_W 60
#define APP_MIN_H 16
#define APP_MAX_MODELS 32
#define APP_MAX_HITS 512

typedef enum { OV_NONE = 0, OV_HELP, OV_PROMPT, OV_MODEL, OV_SAMPLER } Overlay;

typedef enum { HIT_NONE = 0, HIT_TOKEN, HIT_TAB, HIT_FKEY, HIT_PANEL, HIT_MENU } HitKind;
typedef struct { Rect r; HitKind kind; int arg, side; } Hit;

typedef struct {
    char buf[8192];
    size_t len, cur;           /* bytes; cur sits on a grapheme boundary */
} LineEdit;

typedef struct App {
    Session *ses[2];
    bool own[2];
    int n_ses;                 /* 2 = compare mode */
    void *pst[PANEL_COUNT];    /* panel states */
    int cur;                   /* main panel */
    int side_panel;            /* panel shown beside the main one when wide (-1 = none) */
    bool side_on;
    bool stage_follow;         /* step-into switches to the stage's panel */
    Overlay overlay;
    LineEdit edit;
    char models[APP_MAX_MODELS][512];
    int n_models, menu_sel, menu_target;
    SamplerCfg scfg;
    int sfield;
    bool running;
    int run_ms;
    int max_ctx;
    char msg[256];             /* status line message (errors, hints) */
    bool msg_error;
    bool quit;
    int w, h;
    bool too_small;
    Hit hits[APP_MAX_HITS];
    int n_hits;
    Rect main_r[2];
    double frame_ms;           /* time the last app_render took */
    /* Called before a long action (model load) so the loop can show the message first. */
    void (*busy_cb)(struct App *a, void *ud);
    void *busy_ud;
    /* [lesson] guided lesson + lesson menu (tui/lesson_pane.c); NULL until L or `lesson` opens one */
    struct LessonUi *lesson;
} App;

App *app_new(void);
void app_free(App *a);
/* Puts a session in slot 0 (main) or 1 (compare). The previous one is freed if owned. */
void app_set_session(App *a, int slot, Session *s, bool own);
bool app_select_panel(App *a, const char *name);
/* Lists the bundled models (directories under models_dir with a config.json, and *.bin). */
void app_scan_models(App *a, const char *models_dir);

/* Draws the whole UI for a w x h canvas (resizes the canvas). */
void app_render(App *a, Canvas *c);
/* Draws one panel filling the canvas (screenshot). */
void app_render_panel(App *a, Canvas *c, int panel);
/* Handles one event; returns KR_*. Sets a->quit on q/F10/interrupt. */
int app_handle(App *a, const TuiEvent *ev);
/* The interactive loop on a terminal. Returns false with e filled if curses cannot start. */
bool app_run(App *a, Err *e);

/* Line editor (UTF-8, grapheme-aware). Returns true when the key was consumed. */
void lineedit_set(LineEdit *le, const char *text);
bool lineedit_key(LineEdit *le, int key);

/* Panel shown for a sublayer stage (step-into). */
int app_panel_for_stage(Stage st);
#endif
