/* The trade-off view: measured quality (bits/byte on valid.txt, mean of the seeds with its 95 %
 * interval as an error bar) against KV-cache bytes per token (log axis) for every variant of
 * the family file (analysis/tradeoff.h), the Pareto front, the loaded model(s) highlighted, and
 * the config-only real models on the memory axis. Drawn over the whole panel area when the
 * scene's view.tradeoff is on (key f, from any panel and in compare mode). Every number comes
 * from family.json or a config.json; nothing is typed in here. */
#include "core/path.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "analysis/tradeoff.h"
#include "core/i18n.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"

typedef struct {
    char path[1024];          /* family.json last read */
    long long mtime, size;
    bool ok;
    char err[512];
    Tradeoff t;
} TradeoffState;

static void *to_create(void) { return calloc(1, sizeof(TradeoffState)); }
static void to_destroy(void *st) { free(st); }

/* (re)reads the family file when its path, size or time changed */
static const Tradeoff *to_data(TradeoffState *st, const char *model_path, char *err, size_t ecap) {
    char path[1024], cfg[1024];
    if (!tradeoff_find(model_path, path, sizeof path, cfg, sizeof cfg)) {
        snprintf(err, ecap, tr("no family.json beside the models (looked for %s and assets/models/family.json): it is written by assets/models/train/train.py (docs/models.md)"), path);
        return NULL;
    }
    struct stat sb;
    long long mt = 0, sz = 0;
    if (!stat(path, &sb)) { mt = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec; sz = (long long)sb.st_size; }
    if (strcmp(st->path, path) || st->mtime != mt || st->size != sz) {
        snprintf(st->path, sizeof st->path, "%s", path);
        st->mtime = mt;
        st->size = sz;
        Err e = {0};
        st->ok = tradeoff_load(path, cfg, &st->t, &e);
        snprintf(st->err, sizeof st->err, "%s", e.msg);
    }
    if (!st->ok) { snprintf(err, ecap, "%s", st->err); return NULL; }
    return &st->t;
}

static ColorRole kind_role(const char *att) {
    if (!strcmp(att, "MHA")) return CR_CAT1;
    if (!strcmp(att, "GQA")) return CR_CAT2;
    if (!strcmp(att, "MQA")) return CR_CAT3;
    return CR_CAT4;
}


static void fmt_thousands(double x, char *out, size_t cap) {
    char d[32];
    snprintf(d, sizeof d, "%.0f", x);
    size_t n = strlen(d), o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = d[i];
    }
    out[o < cap ? o : cap - 1] = 0;
}

/* ---- a grid that remembers what each plot cell holds, so labels never cover data -------- */
enum { G_FREE = 0, G_DOT, G_BAR, G_MARK, G_LABEL };
typedef struct {
    int w, h;
    uint8_t *kind;             /* [h][w] */
    uint8_t *dots;             /* braille bits of the front line */
} Grid;

static void dot_line(Grid *g, int x0, int y0, int x1, int y1) {
    static const uint8_t BIT[2][4] = {{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}};
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (int guard = 0; guard < 100000; guard++) {
        if (x0 >= 0 && y0 >= 0 && x0 < 2 * g->w && y0 < 4 * g->h) {
            int i = (y0 / 4) * g->w + x0 / 2;
            g->dots[i] |= BIT[x0 & 1][y0 & 3];
            if (g->kind[i] == G_FREE) g->kind[i] = G_DOT;
        }
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

/* a label needs free cells (the front's dots may go under it) and a gap to the next label */
static bool label_fits(const Grid *g, int x, int y, int w) {
    if (y < 0 || y >= g->h || x < 0 || x + w > g->w) return false;
    for (int i = 0; i < w; i++) {
        uint8_t k = g->kind[y * g->w + x + i];
        if (k != G_FREE && k != G_DOT) return false;
    }
    if (x > 0 && g->kind[y * g->w + x - 1] == G_LABEL) return false;
    if (x + w < g->w && g->kind[y * g->w + x + w] == G_LABEL) return false;
    return true;
}

/* How a label at (x, y), w wide, touches the cell (mx, my): 3 at its end on its row, 2 over or
 * under it, 1 at a corner, 0 not at all. */
static int tradeoff_touch(int x, int y, int w, int mx, int my) {
    if (my == y && (mx == x - 1 || mx == x + w)) return 3;
    if ((my == y - 1 || my == y + 1) && mx >= x && mx < x + w) return 2;
    if ((my == y - 1 || my == y + 1) && (mx == x - 1 || mx == x + w)) return 1;
    return 0;
}

/* Does another marker touch the label as closely as its own (own: tradeoff_touch of its marker)?
 * Then it reads as that point's too ("●gqa2◆": another point, then gqa2's label and point). */
static bool label_touches_other(const Grid *g, int x, int y, int w, int mx, int my) {
    const int own = tradeoff_touch(x, y, w, mx, my);
    for (int r = y - 1; r <= y + 1; r++)
        for (int q = x - 1; q <= x + w; q++)
            if (r >= 0 && r < g->h && q >= 0 && q < g->w && (q != mx || r != my) && g->kind[r * g->w + q] == G_MARK &&
                tradeoff_touch(x, y, w, q, r) >= own)
                return true;
    return false;
}

/* axis ticks in SI units: 500, 1k, 2k, 50k, 1M */
static void fmt_si(double b, char *buf, size_t cap) {
    if (b >= 1e6) snprintf(buf, cap, "%gM", b / 1e6);
    else if (b >= 1e3) snprintf(buf, cap, "%gk", b / 1e3);
    else snprintf(buf, cap, "%g", b);
}

typedef struct { int col, row, top, bot; bool hl; } Placed;

/* the loaded model's folder name ("story-gqa") */
static void model_dir_name(const Session *s, char *buf, size_t cap) { path_base_name(session_model_path(s), false, buf, cap); }

static void to_draw(void *vst, PanelCtx *ctx) {
    TradeoffState *st = vst;
    Canvas *c = ctx->c;
    const Scene *sc = ctx->sc;
    Rect in = panel_frame(ctx, tr("Trade-off \xc2\xb7 quality against KV-cache memory"), panel_tradeoff.hint);
    if (in.w < 30 || in.h < 8) { panel_message(c, in, tr("the trade-off view needs at least 32x10")); return; }
    char err[1024];
    const Tradeoff *t = st ? to_data(st, sc->ses[0] ? session_model_path(sc->ses[0]) : NULL, err, sizeof err) : NULL;
    if (!t) { panel_message(c, in, st ? err : tr("out of memory")); return; }
    const bool uni = c->unicode;

    /* which variants are loaded (A, and B in compare mode) */
    int hl[2] = {-1, -1};
    for (int i = 0; i < sc->n_ses && i < 2; i++)
        if (sc->ses[i]) hl[i] = tradeoff_match(t, session_model_path(sc->ses[i]), &session_model(sc->ses[i])->spec);

    /* ranges: y over the intervals, x (log10) over the variants and the configs */
    double ylo = INFINITY, yhi = -INFINITY, xlo = INFINITY, xhi = -INFINITY;
    for (int i = 0; i < t->n; i++) {
        ylo = fmin(ylo, t->v[i].lo); yhi = fmax(yhi, t->v[i].hi);
        xlo = fmin(xlo, t->v[i].kv_bytes); xhi = fmax(xhi, t->v[i].kv_bytes);
    }
    for (int k = 0; k < t->n_cfg; k++)
        if (isfinite(t->cfg[k].kv_bytes)) { xlo = fmin(xlo, t->cfg[k].kv_bytes); xhi = fmax(xhi, t->cfg[k].kv_bytes); }
    double pad = (yhi - ylo) * 0.06 + 1e-6;
    ylo -= pad; yhi += pad;
    const double lx0 = log10(xlo / 1.25), lx1 = log10(xhi * 1.25);

    /* layout: subtitle, plot rows, x axis, tick labels, legend, configs, loaded model(s) */
    int y = in.y;
    char line[512], b1[32], b2[32];
    fmt_thousands((double)t->eval_tokens, b1, sizeof b1);
    const char *et = strrchr(t->eval_text, '/') ? strrchr(t->eval_text, '/') + 1 : t->eval_text[0] ? t->eval_text : tr("the eval text");
    snprintf(line, sizeof line, tr("y: bits/byte on %s (%s tokens), mean of %d seeds, bar = 95%% interval \xc2\xb7 x: KV-cache bytes per token (bf16, all layers, log)"),
             et, b1, t->n_seeds);
    /* narrower: shorter wordings that keep both axes (at 80 columns the x half was cut off) */
    if (text_width(line, uni) > in.w)
        snprintf(line, sizeof line, tr("y: bits/byte on %s, %d seeds, bar = 95%% interval \xc2\xb7 x: KV bytes/token (bf16, log)"), et, t->n_seeds);
    if (text_width(line, uni) > in.w)
        snprintf(line, sizeof line, tr("y: bits/byte, %d seeds, 95%% bars \xc2\xb7 x: KV bytes/token (bf16, log)"), t->n_seeds);
    if (text_width(line, uni) > in.w)
        snprintf(line, sizeof line, "%s", tr("y: bits/byte \xc2\xb7 x: KV bytes/token"));
    canvas_text_fit(c, in.x, y++, line, in.w, sty(CR_DIM));
    const int n_hl = (hl[0] >= 0) + (hl[1] >= 0);
    int foot = 2 + 1 + 1 + (sc->n_ses > 1 ? 2 : 1) + 1;     /* axis, ticks, legend, configs, loaded model(s), unlabelled */
    if (in.h - 1 - foot < 5) foot = in.h - 1 - 5;
    const int ylw = 7;
    const int px0 = in.x + ylw, pw = in.w - ylw - 1, ph = in.y + in.h - y - foot;
    if (pw < 10 || ph < 3) { panel_message(c, in, tr("the trade-off view needs a larger terminal")); return; }
    const int py0 = y;
    Grid g = {pw, ph, calloc((size_t)pw * (size_t)ph, 1), calloc((size_t)pw * (size_t)ph, 1)};
    Placed *pl = calloc((size_t)(t->n ? t->n : 1), sizeof *pl);
    int *ord = calloc((size_t)(t->n ? t->n : 1), sizeof *ord);
    if (!g.kind || !g.dots || !pl || !ord) { free(g.kind); free(g.dots); free(pl); free(ord); return; }

#define XCOL(b) ((int)lrint((log10(b) - lx0) / (lx1 - lx0) * (pw - 1)))
#define YROW(v) ((int)lrint((yhi - (v)) / (yhi - ylo) * (ph - 1)))
#define YDOT(v) ((int)lrint((yhi - (v)) / (yhi - ylo) * (4 * ph - 1)))
    /* columns, in order of KV bytes; variants with the same bytes sit side by side */
    for (int i = 0; i < t->n; i++) ord[i] = i;
    for (int i = 1; i < t->n; i++)
        for (int j = i; j > 0 && (t->v[ord[j]].kv_bytes < t->v[ord[j - 1]].kv_bytes ||
                                  (t->v[ord[j]].kv_bytes == t->v[ord[j - 1]].kv_bytes && t->v[ord[j]].bpb < t->v[ord[j - 1]].bpb)); j--) {
            int tmp = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = tmp;
        }
    int last = -2;
    for (int k = 0; k < t->n; k++) {
        const TradeoffVariant *v = &t->v[ord[k]];
        int col = XCOL(v->kv_bytes);
        if (col <= last) col = last + 1;
        if (col > pw - 1) col = pw - 1;
        last = col;
        Placed *p = &pl[ord[k]];
        p->col = col;
        p->row = YROW(v->bpb);
        p->top = YROW(v->hi);
        p->bot = YROW(v->lo);
        p->hl = ord[k] == hl[0] || ord[k] == hl[1];
    }
    /* the Pareto front: a dotted line through its points, in order of bytes */
    int prev = -1;
    for (int k = 0; k < t->n; k++) {
        int i = ord[k];
        if (!t->v[i].pareto) continue;
        if (prev >= 0) dot_line(&g, 2 * pl[prev].col, YDOT(t->v[prev].bpb), 2 * pl[i].col, YDOT(t->v[i].bpb));
        prev = i;
    }
    /* error bars and markers */
    for (int i = 0; i < t->n; i++)
        for (int r = pl[i].top; r <= pl[i].bot; r++)
            if (r >= 0 && r < ph) g.kind[r * pw + pl[i].col] = r == pl[i].row ? G_MARK : G_BAR;
    /* y axis: labels at the top, middle and bottom rows */
    for (int r = 0; r < ph; r++) canvas_glyph(c, px0 - 1, py0 + r, glyph_vline(c), sty(CR_FRAME));
    for (int k = 0; k < 3; k++) {
        int r = k == 0 ? 0 : k == 1 ? (ph - 1) / 2 : ph - 1;
        snprintf(b1, sizeof b1, "%.4f", yhi - (yhi - ylo) * r / (ph - 1));
        canvas_text_fit(c, in.x, py0 + r, b1, ylw - 1, sty(CR_DIM));
    }
    /* draw the front's dots where nothing else is */
    for (int r = 0; r < ph; r++)
        for (int x = 0; x < pw; x++) {
            uint8_t b = g.dots[r * pw + x];
            if (!b || g.kind[r * pw + x] != G_DOT) continue;
            Style ds = c->mono ? sty(CR_TEXT) : sty(CR_GOOD);
            if (uni) {
                char gl[4] = {(char)0xe2, (char)(0xa0 + (b >> 6)), (char)(0x80 + (b & 0x3f)), 0};
                canvas_glyph(c, px0 + x, py0 + r, gl, ds);
            } else canvas_glyph(c, px0 + x, py0 + r, ".", ds);
        }
    for (int i = 0; i < t->n; i++) {
        const TradeoffVariant *v = &t->v[i];
        Style ks = c->mono ? sty(CR_TEXT) : sty(kind_role(v->attention));
        for (int r = pl[i].top; r <= pl[i].bot; r++) {
            if (r < 0 || r >= ph || r == pl[i].row) continue;
            const char *bg = uni ? (r == pl[i].top ? "\xe2\x95\xb7" : r == pl[i].bot ? "\xe2\x95\xb5" : "\xe2\x94\x82") : "|";
            canvas_glyph(c, px0 + pl[i].col, py0 + r, bg, ks);
        }
        Style ms = ks;
        const char *mg = uni ? "\xe2\x97\x8f" : "o";
        if (pl[i].hl) { ms = c->mono ? sty_attr(CR_TEXT, ATTR_BOLD | ATTR_REVERSE) : sty2(CR_TEXT, CR_SELECT, ATTR_BOLD); mg = uni ? "\xe2\x97\x86" : "@"; }
        canvas_glyph(c, px0 + pl[i].col, py0 + pl[i].row, mg, ms);
    }
    /* labels: the loaded ones first, then the front, then the rest; each touching its marker
     * (beside it, then on the row above or below: at its right, its left, centred over it, then
     * every other place that touches it; last, over or under a bar one row long, on the marker's
     * column), never over a marker, a bar or another label, nor touching another marker. A label with no such place is named
     * under the plot ("not labelled:"): a label rows away, at the far end of a long bar, read as
     * another point's. */
    int unl[TRADEOFF_MAX_VARIANTS], n_unl = 0;
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; i < t->n; i++) {
            bool want = pass == 0 ? pl[i].hl : pass == 1 ? (!pl[i].hl && t->v[i].pareto) : (!pl[i].hl && !t->v[i].pareto);
            if (!want) continue;
            const TradeoffVariant *v = &t->v[i];
            canvas_target(c, rect_make(px0 + pl[i].col, py0 + pl[i].row, 1, 1), "tradeoff.point:%s", v->name);
            char lb[64];
            snprintf(lb, sizeof lb, "%s", v->name);
            int lw = text_width(lb, uni);
            const int R = pl[i].col + 1, L = pl[i].col - lw, M = pl[i].col - lw / 2;
            int cx[8 + 4 * 64], cy[8 + 4 * 64], nc = 0;
            const int first[8][2] = {{R, 0}, {L, 0}, {R, -1}, {R, 1}, {L, -1}, {L, 1}, {M, -1}, {M, 1}};
            for (int k = 0; k < 8; k++) cx[nc] = first[k][0], cy[nc++] = pl[i].row + first[k][1];
            for (int d = -1; d <= 1; d += 2)                 /* the rest of the row above, then below */
                for (int x = L + 1; x <= R - 1 && x - L < 64; x++)
                    if (x != M) cx[nc] = x, cy[nc++] = pl[i].row + d;
            for (int d = -2; d <= 2; d += 4) {               /* just past a bar that ends next to the marker */
                const int by = pl[i].row + d / 2;
                if (by < 0 || by >= ph || g.kind[by * pw + pl[i].col] != G_BAR || (d < 0 ? pl[i].top : pl[i].bot) != by) continue;
                cx[nc] = M, cy[nc++] = pl[i].row + d;
                for (int x = pl[i].col - lw + 1; x <= pl[i].col && nc < (int)(sizeof cx / sizeof cx[0]); x++)
                    if (x != M) cx[nc] = x, cy[nc++] = pl[i].row + d;
            }
            bool done = false;
            for (int k = 0; k < nc && !done; k++) {
                const int x = cx[k];
                if (x < 0 || !label_fits(&g, x, cy[k], lw) || label_touches_other(&g, x, cy[k], lw, pl[i].col, pl[i].row)) continue;
                for (int q = 0; q < lw; q++) g.kind[cy[k] * pw + x + q] = G_LABEL;
                Style ls = c->mono ? sty(CR_TEXT) : sty(kind_role(v->attention));
                if (pl[i].hl) ls = c->mono ? sty_attr(CR_TEXT, ATTR_BOLD | ATTR_UNDERLINE) : sty_attr(CR_ACCENT, ATTR_BOLD);
                canvas_fill(c, rect_make(px0 + x, py0 + cy[k], lw, 1), " ", sty(CR_TEXT));
                canvas_text(c, px0 + x, py0 + cy[k], lb, ls);
                canvas_target(c, rect_make(px0 + x, py0 + cy[k], lw, 1), "tradeoff.label:%s", v->name);
                done = true;
            }
            if (!done && n_unl < TRADEOFF_MAX_VARIANTS) unl[n_unl++] = i;
        }
    y = py0 + ph;

    /* x axis: a rule with ticks at 1-2-5 steps, the config-only models as triangles on it */
    canvas_glyph(c, px0 - 1, y, uni ? "\xe2\x94\x94" : "+", sty(CR_FRAME));
    for (int x = 0; x < pw; x++) canvas_glyph(c, px0 + x, y, glyph_hline(c), sty(CR_FRAME));
    int lab_end = -1;
    for (int dec = (int)floor(lx0); dec <= (int)ceil(lx1); dec++)
        for (int m = 0; m < 3; m++) {
            double b = (m == 0 ? 1 : m == 1 ? 2 : 5) * pow(10, dec);
            if (log10(b) < lx0 || log10(b) > lx1) continue;
            int col = XCOL(b);
            canvas_glyph(c, px0 + col, y, uni ? "\xe2\x94\xb4" : "+", sty(CR_FRAME));
            fmt_si(b, b1, sizeof b1);
            int lw = text_width(b1, uni), x = col - lw / 2;
            if (x <= lab_end || x + lw > pw) continue;
            canvas_text(c, px0 + x, y + 1, b1, sty(CR_DIM));
            lab_end = x + lw;
        }
    canvas_text_fit(c, in.x, y + 1, tr("B/tok"), ylw - 1, sty(CR_DIM));
    for (int k = 0; k < t->n_cfg; k++) {
        if (!isfinite(t->cfg[k].kv_bytes)) continue;
        canvas_glyph(c, px0 + XCOL(t->cfg[k].kv_bytes), y, uni ? "\xe2\x96\xb2" : "^", c->mono ? sty_attr(CR_TEXT, ATTR_BOLD) : sty_attr(CR_WARN, ATTR_BOLD));
    }
    y += 2;

    /* legend */
    int x = in.x;
    static const char *const KINDS[4] = {"MHA", "GQA", "MQA", "MLA"};
    if (y < in.y + in.h) {
        /* the glyphs' meanings, with short labels when the long ones do not fit the line; an item
         * that does not fit even so is left out whole (at 60 columns "◆ loaded" ran over the frame) */
        const char *lab[4] = {tr("95% interval  "), tr(" Pareto front  "), tr(" loaded  "),
                              uni ? tr("\xe2\x96\xb2 config only") : tr("^ config only")};
        const char *shortl[4] = {tr("95%  "), tr(" front  "), tr(" loaded  "), uni ? "\xe2\x96\xb2" : "^"};
        int kinds_w = 0;
        for (int k = 0; k < 4; k++) kinds_w += 1 + text_width(KINDS[k], uni) + 1;
        const int glyphs_w = 2 + 2 + 1;    /* "│" after a blank, "⠒⠒", "◆" */
        int long_w = kinds_w + glyphs_w;
        for (int k = 0; k < 4; k++) long_w += text_width(lab[k], uni);
        const char **L = long_w <= in.w ? lab : shortl;
        const int end = in.x + in.w;
        for (int k = 0; k < 4; k++) {
            x = canvas_text(c, x, y, uni ? "\xe2\x97\x8f" : "o", c->mono ? sty(CR_TEXT) : sty(kind_role(KINDS[k])));
            x = canvas_text(c, x, y, KINDS[k], sty(CR_TEXT));
            x++;
        }
        if (x + 2 + text_width(L[0], uni) <= end) {
            x = canvas_text(c, x + 1, y, uni ? "\xe2\x94\x82" : "|", sty(CR_TEXT));
            x = canvas_text(c, x, y, L[0], sty(CR_TEXT));
        }
        if (x + 2 + text_width(L[1], uni) <= end) {
            x = canvas_text(c, x, y, uni ? "\xe2\xa0\x92\xe2\xa0\x92" : "..", c->mono ? sty(CR_TEXT) : sty(CR_GOOD));
            x = canvas_text(c, x, y, L[1], sty(CR_TEXT));
        }
        if (x + 1 + text_width(L[2], uni) <= end) {
            x = canvas_text(c, x, y, uni ? "\xe2\x97\x86" : "@", c->mono ? sty_attr(CR_TEXT, ATTR_BOLD | ATTR_REVERSE) : sty2(CR_TEXT, CR_SELECT, ATTR_BOLD));
            x = canvas_text(c, x, y, L[2], sty(CR_TEXT));
        }
        if (text_width(L[3], uni) <= end - x) canvas_text(c, x, y, L[3], c->mono ? sty(CR_TEXT) : sty(CR_WARN));   /* no room: the next line says it */
        y++;
    }
    /* config-only models: KV bytes from their config.json, no quality on our data */
    if (y < in.y + in.h) {
        /* in order of bytes, as the triangles sit left to right */
        int co[TRADEOFF_MAX_CONFIGS];
        for (int k = 0; k < t->n_cfg; k++) co[k] = k;
        for (int k = 1; k < t->n_cfg; k++)
            for (int j = k; j > 0 && !(t->cfg[co[j - 1]].kv_bytes <= t->cfg[co[j]].kv_bytes); j--) { int tmp = co[j]; co[j] = co[j - 1]; co[j - 1] = tmp; }
        int n = snprintf(line, sizeof line, "%s", uni ? "\xe2\x96\xb2" : "^");
        for (int q = 0; q < t->n_cfg && n < (int)sizeof line - 64; q++) {
            const TradeoffConfig *cf = &t->cfg[co[q]];
            if (isfinite(cf->kv_bytes)) {
                fmt_thousands(cf->kv_bytes, b1, sizeof b1);
                n += snprintf(line + n, sizeof line - (size_t)n, " %s %s", cf->name, b1);
            } else n += snprintf(line + n, sizeof line - (size_t)n, tr(" %s (no config.json)"), cf->name);
        }
        /* narrower: shorter wordings after the numbers (at 80 columns it was cut to "B/token from …") */
        static const char *const TAIL[] = {N_(" B/token from config.json (assets/configs); no quality on our data"),
                                           N_(" B/token from config.json; no quality on our data"),
                                           N_(" B/token from config.json; no quality"), N_(" B/token, no quality"), N_(" B/token")};
        char tails[5][160];
        const char *tc[5];
        for (int k = 0; k < 5; k++) {
            snprintf(tails[k], sizeof tails[k], "%s%s", line, tr(TAIL[k]));
            tc[k] = tails[k];
        }
        panel_text_pick(c, in.x, y++, tc, 5, in.w, sty(CR_TEXT));
    }
    /* the loaded model(s), and the variants whose label found no room */
    for (int s = 0; s < 2 && y < in.y + in.h; s++) {
        if (s >= sc->n_ses || !sc->ses[s]) continue;
        const char *tagn = sc->n_ses > 1 ? (s ? "B: " : "A: ") : "";
        char shorter[3][512] = {"", "", ""};      /* narrower: the facts after the interval go, then the interval */
        if (hl[s] < 0) {
            fmt_thousands(tradeoff_kv_bytes(&session_model(sc->ses[s])->spec), b1, sizeof b1);
            snprintf(line, sizeof line, tr("%sthe loaded model is not in the family (by name or shape); it caches %s B/token in bf16"), tagn, b1);
        } else {
            const TradeoffVariant *v = &t->v[hl[s]];
            fmt_thousands(v->kv_bytes, b1, sizeof b1);
            fmt_thousands((double)v->params, b2, sizeof b2);
            char nm[256];
            model_dir_name(sc->ses[s], nm, sizeof nm);
            /* the variant's label in the UI's language (family.json's label_zh), else the English one */
            const char *lab = i18n_lang() == LANG_ZH && v->label_zh[0] ? v->label_zh : v->label[0] ? v->label : v->attention;
            int n = snprintf(line, sizeof line, tr("%s%s = %s%s (%s): %.4f bits/byte [%.4f, %.4f]"), tagn, nm, v->name,
                             strcmp(nm, v->bundled) ? tr(" by shape") : "", lab, v->bpb, v->lo, v->hi);
            snprintf(shorter[0], sizeof shorter[0], "%s", line);
            snprintf(shorter[1], sizeof shorter[1], tr("%s%s = %s: %.4f bits/byte"), tagn, nm, v->name, v->bpb);
            if (isfinite(v->story_lo)) n += snprintf(line + n, sizeof line - (size_t)n, tr(", stories [%.4f, %.4f]"), v->story_lo, v->story_hi);
            snprintf(shorter[2], sizeof shorter[2], "%s", line);
            n += snprintf(line + n, sizeof line - (size_t)n, tr("; %s B/token; %s params"), b1, b2);
            if (v->pareto) snprintf(line + n, sizeof line - (size_t)n, "%s", tr("; on the front"));
        }
        const char *lc[4] = {line, shorter[2][0] ? shorter[2] : line, shorter[0][0] ? shorter[0] : line, shorter[1][0] ? shorter[1] : line};
        panel_text_pick(c, in.x, y++, lc, 4, in.w, sty_attr(CR_ACCENT, ATTR_BOLD));
    }
    if (y < in.y + in.h) {
        int n = 0;
        line[0] = 0;
        if (n_unl) {
            /* whole variants only, and " …" for those left out (not "mqa (576 B, 0.9773),…");
             * the items without their brackets when that shows them all (at 80 columns the
             * third of three was left out) */
            bool tight = false;
            for (int pass = 0; pass < 2; pass++) {
                int w = text_width(tr("not labelled:"), uni);
                for (int k = 0; k < n_unl; k++) {
                    const TradeoffVariant *v = &t->v[unl[k]];
                    fmt_thousands(v->kv_bytes, b1, sizeof b1);
                    char item[96];
                    snprintf(item, sizeof item, pass ? " %s %s B %.4f," : " %s (%s B, %.4f),", v->name, b1, v->bpb);
                    w += text_width(item, uni) - (k + 1 == n_unl);
                }
                tight = pass == 1;
                if (w <= in.w) break;
            }
            n = snprintf(line, sizeof line, "%s", tr("not labelled:"));
            for (int k = 0; k < n_unl && n < (int)sizeof line - 48; k++) {
                const TradeoffVariant *v = &t->v[unl[k]];
                fmt_thousands(v->kv_bytes, b1, sizeof b1);
                char item[96];
                snprintf(item, sizeof item, tight ? " %s %s B %.4f%s" : " %s (%s B, %.4f)%s", v->name, b1, v->bpb, k + 1 < n_unl ? "," : "");
                const int more = k + 1 < n_unl ? 2 : 0;        /* room for " …" */
                if (text_width(line, uni) + text_width(item, uni) + more > in.w) {
                    snprintf(line + n, sizeof line - (size_t)n, " %s", uni ? "\xe2\x80\xa6" : "~");
                    break;
                }
                n += snprintf(line + n, sizeof line - (size_t)n, "%s", item);
            }
        } else if (n_hl == 0) snprintf(line, sizeof line, "%s", st->path);
        if (line[0]) canvas_text_fit(c, in.x, y++, line, in.w, sty(CR_DIM));
    }
#undef XCOL
#undef YROW
#undef YDOT
    free(g.kind);
    free(g.dots);
    free(pl);
    free(ord);
}

const PanelClass panel_tradeoff = {
    .name = "tradeoff", .title = N_("Trade-off"), .tab = N_("Trade"),
    .create = to_create, .destroy = to_destroy, .draw = to_draw, .click = NULL,
    .help = N_("f Esc    close the trade-off view (any panel key 1-8 too)\n"
            "Quality (bits/byte on valid.txt, mean of the seeds, bar = 95% interval over the seeds)\n"
            "against KV-cache bytes per token (bf16, all layers; log axis) for every variant of\n"
            "assets/models/family.json. Points with the same bytes sit side by side.\n"
            "Pareto front: no other variant caches fewer bytes with a lower mean bits/byte.\n"
            "Triangles: real models from their config.json (assets/configs); no quality on our data."),
    .hint = N_("f close"),
};
