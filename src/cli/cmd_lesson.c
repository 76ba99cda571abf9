/* `llmscope lesson`: list, play (TUI with a narration pane), print, or check lessons. */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/i18n.h"
#include "cli/cli.h"
#include "lesson/lesson.h"
#include "session/session.h"
#include "tui/app.h"
#include "tui/export.h"
#include "tui/lesson_check.h"
#include "tui/lesson_pane.h"
#include "tui/term.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: llmscope lesson list [--lang en|zh]\n"
            "       llmscope lesson NAME [--lang en|zh] [--step N]      play in the terminal UI\n"
            "       (with NAME: --greedy, --temp T, --top-k K, --top-p P, --seed S over every sampler the lesson sets)\n"
            "       llmscope lesson NAME --script [--lang en|zh]        print every step with its live values\n"
            "       llmscope lesson NAME --frame N [--size WxH] [--reveal] [--format text|ansi|svg|html]\n"
            "                                                        print the screen of step N\n"
            "       llmscope lesson NAME --frames DIR [--size WxH] [--format F]  write every step's screen\n"
            "                                                        (and its revealed answer) to DIR/NN.EXT\n"
            "       llmscope lesson --check [FILES...] [--lang en|zh] [--size WxH] [--verbose]\n"
            "       llmscope lesson --placeholders                    the live values a lesson may quote\n"
            "       llmscope lesson --targets                         the screen elements a step may point at\n"
            "NAME is a number (6), an id (06-attention-variants, attention-variants) or a path.\n"
            "Presenter keys: Space/Right next, Left previous, a answer, q leave, L lesson menu.\n"
            "Lessons live in lessons/ (English) and lessons/zh/ (Chinese); format: docs/lessons.md.\n");
}

static const char *lang_arg(int argc, char **argv, Err *e) {
    const char *l = cli_opt(argc, argv, "--lang");
    if (!l) return NULL;
    if (strcmp(l, "en") && strcmp(l, "zh")) { err_set(e, ERR_ARG, "--lang '%s': expected en or zh", l); return ""; }
    return l;
}

static bool size_arg(int argc, char **argv, int *w, int *h) {
    const char *s = cli_opt(argc, argv, "--size");
    if (!s) return true;
    return cli_parse_size(s, w, h) && *w >= 40 && *h >= 12 && *w <= 1000 && *h <= 1000;
}

static int cmd_list(const char *root, const char *lang) {
    char dir[1200];
    lesson_dir(root, lang, dir, sizeof dir);
    char **v;
    int n = lesson_list_files(dir, &v);
    if (!n) { fprintf(stderr, "llmscope: no lessons in %s\n", dir); return 1; }
    for (int i = 0; i < n; i++) {
        Err e = {0};
        Lesson *l = lesson_load(v[i], &e);
        const char *base = strrchr(v[i], '/');
        base = base ? base + 1 : v[i];
        if (l) printf("%-28.*s %s\n", (int)(strlen(base) - 5), base, l->title);
        else printf("%-28.*s (invalid: %s)\n", (int)(strlen(base) - 5), base, e.msg);
        lesson_free(l);
    }
    lesson_free_list(v, n);
    return 0;
}

static int cmd_placeholders(void) {
    int n;
    const PhSpec *t = lesson_ph_table(&n);
    static const char *const NEED[] = {[PHN_SPEC] = "config", [PHN_WEIGHTS] = "weights", [PHN_SESSION] = "session",
                                       [PHN_TOKEN] = "token", [PHN_FAMILY] = "family"};
    static const char *const ARG[] = {[PHA_NONE] = "", [PHA_INT_OPT] = "[:N]", [PHA_INT] = ":N", [PHA_NUM] = ":X",
                                      [PHA_INT2] = ":I,J", [PHA_NAME] = ":NAME"};
    for (int i = 0; i < n; i++) {
        char nm[80];
        unsigned a = (unsigned)t[i].arg, nd = (unsigned)t[i].need;
        const char *as = a < sizeof ARG / sizeof *ARG && ARG[a] ? ARG[a] : ":?";
        const char *ns = nd < sizeof NEED / sizeof *NEED && NEED[nd] ? NEED[nd] : "?";
        snprintf(nm, sizeof nm, "{%s%s}", t[i].name, as);
        printf("%-32s %-8s %s\n", nm, ns, t[i].doc);
    }
    return 0;
}

/* Strips the value marks for plain output. */
static void print_plain(const char *label, const char *s) {
    printf("%s", label);
    for (const char *p = s; *p; p++)
        if (*p != LESSON_MARK_ON && *p != LESSON_MARK_OFF) putchar(*p);
    putchar('\n');
}

static const CliOpt k_lesson_opts[] = {
    {"--targets", NULL, CLI_FLAG, NULL, "list the screen elements a step may point at (\"target\")", 0, 0},
    {"--lang", NULL, CLI_STR, "en|zh", "lesson and UI language (default: $LLMSCOPE_LANG, else zh when $LC_ALL, $LC_MESSAGES or $LANG is zh_*, else en)", 0, 0},
    {"--step", NULL, CLI_INT, "N", "start at step N", 1, 2147483647.0},
    {"--script", NULL, CLI_FLAG, NULL, "print every step with its live values", 0, 0},
    {"--frame", NULL, CLI_INT, "N", "print the screen of step N", 1, 2147483647.0},
    {"--size", NULL, CLI_STR, "WxH", "screen size of --frame, --frames and --check (default 120x36)", 0, 0},
    {"--reveal", NULL, CLI_FLAG, NULL, "with --frame: show the answer (a prediction step: its scripted answer scored, as --frames writes it)", 0, 0},
    {"--ascii", NULL, CLI_FLAG, NULL, "with --frame or --frames: ASCII only", 0, 0},
    {"--format", NULL, CLI_STR, "FMT", "with --frame or --frames: text (default), ansi, svg or html", 0, 0},
    {"--frames", NULL, CLI_STR, "DIR", "write every step's screen (and revealed answer) to DIR/NN.EXT, for slides", 0, 0},
    {"--ctx", NULL, CLI_INT, "N", "KV-cache length of the lesson's model", 0, 2147483647.0},
    {"--check", NULL, CLI_FLAG, NULL, "validate lessons (all, or the FILES given)", 0, 0},
    {"--verbose", NULL, CLI_FLAG, NULL, "with --check: say what was checked", 0, 0},
    {"--placeholders", NULL, CLI_FLAG, NULL, "list the live values a lesson may quote", 0, 0},
    {0}};
static const CliOpt *const k_lesson_groups[] = {k_lesson_opts, CLI_OPTS_SAMPLING, NULL};
static const CliCmd k_lesson_cmd = {
    "lesson", "lesson (list | NAME | --check [FILES...] | --placeholders | --targets) [options]",
    "Guided lessons. NAME is a number (6), an id (06-attention-variants, attention-variants) or a path.\n"
    "Presenter keys: Space/Right next, Left previous, a answer, q leave, L lesson menu.\n"
    "Lessons live in lessons/ (English) and lessons/zh/ (Chinese); format: docs/lessons.md.\n"
    "A lesson decodes greedily unless a step sets a sampler. The sampling options (as `run` has them)\n"
    "replace their own fields of every sampler the lesson sets, its greedy start and each step's:\n"
    "--temp 0.7 samples at 0.7 throughout, --greedy keeps every step greedy, --seed S reseeds each.",
    k_lesson_groups, 1000, "environment: LLMSCOPE_ROOT (where lessons/ and assets/ are), LLMSCOPE_LANG.", false};

/* Each mode (--check, --script, --frame N, --frames DIR, playing NAME) reads its own options. */
static const CliRule k_lesson_rules[] = {
    {"--verbose", CLI_NEEDS, "--check", NULL},
    {"--reveal", CLI_NEEDS, "--frame", "--frames writes every answer anyway"},
    {"--format", CLI_NEEDS, "--frame|--frames", NULL},
    {"--ascii", CLI_NEEDS, "--frame|--frames", "the interactive player draws what the terminal can show"},
    {"--size", CLI_NEEDS, "--frame|--frames|--check", "the interactive player takes the terminal's size"},
    {"--step", CLI_NOT_WITH, "--frame|--frames|--script|--check", "--step N starts the interactive player at step N"},
    {"--frame", CLI_NOT_WITH, "--frames|--script|--check", NULL},
    {"--frames", CLI_NOT_WITH, "--script|--check", NULL},
    {"--script", CLI_NOT_WITH, "--check", NULL},
    {"--ctx", CLI_NOT_WITH, "--check", "--check renders every step with each lesson's own settings"},
#define LESSON_SAMPLING_RULE(OPT) {OPT, CLI_NOT_WITH, "--check|--placeholders|--targets", "they act on the lesson NAME played: --check renders each lesson with its own settings, --placeholders and --targets decode nothing"}
    LESSON_SAMPLING_RULE("--greedy"), LESSON_SAMPLING_RULE("--temp"), LESSON_SAMPLING_RULE("--temperature"),
    LESSON_SAMPLING_RULE("--top-k"), LESSON_SAMPLING_RULE("--top-p"), LESSON_SAMPLING_RULE("--seed"),
#undef LESSON_SAMPLING_RULE
    {0}};

/* Whether an option of `lesson` takes a value (from the declared table, so a new option
 * cannot be mistaken for a lesson file). */
static bool cli_opt_takes_value(const char *arg) {
    if (strchr(arg, '=')) return false;
    for (const CliOpt *const *g = k_lesson_groups; *g; g++)
        for (const CliOpt *o = *g; o->name; o++)
            if (!strcmp(o->name, arg)) return o->kind != CLI_FLAG;
    return false;
}

static int cmd_targets(void) {
    int n;
    const TargetSpec *t = lesson_target_table(&n);
    static const char *ARG[] = {"", "[:N]", ":N", "[:mha|gqa|mqa|mla]"};
    for (int i = 0; i < n; i++) {
        char nm[80];
        snprintf(nm, sizeof nm, "%s%s", t[i].name, ARG[t[i].arg]);
        printf("%-30s %s\n", nm, t[i].doc);
    }
    return 0;
}

static int cmd_check(int argc, char **argv, const char *root, const char *lang, int w, int h) {
    LessonCheckOpts o = {.w = w, .h = h, .verbose = cli_flag(argc, argv, "--verbose"), .out = stdout};
    int problems = 0, files = 0;
    /* explicit files: every argument after --check that is not an option */
    bool explicit = false;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            if (cli_opt_takes_value(argv[i])) i++;      /* "--ctx 64" is an option, not a file */
            continue;
        }
        explicit = true;
        int p = lesson_check_file(argv[i], root, &o);
        printf("%s %s\n", p ? "FAIL" : "ok  ", argv[i]);
        problems += p;
        files++;
    }
    if (!explicit) {
        const char *langs[2] = {"en", "zh"};
        char **lists[2] = {NULL, NULL};
        int counts[2] = {0, 0};
        for (int li = 0; li < 2; li++) {
            if (lang && strcmp(lang, langs[li])) continue;
            char dir[1200];
            lesson_dir(root, langs[li], dir, sizeof dir);
            counts[li] = lesson_list_files(dir, &lists[li]);
            if (!counts[li]) { printf("FAIL no lessons in %s\n", dir); problems++; }
            for (int i = 0; i < counts[li]; i++) {
                int p = lesson_check_file(lists[li][i], root, &o);
                printf("%s %s\n", p ? "FAIL" : "ok  ", lists[li][i]);
                fflush(stdout);
                problems += p;
                files++;
            }
        }
        /* each lesson exists in both languages, with the same steps */
        if (!lang) {
            for (int i = 0; i < counts[0]; i++) {
                const char *base = strrchr(lists[0][i], '/');
                base = base ? base + 1 : lists[0][i];
                int match = -1;
                for (int j = 0; j < counts[1]; j++) {
                    const char *b2 = strrchr(lists[1][j], '/');
                    if (!strcmp(b2 ? b2 + 1 : lists[1][j], base)) match = j;
                }
                if (match < 0) { printf("FAIL %s has no Chinese version (lessons/zh/%s)\n", lists[0][i], base); problems++; continue; }
                int p = lesson_check_pair(lists[0][i], lists[1][match], stdout);
                if (p) printf("FAIL %s and %s differ in their steps\n", lists[0][i], lists[1][match]);
                problems += p;
            }
            for (int j = 0; j < counts[1]; j++) {
                const char *b2 = strrchr(lists[1][j], '/');
                b2 = b2 ? b2 + 1 : lists[1][j];
                bool found = false;
                for (int i = 0; i < counts[0]; i++) {
                    const char *base = strrchr(lists[0][i], '/');
                    if (!strcmp(base ? base + 1 : lists[0][i], b2)) found = true;
                }
                if (!found) { printf("FAIL %s has no English version (lessons/%s)\n", lists[1][j], b2); problems++; }
            }
        }
        for (int li = 0; li < 2; li++) lesson_free_list(lists[li], counts[li]);
    }
    printf("%d lesson file%s checked, %d problem%s\n", files, files == 1 ? "" : "s", problems, problems == 1 ? "" : "s");
    return problems ? 1 : 0;
}

/* The sampling options given, over every sampler a lesson sets (Scene.lesson_opts); after the
 * lesson closes, over the models' own defaults (Scene.gen_opts), as `tui` takes them. */
static void lesson_sampling(Scene *sc, int argc, char **argv) {
    cli_gen_override(argc, argv, &sc->lesson_opts);
    sc->gen_opts = sc->lesson_opts;
}

static App *open_app(int argc, char **argv, const char *root, const char *lang, const char *path, int step, int ctx, Err *e) {
    App *a = app_new();
    if (!a) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    a->sc->max_ctx = ctx;
    lesson_sampling(a->sc, argc, argv);
    char models[1200];
    snprintf(models, sizeof models, "%s/assets/models", root);
    app_scan_models(a, models);
    if (!lesson_ui_get(a, root, lang)) { app_free(a); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    if (!lesson_ui_open(a, path, step, e) && !a->sc->n_ses) { app_free(a); return NULL; }
    return a;
}


/* Every step's screen (and, for a step with a question or a prediction, the screen with its
 * answer shown or its scripted answer scored) written to dir/NN.ext and dir/NN-answer.ext,
 * NN the 1-based step; a long step's further pages to NN-p2.ext, NN-answer-p2.ext, ... */
static int write_frames(int argc, char **argv, const char *root, const char *lang, const char *path, int ctx, const char *dir,
                        ExportFormat fmt, int w, int h, bool unicode) {
    Err e = {0};
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "llmscope: --frames: cannot create directory %s: %s\n", dir, strerror(errno));
        return 1;
    }
    App *a = open_app(argc, argv, root, lang, path, 0, ctx, &e);
    if (!a) return cli_fail(&e);
    LessonPlayer *p = lesson_ui_player(a);
    Canvas *c = canvas_new(w, h);
    int rc = p && c ? 0 : 1;
    for (int k = 0; !rc && k < p->lesson->n_steps; k++) {
        if (k > 0 && !lesson_ui_goto(a, k)) { fprintf(stderr, "llmscope: %s\n", lesson_ui_error(a)); rc = 1; break; }
        if (lesson_ui_error(a)[0]) { fprintf(stderr, "llmscope: %s\n", lesson_ui_error(a)); rc = 1; break; }
        const LessonStep *st = &p->lesson->steps[k];
        bool has_answer = st->question || st->predict.kind != LP_NONE;
        for (int reveal = 0; reveal <= (has_answer ? 1 : 0) && !rc; reveal++) {
            if (st->question) lesson_ui_reveal(a, reveal);
            if (reveal && st->predict.kind != LP_NONE && !lesson_ui_answer(a, st->predict.try_answer)) {
                fprintf(stderr, "llmscope: --frames: step %d: the scripted answer \"%s\" did not score: %s\n", k + 1,
                        st->predict.try_answer, lesson_ui_input_error(a));
                rc = 1;
                break;
            }
            lesson_ui_page_reset(a);
            /* every page of a long step: NN.ext, NN-p2.ext, ... */
            for (int page = 1; page <= 64 && !rc; page++) {
                if (page > 1) lesson_ui_next(a);
                c->unicode = unicode;
                c->mono = fmt == EXPORT_TEXT;
                app_render(a, c);
                char title[256], file[1400], pg[16] = "";
                if (page > 1) snprintf(pg, sizeof pg, "-p%d", page);
                snprintf(title, sizeof title, "%s %d/%d", p->lesson->title, k + 1, p->lesson->n_steps);
                snprintf(file, sizeof file, "%s/%02d%s%s.%s", dir, k + 1, reveal ? "-answer" : "", pg, export_format_ext(fmt));
                char *out = canvas_export(c, fmt, title);
                FILE *f = out ? fopen(file, "wb") : NULL;
                if (!f || fputs(out, f) < 0 || fclose(f) != 0) {
                    fprintf(stderr, "llmscope: --frames: cannot write %s: %s\n", file, out ? strerror(errno) : "out of memory");
                    rc = 1;
                } else {
                    printf("%s\n", file);
                }
                free(out);
                if (!lesson_ui_more(a)) break;
            }
            lesson_ui_page_reset(a);
        }
        lesson_ui_reveal(a, false);
    }
    canvas_free(c);
    app_free(a);
    return rc;
}

int cmd_lesson(int argc, char **argv) {
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C");   /* numbers in narration always use a decimal point */
    Err e = {0};
    int crc = cli_check(argc, argv, &k_lesson_cmd);
    if (crc < 0) crc = cli_rules(argc, argv, &k_lesson_cmd, k_lesson_rules);
    if (crc < 0) crc = cli_rules_sampling(argc, argv, &k_lesson_cmd, 1);   /* run's checks; a lesson has no -n */
    if (crc >= 0) return crc;
    if (cli_flag(argc, argv, "--placeholders") || cli_flag(argc, argv, "--targets")) {
        const char *mode = cli_flag(argc, argv, "--placeholders") ? "--placeholders" : "--targets";
        for (int i = 1; i < argc; i++) {   /* they list what every lesson may use: a NAME would be ignored */
            if (argv[i][0] == '-') {
                if (cli_opt_takes_value(argv[i])) i++;
                continue;
            }
            fprintf(stderr, "llmscope: lesson: %s takes no lesson NAME ('%s'): it lists what every lesson may use (see "
                            "`llmscope lesson --help`)\n", mode, argv[i]);
            return 2;
        }
        for (const CliOpt *const *g = k_lesson_groups; *g; g++)   /* and no option of another mode (--lang is harmless) */
            for (const CliOpt *o = *g; o->name; o++)
                if (strcmp(o->name, mode) && strcmp(o->name, "--lang") && cli_given(argc, argv, o->name)) {
                    fprintf(stderr, "llmscope: lesson: %s and %s do not go together: %s lists what every lesson may use (see "
                                    "`llmscope lesson --help`)\n", o->name, mode, mode);
                    return 2;
                }
        return cli_flag(argc, argv, "--placeholders") ? cmd_placeholders() : cmd_targets();
    }
    char root[1024];
    lesson_find_root(root, sizeof root);
    const char *lang = lang_arg(argc, argv, &e);
    if (e.code) { cli_fail(&e); return 2; }   /* a bad command line, as tui's --lang */
    /* the UI speaks the lesson's language (--lang, else the environment); English without Unicode */
    UiLang ul = i18n_lang_from_env();
    if (lang) i18n_parse_lang(lang, &ul);
    i18n_set_lang(cli_flag(argc, argv, "--ascii") ? LANG_EN : ul);
    int w = 120, h = 36;
    if (!size_arg(argc, argv, &w, &h)) {
        fprintf(stderr, "llmscope: lesson: --size: expected WxH from 40x12 to 1000x1000, got '%s'\n", cli_opt(argc, argv, "--size"));
        return 2;
    }
    if (cli_flag(argc, argv, "--check")) return cmd_check(argc, argv, root, lang, w, h);
    if (!lang && ul == LANG_ZH) lang = "zh";     /* LANG=zh_CN: the Chinese lessons too */
    /* the lesson NAME (or the word list): one, and nothing after it (only --check takes several) */
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            if (cli_opt_takes_value(argv[i])) i++;
            continue;
        }
        if (name) {
            fprintf(stderr, "llmscope: lesson: unexpected argument '%s' after '%s': one lesson at a time (only --check takes "
                            "several FILES; see `llmscope lesson --help`)\n", argv[i], name);
            return 2;
        }
        name = argv[i];
    }
    if (!name) {
        usage(stderr);
        fprintf(stderr, "\n");
        cmd_list(root, lang ? lang : "en");
        return 2;
    }
    if (!strcmp(name, "list")) {
        /* list is a word, not an option, so k_lesson_rules cannot name it: list reads --lang alone,
         * and an option of a lesson played (--step, --script, --frame, --ctx, the sampling options)
         * would be taken and do nothing */
        for (const CliOpt *const *g = k_lesson_groups; *g; g++)
            for (const CliOpt *o = *g; o->name; o++) {
                if (!strcmp(o->name, "--lang") || !cli_given(argc, argv, o->name)) continue;
                fprintf(stderr, "llmscope: lesson: %s and list do not go together: %s (see `llmscope lesson --help`)\n", o->name,
                        *g == CLI_OPTS_SAMPLING ? "it acts on the lesson NAME played, and list decodes nothing"
                                                : "it acts on the lesson NAME played, and list reads only --lang");
                return 2;
            }
        return cmd_list(root, lang ? lang : "en");
    }
    char dir[1200], path[1024];
    lesson_dir(root, lang ? lang : "en", dir, sizeof dir);
    if (!lesson_resolve(dir, name, path, sizeof path, &e)) return cli_fail(&e);
    int ctx = cli_opt_int(argc, argv, "--ctx", 0);

    if (cli_flag(argc, argv, "--script")) {
        Lesson *l = lesson_load(path, &e);
        if (!l) return cli_fail(&e);
        Scene *sc = scene_new();             /* no terminal needed: the player acts on a scene */
        if (sc) lesson_sampling(sc, argc, argv);
        LessonPlayer *p = sc ? lesson_player_new(sc, l, root, &e) : NULL;
        if (!p) { scene_free(sc); return cli_fail(&e); }
        sc->max_ctx = ctx;
        printf("# %s\n%s\n", l->title, l->summary);
        int rc = 0;
        for (int k = 0; k < l->n_steps; k++) {
            Err e2 = {0};
            if (!lesson_player_goto(p, k, &e2)) { fprintf(stderr, "llmscope: %s\n", e2.msg); rc = 1; break; }
            const LessonStep *st = &l->steps[k];
            printf("\n## %d/%d%s%s\n", k + 1, l->n_steps, st->title ? " " : "", st->title ? st->title : "");
            char *t = lesson_player_expand(p, st->text, false, &e2);
            if (t) print_plain("", t);
            free(t);
            if (st->question) {
                bool zh = !strcmp(l->lang, "zh");
                t = lesson_player_expand(p, st->question, false, &e2);
                if (t) print_plain(zh ? "\xe9\x97\xae\xef\xbc\x9a" : "Q: ", t);   /* 问： */
                free(t);
                t = lesson_player_expand(p, st->answer, false, &e2);
                if (t) print_plain(zh ? "\xe7\xad\x94\xef\xbc\x9a" : "A: ", t);   /* 答： */
                free(t);
            }
            if (e2.code) { fprintf(stderr, "llmscope: %s: step %d: %s\n", l->file, k + 1, e2.msg); rc = 1; }
        }
        lesson_player_free(p);
        scene_free(sc);
        return rc;
    }

    const char *frame = cli_opt(argc, argv, "--frame");
    const char *frames = cli_opt(argc, argv, "--frames");
    ExportFormat fmt = EXPORT_TEXT;
    const char *fmt_name = cli_opt(argc, argv, "--format");
    if (fmt_name && !export_format_parse(fmt_name, &fmt)) {
        fprintf(stderr, "llmscope: --format: expected text, ansi, svg or html, got '%s'\n", fmt_name);
        return 2;
    }
    if (frames) return write_frames(argc, argv, root, lang, path, ctx, frames, fmt, w, h, !cli_flag(argc, argv, "--ascii"));
    int step = frame ? atoi(frame) - 1 : cli_opt_int(argc, argv, "--step", 1) - 1;
    if (frame || cli_opt(argc, argv, "--step")) {   /* a step the lesson does not have: an error, never the last one */
        Lesson *l = lesson_load(path, &e);
        if (!l) return cli_fail(&e);
        char what[300];
        snprintf(what, sizeof what, "lesson %s has steps", l->id ? l->id : name);
        bool ok = cli_check_index(frame ? "--frame" : "--step", step + 1, 1, l->n_steps, what, &e);
        lesson_free(l);
        if (!ok) return cli_fail(&e);
    }
    App *a = open_app(argc, argv, root, lang, path, step, ctx, &e);
    if (!a) return cli_fail(&e);
    if (frame) {
        Canvas *c = canvas_new(w, h);
        if (!c) { app_free(a); return 1; }
        c->unicode = !cli_flag(argc, argv, "--ascii");
        c->mono = fmt == EXPORT_TEXT;
        if (cli_flag(argc, argv, "--reveal")) {   /* a question's answer shown; a prediction scored as --frames does */
            lesson_ui_reveal(a, true);
            const LessonPlayer *p = lesson_ui_player(a);
            const LessonStep *st = p && p->step >= 0 ? &p->lesson->steps[p->step] : NULL;
            if (st && st->predict.kind != LP_NONE && !lesson_ui_answer(a, st->predict.try_answer)) {
                fprintf(stderr, "llmscope: --reveal: step %d: the scripted answer \"%s\" did not score: %s\n", step + 1,
                        st->predict.try_answer, lesson_ui_input_error(a));
                canvas_free(c);
                app_free(a);
                return 1;
            }
        }
        app_render(a, c);
        char *txt = canvas_export(c, fmt, "llmscope lesson");
        if (txt) fputs(txt, stdout);
        free(txt);
        canvas_free(c);
        int rc = lesson_ui_error(a)[0] ? 1 : 0;
        if (rc) fprintf(stderr, "llmscope: %s\n", lesson_ui_error(a));
        app_free(a);
        return rc;
    }
    if (!app_run(a, &e)) {
        fprintf(stderr, "llmscope: %s (try --script or --frame N)\n", e.msg);
        app_free(a);
        return 1;
    }
    app_free(a);
    return 0;
}
