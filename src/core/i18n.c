/* The UI's message catalogue: a sorted index over core/i18n_zh.def, searched by the English
 * text (see i18n.h). */
#include "core/i18n.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const I18nEntry k_zh[] = {
#define TR(en, zh) {en, zh},
#include "core/i18n_zh.def"
#undef TR
};
#define N_ZH (sizeof k_zh / sizeof k_zh[0])

static UiLang g_lang = LANG_EN;
static const I18nEntry *g_sorted[N_ZH];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int cmp_entry(const void *x, const void *y) {
    return strcmp((*(const I18nEntry *const *)x)->en, (*(const I18nEntry *const *)y)->en);
}

static void build_index(void) {
    for (size_t i = 0; i < N_ZH; i++) g_sorted[i] = &k_zh[i];
    qsort(g_sorted, N_ZH, sizeof g_sorted[0], cmp_entry);
}

void i18n_set_lang(UiLang lang) { g_lang = (unsigned)lang < LANG_COUNT ? lang : LANG_EN; }
UiLang i18n_lang(void) { return g_lang; }
const char *i18n_lang_name(UiLang lang) { return lang == LANG_ZH ? "zh" : "en"; }

bool i18n_parse_lang(const char *name, UiLang *out) {
    if (!name) return false;
    if (!strncmp(name, "zh", 2) && (!name[2] || name[2] == '_' || name[2] == '-' || name[2] == '.')) { *out = LANG_ZH; return true; }
    if (!strncmp(name, "en", 2) && (!name[2] || name[2] == '_' || name[2] == '-' || name[2] == '.')) { *out = LANG_EN; return true; }
    return false;
}

UiLang i18n_lang_from_env(void) {
    UiLang l = LANG_EN;
    const char *v = getenv("LLMSCOPE_LANG");
    if (v && *v) return i18n_parse_lang(v, &l) ? l : LANG_EN;
    static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        v = getenv(vars[i]);
        if (v && *v) return !strncmp(v, "zh", 2) ? LANG_ZH : LANG_EN;
    }
    return LANG_EN;
}

const char *i18n_tr_lang(UiLang lang, const char *en) {
    if (lang != LANG_ZH || !en || !*en) return en;
    pthread_once(&g_once, build_index);
    size_t lo = 0, hi = N_ZH;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(en, g_sorted[mid]->en);
        if (!c) return g_sorted[mid]->zh && *g_sorted[mid]->zh ? g_sorted[mid]->zh : en;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return en;
}

const char *i18n_tr(const char *en) { return i18n_tr_lang(g_lang, en); }

const I18nEntry *i18n_catalogue(size_t *n) {
    *n = N_ZH;
    return k_zh;
}
