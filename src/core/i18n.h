/* The UI's language: a small message catalogue, no gettext.
 *
 * Every string a user reads on screen is written in English in the source and wrapped in
 * tr("English text"); tr returns the current language's text for it, or the English itself
 * when the catalogue has none (so a missing translation shows English, never nothing). A
 * string in a static initializer (a panel's title, a table of key labels) is marked with
 * N_("English text") where it is defined and translated with tr(ptr) where it is drawn.
 * scene_status() translates its format itself. Format strings keep their conversions: the
 * translation has the same %d/%s/... in the same order (tests/test_i18n.c checks every
 * entry, and lists the marked strings that have no translation yet).
 *
 * The catalogue is core/i18n_zh.def: one TR("English", "中文") per string, the English
 * byte for byte as in the source. How to add UI text: docs/tui.md, "Languages".
 *
 * The language is process-wide (the UI is single-threaded): i18n_set_lang from --lang, else
 * i18n_lang_from_env() ($LLMSCOPE_LANG, then the first set of $LC_ALL, $LC_MESSAGES, $LANG:
 * zh* is Chinese, anything else English). */
#ifndef LLMSCOPE_CORE_I18N_H
#define LLMSCOPE_CORE_I18N_H
#include <stdbool.h>
#include <stddef.h>

typedef enum { LANG_EN = 0, LANG_ZH = 1, LANG_COUNT } UiLang;

typedef struct { const char *en, *zh; } I18nEntry;

void i18n_set_lang(UiLang lang);
UiLang i18n_lang(void);
/* "en" / "zh" (also "zh_CN.UTF-8", "zh-TW", ...) -> *out; false for anything else. */
bool i18n_parse_lang(const char *name, UiLang *out);
const char *i18n_lang_name(UiLang lang);            /* "en" / "zh" */
/* $LLMSCOPE_LANG, then POSIX message-locale order ($LC_ALL, $LC_MESSAGES, $LANG; the first
 * non-empty one decides): zh* -> LANG_ZH, otherwise LANG_EN. */
UiLang i18n_lang_from_env(void);

/* The text of `en` in the current language (en itself for English or when untranslated). */
const char *i18n_tr(const char *en);
/* The same in a given language (the lesson pane follows its lesson's language). */
const char *i18n_tr_lang(UiLang lang, const char *en);
/* The whole Chinese catalogue, for the tests. */
const I18nEntry *i18n_catalogue(size_t *n);

#define tr(en) i18n_tr(en)
#define tr_lang(lang, en) i18n_tr_lang(lang, en)
#define N_(en) (en)
#endif
