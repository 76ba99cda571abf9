/* Input events independent of curses, so the scene, the app and panels can be driven headless (tests,
 * lessons, screenshot). Printable keys are their Unicode code point; special keys live
 * above the Unicode range. */
#ifndef LLMSCOPE_SCENE_KEYS_H
#define LLMSCOPE_SCENE_KEYS_H
#include <stddef.h>

#define TK_BASE 0x110000
enum {
    TK_NONE = 0,
    TK_UP = TK_BASE, TK_DOWN, TK_LEFT, TK_RIGHT, TK_HOME, TK_END, TK_PGUP, TK_PGDN,
    TK_BACKSPACE, TK_DELETE, TK_ENTER, TK_ESC, TK_TAB, TK_BTAB, TK_INSERT,
    TK_F1, TK_F2, TK_F3, TK_F4, TK_F5, TK_F6, TK_F7, TK_F8, TK_F9, TK_F10, TK_F11, TK_F12,
    TK_RESIZE,      /* the terminal changed size: re-layout (one path for every resize) */
    TK_MOUSE,       /* see TuiEvent.mx/my/button */
    TK_INTERRUPT,   /* SIGINT/SIGTERM/SIGHUP: leave cleanly */
    TK_TICK,        /* timer (run mode) */
};
#define TK_CTRL(c) ((c) & 0x1f)

/* One key of a key string (screenshot --keys, a lesson's "keys" action): a UTF-8 character or
 * {name}, name one of right left up down home end enter esc tab btab bs del pgup pgdn space
 * f1..f10 tick. Returns the bytes read (at least 1 while s is not empty); *key = -1 when they
 * are not a key (an unknown name, an unclosed brace, bad UTF-8). scene/keymap.c. */
size_t scene_parse_key(const char *s, int *key);

enum { MB_NONE = 0, MB_LEFT = 1, MB_MIDDLE = 2, MB_RIGHT = 3, MB_WHEEL_UP = 4, MB_WHEEL_DOWN = 5 };

typedef struct {
    int key;
    int mx, my;        /* cell of a mouse event */
    int button;        /* MB_* */
} TuiEvent;
#endif
