/* The keymap (htop's Action_setBindings): a table from keys to named actions (actions.c).
 * A panel's rows apply only while that panel is the main one and are looked up first, so
 * ',' means "key column left" on attention and "previous token" on embeddings. The App
 * handles its own overlays (prompt editor, model menu, sampler form, help) and quitting
 * before it asks the scene; everything else a key does is one row here. Rows marked
 * KEYMAP_WORKING come first while work runs on a worker thread (Esc cancels it). To bind a key:
 * add a row (a new action goes into actions.c first). */
#include "scene/keys.h"
#include <string.h>
#include "analysis/derived.h"
#include "scene/scene.h"

static const KeyBinding KEYMAP[] = {
    /* while work runs on a worker thread (the vocabulary index or map of the Embeddings panel) */
    {TK_ESC, KEYMAP_WORKING, "work.cancel", 0},
    /* the trade-off view, while it covers the panels (their own rows do not apply then) */
    {TK_ESC, KEYMAP_TRADEOFF, "tradeoff.toggle", 0},
    /* panel keys */
    {'v', PANEL_ATTENTION, "attention.scores", 0},
    {',', PANEL_ATTENTION, "key.prev", 0}, {'<', PANEL_ATTENTION, "key.prev", 0},
    {'.', PANEL_ATTENTION, "key.next", 0}, {'>', PANEL_ATTENTION, "key.next", 0},
    {TK_ESC, PANEL_ATTENTION, "key.off", 0},
    {',', PANEL_EMBEDDINGS, "embeddings.prev", 0}, {'<', PANEL_EMBEDDINGS, "embeddings.prev", 0},
    {'.', PANEL_EMBEDDINGS, "embeddings.next", 0}, {'>', PANEL_EMBEDDINGS, "embeddings.next", 0},
    {TK_ESC, PANEL_EMBEDDINGS, "embeddings.off", 0},
    {'+', PANEL_EMBEDDINGS, "embeddings.layer_next", 0}, {'=', PANEL_EMBEDDINGS, "embeddings.layer_next", 0},
    {'-', PANEL_EMBEDDINGS, "embeddings.layer_prev", 0}, {'_', PANEL_EMBEDDINGS, "embeddings.layer_prev", 0},
    {'0', PANEL_EMBEDDINGS, "embeddings.layer", 0}, {'v', PANEL_EMBEDDINGS, "embeddings.map", 0},
    {'t', PANEL_EMBEDDINGS, "embeddings.texts", 0}, {'p', PANEL_EMBEDDINGS, "embeddings.pool", 0},
    {'+', PANEL_KV, "kv.more", 0}, {'=', PANEL_KV, "kv.more", 0},
    {'-', PANEL_KV, "kv.less", 0}, {'_', PANEL_KV, "kv.less", 0},
    {'0', PANEL_KV, "kv.reset", 0},
    {'p', PANEL_KV, "kv.prec", 0},
    {'v', PANEL_NORMS, "norms.next", 0}, {'a', PANEL_NORMS, "norms.follow", 0},
    {'v', PANEL_POSITION, "position.view", 0},
    {',', PANEL_POSITION, "position.prev", 0}, {'<', PANEL_POSITION, "position.prev", 0},
    {'.', PANEL_POSITION, "position.next", 0}, {'>', PANEL_POSITION, "position.next", 0},
    {'t', PANEL_OUTPUT, "output.preview", 0}, {'T', PANEL_OUTPUT, "output.preview", 1},
    {'k', PANEL_OUTPUT, "output.preview", 2}, {'K', PANEL_OUTPUT, "output.preview", 3},
    {'p', PANEL_OUTPUT, "output.preview", 4}, {'P', PANEL_OUTPUT, "output.preview", 5},
    {'g', PANEL_OUTPUT, "output.preview", 6}, {'0', PANEL_OUTPUT, "output.preview", 7},
    {'w', PANEL_OUTPUT, "output.quant", 0},
    /* everywhere */
    {'n', -1, "step", 0}, {' ', -1, "step", 0}, {TK_RIGHT, -1, "step", 0},
    {'b', -1, "back", 0}, {TK_LEFT, -1, "back", 0},
    {TK_HOME, -1, "first", 0}, {TK_END, -1, "last", 0},
    {'i', -1, "stage.next", 0}, {'I', -1, "stage.prev", 0},
    {'[', -1, "layer.prev", 0}, {TK_F7, -1, "layer.prev", 0},
    {']', -1, "layer.next", 0}, {TK_F8, -1, "layer.next", 0},
    {'{', -1, "head.prev", 0}, {'}', -1, "head.next", 0},
    {'x', -1, "ablate.toggle", 0},
    {'u', -1, "chat.toggle", 0},
    {'f', -1, "tradeoff.toggle", 0},
    {'r', -1, "run.toggle", 0}, {TK_F5, -1, "run.toggle", 0},
    {TK_TAB, -1, "side.toggle", 0},
    {TK_F9, -1, "panel.next", 0}, {TK_BTAB, -1, "panel.prev", 0},
    {'1', -1, "panel", PANEL_ATTENTION}, {'2', -1, "panel", PANEL_KV}, {'3', -1, "panel", PANEL_RESIDUAL},
    {'4', -1, "panel", PANEL_NORMS}, {'5', -1, "panel", PANEL_POSITION}, {'6', -1, "panel", PANEL_EMBEDDINGS},
    {'7', -1, "panel", PANEL_FFN}, {'8', -1, "panel", PANEL_OUTPUT},
};

const KeyBinding *scene_keymap(int *n) {
    if (n) *n = (int)(sizeof KEYMAP / sizeof KEYMAP[0]);
    return KEYMAP;
}

/* The panel's row for key, then the global one (the WORKING rows only when working). */
static const KeyBinding *binding_find(const Scene *sc, int key, bool working) {
    const int n = (int)(sizeof KEYMAP / sizeof KEYMAP[0]);
    if (working)
        for (int i = 0; i < n; i++)
            if (KEYMAP[i].key == key && KEYMAP[i].panel == KEYMAP_WORKING) return &KEYMAP[i];
    const int own = sc->view.tradeoff ? KEYMAP_TRADEOFF : sc->panel;   /* a hidden panel's keys do nothing */
    for (int i = 0; i < n; i++)
        if (KEYMAP[i].key == key && KEYMAP[i].panel == own) return &KEYMAP[i];
    for (int i = 0; i < n; i++)
        if (KEYMAP[i].key == key && KEYMAP[i].panel == -1) return &KEYMAP[i];
    return NULL;
}

const KeyBinding *scene_key_binding(const Scene *sc, int key) {
    return binding_find(sc, key, derived_background_busy());
}

static bool key_run(Scene *sc, const KeyBinding *b, Err *e) {
    if (!b) return err_set(e, ERR_ARG, "no action is bound to this key on the %s panel", scene_panel_name(sc->panel));
    return scene_do(sc, b->action, b->arg, e);
}

bool scene_key(Scene *sc, int key, Err *e) { return key_run(sc, scene_key_binding(sc, key), e); }

bool scene_key_scripted(Scene *sc, int key, Err *e) { return key_run(sc, binding_find(sc, key, false), e); }

size_t scene_parse_key(const char *s, int *key) {
    static const struct { const char *name; int key; } N[] = {
        {"right", TK_RIGHT}, {"left", TK_LEFT}, {"up", TK_UP}, {"down", TK_DOWN}, {"home", TK_HOME},
        {"end", TK_END}, {"enter", TK_ENTER}, {"esc", TK_ESC}, {"tab", TK_TAB}, {"btab", TK_BTAB},
        {"bs", TK_BACKSPACE}, {"del", TK_DELETE}, {"pgup", TK_PGUP}, {"pgdn", TK_PGDN}, {"space", ' '},
        {"f1", TK_F1}, {"f2", TK_F2}, {"f3", TK_F3}, {"f4", TK_F4}, {"f5", TK_F5}, {"f6", TK_F6},
        {"f7", TK_F7}, {"f8", TK_F8}, {"f9", TK_F9}, {"f10", TK_F10}, {"tick", TK_TICK}};
    if (s[0] == '{') {
        const char *end = strchr(s, '}');
        if (end) {
            size_t n = (size_t)(end - s - 1);
            for (size_t i = 0; i < sizeof N / sizeof N[0]; i++)
                if (strlen(N[i].name) == n && !strncmp(s + 1, N[i].name, n)) { *key = N[i].key; return n + 2; }
        }
        *key = -1;
        return end ? (size_t)(end - s + 1) : strlen(s);
    }
    const unsigned char *u = (const unsigned char *)s;
    int len = u[0] < 0x80 ? 1 : u[0] < 0xe0 ? 2 : u[0] < 0xf0 ? 3 : 4;
    int cp = len == 1 ? u[0] : u[0] & (0x3f >> (len - 1));
    for (int i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80) { *key = -1; return (size_t)i; }
        cp = (cp << 6) | (u[i] & 0x3f);
    }
    *key = cp;
    return (size_t)len;
}
