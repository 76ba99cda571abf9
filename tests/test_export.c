/* Slides export: `screenshot --format svg|html` and `lesson --frame(s) --format svg`.
 * Every SVG must be well-formed XML (checked by a small parser here, and by xmllint when it is
 * installed) and carry the same text as the screen: the text of its <text> elements, put back
 * on the cell grid from their x/y, equals the plain screenshot (monochrome) or the text of
 * the ANSI screenshot (colour), and every block or box-drawing cell has its rectangle or
 * stroke at that cell. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "tui/canvas.h"
#include "tui/export.h"

/* ---- a minimal XML well-formedness check ------------------------------------------------- */

static bool utf8_ok(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r')) return false;
        p++;
        for (int i = 0; i < n; i++, p++) if ((*p & 0xc0) != 0x80) return false;
    }
    return true;
}

static bool name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == ':' || c == '.'; }

/* an entity reference at p ('&'): &amp; &lt; &gt; &quot; &apos; &#N; &#xH; */
static const char *entity_end(const char *p) {
    static const char *E[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (int i = 0; i < 5; i++) if (!strncmp(p, E[i], strlen(E[i]))) return p + strlen(E[i]);
    if (p[1] == '#') {
        const char *q = p + 2;
        bool hexa = *q == 'x';
        if (hexa) q++;
        const char *d = q;
        while (hexa ? strchr("0123456789abcdefABCDEF", *q) && *q : (*q >= '0' && *q <= '9')) q++;
        if (q > d && *q == ';' && strtol(d, NULL, hexa ? 16 : 10) >= 0x20) return q + 1;
    }
    return NULL;
}

/* NULL when well-formed, else what is wrong. */
static const char *xml_check(const char *s) {
    if (!utf8_ok(s)) return "invalid UTF-8 or a control character";
    const char *p = s;
    if (!strncmp(p, "<?xml", 5)) {
        p = strstr(p, "?>");
        if (!p) return "unterminated XML declaration";
        p += 2;
    }
    char stack[64][32];
    int depth = 0, roots = 0;
    while (*p) {
        if (*p == '<') {
            if (p[1] == '/') {
                const char *n = p + 2, *q = n;
                while (name_char(*q)) q++;
                if (!depth) return "closing tag without an open element";
                if ((size_t)(q - n) != strlen(stack[depth - 1]) || strncmp(n, stack[depth - 1], (size_t)(q - n))) return "mismatched closing tag";
                while (*q == ' ') q++;
                if (*q != '>') return "bad closing tag";
                depth--;
                p = q + 1;
                continue;
            }
            const char *n = p + 1, *q = n;
            while (name_char(*q)) q++;
            if (q == n) return "element without a name";
            if (!depth && roots++) return "more than one root element";
            if (depth >= 64 || q - n >= 32) return "too deep or too long a name";
            memcpy(stack[depth], n, (size_t)(q - n));
            stack[depth][q - n] = 0;
            /* attributes: name="value" with no '<' and valid entities */
            char seen[32][32];
            int n_seen = 0;
            for (;;) {
                while (*q == ' ' || *q == '\n' || *q == '\t') q++;
                if (*q == '>' || (*q == '/' && q[1] == '>')) break;
                const char *an = q;
                while (name_char(*q)) q++;
                if (q == an || q - an >= 32 || *q != '=' || (q[1] != '"' && q[1] != '\'')) return "bad attribute";
                for (int i = 0; i < n_seen; i++)
                    if (strlen(seen[i]) == (size_t)(q - an) && !strncmp(seen[i], an, (size_t)(q - an))) return "duplicate attribute";
                if (n_seen < 32) { memcpy(seen[n_seen], an, (size_t)(q - an)); seen[n_seen++][q - an] = 0; }
                char quote = q[1];
                q += 2;
                while (*q && *q != quote) {
                    if (*q == '<') return "'<' in an attribute value";
                    if (*q == '&') { const char *e = entity_end(q); if (!e) return "bad entity in an attribute"; q = e; continue; }
                    q++;
                }
                if (!*q) return "unterminated attribute value";
                q++;
            }
            if (*q == '/') { q += 2; if (!depth && roots > 1) return "more than one root element"; }
            else { depth++; q++; }
            p = q;
            continue;
        }
        if (*p == '&') {
            const char *e = entity_end(p);
            if (!e) return "bad entity in text";
            p = e;
            continue;
        }
        if (*p == '>') return "stray '>'";   /* allowed by XML, but our writer escapes it */
        if (!depth && *p != '\n' && *p != ' ') return "text outside the root element";
        p++;
    }
    if (depth) return "unclosed element";
    if (!roots) return "no root element";
    return NULL;
}

/* ---- text back from the SVG -------------------------------------------------------------- */

static void unescape(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap;) {
        if (s[i] == '&') {
            static const char *E[][2] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&apos;", "'"}};
            bool done = false;
            for (int k = 0; k < 6 && !done; k++)
                if (!strncmp(s + i, E[k][0], strlen(E[k][0]))) { out[o++] = E[k][1][0]; i += strlen(E[k][0]); done = true; }
            if (done) continue;
        }
        out[o++] = s[i++];
    }
    out[o] = 0;
}

typedef struct { int w, h; char **cell; unsigned char *mark; } Grid;   /* cell: grapheme or NULL */

static void grid_free(Grid *g) {
    for (int i = 0; i < g->w * g->h; i++) free(g->cell[i]);
    free(g->cell);
    free(g->mark);
}

static double attr_num(const char *tag, const char *name) {
    char key[32];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *a = strstr(tag, key);
    return a ? strtod(a + strlen(key), NULL) : -1;
}

/* Cells from <text> runs; marks from class="b" rects and class="l" paths. */
static bool grid_from_svg(const char *svg, Grid *g) {
    double W = attr_num(svg, "width"), H = attr_num(strstr(svg, "<svg"), "height");
    g->w = (int)(W / EXPORT_CELL_W + 0.5);
    g->h = (int)(H / EXPORT_CELL_H + 0.5);
    if (g->w <= 0 || g->h <= 0) return false;
    g->cell = calloc((size_t)(g->w * g->h), sizeof *g->cell);
    g->mark = calloc((size_t)(g->w * g->h), 1);
    for (const char *p = strstr(svg, "<text "); p; p = strstr(p + 1, "<text ")) {
        const char *gt = strchr(p, '>'), *end = strstr(p, "</text>");
        if (!gt || !end) return false;
        char tag[512];
        snprintf(tag, sizeof tag, "%.*s", (int)(gt - p), p);
        int x = (int)(attr_num(tag, "x") / EXPORT_CELL_W + 0.5), y = (int)((attr_num(tag, "y") - 13) / EXPORT_CELL_H + 0.5);
        char txt[8192];
        unescape(gt + 1, (size_t)(end - gt - 1), txt, sizeof txt);
        for (const char *t = txt; *t && y >= 0 && y < g->h;) {
            size_t n = text_next_grapheme(t);
            char gr[16];
            snprintf(gr, sizeof gr, "%.*s", (int)n, t);
            int wd = text_width(gr, true);
            if (x >= 0 && x < g->w) g->cell[y * g->w + x] = strdup(gr);
            x += wd > 0 ? wd : 1;
            t += n;
        }
    }
    const char *marks[2] = {"<rect class=\"b\"", "<path class=\"l\""};
    for (int k = 0; k < 2; k++)
        for (const char *p = strstr(svg, marks[k]); p; p = strstr(p + 1, marks[k])) {
            double x, y;
            if (k == 0) { x = attr_num(p, "x"); y = attr_num(p, "y"); }
            else {
                const char *d = strstr(p, " d=\"M");
                if (!d || sscanf(d + 5, "%lf %lf", &x, &y) != 2) return false;
            }
            int cx = (int)(x / EXPORT_CELL_W + 1e-6), cy = (int)(y / EXPORT_CELL_H + 1e-6);
            if (cx >= 0 && cx < g->w && cy >= 0 && cy < g->h) g->mark[cy * g->w + cx] = 1;
        }
    return true;
}

/* Compares the SVG's grid with text (rows of graphemes, as canvas_to_text prints them). */
static void check_same_text(TestCtx *T_, const char *what, const char *svg, const char *text) {
    const char *err = xml_check(svg);
    CHECK_MSG(!err, "%s: SVG not well-formed: %s", what, err ? err : "");
    if (err) return;
    Grid g = {0};
    REQUIRE(grid_from_svg(svg, &g));
    int row = 0, bad = 0;
    for (const char *line = text; *line && row < g.h; row++) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        int x = 0;
        for (size_t i = 0; i < len && bad < 5;) {
            size_t n = text_next_grapheme(line + i);
            char gr[16];
            snprintf(gr, sizeof gr, "%.*s", (int)n, line + i);
            int wd = text_width(gr, true);
            const char *got = x < g.w ? g.cell[row * g.w + x] : NULL;
            bool ok;
            if (!strcmp(gr, " ")) ok = !got || !strcmp(got, " ");
            else {
                const unsigned char *u = (const unsigned char *)gr;
                bool drawn = strlen(gr) == 3 && u[0] == 0xe2 && (u[1] == 0x94 || (u[1] == 0x96 && (u[2] <= 0x90 || u[2] == 0x94 || u[2] == 0x95)));
                /* box and block glyphs become strokes and rectangles; others stay text */
                if (drawn && x < g.w && g.mark[row * g.w + x]) ok = !got;
                else ok = got && !strcmp(got, gr);
            }
            if (!ok) { bad++; FAILF("%s: row %d col %d: screen has '%s', SVG has '%s'", what, row, x, gr, got ? got : "(nothing)"); }
            x += wd > 0 ? wd : 1;
            i += n;
        }
        for (int k = x; k < g.w && bad < 5; k++) {
            const char *got = g.cell[row * g.w + k];
            if (got && strcmp(got, " ")) { bad++; FAILF("%s: row %d col %d: SVG has '%s' beyond the screen's text", what, row, k, got); }
        }
        line += len + (nl ? 1 : 0);
    }
    T_->checks++;
    CHECK_EQ_INT(row, g.h);
    grid_free(&g);
}

/* ANSI screenshot -> its text: escapes dropped, trailing blanks trimmed. */
static char *ansi_text(const char *a) {
    char *out = malloc(strlen(a) + 1);
    size_t o = 0;
    for (const char *p = a; *p;) {
        if (*p == '\x1b') { p = strchr(p, 'm'); if (!p) break; p++; continue; }
        if (*p == '\n') { while (o && out[o - 1] == ' ') o--; }
        out[o++] = *p++;
    }
    out[o] = 0;
    return out;
}

static char *run(const char *args) {
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s", test_bin(), args);
    int rc = test_run(cmd, &out, 0);
    if (rc != 0) { free(out); return NULL; }
    return out;
}

TEST(export_xml_checker_rejects_bad_xml) {
    /* the checker must be able to fail */
    CHECK(xml_check("<svg><text>a &amp; b</text></svg>") == NULL);
    CHECK(xml_check("<svg><text>a & b</text></svg>") != NULL);
    CHECK(xml_check("<svg><text>a</svg></text>") != NULL);
    CHECK(xml_check("<svg a=\"1\" a=\"2\"/>") != NULL);
    CHECK(xml_check("<svg a=\"<\"/>") != NULL);
    CHECK(xml_check("<svg>") != NULL);
    CHECK(xml_check("<a/><b/>") != NULL);
    CHECK(xml_check("<svg>\x01</svg>") != NULL);
}

TEST(export_canvas_svg_escapes_and_aligns) {
    /* a hand-made canvas: markup characters, CJK, a block, a box corner, reverse video */
    Canvas *c = canvas_new(12, 3);
    REQUIRE(c);
    c->unicode = true;
    Style st = {{222, 222, 222, CR_TEXT}, {0, 0, 0, CR_DEFAULT}, 0};
    canvas_text(c, 0, 0, "a<b>&\"c'", st);
    canvas_text(c, 0, 1, "\xe4\xb8\xad\xe6\x96\x87 x", st);           /* 中文 x */
    canvas_text(c, 0, 2, "\xe2\x94\x8c\xe2\x96\x80", st);              /* ┌▀ */
    Style rv = st;
    rv.attr = ATTR_REVERSE;
    canvas_text(c, 6, 2, "rv", rv);
    char *svg = canvas_to_svg_colors(c, (Color){200, 200, 200, CR_TEXT}, (Color){10, 10, 10, CR_DATA});
    char *txt = canvas_to_text(c);
    REQUIRE(svg && txt);
    check_same_text(T_, "canvas", svg, txt);
    CHECK(strstr(svg, "a&lt;b&gt;&amp;&quot;c&#39;"));
    CHECK(strstr(svg, "textLength=\"16.8\""));        /* 中 spans two columns */
    CHECK(strstr(svg, "fill=\"#0a0a0a\">rv</text>"));  /* reversed: the page colour on ... */
    CHECK(strstr(svg, "fill=\"#dedede\"/>"));          /* ... a rectangle of the text colour */
    char *html = canvas_to_html(c, (Color){200, 200, 200, CR_TEXT}, (Color){10, 10, 10, CR_DATA}, "t<1>");
    REQUIRE(html);
    CHECK(strstr(html, "<title>t&lt;1&gt;</title>"));
    CHECK(strstr(html, "a&lt;b&gt;&amp;&quot;c&#39;"));
    free(html);
    free(svg);
    free(txt);
    canvas_free(c);
}

TEST(export_every_panel_svg_matches_screenshot) {
    static const char *P[] = {"attention", "kv", "residual", "norms", "position", "embeddings", "ffn", "output"};
    bool lint = system("command -v xmllint >/dev/null 2>&1") == 0;
    int done = 0;
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++) {
        char a[512];
        /* monochrome: the SVG carries the plain screenshot's text */
        snprintf(a, sizeof a, "screenshot --panel %s --size 100x30 --steps 3", P[i]);
        char *plain = run(a);
        snprintf(a, sizeof a, "screenshot --panel %s --size 100x30 --steps 3 --format svg --mono", P[i]);
        char *svgm = run(a);
        /* colour: the SVG carries the ANSI screenshot's text */
        snprintf(a, sizeof a, "screenshot --panel %s --size 100x30 --steps 3 --ansi", P[i]);
        char *ansi = run(a);
        snprintf(a, sizeof a, "screenshot --panel %s --size 100x30 --steps 3 --format svg", P[i]);
        char *svg = run(a);
        if (!plain || !svgm || !ansi || !svg) { free(plain); free(svgm); free(ansi); free(svg); SKIP("screenshot failed (no bundled model?)"); }
        char what[64];
        snprintf(what, sizeof what, "%s (mono)", P[i]);
        check_same_text(T_, what, svgm, plain);
        char *at = ansi_text(ansi);
        snprintf(what, sizeof what, "%s (colour)", P[i]);
        check_same_text(T_, what, svg, at);
        char td[1024], path[1100];
        if (lint && test_tmpdir(td, sizeof td, "svg")) {
            snprintf(path, sizeof path, "%s/screen.svg", td);
            FILE *f = fopen(path, "wb");
            CHECK(f && fwrite(svg, 1, strlen(svg), f) == strlen(svg));
            if (f) fclose(f);
            char cmd[1300];
            snprintf(cmd, sizeof cmd, "xmllint --noout '%s' 2>&1", path);
            CHECK_MSG(system(cmd) == 0, "%s: xmllint rejects the SVG", P[i]);
            CHECK_MSG(test_rm_tree(td), "cannot remove %s", td);
        } else if (lint) CHECK_MSG(0, "cannot make a temporary directory");
        free(at);
        free(plain);
        free(svgm);
        free(ansi);
        free(svg);
        done++;
    }
    CHECK_EQ_INT(done, 8);
}

TEST(export_zh_screens_svg_match_screenshot) {
    /* the Chinese UI (--lang zh) at 80x24: each panel's SVG is well-formed XML and carries the
     * plain screenshot's text cell for cell (wide characters included), with the Chinese title */
    static const struct { const char *panel, *title; } P[] = {
        {"attention", "\xe6\xb3\xa8\xe6\x84\x8f\xe5\x8a\x9b \xc2\xb7 0 \xe5\x8f\xb7\xe5\xb1\x82"},   /* 注意力 · 0 号层 */
        {"kv", "KV \xe7\xbc\x93\xe5\xad\x98"},                                                   /* KV 缓存 */
        {"residual", "\xe6\xae\x8b\xe5\xb7\xae\xe6\xb5\x81"},                                   /* 残差流 */
        {"norms", "\xe5\xbd\x92\xe4\xb8\x80\xe5\x8c\x96"},                                      /* 归一化 */
        {"position", "\xe4\xbd\x8d\xe7\xbd\xae\xe7\xbc\x96\xe7\xa0\x81"},                    /* 位置编码 */
        {"embeddings", "\xe5\xb5\x8c\xe5\x85\xa5 \xc2\xb7"},                                     /* 嵌入 · */
        {"ffn", "\xe5\x89\x8d\xe9\xa6\x88\xe7\xbd\x91\xe7\xbb\x9c"},                         /* 前馈网络 */
        {"output", "\xe8\xbe\x93\xe5\x87\xba \xc2\xb7"}};                                        /* 输出 · */
    int done = 0;
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++) {
        char a[512];
        snprintf(a, sizeof a, "screenshot --lang zh --panel %s --size 80x24 --steps 3", P[i].panel);
        char *plain = run(a);
        snprintf(a, sizeof a, "screenshot --lang zh --panel %s --size 80x24 --steps 3 --format svg --mono", P[i].panel);
        char *svg = run(a);
        if (!plain || !svg) { free(plain); free(svg); SKIP("screenshot failed (no bundled model?)"); }
        char what[64];
        snprintf(what, sizeof what, "%s (zh)", P[i].panel);
        const char *err = xml_check(svg);
        CHECK_MSG(!err, "%s: %s", what, err ? err : "");
        check_same_text(T_, what, svg, plain);
        CHECK_MSG(strstr(plain, P[i].title), "%s: no Chinese title \"%s\" in the screenshot", what, P[i].title);
        /* (the SVG has the same text as the screenshot, so the title too; its runs split wide
         * characters from narrow ones, so a whole title is not one string in it) */
        const char *cjk = P[i].title;
        while (*cjk && (unsigned char)*cjk < 0xe0) cjk++;
        char elem[16];
        snprintf(elem, sizeof elem, ">%.3s</text>", cjk);       /* its first CJK character, a text element */
        CHECK_MSG(*cjk && strstr(svg, elem), "%s: no %s in the SVG", what, elem);
        free(plain);
        free(svg);
        done++;
    }
    CHECK_EQ_INT(done, 8);
    /* the whole UI with the help open, in colour: key bar and help are Chinese in both */
    char *ansi = run("screenshot --lang zh --full --size 80x24 --steps 3 --keys '?' --ansi");
    char *svg = run("screenshot --lang zh --full --size 80x24 --steps 3 --keys '?' --format svg");
    REQUIRE(ansi && svg);
    char *at = ansi_text(ansi);
    check_same_text(T_, "full zh help (colour)", svg, at);
    CHECK(xml_check(svg) == NULL);
    CHECK(strstr(at, "\xe5\xb8\xae\xe5\x8a\xa9 \xc2\xb7 Esc"));    /* 帮助 · Esc (the help's title) */
    CHECK(strstr(at, "F10\xe9\x80\x80\xe5\x87\xba"));                /* F10退出 (key bar) */
    free(at);
    free(ansi);
    free(svg);
}

static char *read_file_str(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

/* s without spaces, newlines and the frame's vertical bars (a sentence wrapped over rows). */
static void squeeze(char *s) {
    char *w = s;
    for (char *r = s; *r;) {
        if (*r == ' ' || *r == '\n') { r++; continue; }
        if (!strncmp(r, "\xe2\x94\x82", 3)) { r += 3; continue; }
        *w++ = *r++;
    }
    *w = 0;
}

static void lesson_frames_in(TestCtx *T_, const char *dir);

TEST(export_lesson_frames_svg) {
    /* the Chinese narration (wide characters) of a lesson frame, and --frames for a lesson */
    char *ansi = run("lesson 12 --lang zh --frame 4 --reveal --format ansi");
    char *svg = run("lesson 12 --lang zh --frame 4 --reveal --format svg");
    if (!ansi || !svg) { free(ansi); free(svg); SKIP("lesson frame failed (no bundled model?)"); }
    char *at = ansi_text(ansi);
    check_same_text(T_, "lesson 12 zh step 4", svg, at);
    CHECK(strstr(svg, "\xe7\xad\x94"));   /* 答 */
    free(at);
    free(ansi);
    free(svg);
    /* --reveal on a prediction step shows its scripted answer scored (lesson 12 step 2) */
    char *pred = run("lesson 12 --frame 2 --reveal");
    char *plain = run("lesson 12 --frame 2");
    CHECK_MSG(pred && strstr(pred, "off by "), "lesson 12 --frame 2 --reveal: no scored answer:\n%s", pred ? pred : "(failed)");
    CHECK_MSG(plain && !strstr(plain, "off by"), "lesson 12 --frame 2 without --reveal shows a score");
    free(pred);
    free(plain);
    test_in_tmpdir(T_, "frames", lesson_frames_in);
    /* a bad format is refused with a clear message */
    char cmd[512], *err = NULL;
    snprintf(cmd, sizeof cmd, "%s screenshot --panel kv --format png", test_bin());
    CHECK(test_run(cmd, &err, 1) == 2);
    CHECK(err && strstr(err, "--format: expected text, ansi, svg or html"));
    free(err);
}

/* lesson --frames into dir: the files it lists, well-formed, every page of a long step */
static void lesson_frames_in(TestCtx *T_, const char *dir) {
    char a[256];
    snprintf(a, sizeof a, "lesson 12 --frames %s/f --format svg", dir);
    char *out = run(a);
    REQUIRE(out);
    /* 4 steps, one question, one prediction: 6 files, each well-formed */
    static const char *F[] = {"01", "02", "02-answer", "03", "04", "04-answer"};
    for (int i = 0; i < 6; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/f/%s.svg", dir, F[i]);
        CHECK_MSG(strstr(out, path), "--frames did not list %s", path);
        FILE *f = fopen(path, "rb");
        CHECK_MSG(f, "%s missing", path);
        if (!f) continue;
        char *buf = malloc(1 << 20);
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = 0;
        fclose(f);
        const char *err = xml_check(buf);
        CHECK_MSG(!err, "%s: %s", path, err ? err : "");
        free(buf);
    }
    for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1) {   /* remove every file it listed */
        *nl = 0;
        unlink(line);
    }
    char d2[300];
    snprintf(d2, sizeof d2, "%s/f", dir);
    rmdir(d2);
    free(out);
    /* at 80x24 a long step pages: --frames writes every page (NN-p2 ...), and the scored
     * prediction (NN-answer); together the pages hold the whole narration */
    snprintf(a, sizeof a, "lesson 5 --frames %s/g --size 80x24", dir);
    out = run(a);
    REQUIRE(out);
    char path[300], *pages = calloc(1, 1 << 16);
    REQUIRE(pages);
    snprintf(path, sizeof path, "%s/g/04-p2.txt", dir);
    CHECK_MSG(strstr(out, path), "--frames wrote no second page of step 4 at 80x24:\n%s", out);
    snprintf(path, sizeof path, "%s/g/03-answer.txt", dir);
    CHECK_MSG(strstr(out, path), "--frames wrote no scored prediction of step 3:\n%s", out);
    char *scored = calloc(1, 1 << 16);
    REQUIRE(scored);
    int files = 0;
    for (char *line = out, *nl; *line; line = nl + 1) {   /* join step 4's pages and step 3's scored ones, remove every file */
        nl = strchr(line, '\n');
        if (!nl) break;
        *nl = 0;
        char *dst = strstr(line, "/g/04") ? pages : strstr(line, "/g/03-answer") ? scored : NULL;
        char *t = read_file_str(line);
        /* each file shows the step its name says (NN.txt: "N/6" in the pane), also after step 5's
         * question: 06.txt once held step 5 again, its answer shown */
        const char *base = strrchr(line, '/');
        char want[16];
        snprintf(want, sizeof want, "%d/6", base ? atoi(base + 1) : 0);
        CHECK_MSG(t && strstr(t, want), "%s does not show step %s", line, want);
        files++;
        if (dst && t) strncat(dst, t, (1 << 16) - strlen(dst) - 1);
        free(t);
        unlink(line);
    }
    CHECK_MSG(files >= 7, "--frames listed %d files for 6 steps", files);
    squeeze(scored);
    CHECK_MSG(strstr(scored, "offby"), "the scored prediction's pages do not say how far off it was");
    free(scored);
    /* the last words of step 4 (cut at 80x24 before paging existed) are on a page */
    squeeze(pages);
    CHECK_MSG(strstr(pages, "cachedkeyandvalue(step3)."), "step 4's last sentence is on none of its pages");
    free(pages);
    free(out);
}
