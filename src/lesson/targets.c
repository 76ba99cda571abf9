/* Named screen elements a lesson step points at ("target": "attention.cell"). This table is
 * the vocabulary; the TUI's panels register the same names with the rectangle they drew
 * (canvas_target in tui/canvas.h) and the lesson pane highlights them. `lesson --check`
 * fails when a step's target was not drawn (tui/lesson_check.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "lesson/lesson.h"

#define PANEL_TARGETS(p, title)                                                              \
    {p, TGA_NONE, "the " title " panel's inner area", N_("the panel")},                      \
    {p ".title", TGA_NONE, "the " title " panel's frame title", N_("panel title")},          \
    {p ".hint", TGA_NONE, "the key hint on the " title " panel's bottom border", N_("key hint")}

static const TargetSpec TARGETS[] = {
    {"header", TGA_NONE, "the top line: model, attention kind, phase, position, stage", N_("top line")},
    {"tokens.cursor", TGA_NONE, "the cursor's token chip in the token strip", N_("cursor token")},
    {"tokens.pos", TGA_INT, "token chip N in the token strip (:N, 0-based)", N_("token")},
    {"keys.F1", TGA_NONE, "key bar: F1 Help", NULL}, {"keys.F2", TGA_NONE, "key bar: F2 Prompt", NULL},
    {"keys.F3", TGA_NONE, "key bar: F3 Model", NULL}, {"keys.F4", TGA_NONE, "key bar: F4 Sample", NULL},
    {"keys.F5", TGA_NONE, "key bar: F5 Run", NULL}, {"keys.F6", TGA_NONE, "key bar: F6 Compare", NULL},
    {"keys.F7", TGA_NONE, "key bar: F7 Layer-", NULL}, {"keys.F8", TGA_NONE, "key bar: F8 Layer+", NULL},
    {"keys.F9", TGA_NONE, "key bar: F9 Panel", NULL}, {"keys.F10", TGA_NONE, "key bar: F10 Quit", NULL},
    PANEL_TARGETS("attention", "Attention"),
    {"attention.cell", TGA_NONE, "the selected cell: the cursor's query row x the selected key column", N_("selected cell")},
    {"attention.row", TGA_NONE, "the cursor's query row of the heatmap", N_("query row")},
    {"attention.col", TGA_NONE, "the selected key's column of the heatmap", N_("key column")},
    {"attention.map", TGA_NONE, "the whole query x key heatmap", N_("heatmap")},
    {"attention.tile", TGA_OPT_INT, "a head's small multiple (:H; default the selected head)", N_("head tile")},
    {"attention.info", TGA_NONE, "the info line: query, entropy, selected cell's p and score", N_("info line")},
    {"attention.topk", TGA_NONE, "the bars of the keys the query looks at most", N_("top keys")},
    {"attention.mla", TGA_NONE, "MLA only: the cached latent c_kv and the shared rope key", N_("latent and rope key")},
    PANEL_TARGETS("kv", "KV cache"),
    {"kv.stores", TGA_NONE, "what this model stores per token and layer (first line)", N_("what is stored")},
    {"kv.total", TGA_NONE, "bytes now and at the what-if context (second line)", N_("bytes line")},
    {"kv.layer", TGA_OPT_INT, "a layer's row of cache slots (:L; default the selected layer)", N_("layer row")},
    {"kv.row", TGA_KV, "a row of the comparison table (:mha :gqa :mqa :mla; default this model's)", N_("table row")},
    {"kv.table", TGA_NONE, "the MHA / GQA / MQA / MLA comparison table", N_("comparison table")},
    {"kv.chart", TGA_NONE, "the growth chart (bytes vs context length)", N_("growth chart")},
    PANEL_TARGETS("residual", "Residual stream"),
    {"residual.map", TGA_NONE, "the ||x|| heatmap, layer x token", N_("norm heatmap")},
    {"residual.cell", TGA_NONE, "the heatmap cell of the cursor token at the selected layer", N_("heatmap cell")},
    {"residual.lens", TGA_NONE, "the per-layer table: writes and the logit lens", N_("logit lens table")},
    {"residual.lens_row", TGA_OPT_INT, "a layer's row of that table (:L; default the selected layer)", N_("lens row")},
    PANEL_TARGETS("norms", "Norms"),
    {"norms.formula", TGA_NONE, "the norm's formula (first line)", N_("formula")},
    {"norms.info", TGA_NONE, "the input's statistics and the scale applied (two lines)", N_("statistics")},
    {"norms.gamma", TGA_NONE, "the line with gamma (and beta) statistics", N_("gamma line")},
    {"norms.rms", TGA_NONE, "rms(x) of the residual entering each layer (sparkline)", N_("rms sparkline")},
    {"norms.before", TGA_NONE, "the histogram of the vector before the norm", N_("histogram before")},
    {"norms.after", TGA_NONE, "the histogram of the vector after the norm", N_("histogram after")},
    PANEL_TARGETS("position", "Position"),
    {"position.pair", TGA_OPT_INT, "RoPE: a pair's dial (:I; default the first dial, the pair chosen with , .)", N_("pair dial")},
    {"position.dials", TGA_NONE, "RoPE: the row of dials", N_("dials")},
    {"position.decay", TGA_NONE, "RoPE: mean cos(m theta_i) by distance, with the recorded scores", N_("decay curve")},
    {"position.plot", TGA_NONE, "bottom right: sinusoidal encodings or the effect of RoPE scaling", N_("plot")},
    {"position.map", TGA_NONE, "learned positions: cos(pos_emb[i], pos_emb[j])", N_("position map")},
    PANEL_TARGETS("embeddings", "Embeddings"),
    {"embeddings.map", TGA_NONE, "the scatter of the prompt's vectors (or the vocabulary map)", N_("scatter")},
    {"embeddings.point", TGA_NONE, "the selected token's point in the scatter", N_("selected point")},
    {"embeddings.matrix", TGA_NONE, "the labelled cosine matrix", N_("cosine matrix")},
    {"embeddings.cell", TGA_NONE, "the selected pair's cell in the cosine matrix", N_("matrix cell")},
    {"embeddings.neighbours", TGA_NONE, "the nearest vocabulary tokens of the selected vector", N_("neighbours")},
    {"embeddings.texts_info", TGA_NONE, "texts view: the lines with the layer and the pooling", N_("layer and pooling")},
    {"embeddings.texts", TGA_NONE, "texts view: the labelled cosine matrix of the texts' sentence vectors", N_("texts matrix")},
    {"embeddings.text", TGA_OPT_INT, "texts view: text N's row of that matrix (:N, from 1 as on screen; default the query)", N_("text row")},
    {"embeddings.ranking", TGA_NONE, "texts view: the other texts ranked against the query, layer 0 beside", N_("ranking")},
    {"embeddings.rank", TGA_INT, "texts view: rank R of that list (:R, 1 = the closest to the query)", N_("rank")},
    PANEL_TARGETS("ffn", "FFN / MoE"),
    {"ffn.info", TGA_NONE, "the first line: the FFN's formula and activity (or the MoE's routing)", N_("FFN info line")},
    {"ffn.hist", TGA_NONE, "dense FFN: the histogram of the hidden activations h", N_("activation histogram")},
    {"ffn.bars", TGA_NONE, "dense FFN: the most active neurons of the cursor token", N_("active neurons")},
    {"ffn.map", TGA_NONE, "MoE: the token x expert router map", N_("router map")},
    {"ffn.map_row", TGA_NONE, "MoE: the cursor token's row of the router map", N_("router row")},
    {"ffn.router", TGA_NONE, "MoE: the experts chosen for the cursor token, with their weights", N_("chosen experts")},
    {"ffn.load", TGA_NONE, "MoE: how many tokens each expert got so far", N_("expert load")},
    PANEL_TARGETS("output", "Output"),
    {"output.info", TGA_NONE, "the line with the chosen token and the distribution's entropy", N_("chosen token")},
    {"output.row", TGA_INT, "rank R of the top-k list (:R, 0 = the most likely)", N_("list row")},
    {"output.list", TGA_NONE, "the whole top-k list", N_("top-k list")},
};

const char *lesson_target_label(const char *name, UiLang lang, char *out, size_t cap) {
    size_t n = strcspn(name, ":");
    const char *arg = name[n] == ':' ? name + n + 1 : NULL;
    const char *label = NULL;
    for (size_t i = 0; i < sizeof TARGETS / sizeof TARGETS[0]; i++)
        if (strlen(TARGETS[i].name) == n && !strncmp(TARGETS[i].name, name, n)) { label = TARGETS[i].label; break; }
    if (!label) {                                   /* the key bar's keys: "F6"; unknown: the name */
        const char *dot = memchr(name, '.', n);
        label = dot ? dot + 1 : name;
        snprintf(out, cap, "%.*s", (int)(n - (size_t)(label - name)), label);
        return out;
    }
    if (arg) snprintf(out, cap, "%s %s", tr_lang(lang, label), arg);
    else snprintf(out, cap, "%s", tr_lang(lang, label));
    return out;
}

const TargetSpec *lesson_target_table(int *n) {
    *n = (int)(sizeof TARGETS / sizeof TARGETS[0]);
    return TARGETS;
}

void lesson_target_owner(const char *name, char *out, size_t cap) {
    size_t n = strcspn(name, ".:");
    if (n >= cap) n = cap - 1;
    memcpy(out, name, n);
    out[n] = 0;
}

bool lesson_target_validate(const char *name, Err *e) {
    const char *colon = strchr(name, ':');
    size_t n = colon ? (size_t)(colon - name) : strlen(name);
    const TargetSpec *t = NULL;
    for (size_t i = 0; i < sizeof TARGETS / sizeof TARGETS[0]; i++)
        if (strlen(TARGETS[i].name) == n && !strncmp(TARGETS[i].name, name, n)) t = &TARGETS[i];
    if (!t) return err_set(e, ERR_FORMAT, "unknown target \"%.60s\" (llmscope lesson --targets lists them)", name);
    const char *arg = colon ? colon + 1 : NULL;
    switch (t->arg) {
    case TGA_NONE:
        if (arg) return err_set(e, ERR_FORMAT, "target \"%s\" takes no argument (\"%.40s\")", t->name, name);
        return true;
    case TGA_INT:
    case TGA_OPT_INT: {
        if (!arg) return t->arg == TGA_OPT_INT || err_set(e, ERR_FORMAT, "target \"%s\" needs a number, e.g. \"%s:0\"", t->name, t->name);
        char *end;
        long v = strtol(arg, &end, 10);
        if (!*arg || *end || v < 0 || v > 100000) return err_set(e, ERR_FORMAT, "target \"%.60s\": \"%.20s\" is not a number in [0, 100000]", name, arg);
        return true;
    }
    case TGA_KV:
        if (!arg || !strcmp(arg, "mha") || !strcmp(arg, "gqa") || !strcmp(arg, "mqa") || !strcmp(arg, "mla")) return true;
        return err_set(e, ERR_FORMAT, "target \"%.60s\": the row is mha, gqa, mqa or mla", name);
    }
    return err_set(e, ERR_FORMAT, "target \"%.60s\": bad argument", name);
}
