/* The UI's message catalogue (core/i18n): lookup and fallback, the language from the
 * environment, every translation keeps its format conversions (and no entry twice), the lists
 * of marked strings (tr, N_, tr_lang, scene_status) that have no Chinese yet and of catalogue
 * entries whose English is no longer in the source (printed, not failures: other work adds and
 * changes UI text in parallel), and the Chinese screens whole at many sizes. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdio.h>
#include "core/i18n.h"
#include "engine/gencfg.h"
#include "harness.h"

/* ---- format conversions --------------------------------------------------------------- */

/* The conversions of a printf format as "d,lld,s,.*f,..." (flags and widths dropped: a
 * translation may pad differently; '*' kept: it consumes an argument). */
static void fmt_convs(const char *f, char *out, size_t cap) {
    size_t n = 0;
    out[0] = 0;
    for (const char *p = f; *p; p++) {
        if (*p != '%') continue;
        p++;
        if (*p == '%') continue;
        if (*p == ' ' || !*p) { if (!*p) break; continue; }   /* "95% interval" in a help text: not a conversion
                                                                   (the space flag is never used here) */
        char conv[16];
        size_t k = 0;
        while (*p && strchr("-+ #0", *p)) p++;
        while (*p && (strchr("0123456789", *p) || *p == '*')) { if (*p == '*' && k < 8) conv[k++] = '*'; p++; }
        if (*p == '.') {
            p++;
            while (*p && (strchr("0123456789", *p) || *p == '*')) { if (*p == '*' && k < 8) conv[k++] = '*'; p++; }
        }
        while (*p && strchr("hlLqjzt", *p)) { if (k < 12) conv[k++] = *p; p++; }
        if (!*p) break;
        conv[k++] = *p;
        conv[k] = 0;
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s,", conv);
    }
}

/* ---- the marked strings of the source ----------------------------------------------- */

typedef struct { char **v; int n, cap; } StrSet;

static void set_add(StrSet *s, const char *t) {
    for (int i = 0; i < s->n; i++) if (!strcmp(s->v[i], t)) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = realloc(s->v, sizeof *s->v * (size_t)s->cap);
    }
    s->v[s->n++] = strdup(t);
}

static bool set_has(const StrSet *s, const char *t) {
    for (int i = 0; i < s->n; i++) if (!strcmp(s->v[i], t)) return true;
    return false;
}

static void set_free(StrSet *s) {
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
}

static const char *skip_space_comments(const char *p) {
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (p[0] == '/' && p[1] == '/') { while (*p && *p != '\n') p++; continue; }
        if (p[0] == '/' && p[1] == '*') { const char *e = strstr(p + 2, "*/"); p = e ? e + 2 : p + strlen(p); continue; }
        return p;
    }
}

static int hexv(char ch) {
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* One "..." literal at p (decoded, appended to out); returns the position after it. */
static const char *read_literal(const char *p, char *out, size_t cap, size_t *n) {
    p++;
    while (*p && *p != '"') {
        char ch = *p++;
        if (ch == '\\') {
            char e = *p++;
            switch (e) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case '0': ch = 0; break;
            case 'x': {
                int v = 0, d;
                while ((d = hexv(*p)) >= 0) { v = v * 16 + d; p++; }
                ch = (char)v;
                break;
            }
            default: ch = e; break;
            }
        }
        if (*n + 1 < cap) out[(*n)++] = ch;
    }
    out[*n] = 0;
    return *p ? p + 1 : p;
}

/* After the '(' of a marker call: the string-literal groups of argument `arg` (adjacent
 * literals concatenate; a ternary gives one group per branch). Returns the end of the scan. */
static const char *collect_arg(const char *p, int arg, StrSet *out) {
    int depth = 0, cur = 0;
    char buf[8192];
    size_t n = 0;
    bool in_group = false;
    while (*p) {
        p = skip_space_comments(p);
        if (*p == '"') {
            if (!in_group) n = 0;
            p = read_literal(p, buf, sizeof buf, &n);
            in_group = true;
            continue;
        }
        if (in_group) { if (cur == arg) set_add(out, buf); in_group = false; }
        if (*p == '\'') { p++; if (*p == '\\') p++; if (*p) p++; if (*p == '\'') p++; continue; }
        if (*p == '(' || *p == '[' || *p == '{') depth++;
        else if (*p == ')' || *p == ']' || *p == '}') { if (depth-- == 0) return p + 1; }
        else if (*p == ',' && depth == 0) { if (++cur > arg) { /* past it */ } }
        if (*p) p++;
    }
    return p;
}

/* scene.c's own fail(sc, e, fmt, ...) translates its format too (only in that file), and so does
 * scene_fail (scene/scene_int.h), which the scene's files share */
typedef struct { const char *name; int arg; bool scene_only; } Marker;
static const Marker k_markers[] = {{"tr", 0, false}, {"N_", 0, false}, {"tr_lang", 1, false}, {"scene_status", 2, false},
                                   {"fail", 2, true}, {"scene_fail", 2, false}};

static void scan_text(const char *text, StrSet *out, bool scene_file) {
    const char *p = text;
    while (*p) {
        if (p[0] == '/' && (p[1] == '/' || p[1] == '*')) { p = skip_space_comments(p); continue; }
        if (*p == '"') { char tmp[8192]; size_t n = 0; p = read_literal(p, tmp, sizeof tmp, &n); continue; }
        if (*p == '\'') { p++; if (*p == '\\') p++; if (*p) p++; if (*p == '\'') p++; continue; }
        bool ident_start = (p == text || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z') ||
                                           (p[-1] >= '0' && p[-1] <= '9')));
        bool hit = false;
        for (size_t m = 0; ident_start && m < sizeof k_markers / sizeof k_markers[0]; m++) {
            if (k_markers[m].scene_only && !scene_file) continue;
            size_t L = strlen(k_markers[m].name);
            if (strncmp(p, k_markers[m].name, L)) continue;
            const char *q = skip_space_comments(p + L);
            if (*q != '(') continue;
            collect_arg(q + 1, k_markers[m].arg, out);
            p = q + 1;               /* go on inside the call: a marker may nest (scene_status(.., tr("x"))) */
            hit = true;
            break;
        }
        if (!hit) p++;
    }
}

static void scan_dir(const char *dir, StrSet *out, int *files) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) { scan_dir(path, out, files); continue; }
        size_t n = strlen(de->d_name);
        if (n < 3 || (strcmp(de->d_name + n - 2, ".c") && strcmp(de->d_name + n - 2, ".h"))) continue;
        if (!strcmp(de->d_name, "i18n.h") || !strcmp(de->d_name, "i18n.c")) continue;   /* its own examples */
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        char *text = malloc((size_t)st.st_size + 1);
        size_t got = text ? fread(text, 1, (size_t)st.st_size, f) : 0;
        fclose(f);
        if (!text) continue;
        text[got] = 0;
        size_t pl = strlen(path);
        scan_text(text, out, pl >= 13 && !strcmp(path + pl - 13, "scene/scene.c"));
        free(text);
        (*files)++;
    }
    closedir(d);
}

/* ---- tests ------------------------------------------------------------------------------ */

TEST(i18n_lookup_and_fallback) {
    UiLang saved = i18n_lang();
    size_t n;
    const I18nEntry *cat = i18n_catalogue(&n);
    REQUIRE(n > 0);
    i18n_set_lang(LANG_ZH);
    CHECK_STR(tr(cat[0].en), cat[0].zh);
    CHECK_STR(tr(cat[n - 1].en), cat[n - 1].zh);
    const char *un = "no such UI string, surely";
    CHECK(tr(un) == un);                        /* untranslated: the English itself */
    CHECK(tr("") != NULL && !tr("")[0]);
    i18n_set_lang(LANG_EN);
    CHECK(tr(cat[0].en) == cat[0].en);
    CHECK_STR(i18n_tr_lang(LANG_ZH, cat[0].en), cat[0].zh);
    i18n_set_lang(saved);
}

TEST(i18n_catalogue_entries_are_sound) {
    size_t n;
    const I18nEntry *cat = i18n_catalogue(&n);
    for (size_t i = 0; i < n; i++) {
        CHECK_MSG(cat[i].en && cat[i].en[0], "entry %zu: empty English", i);
        CHECK_MSG(cat[i].zh && cat[i].zh[0], "entry %zu (\"%s\"): empty Chinese", i, cat[i].en);
        if (!cat[i].en || !cat[i].zh) continue;
        char a[512], b[512];
        fmt_convs(cat[i].en, a, sizeof a);
        fmt_convs(cat[i].zh, b, sizeof b);
        CHECK_MSG(!strcmp(a, b), "\"%s\": conversions %s in English, %s in Chinese", cat[i].en, a, b);
        for (size_t j = 0; j < i; j++) CHECK_MSG(strcmp(cat[i].en, cat[j].en) != 0, "\"%s\" is in the catalogue twice", cat[i].en);
        /* no 0-based ordinals in Chinese (第 0 层): layers and heads are "N 号层"; an index the
         * engine counts from 0 is never written after 第 (only "第 %d/%d 步" with k + 1) */
        CHECK_MSG(!strstr(cat[i].zh, "\xe7\xac\xac 0"), "\"%s\": ordinal 第 0", cat[i].zh);
        if (strstr(cat[i].zh, "\xe7\xac\xac %d")) CHECK_STR(cat[i].en, "step %d/%d  ");
        if (strstr(cat[i].en, "L%d")) CHECK_MSG(strstr(cat[i].zh, "%d \xe5\x8f\xb7\xe5\xb1\x82"), "\"%s\": L%%d is \"%%d 号层\"", cat[i].zh);
    }
    /* the checker itself */
    char a[64], b[64];
    fmt_convs("%d of %-6s %.2f%% %lld %*d", a, sizeof a);
    CHECK_STR(a, "d,s,f,lld,*d,");
    fmt_convs("%lld %d", b, sizeof b);
    CHECK(strcmp(b, "d,lld,") != 0);
    fmt_convs("95% interval, %d seeds", a, sizeof a);
    CHECK_STR(a, "d,");
}

TEST(i18n_language_from_env) {
    static const char *const vars[] = {"LLMSCOPE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"};
    char *saved[4];
    for (int i = 0; i < 4; i++) { const char *v = getenv(vars[i]); saved[i] = v ? strdup(v) : NULL; unsetenv(vars[i]); }
    CHECK_EQ_INT(i18n_lang_from_env(), LANG_EN);
    setenv("LANG", "zh_CN.UTF-8", 1);
    CHECK_EQ_INT(i18n_lang_from_env(), LANG_ZH);
    setenv("LC_MESSAGES", "en_US.UTF-8", 1);      /* LC_MESSAGES before LANG */
    CHECK_EQ_INT(i18n_lang_from_env(), LANG_EN);
    setenv("LC_ALL", "zh_TW.UTF-8", 1);           /* LC_ALL before both */
    CHECK_EQ_INT(i18n_lang_from_env(), LANG_ZH);
    setenv("LC_ALL", "", 1);                      /* empty: the next one decides */
    CHECK_EQ_INT(i18n_lang_from_env(), LANG_EN);
    setenv("LLMSCOPE_LANG", "zh", 1);             /* ours first */
    CHECK_EQ_INT(i18n_lang_from_env(), LANG_ZH);
    UiLang l = LANG_EN;
    CHECK(i18n_parse_lang("zh", &l) && l == LANG_ZH);
    CHECK(i18n_parse_lang("en", &l) && l == LANG_EN);
    CHECK(i18n_parse_lang("zh_CN.UTF-8", &l) && l == LANG_ZH);
    CHECK(!i18n_parse_lang("fr", &l) && !i18n_parse_lang("zhx", &l) && !i18n_parse_lang(NULL, &l));
    for (int i = 0; i < 4; i++) {
        if (saved[i]) setenv(vars[i], saved[i], 1);
        else unsetenv(vars[i]);
        free(saved[i]);
    }
}

TEST(i18n_scanner_reads_c_literals) {
    StrSet s = {0};
    scan_text("x = tr(\"a\\xc2\\xb7 b\" \"c\\n\"); /* tr(\"comment\") */ y = N_(\"d\");\n"
              "scene_status(sc, f(1, 2), on ? \"e %d\" : \"f\", 3); str(\"no\"); tr(p->title);\n"
              "tr_lang(L, \"g\"); q = '\"'; z = tr(\"h\"); fail(sc, e, \"i\");", &s, false);
    CHECK_EQ_INT(s.n, 6);
    CHECK(set_has(&s, "a\xc2\xb7 bc\n") && set_has(&s, "d") && set_has(&s, "e %d") && set_has(&s, "f") && set_has(&s, "g") &&
          set_has(&s, "h"));
    CHECK(!set_has(&s, "comment") && !set_has(&s, "no"));
    set_free(&s);
}

TEST(i18n_catalogue_matches_the_source) {
    StrSet marked = {0};
    int files = 0;
    scan_dir("src", &marked, &files);
    if (!files) SKIP("src/ not found (run from the repository root)");
    size_t n;
    const I18nEntry *cat = i18n_catalogue(&n);
    /* Every marked string with letters has its line in the catalogue, and every line is still
     * marked somewhere: a missing one fails (it would show in English in the Chinese UI), and so
     * does a stale one (the English changed in the source, so its string shows in English too).
     * A string that stays as it is in Chinese (a name, "KV", "token") gets TR("X", "X"). */
    int stale = 0;
    for (size_t i = 0; i < n; i++) {
        if (set_has(&marked, cat[i].en)) continue;
        if (!stale++) printf("    stale catalogue entries (no tr()/N_()/scene_status() string in src/ has this English any more):\n");
        printf("      \"");
        for (const char *p = cat[i].en; *p; p++) { if (*p == '\n') printf("\\n"); else putchar(*p); }
        printf("\"\n");
    }
    int missing = 0;
    for (int i = 0; i < marked.n; i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++) found = !strcmp(cat[j].en, marked.v[i]);
        if (found || !marked.v[i][0]) continue;
        /* a string of only a format or symbols needs no translation */
        bool letters = false;
        for (const char *p = marked.v[i]; *p && !letters; p++) {
            if (*p == '%') { p++; while (*p && !strchr("diouxXeEfgGsc%", *p)) p++; if (!*p) break; continue; }
            letters = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
        }
        if (!letters) continue;
        if (!missing++) printf("    untranslated UI strings (add TR(\"English\", \"中文\") to src/core/i18n_zh.def):\n");
        printf("      \"");
        for (const char *p = marked.v[i]; *p; p++) { if (*p == '\n') printf("\\n"); else putchar(*p); }
        printf("\"\n");
    }
    printf("    %d marked strings in %d files, %zu catalogue entries, %d untranslated, %d stale\n", marked.n, files, n, missing, stale);
    CHECK(marked.n > 0);
    CHECK_MSG(missing == 0, "%d UI strings (listed above) have no Chinese: add TR(\"English\", \"中文\") to src/core/i18n_zh.def", missing);
    CHECK_MSG(stale == 0, "%d catalogue entries (listed above) match no marked string in src/: change or remove their lines", stale);
    set_free(&marked);
}

/* ---- the Chinese UI on screen ----------------------------------------------------------- */

#include "tui/app.h"
#include "tui/canvas.h"
#include "tui_fake.h"

/* Wide characters whole (a width-2 cell followed by its continuation, a continuation only
 * after a width-2 cell) and every text row within the canvas. Returns the first bad spot. */
static bool canvas_cells_whole(const Canvas *c, int *bx, int *by) {
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            const Cell *cl = canvas_cell(c, x, y), *nx = canvas_cell(c, x + 1, y), *pv = canvas_cell(c, x - 1, y);
            bool ok = cl->width == 2 ? nx && nx->width == 0 : cl->width == 0 ? pv && pv->width == 2 : cl->width == 1;
            if (!ok) { *bx = x; *by = y; return false; }
        }
    char *t = canvas_to_text(c);
    bool fits = t != NULL;
    for (char *line = t; fits && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        fits = text_width(line, true) <= c->w;
        line = nl ? nl + 1 : NULL;
    }
    free(t);
    *bx = *by = -1;
    return fits;
}

static bool canvas_has(const Canvas *c, const char *s) {
    char *t = canvas_to_text(c);
    bool r = t && strstr(t, s);
    free(t);
    return r;
}

TEST(i18n_zh_screens_whole_at_odd_sizes) {
    static const char *const KINDS[] = {"gqa", "mha", "mla"};
    static const int SZ[][2] = {{80, 24}, {61, 17}, {97, 31}, {133, 41}, {60, 16}, {59, 15}, {81, 25}};
    UiLang saved = i18n_lang();
    i18n_set_lang(LANG_ZH);
    int screens = 0;
    for (int k = 0; k < 3; k++) {
        Session *s = tui_fake_session(KINDS[k], 12, 8);
        REQUIRE(s);
        App *a = app_new();
        REQUIRE(a);
        app_set_session(a, 0, s, false);
        for (size_t z = 0; z < sizeof SZ / sizeof SZ[0]; z++) {
            Canvas *c = canvas_new(SZ[z][0], SZ[z][1]);
            REQUIRE(c);
            c->unicode = true;
            c->mono = true;
            for (int p = 0; p < PANEL_COUNT; p++) {
                const char *title = tr(panel_class((PanelId)p)->title);
                int bx, by;
                app_render_panel(a, c, p);
                CHECK_MSG(canvas_cells_whole(c, &bx, &by), "%s panel %d at %dx%d: a wide character cut at (%d,%d)", KINDS[k], p,
                          SZ[z][0], SZ[z][1], bx, by);
                CHECK_MSG(canvas_has(c, title), "%s panel %d at %dx%d: no Chinese title %s", KINDS[k], p, SZ[z][0], SZ[z][1], title);
                a->sc->panel = p;
                for (int help = 0; help < 2; help++) {
                    a->overlay = help ? OV_HELP : OV_NONE;
                    app_render(a, c);
                    CHECK_MSG(canvas_cells_whole(c, &bx, &by), "%s full UI, panel %d%s at %dx%d: a wide character cut at (%d,%d)",
                              KINDS[k], p, help ? " + help" : "", SZ[z][0], SZ[z][1], bx, by);
                    screens++;
                }
                a->overlay = OV_NONE;
            }
            app_render(a, c);
            if (SZ[z][0] >= 80 && SZ[z][1] >= 24) {
                /* the key bar whole: every label, the last one included */
                CHECK_MSG(canvas_has(c, "F1\xe5\xb8\xae\xe5\x8a\xa9") && canvas_has(c, "F10\xe9\x80\x80\xe5\x87\xba"),
                          "%s at %dx%d: key bar F1帮助 ... F10退出", KINDS[k], SZ[z][0], SZ[z][1]);
            } else if (SZ[z][0] < APP_MIN_W || SZ[z][1] < APP_MIN_H) {
                CHECK_MSG(canvas_has(c, tr("terminal too small")), "%s at %dx%d: the too-small notice in Chinese", KINDS[k], SZ[z][0], SZ[z][1]);
            }
            canvas_free(c);
        }
        app_free(a);
        tui_fake_free(s);
    }
    /* a tiny window: the too-small notice wraps at whole characters */
    Canvas *c = canvas_new(9, 6);
    REQUIRE(c);
    c->unicode = true;
    App *a = app_new();
    REQUIRE(a);
    app_render(a, c);
    int bx, by;
    CHECK(canvas_cells_whole(c, &bx, &by));
    CHECK(canvas_has(c, "\xe7\xbb\x88\xe7\xab\xaf"));     /* 终端 */
    app_free(a);
    canvas_free(c);
    CHECK(screens > 300);
    i18n_set_lang(saved);
}

/* Latin letters left in s once the names that stay as they are (field and file names) are taken
 * out: the first one's offset, -1 when none. */
static int latin_left(const char *s) {
    static const char *const KEEP[] = {"generation_config.json", "transformers", "do_sample false", "top_k", "top_p", "temperature 0"};
    char t[512];
    snprintf(t, sizeof t, "%s", s);
    for (size_t i = 0; i < sizeof KEEP / sizeof KEEP[0]; i++)
        for (char *p; (p = strstr(t, KEEP[i])) != NULL;) memset(p, ' ', strlen(KEEP[i]));
    for (int i = 0; t[i]; i++)
        if ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z')) return i;
    return -1;
}

/* The model's sampling defaults as the sampling form (s, its 'd' line) and the status line after a
 * lesson describe them: the Chinese UI read "d  模型的默认设置（使用中）：greedy (transformers'
 * default: do_sample false)" (engine/gencfg.c wrote English). In Chinese now, field and file names
 * aside; in English (the commands' language unless the UI chose Chinese) as before. */
TEST(i18n_sampling_defaults_described_in_the_ui_language) {
    GenChoice g = {0}, s = {0};
    g.cfg.greedy = true;
    g.src_mode = "transformers' default";
    s.cfg = (SamplerCfg){.greedy = false, .temperature = 0.6f, .top_k = 20, .top_p = 0.95f, .seed = 42};
    s.src_temp = s.src_top_k = s.src_top_p = "generation_config.json";
    const UiLang saved = i18n_lang();
    char d[256];
    i18n_set_lang(LANG_EN);
    gen_describe(&g, true, d, sizeof d);
    CHECK_STR(d, "greedy (transformers' default: do_sample false)");
    gen_describe(&s, true, d, sizeof d);
    CHECK_STR(d, "sampling with temperature 0.6, top_k 20, top_p 0.95 (generation_config.json), seed 42");
    i18n_set_lang(LANG_ZH);
    for (int k = 0; k < 2; k++) {
        gen_describe(k ? &s : &g, true, d, sizeof d);
        CHECK_MSG(latin_left(d) < 0, "zh: \"%s\" has English at byte %d", d, latin_left(d));
    }
    i18n_set_lang(saved);
}
