/* Panel registry and helpers shared by the panels. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/i18n.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"

static const PanelClass *const CLASSES[PANEL_COUNT] = {
    &panel_attention, &panel_kv, &panel_residual, &panel_norms,
    &panel_position, &panel_embeddings, &panel_ffn, &panel_output};

const PanelClass *panel_class(PanelId id) {
    return (unsigned)id < PANEL_COUNT ? CLASSES[id] : NULL;
}

int panel_find(const char *name) { return scene_panel_find(name); }

Rect panel_frame(PanelCtx *ctx, const char *title, const char *hint) {
    /* a title too wide for the frame loses whole " · " parts from its end ("KV cache · MLA ·
     * what-if context 128 · f32" -> "KV cache · MLA" in compare mode at 80 columns, not
     * "... context 1…"); only its first part is ever cut */
    char tt[256];
    if (title) {
        snprintf(tt, sizeof tt, "%s", title);
        while (text_width(tt, ctx->c->unicode) + 2 > ctx->r.w - 4) {
            char *last = NULL;                  /* the last " · " (its 0xb7 byte also ends "号") */
            for (char *f = strstr(tt, " \xc2\xb7 "); f; f = strstr(f + 1, " \xc2\xb7 ")) last = f;
            if (!last) break;
            *last = 0;
        }
        title = tt;
    }
    Rect in = w_frame(ctx->c, ctx->r, title, ctx->focus);
    hint = tr(hint);               /* a panel's hint is its class's N_() .hint string */
    const char *nm = ctx->c->owner;            /* the panel's name (set by the App) */
    if (*nm) {
        canvas_target(ctx->c, in, "%s", nm);
        if (title && *title && ctx->r.w > 6) {
            int tw = text_width(title, ctx->c->unicode) + 2;
            canvas_target(ctx->c, rect_make(ctx->r.x + 2, ctx->r.y, tw < ctx->r.w - 4 ? tw : ctx->r.w - 4, 1), "%s.title", nm);
        }
    }
    if (hint && *hint && ctx->r.h >= 3 && ctx->r.w > 12) {
        char t[256];
        int maxw = ctx->r.w - 4;
        /* too wide, the hint loses whole keys ("  f trade-off") from its end, not half a word */
        snprintf(t, sizeof t, " %s", hint);
        for (char *k; text_width(t, ctx->c->unicode) + 1 > maxw && (k = strstr(t + 1, "  ")) != NULL;) {
            char *last = k;
            while ((k = strstr(last + 2, "  ")) != NULL) last = k;
            *last = 0;
        }
        snprintf(t + strlen(t), sizeof t - strlen(t), " ");
        int tw = text_width(t, ctx->c->unicode);
        int x = ctx->r.x + ctx->r.w - 2 - (tw < maxw ? tw : maxw);
        canvas_push_clip(ctx->c, ctx->r);
        canvas_text_fit(ctx->c, x, ctx->r.y + ctx->r.h - 1, t, maxw, sty(CR_DIM));
        if (*nm) canvas_target(ctx->c, rect_make(x, ctx->r.y + ctx->r.h - 1, tw < maxw ? tw : maxw, 1), "%s.hint", nm);
        canvas_pop_clip(ctx->c);
    }
    return in;
}

void panel_message(Canvas *c, Rect r, const char *msg) {
    if (r.w <= 0 || r.h <= 0) return;
    int rows = w_text_rows(msg, r.w - 2 > 1 ? r.w - 2 : 1, c->unicode);
    int y = r.y + (r.h - rows) / 2;
    int tw = text_width(msg, c->unicode);
    int x = tw < r.w ? r.x + (r.w - tw) / 2 : r.x + 1;
    w_text(c, rect_make(x, y < r.y ? r.y : y, r.x + r.w - x, r.h), msg, sty(CR_DIM));
}

double panel_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

bool panel_time_left(const PanelCtx *ctx) { return ctx->deadline <= 0 || panel_now_ms() < ctx->deadline; }

const TraceTok *panel_tok(const Session *s) {
    if (!s || !session_trace(s) || session_cursor(s) < 0) return NULL;
    return trace_tok(session_trace(s), session_cursor(s));
}

const char *panel_tok_text(const Session *s, int id, char *buf, size_t cap) {
    if (id < 0) { snprintf(buf, cap, "?"); return buf; }
    const char *t = session_token_text(s, id, buf, cap);
    if (t != buf) snprintf(buf, cap, "%s", t ? t : "");
    return buf;
}

const char *panel_tok_label(const Session *s, int id, char *buf, size_t cap, int max_w, bool unicode) {
    char raw[128], vis[256];
    panel_tok_text(s, id, raw, sizeof raw);
    tok_visible(raw, vis, sizeof vis, unicode);
    int w;
    size_t nb = text_fit_bytes(vis, max_w, unicode, &w);
    bool cut = vis[nb] != 0 && max_w >= 3;     /* mark a cut label: "<|endof…" */
    if (cut) nb = text_fit_bytes(vis, max_w - 1, unicode, &w);
    const char *mark = unicode ? "\xe2\x80\xa6" : "~";
    size_t ml = cut ? strlen(mark) : 0;
    if (nb + ml >= cap) nb = cap > ml + 1 ? cap - ml - 1 : 0;
    memcpy(buf, vis, nb);
    if (ml) memcpy(buf + nb, mark, ml);
    buf[nb + ml] = 0;
    return buf;
}

const char *panel_fmt_prob(double p, char *buf, size_t cap) {
    double pct = 100.0 * p;
    if (!(p > 0)) snprintf(buf, cap, "0%%");
    else if (p >= 1) snprintf(buf, cap, "100%%");
    else if (pct >= 99.95) snprintf(buf, cap, ">99.9%%");
    else if (pct >= 9.995) snprintf(buf, cap, "%.1f%%", pct);
    else if (pct >= 0.9995) snprintf(buf, cap, "%.2f%%", pct);
    else if (pct >= 0.0005) snprintf(buf, cap, "%.3f%%", pct);
    else snprintf(buf, cap, "<0.001%%");       /* as ">99.9%" at the other end: below what 3 decimals show */
    return buf;
}

int panel_pick_fit(const char *const *cand, int n, int w, bool unicode) {
    for (int f = 0; f < n; f++)
        if (text_width(cand[f], unicode) <= w) return f;
    return n > 0 ? n - 1 : 0;
}

int panel_text_pick(Canvas *c, int x, int y, const char *const *cand, int n, int w, Style st) {
    if (n <= 0) return 0;
    return canvas_text_fit(c, x, y, cand[panel_pick_fit(cand, n, w, c->unicode)], w, st);
}

void panel_hidden_note(Canvas *c, int x, int y, int w, int n, const char *names) {
    if (n <= 0 || w <= 0) return;
    char t[4][256];
    snprintf(t[0], sizeof t[0], n == 1 ? tr("+%d column not shown: %s (widen the window)") : tr("+%d columns not shown: %s (widen the window)"),
             n, names ? names : "");
    snprintf(t[1], sizeof t[1], n == 1 ? tr("+%d column not shown: %s") : tr("+%d columns not shown: %s"), n, names ? names : "");
    snprintf(t[2], sizeof t[2], n == 1 ? tr("+%d column: widen") : tr("+%d columns: widen"), n);
    snprintf(t[3], sizeof t[3], n == 1 ? tr("+%d column") : tr("+%d columns"), n);
    const char *tc[4] = {t[0], t[1], t[2], t[3]};
    panel_text_pick(c, x, y, tc, 4, w, sty(CR_WARN));
}

void panel_model_line(const Session *s, char *buf, size_t cap) {
    if (!s || !session_model(s)) { snprintf(buf, cap, "-"); return; }
    const ModelSpec *m = &session_model(s)->spec;
    char att[64], moe[64] = "";
    if (m->attn_kind == ATTN_MLA)
        snprintf(att, sizeof att, "MLA %dh c_kv=%d", m->n_heads, m->kv_lora_rank);
    else if (m->attn_kind == ATTN_MHA)
        snprintf(att, sizeof att, "MHA %dh", m->n_heads);
    else
        snprintf(att, sizeof att, "%s %dq/%dkv", attn_kind_name(m->attn_kind), m->n_heads, m->n_kv_heads);
    if (m->n_experts) snprintf(moe, sizeof moe, " \xc2\xb7 MoE %de top%d", m->n_experts, m->n_experts_per_tok);
    snprintf(buf, cap, "%s \xc2\xb7 %s \xc2\xb7 %dL d%d%s", m->model_type, att, m->n_layers, m->d_model, moe);
}
