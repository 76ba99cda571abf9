/* `llmscope tui` (the default command) and `llmscope screenshot`. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "core/i18n.h"
#include "tui/app.h"
#include "scene/keys.h"
#include "tui/contrast.h"
#include "tui/export.h"
#include "tui/term.h"
#include "tui/theme.h"

#define DEFAULT_PROMPT "Once upon a time"

/* --threads N, else $LLMSCOPE_THREADS, else the cores available (cli/cmd_model.c). */

static void models_dir_of(const char *model, char *out, size_t cap) {
    snprintf(out, cap, "%s", model);
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/') out[--n] = 0;
    char *slash = strrchr(out, '/');
    if (slash && slash != out) *slash = 0;
    else snprintf(out, cap, ".");
}


/* The session of --model, sampling as `run` would with the same options (the model's defaults,
 * each option replacing its own field: engine/gencfg.h), prefilled and stepped with run_steps. */
static Session *open_session(int argc, char **argv, bool run_steps, FILE *progress, const GenOverride *go, Err *e) {
    char buf[1024], *owned = NULL;
    const char *p = cli_prompt(argc, argv, &owned, e);   /* a file that cannot be read: before the model loads */
    if (!p && e->msg[0]) return NULL;
    const char *model = cli_model_arg(argc, argv, buf, sizeof buf);
    int ctx = cli_opt_int(argc, argv, "--ctx", 0);
    Session *s = session_new(model, ctx, e);
    if (!s) { free(owned); return NULL; }
    const Model *m = session_model(s);
    if (m->warning[0]) fprintf(stderr, "llmscope: warning: %s\n", m->warning);   /* before curses owns the screen */
    GenChoice gc;
    if (!gen_choose(&m->spec, go, &gc, e)) { session_free(s); free(owned); return NULL; }
    const char *note = gen_defaults_unapplied(&m->spec.gen, !gc.cfg.greedy);   /* the UI decodes: what acts in its decode */
    if (note[0]) fprintf(stderr, "llmscope: warning: %s\n", note);
    session_set_sampler(s, gc.cfg);
    const char *ids = cli_opt(argc, argv, "--ids");
    bool ok;
    if (ids) {
        int *v = NULL, n = 0;
        ok = cli_parse_ids(ids, &v, &n, e) && session_set_ids(s, v, n, e);
        free(v);
    } else {
        ok = session_set_prompt(s, p ? p : DEFAULT_PROMPT, e);
    }
    free(owned);
    if (!ok) { session_free(s); return NULL; }
    /* tui --run shows its progress on a terminal's stderr, the prompt in pieces of 256 tokens for it
     * (pieces of 64 made a 561-token prefill of the Qwen3-0.6B-shaped model 1.7x slower, 256 cost
     * nothing measurable); without a line to show (screenshot, no terminal) the prompt runs whole */
    if (run_steps && !cli_run_with_progress(s, cli_opt_int(argc, argv, "--steps", 1), progress ? 256 : 0, progress, e)) {
        session_free(s);
        return NULL;
    }
    return s;
}

/* --layer --head --pos --key: the same scene actions keys and lessons use. A value outside what
 * the model (layers, heads) or the run (positions, the keys of the selected position) has is an
 * error naming the option, the value and the range, as in every subcommand. --pos and --key
 * need computed tokens: `screenshot` always runs, `tui` refuses them without --run. */
/* --layer and --head against one model's layers and heads; with --compare each of A and B is
 * checked and the message names the model whose range is exceeded. */
static bool check_layer_head(const Session *s, int slot, int argc, char **argv, Err *e) {
    const ModelSpec *sp = &session_model(s)->spec;
    char lw[1200] = "this model has layers", hw[1200] = "this model has heads";
    if (cli_opt(argc, argv, "--compare")) {
        const char *role = slot ? "model B (--compare" : "model A (--model";
        snprintf(lw, sizeof lw, "%s %s) has layers", role, session_model_path(s));
        snprintf(hw, sizeof hw, "%s %s) has heads", role, session_model_path(s));
    }
    if (cli_opt(argc, argv, "--layer") && !cli_check_index("--layer", cli_opt_int(argc, argv, "--layer", 0), 0, sp->n_layers - 1, lw, e))
        return false;
    return !cli_opt(argc, argv, "--head") || cli_check_index("--head", cli_opt_int(argc, argv, "--head", 0), 0, sp->n_heads - 1, hw, e);
}

/* --compare MODEL2 loaded as B; a model that does not load is named by the option, not taken for --model's */
static bool compare_load(Scene *sc, const char *path, Err *e) { return scene_load_model(sc, 1, path, e) || err_prefix(e, "--compare"); }

static bool select_from_args(Scene *sc, int argc, char **argv, Err *e) {
    const char *ps = cli_opt(argc, argv, "--pos"), *ks = cli_opt(argc, argv, "--key");
    int layer = cli_opt_int(argc, argv, "--layer", 0), head = cli_opt_int(argc, argv, "--head", 0);
    if (!check_layer_head(sc->ses[0], 0, argc, argv, e)) return false;
    Err ign = {0};
    scene_select_layer(sc, layer, &ign);
    scene_select_head(sc, head, &ign);
    if (ps) {
        int pos = cli_opt_int(argc, argv, "--pos", 0);
        if (!cli_check_index("--pos", pos, 0, session_len(sc->ses[0]) - 1, "the run has positions", e)) return false;
        scene_goto(sc, 0, pos, &ign);
    }
    if (ks) {
        int key = cli_opt_int(argc, argv, "--key", 0), q = session_cursor(sc->ses[0]);
        char what[64];
        snprintf(what, sizeof what, "position %d attends to keys", q);
        if (!cli_check_index("--key", key, 0, q, what, e)) return false;
        scene_select_key(sc, key, &ign);
    }
    sc->msg[0] = 0;
    sc->msg_error = false;
    return true;
}

/* --text TEXT (repeatable) and --texts-file FILE (one text per line, empty lines skipped): the
 * texts the Embeddings panel compares (scene_set_texts, which turns its texts view on). */
static bool texts_from_args(Scene *sc, int argc, char **argv, Err *e) {
    static char buf[SIM_TEXTS_MAX][SIM_TEXT_CAP + 2];
    const char *tx[SIM_TEXTS_MAX + 1];
    int n = 0;
    static const char *const opts[] = {"--text", "--texts-file", NULL};
    const char *val, *which;
    for (int i = 0; (val = cli_opt_next(argc, argv, opts, &i, &which));) {
        if (!strcmp(which, "--text")) {
            if (n > SIM_TEXTS_MAX) break;
            tx[n++] = val;
            continue;
        }
        /* read whole (cli_read_text: a directory or FIFO is refused, a NUL byte named), then one text
         * per line; a file with none is an error naming it, as similarity's */
        size_t len;
        char *text = cli_read_text("--texts-file", val, (size_t)1 << 20, &len, e);
        if (!text) return false;
        int got = 0;
        for (char *line = text, *next; line < text + len && n <= SIM_TEXTS_MAX; line = next) {
            char *nl = strchr(line, '\n');
            next = nl ? nl + 1 : text + len;
            size_t l = (size_t)((nl ? nl : text + len) - line);
            while (l > 0 && line[l - 1] == '\r') l--;
            line[l] = 0;
            if (!l) continue;
            got++;
            if (n == SIM_TEXTS_MAX) { n++; break; }   /* one too many: the count's message below */
            if (l >= SIM_TEXT_CAP) {
                err_set(e, ERR_ARG, "--texts-file %s: text %d has %zu bytes; at most %d fit", val, n + 1, l, SIM_TEXT_CAP - 1);
                free(text);
                return false;
            }
            snprintf(buf[n], sizeof buf[n], "%s", line);
            tx[n] = buf[n];
            n++;
        }
        free(text);
        if (!got && n <= SIM_TEXTS_MAX) return err_set(e, ERR_FORMAT, "--texts-file %s: no text in it (one text per line; empty lines are skipped)", val);
    }
    if (!n) return true;
    if (n > SIM_TEXTS_MAX) return err_set(e, ERR_ARG, "--text/--texts-file: at most %d texts are compared at once", SIM_TEXTS_MAX);
    if (!scene_set_texts(sc, tx, n, e)) return false;
    sc->msg[0] = 0;
    return true;
}

/* --theme NAME, else $LLMSCOPE_THEME, else dark; and a known $LLMSCOPE_COLOR. false (message
 * printed) on an unknown name. */
static bool theme_args(int argc, char **argv) {
    const char *col = getenv("LLMSCOPE_COLOR");
    if (!term_color_override_ok(col)) {
        fprintf(stderr, "llmscope: LLMSCOPE_COLOR='%s': expected none, 16, 256, true or palette\n", col);
        return false;
    }
    if (!theme_from_env()) {
        fprintf(stderr, "llmscope: LLMSCOPE_THEME='%s': expected dark, light or contrast\n", getenv("LLMSCOPE_THEME"));
        return false;
    }
    const char *th = cli_opt(argc, argv, "--theme");
    if (th) {
        int id = theme_find(th);
        if (id < 0) {
            fprintf(stderr, "llmscope: --theme '%s': expected dark, light or contrast\n", th);
            return false;
        }
        theme_set((ThemeId)id);
    }
    return true;
}

/* --lang en|zh, else the environment (core/i18n.h). Without Unicode (--ascii, a non-UTF-8
 * locale) Chinese cannot be drawn, so the UI stays English. false (message printed) on an
 * unknown name. */
static bool lang_args(int argc, char **argv, bool unicode) {
    UiLang l = i18n_lang_from_env();
    const char *name = cli_opt(argc, argv, "--lang");
    if (name && !i18n_parse_lang(name, &l)) {
        fprintf(stderr, "llmscope: --lang '%s': expected en or zh\n", name);
        return false;
    }
    i18n_set_lang(unicode ? l : LANG_EN);
    return true;
}

/* --panel NAME before the model loads (a real-size model takes seconds): false (message
 * printed, naming the panels and the closest one) when no panel has that name. */
static bool panel_arg_ok(int argc, char **argv) {
    const char *panel = cli_opt(argc, argv, "--panel");
    if (!panel || !strcmp(panel, "tradeoff") || scene_panel_find(panel) >= 0) return true;
    const char *names[PANEL_COUNT + 1];
    for (int i = 0; i < PANEL_COUNT; i++) names[i] = scene_panel_name(i);
    names[PANEL_COUNT] = "tradeoff";
    const char *best = cli_suggest(panel, names, PANEL_COUNT + 1);
    char sugg[64] = "";
    if (best) snprintf(sugg, sizeof sugg, "; did you mean %s?", best);
    fprintf(stderr, "llmscope: --panel '%s': unknown panel%s (%s tradeoff, or 1-%d)\n", panel, sugg, scene_panel_names(), PANEL_COUNT);
    return false;
}

/* --keys before anything runs: false (and the spot named) when a key cannot be read. */
static bool keys_readable(const char *keys) {
    int key;
    for (const char *p = keys; p && *p;) {
        const char *at = p;
        p += scene_parse_key(p, &key);
        if (key < 0) {
            fprintf(stderr, "llmscope: --keys: cannot read the key at \"%.12s\" (a character or {right}, {enter}, {f1} ...; "
                            "see `llmscope screenshot --help`)\n", at);
            return false;
        }
    }
    return true;
}

static void feed_keys(App *a, const char *keys) {
    for (const char *p = keys; p && *p && !a->quit;) {
        TuiEvent ev = {0};
        p += scene_parse_key(p, &ev.key);
        app_handle(a, &ev);
    }
}

/* Options of both commands; screenshot adds its own. */
static const CliOpt k_tui_opts[] = {
    {"--prompt", NULL, CLI_STR, "TEXT", "the prompt (default \"" DEFAULT_PROMPT "\"); special tokens added as `tokenize` shows", 0, 0},
    CLI_OPT_PROMPT_FILE,
    {"--ids", NULL, CLI_STR, "1,2,3", "the prompt as token ids, instead of --prompt", 0, 0},
    {"--ctx", NULL, CLI_INT, "N", "KV-cache length in tokens (default: the model's context, at most 2048; at least 512 with RoPE)", 0, 2147483647.0},
    {"--panel", NULL, CLI_STR, "NAME", "attention kv residual norms position embeddings ffn output, or tradeoff (the trade-off view)", 0, 0},
    {"--compare", NULL, CLI_STR, "MODEL2", "a second model run side by side on the same prompt", 0, 0},
    {"--run", NULL, CLI_FLAG, NULL, "prefill and take --steps steps before showing", 0, 0},
    {"--steps", NULL, CLI_INT, "N", "steps taken with --run (default 1; `tui` needs --run for it, `screenshot` always runs)", 0, 2147483647.0},
    {"--layer", NULL, CLI_INT, "L", "the selected layer, 0..n_layers-1 (default 0; with --compare, of both models)", 0, 2147483647.0},
    {"--head", NULL, CLI_INT, "H", "the selected query head, 0..n_heads-1 (default 0; with --compare, of both models)", 0, 2147483647.0},
    {"--pos", NULL, CLI_INT, "P", "the selected position, 0..the last computed (default: the last; `tui` needs --run)", 0, 2147483647.0},
    {"--key", NULL, CLI_INT, "K", "the selected key position of the attention row, 0..the selected position (`tui` needs --run)", 0, 2147483647.0},
    {"--theme", NULL, CLI_STR, "NAME", "colours: dark (default), light (projector on a white wall), contrast", 0, 0},
    {"--lang", NULL, CLI_STR, "en|zh", "language of the UI and the lesson menu (default: $LLMSCOPE_LANG, else zh when $LC_ALL, $LC_MESSAGES or $LANG is zh_*, else en)", 0, 0},
    {"--text", NULL, CLI_STRS, "TEXT", "a text for the Embeddings panel's texts view (prompt vs prompt; give several, at most 8)", 0, 0},
    {"--texts-file", NULL, CLI_STR, "FILE", "the same, one text per line (empty lines skipped)", 0, 0},
    {0}};
static const CliOpt k_shot_opts[] = {
    {"--full", NULL, CLI_FLAG, NULL, "the whole UI instead of one panel", 0, 0},
    {"--size", NULL, CLI_STR, "WxH", "screen size (default 120x40)", 0, 0},
    {"--format", NULL, CLI_STR, "FMT", "text (default), ansi, svg or html: svg and html keep the colours, for slides", 0, 0},
    {"--ansi", NULL, CLI_FLAG, NULL, "ANSI colour escapes (with --color true|256|16|none); = --format ansi", 0, 0},
    {"--color", NULL, CLI_STR, "MODE", "colour depth with --ansi: true 256 16 none", 0, 0},
    {"--mono", NULL, CLI_FLAG, NULL, "no colours", 0, 0},
    {"--ascii", NULL, CLI_FLAG, NULL, "ASCII only, no Unicode block or line characters", 0, 0},
    {"--keys", NULL, CLI_STR, "KEYS", "keystrokes fed first: characters, or {right} {enter} {esc} {f1} ...", 0, 0},
    {"--bench", NULL, CLI_FLAG, NULL, "print the frame time to stderr", 0, 0},
    {"--svg", NULL, CLI_FLAG, NULL, "an SVG picture in 24-bit colour (the --theme's colours)", 0, 0},
    {"--hint", NULL, CLI_FLAG, NULL, "show the first screen's key hint (with --full or --compare)", 0, 0},
    {0}};
static const CliOpt *const k_tui_groups[] = {k_tui_opts, CLI_OPTS_SAMPLING, CLI_OPTS_MODEL, NULL};
static const CliOpt *const k_shot_groups[] = {k_shot_opts, k_tui_opts, CLI_OPTS_SAMPLING, CLI_OPTS_MODEL, NULL};
static const char k_tui_env[] =
    "Keys: ? in the UI; C cycles the colour theme.\n"
    "environment: LLMSCOPE_COLOR (true 256 16 none, or palette: redefine palette slots, opt-in),\n"
    "NO_COLOR, LLMSCOPE_THEME (dark light contrast), LLMSCOPE_ASCII=1 (no Unicode drawing),\n"
    "LLMSCOPE_LANG (en zh: UI and lesson language; else LC_ALL, LC_MESSAGES, LANG zh_* mean zh).";
static const CliCmd k_tui_cmd = {
    "tui", "[tui] [--model M] [--prompt TEXT | --ids 1,2] [--ctx N] [--panel NAME] [--compare MODEL2] [--run]",
    "Opens the terminal UI (the default command). It samples as `run` would: the model's defaults\n"
    "(generation_config.json, or a GGUF file's general.sampling.*; else greedy), each sampling option\n"
    "replacing only its own field; s (F4) changes them, d there goes back to them. Lessons decode\n"
    "greedily unless a step sets a sampler.", k_tui_groups, 0, k_tui_env, true};
static const CliCmd k_shot_cmd = {
    "screenshot", "screenshot [--model M] [--prompt TEXT | --ids 1,2] [--steps N] [--panel NAME] [--full] [--size WxH] ...",
    "Renders a panel (or with --full the whole UI) without a terminal, as text, ANSI, SVG or HTML.", k_shot_groups, 0, NULL, true};

/* --compare's model samples with its own defaults under the same options (as `run --model` would):
 * fields of its file that decode needs with a wrong type or value stop the start, as A's do */
static bool compare_sampler_ok(const Scene *sc, const GenOverride *go, Err *e) {
    GenChoice gc;
    Err e2 = {0};
    if (sc->n_ses < 2 || gen_choose(&session_model(sc->ses[1])->spec, go, &gc, &e2)) return true;
    return err_set(e, e2.code, "--compare %s: %s", session_model_path(sc->ses[1]), e2.msg);
}

/* options that act on computed tokens: without --run the UI starts before the first step */
static const CliRule k_tui_rules[] = {
    {"--steps", CLI_NEEDS, "--run", "without it the UI starts before the first step"},
    {"--pos", CLI_NEEDS, "--run", "without it the UI starts before the first step"},
    {"--key", CLI_NEEDS, "--run", "without it the UI starts before the first step"},
    CLI_RULES_PROMPT_FILE,
    {0}};
static const CliRule k_shot_rules[] = {
    {"--svg", CLI_NOT_WITH, "--format|--ansi", "--svg is --format svg"},
    {"--ansi", CLI_NOT_WITH, "--format", "--ansi is --format ansi"},
    {"--color", CLI_NEEDS, "--ansi|--format", "it sets the colour depth of --format ansi"},
    {"--hint", CLI_NEEDS, "--full|--compare", "the key hint is part of the whole UI"},
    CLI_RULES_PROMPT_FILE,
    {0}};

int cmd_tui(int argc, char **argv) {
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C");     /* numbers read like the formulas beside them: 0.5, not 0,5 */
    int crc = cli_check(argc, argv, &k_tui_cmd);
    if (crc < 0) crc = cli_rules(argc, argv, &k_tui_cmd, k_tui_rules);
    if (crc < 0) crc = cli_rules_sampler(argc, argv, &k_tui_cmd);   /* as run's: --greedy with --temp, --top-p 0, ... */
    if (crc >= 0) return crc;
    if (!theme_args(argc, argv)) return 2;
    bool uni_env;
    term_detect_env(&uni_env, NULL);
    if (!lang_args(argc, argv, uni_env) || !panel_arg_ok(argc, argv)) return 2;
    cli_threads_arg(argc, argv);
    Err e = {0};
    bool run = cli_flag(argc, argv, "--run");
    GenOverride go;
    cli_gen_override(argc, argv, &go);
    Session *s = open_session(argc, argv, run, run && isatty(STDERR_FILENO) ? stderr : NULL, &go, &e);
    if (!s) return cli_fail(&e);
    App *a = app_new();
    if (!a) { session_free(s); fprintf(stderr, "llmscope: out of memory\n"); return 1; }
    app_set_session(a, 0, s, true);
    scene_sampler_model(a->sc, &go, false, &e);   /* models loaded later sample with their own defaults too */
    a->hint = true;                 /* the first screen says which keys matter */
    a->sc->max_ctx = session_max_ctx(s);
    if (!select_from_args(a->sc, argc, argv, &e) || !texts_from_args(a->sc, argc, argv, &e)) { app_free(a); return cli_fail(&e); }
    char dir[1024], buf[1024];
    models_dir_of(cli_default_model(buf, sizeof buf), dir, sizeof dir);
    app_scan_models(a, dir);
    const char *cmp = cli_opt(argc, argv, "--compare");
    if (cmp) app_add_model(a, cmp);
    app_add_model(a, session_model_path(s));   /* F3/F6 can always go back to the model started with */
    const char *panel = cli_opt(argc, argv, "--panel");
    if (panel && !app_select_panel(a, panel)) {
        fprintf(stderr, "llmscope: unknown panel '%s'\n", panel);
        app_free(a);
        return 2;
    }
    const bool say = cmp && run && isatty(STDERR_FILENO);   /* B follows A's run before the UI opens */
    if (say) fprintf(stderr, tr("llmscope: loading %s and running it as far as A..."), cmp), fflush(stderr);
    if (cmp && (!compare_load(a->sc, cmp, &e) || !check_layer_head(a->sc->ses[1], 1, argc, argv, &e) || !compare_sampler_ok(a->sc, &go, &e))) {
        if (say) fputc('\n', stderr);
        app_free(a);
        return cli_fail(&e);
    }
    if (say) fprintf(stderr, "\r\033[K"), fflush(stderr);
    a->sc->msg[0] = 0;
    if (!app_run(a, &e)) {
        /* no usable terminal: print one frame as text so the user still sees something */
        fprintf(stderr, "llmscope: %s\n", e.msg);
        if (!session_prefilled(s)) { Err e3 = {0}; session_step(s, &e3); }
        Canvas *c = canvas_new(80, 24);
        if (c) {
            bool uni;
            term_detect_env(&uni, NULL);
            c->unicode = uni;
            c->mono = true;
            app_render(a, c);
            char *txt = canvas_to_text(c);
            if (txt) fputs(txt, stdout);
            free(txt);
            canvas_free(c);
        }
        app_free(a);
        return 1;
    }
    app_free(a);
    return 0;
}

int cmd_screenshot(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_shot_cmd);
    if (crc < 0) crc = cli_rules(argc, argv, &k_shot_cmd, k_shot_rules);
    if (crc < 0) crc = cli_rules_sampler(argc, argv, &k_shot_cmd);   /* as run's: --greedy with --temp, --top-p 0, ... */
    if (crc >= 0) return crc;
    if (!theme_args(argc, argv)) return 2;
    if (!lang_args(argc, argv, !cli_flag(argc, argv, "--ascii")) || !panel_arg_ok(argc, argv)) return 2;
    const char *size = cli_opt(argc, argv, "--size");
    int w = 120, h = 40;
    if (size && (!cli_parse_size(size, &w, &h) || w < 1 || h < 1 || w > 1000 || h > 1000)) {
        fprintf(stderr, "llmscope: --size: expected WxH like 120x40 (each 1 to 1000), got '%s'\n", size);
        return 2;
    }
    if (!keys_readable(cli_opt(argc, argv, "--keys"))) return 2;
    /* the output format and colour depth, checked before the model runs */
    ExportFormat fmt = cli_flag(argc, argv, "--svg") ? EXPORT_SVG : cli_flag(argc, argv, "--ansi") ? EXPORT_ANSI : EXPORT_TEXT;
    const char *fmt_name = cli_opt(argc, argv, "--format");
    if (fmt_name && !export_format_parse(fmt_name, &fmt)) {
        fprintf(stderr, "llmscope: --format: expected text, ansi, svg or html, got '%s'\n", fmt_name);
        return 2;
    }
    ColorMode mode = CMODE_TRUE;
    const char *col = cli_opt(argc, argv, "--color");
    if (col && !strcmp(col, "256")) mode = CMODE_256;
    else if (col && !strcmp(col, "16")) mode = CMODE_16;
    else if (col && (!strcmp(col, "none") || !strcmp(col, "mono"))) mode = CMODE_NONE;
    else if (col && strcmp(col, "true")) {
        fprintf(stderr, "llmscope: screenshot: --color: expected true, 256, 16 or none, got '%s'\n", col);
        return 2;
    }
    if (col && fmt != EXPORT_ANSI) {
        fprintf(stderr, "llmscope: screenshot: --color is used only with --ansi or --format ansi (svg and html keep 24-bit colour)\n");
        return 2;
    }
    const char *panel = cli_opt(argc, argv, "--panel");
    const bool tradeoff = panel && !strcmp(panel, "tradeoff");
    int pid = tradeoff ? PANEL_KV : panel ? panel_find(panel) : PANEL_ATTENTION;
    if (pid < 0) {
        fprintf(stderr, "llmscope: unknown panel '%s' (attention kv residual norms position embeddings ffn output tradeoff)\n", panel);
        return 2;
    }
    cli_threads_arg(argc, argv);
    Err e = {0};
    GenOverride go;
    cli_gen_override(argc, argv, &go);
    Session *s = open_session(argc, argv, true, NULL, &go, &e);
    if (!s) return cli_fail(&e);
    App *a = app_new();
    if (!a) { session_free(s); return 1; }
    app_set_session(a, 0, s, true);
    scene_sampler_model(a->sc, &go, false, &e);
    a->sc->max_ctx = session_max_ctx(s);
    scene_show_panel(a->sc, pid, &e);
    if (tradeoff) scene_do(a->sc, "tradeoff.toggle", 0, &e);
    if (!select_from_args(a->sc, argc, argv, &e) || !texts_from_args(a->sc, argc, argv, &e)) { app_free(a); return cli_fail(&e); }
    char mdir[1024], mbuf[1024];
    models_dir_of(cli_default_model(mbuf, sizeof mbuf), mdir, sizeof mdir);
    app_scan_models(a, mdir);   /* the F3/F6 menus as `tui` builds them */
    const char *cmp = cli_opt(argc, argv, "--compare");
    if (cmp) app_add_model(a, cmp);
    app_add_model(a, session_model_path(s));
    if (cmp) {
        if (!compare_load(a->sc, cmp, &e) || !check_layer_head(a->sc->ses[1], 1, argc, argv, &e) || !compare_sampler_ok(a->sc, &go, &e)) {
            app_free(a);
            return cli_fail(&e);
        }
        a->sc->msg[0] = 0;
    }
    Canvas *c = canvas_new(w, h);
    if (!c) { app_free(a); return 1; }
    bool ansi = fmt != EXPORT_TEXT;
    c->unicode = !cli_flag(argc, argv, "--ascii");
    c->mono = !ansi || cli_flag(argc, argv, "--mono");
    bool full = cli_flag(argc, argv, "--full") || cmp;
    a->hint = cli_flag(argc, argv, "--hint");     /* the first screen's key hint (--full) */
    /* keys act on the full UI's layout (hits), so render it once first */
    const char *keys = cli_opt(argc, argv, "--keys");
    if (keys) { app_render(a, c); feed_keys(a, keys); }
    if (full) app_render(a, c);
    else app_render_panel(a, c, a->sc->panel);
    char *out = fmt == EXPORT_ANSI ? canvas_to_ansi(c, c->mono ? CMODE_NONE : mode) : canvas_export(c, fmt, "llmscope");
    if (out) fputs(out, stdout);
    if (cli_flag(argc, argv, "--bench")) fprintf(stderr, "frame %.2f ms\n", a->frame_ms);
    free(out);
    canvas_free(c);
    app_free(a);
    return out ? 0 : 1;
}

static bool parse_hex_color(const char *s, Color *c) {
    unsigned v;
    if (!s) return true;
    if (*s == '#') s++;
    if (strlen(s) != 6 || strspn(s, "0123456789abcdefABCDEF") != 6 || sscanf(s, "%6x", &v) != 1) return false;
    *c = (Color){(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v, CR_DATA};
    return true;
}

static const CliOpt k_contrast_opts[] = {
    {"--min", NULL, CLI_NUM, "RATIO", "the contrast ratio a text cell needs (default 3, WCAG AA for large text)", 1, 21},
    {"--need", NULL, CLI_NUM, "PERCENT", "the share of letters and of text cells that must reach it (default 100)", 0, 100},
    {"--default-fg", NULL, CLI_STR, "RRGGBB", "what SGR 39 / no colour shows (default ffffff)", 0, 0},
    {"--default-bg", NULL, CLI_STR, "RRGGBB", "what SGR 49 / no colour shows (default 000000)", 0, 0},
    {0}};
static const CliOpt *const k_contrast_groups[] = {k_contrast_opts, NULL};
static const CliCmd k_contrast_cmd = {
    "contrast", "contrast [FILE] [--min RATIO] [--need PERCENT] [--default-fg RRGGBB] [--default-bg RRGGBB]",
    "Reads a screen dump with ANSI colours (tmux capture-pane -e -p, or screenshot --ansi; stdin\n"
    "without FILE) and measures the WCAG contrast ratio of every text cell against its background\n"
    "(16/256 colours as xterm's defaults). Exit 0 when at least PERCENT of the letters and of all\n"
    "text cells reach RATIO; 1 otherwise, or when there are no letters.",
    k_contrast_groups, 1, NULL, false};

int cmd_contrast(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_contrast_cmd);
    if (crc >= 0) return crc;
    double min = cli_opt_double(argc, argv, "--min", 3.0), need = cli_opt_double(argc, argv, "--need", 100.0);
    Color dfg = {255, 255, 255, CR_DATA}, dbg = {0, 0, 0, CR_DATA};
    if (!parse_hex_color(cli_opt(argc, argv, "--default-fg"), &dfg) ||
        !parse_hex_color(cli_opt(argc, argv, "--default-bg"), &dbg)) {
        fprintf(stderr, "llmscope: contrast: --default-fg/--default-bg take RRGGBB, e.g. ffffff\n");
        return 2;
    }
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] == '-') { if (!strchr(argv[i], '=') && i + 1 < argc) i++; continue; }
        file = argv[i];
    }
    char *buf = NULL;
    if (file) {   /* a directory was read as no letters, a FIFO blocked: cli_read_text refuses both */
        Err fe = {0};
        size_t n;
        buf = cli_read_text("contrast", file, (size_t)256 << 20, &n, &fe);
        if (!buf) return cli_fail(&fe);
    } else {
        size_t cap = 1 << 16, n = 0, r;
        buf = malloc(cap);
        while (buf && (r = fread(buf + n, 1, cap - n - 1, stdin)) > 0) {
            n += r;
            if (cap - n < 4096) { char *nb = realloc(buf, cap *= 2); if (!nb) { free(buf); buf = NULL; } else buf = nb; }
        }
        if (!buf) { fprintf(stderr, "llmscope: contrast: out of memory\n"); return 1; }
        buf[n] = 0;
    }
    ContrastStats st;
    contrast_scan(buf, dfg, dbg, min, &st);
    free(buf);
    double pl = st.letters ? 100.0 * (double)st.letters_ok / (double)st.letters : 0.0;
    double pt = st.text ? 100.0 * (double)st.text_ok / (double)st.text : 0.0;
    printf("letters %ld: %ld at >= %.1f:1 (%.1f%%); text cells %ld: %ld (%.1f%%)\n", st.letters, st.letters_ok,
           min, pl, st.text, st.text_ok, pt);
    if (st.text)
        printf("lowest %.2f:1 at row %d col %d '%s' (fg #%02x%02x%02x on bg #%02x%02x%02x)\n", st.worst,
               st.worst_row + 1, st.worst_col + 1, st.worst_ch, st.worst_fg.r, st.worst_fg.g, st.worst_fg.b,
               st.worst_bg.r, st.worst_bg.g, st.worst_bg.b);
    printf("colour codes: 24-bit %ld, 256-colour %ld, 16-colour %ld, default %ld; reverse-video text cells %ld\n",
           st.sgr_rgb, st.sgr_256, st.sgr_16, st.sgr_default, st.reverse);
    if (!st.letters) { fprintf(stderr, "llmscope: contrast: no letters in the input\n"); return 1; }
    return pl >= need && pt >= need ? 0 : 1;
}
