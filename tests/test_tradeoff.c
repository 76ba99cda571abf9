/* The trade-off view (tui/panels/tradeoff.c, analysis/tradeoff.c) and compare mode's loss / KL
 * band (tui/compare_band.c): the plotted points come from family.json (a changed copy moves
 * them), the config-only models' bytes follow their config.json, the loaded model is found by
 * name and by shape, a missing file gives a message, and the band's means are the numbers
 * `llmscope compare --json` prints for the same text. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"
#include "analysis/tradeoff.h"
#include "core/err.h"
#include "core/i18n.h"
#include "fit_walk.h"
#include "tui/app.h"
#include "tui/canvas.h"

#define FAMILY "assets/models/family.json"
#define GQA "assets/models/story-gqa"

static bool have_bundle(void) { return file_exists(FAMILY) && file_exists(GQA "/model.safetensors"); }

static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const cJSON *variant(const cJSON *j, const char *name) {
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(j, "variants")) {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(v, "name"));
        if (n && !strcmp(n, name)) return v;
    }
    return NULL;
}

/* a new folder dir holding a link to the bundled story-gqa (under `as`) and, when j is given,
 * family.json written from j */
static bool scratch(const char *dir, const char *as, const cJSON *j) {
    if (mkdir(dir, 0700) != 0) return false;
    char link[1200], cwd[1024], target[1200];
    if (!getcwd(cwd, sizeof cwd)) return false;
    snprintf(link, sizeof link, "%s/%s", dir, as);
    snprintf(target, sizeof target, "%s/" GQA, cwd);
    if (symlink(target, link) != 0) return false;
    if (j) {
        char path[1200];
        snprintf(path, sizeof path, "%s/family.json", dir);
        char *txt = cJSON_Print(j);
        FILE *f = fopen(path, "w");
        if (!f || !txt) { free(txt); if (f) fclose(f); return false; }
        fputs(txt, f);
        fclose(f);
        free(txt);
    }
    return true;
}

static char *shot(const char *model, const char *extra, const char *cd) {
    char cmd[3000], *out = NULL;
    char bin[1024], cwd[1024];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    const char *b = test_bin();
    snprintf(bin, sizeof bin, "%s%s%s", b[0] == '/' ? "" : cwd, b[0] == '/' ? "" : "/", b);
    snprintf(cmd, sizeof cmd, "%s%s%s'%s' screenshot --model '%s' --prompt 'Once upon a time' --steps 1 --size 120x40 %s", cd ? "cd '" : "",
             cd ? cd : "", cd ? "' && " : "", bin, model, extra);
    int rc = test_run(cmd, &out, 1);
    if (rc != 0) { free(out); return NULL; }
    return out;
}

/* the row (0-based) of the first line holding s, or -1 */
static int row_of(const char *text, const char *s) {
    const char *p = strstr(text, s);
    if (!p) return -1;
    int r = 0;
    for (const char *q = text; q < p; q++) r += *q == '\n';
    return r;
}

TEST(tradeoff_reads_every_variant_of_family_json) {
    if (!file_exists(FAMILY)) SKIP("no " FAMILY);
    cJSON *j = test_read_json(FAMILY);
    REQUIRE(j);
    Err e = {0};
    Tradeoff *t = malloc(sizeof *t);
    REQUIRE(t);
    CHECK_MSG(tradeoff_load(FAMILY, "assets/configs", t, &e), "%s", e.msg);
    CHECK_EQ_INT(t->n, cJSON_GetArraySize(cJSON_GetObjectItem(j, "variants")));
    CHECK(t->n >= 10);
    for (int i = 0; i < t->n; i++) {
        const cJSON *v = variant(j, t->v[i].name);
        REQUIRE(v);
        CHECK(t->v[i].bpb == jnum(v, "bits_per_byte_mean"));
        CHECK(t->v[i].kv_bytes == jnum(v, "kv_bytes_per_token"));
        const cJSON *ci = cJSON_GetObjectItem(v, "ci95");
        CHECK(t->v[i].lo == cJSON_GetArrayItem(ci, 0)->valuedouble && t->v[i].hi == cJSON_GetArrayItem(ci, 1)->valuedouble);
        const char *lz = cJSON_GetStringValue(cJSON_GetObjectItem(v, "label_zh"));
        CHECK_MSG(lz && !strcmp(t->v[i].label_zh, lz), "%s: label_zh '%s', family.json '%s'", t->v[i].name, t->v[i].label_zh, lz ? lz : "(none)");
        /* the front: on it exactly when no other variant is at least as good on both axes and better on one */
        bool dom = false;
        const cJSON *o;
        cJSON_ArrayForEach(o, cJSON_GetObjectItem(j, "variants")) {
            double ob = jnum(o, "bits_per_byte_mean"), ok = jnum(o, "kv_bytes_per_token");
            double vb = jnum(v, "bits_per_byte_mean"), vk = jnum(v, "kv_bytes_per_token");
            if (ok <= vk && ob <= vb && (ok < vk || ob < vb)) dom = true;
        }
        CHECK_MSG(t->v[i].pareto == !dom, "%s: pareto %d", t->v[i].name, t->v[i].pareto);
    }
    /* config-only models: bytes per token in bf16 from the config's own fields */
    static const char *const DIRS[3] = {"llama-3-8b", "qwen3-8b", "deepseek-v3"};
    CHECK_EQ_INT(t->n_cfg, 3);
    for (int k = 0; k < 3 && k < t->n_cfg; k++) {
        char p[256];
        snprintf(p, sizeof p, "assets/configs/%s/config.json", DIRS[k]);
        cJSON *cj = test_read_json(p);
        REQUIRE(cj);
        double L = jnum(cj, "num_hidden_layers"), want;
        if (!isnan(jnum(cj, "kv_lora_rank")))      /* MLA: latent + shared rope key */
            want = (jnum(cj, "kv_lora_rank") + jnum(cj, "qk_rope_head_dim")) * L * 2;
        else {
            double hd = !isnan(jnum(cj, "head_dim")) ? jnum(cj, "head_dim") : jnum(cj, "hidden_size") / jnum(cj, "num_attention_heads");
            want = 2 * jnum(cj, "num_key_value_heads") * hd * L * 2;
        }
        CHECK_STR(t->cfg[k].dir, DIRS[k]);
        CHECK_MSG(t->cfg[k].kv_bytes == want, "%s: %g B/token, config gives %g", DIRS[k], t->cfg[k].kv_bytes, want);
        cJSON_Delete(cj);
    }
    /* each bundled model is its variant by name */
    for (int i = 0; i < t->n; i++) {
        if (!t->v[i].bundled[0]) continue;
        char p[256];
        snprintf(p, sizeof p, "assets/models/%s", t->v[i].bundled);
        CHECK_EQ_INT(tradeoff_match(t, p, NULL), i);
    }
    free(t);
    cJSON_Delete(j);
}

TEST(tradeoff_malformed_family_json_is_named) {
    Tradeoff *t = malloc(sizeof *t);
    REQUIRE(t);
    Err e = {0};
    const char *bad1 = "{\"variants\": [{\"name\": \"x\", \"attention\": \"GQA\", \"kv_bytes_per_token\": 10, \"ci95\": [1, 2]}]}";
    CHECK(!tradeoff_parse(bad1, strlen(bad1), "f.json", NULL, t, &e));
    CHECK(strstr(e.msg, "f.json") && strstr(e.msg, "bits_per_byte_mean") && strstr(e.msg, "variants[0]"));
    e = (Err){0};
    const char *bad2 = "{\"variants\": []}";
    CHECK(!tradeoff_parse(bad2, strlen(bad2), "f.json", NULL, t, &e));
    CHECK(strstr(e.msg, "variants") != NULL);
    e = (Err){0};
    CHECK(!tradeoff_parse("{", 1, "f.json", NULL, t, &e));
    CHECK(strstr(e.msg, "not valid JSON") != NULL);
    free(t);
}

/* tmp: a scratch folder (test_in_tmpdir) for the two model folders */
static void view_plots_in(TestCtx *T_, const char *tmp) {
    cJSON *j = test_read_json(FAMILY);
    REQUIRE(j);
    /* the bundled file: gqa2 is the loaded point, with its own numbers */
    char *base = shot(GQA, "--panel tradeoff", NULL);
    REQUIRE(base);
    const cJSON *g = variant(j, "gqa2");
    REQUIRE(g);
    char want[160];
    const cJSON *ci = cJSON_GetObjectItem(g, "ci95");
    snprintf(want, sizeof want, "story-gqa = gqa2 (GQA, 2 KV heads): %.4f bits/byte [%.4f, %.4f]", jnum(g, "bits_per_byte_mean"),
             cJSON_GetArrayItem(ci, 0)->valuedouble, cJSON_GetArrayItem(ci, 1)->valuedouble);
    CHECK_MSG(strstr(base, want) != NULL, "missing '%s' in\n%s", want, base);
    CHECK(strstr(base, "Llama-3-8B 131,072") && strstr(base, "DeepSeek-V3 70,272") && strstr(base, "Qwen3-8B 147,456"));
    /* the Chinese UI names the variant with family.json's label_zh */
    char *zh = shot(GQA, "--panel tradeoff --lang zh", NULL);
    REQUIRE(zh);
    const char *gz = cJSON_GetStringValue(cJSON_GetObjectItem(g, "label_zh"));
    REQUIRE(gz);
    snprintf(want, sizeof want, "gqa2\xef\xbc\x88%s\xef\xbc\x89", gz);      /* gqa2（...） */
    CHECK_MSG(strstr(zh, want) != NULL, "missing '%s' in\n%s", want, zh);
    /* a changed copy beside the model: gqa2 worst by far, mla96 renamed */
    cJSON *gm = (cJSON *)variant(j, "gqa2");
    cJSON_ReplaceItemInObject(gm, "bits_per_byte_mean", cJSON_CreateNumber(1.0500));
    cJSON *nci = cJSON_CreateArray();
    cJSON_AddItemToArray(nci, cJSON_CreateNumber(1.0450));
    cJSON_AddItemToArray(nci, cJSON_CreateNumber(1.0550));
    cJSON_ReplaceItemInObject(gm, "ci95", nci);
    cJSON_DeleteItemFromObject(gm, "label_zh");     /* without it the Chinese UI shows the English label */
    cJSON *m96 = (cJSON *)variant(j, "mla96");
    REQUIRE(m96);
    cJSON_ReplaceItemInObject(m96, "name", cJSON_CreateString("zz96"));
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/a", tmp);
    REQUIRE(scratch(dir, "story-gqa", j));
    char model[1200];
    snprintf(model, sizeof model, "%s/story-gqa", dir);
    char *chg = shot(model, "--panel tradeoff", NULL);
    REQUIRE(chg);
    CHECK_MSG(strstr(chg, "story-gqa = gqa2 (GQA, 2 KV heads): 1.0500 bits/byte [1.0450, 1.0550]") != NULL, "%s", chg);
    CHECK(strstr(chg, "zz96") != NULL && strstr(base, "zz96") == NULL);
    char *chg_zh = shot(model, "--panel tradeoff --lang zh", NULL);
    REQUIRE(chg_zh);
    CHECK_MSG(strstr(chg_zh, "gqa2\xef\xbc\x88GQA, 2 KV heads\xef\xbc\x89") != NULL, "%s", chg_zh);
    CHECK(strstr(chg, "mla96") == NULL);
    /* the y axis now reaches above 1.055, and the loaded marker is the highest point */
    int top_d = row_of(chg, "\xe2\x97\x86"), top_o = row_of(chg, "\xe2\x97\x8f");
    CHECK_MSG(top_d >= 0 && top_o >= 0 && top_d < top_o, "loaded marker at row %d, first other point at row %d", top_d, top_o);
    CHECK(row_of(base, "\xe2\x97\x86") > row_of(base, "\xe2\x97\x8f"));
    /* the same model under another name is found by its shape */
    char dir2[1100];
    snprintf(dir2, sizeof dir2, "%s/b", tmp);
    REQUIRE(scratch(dir2, "my-model", NULL));
    snprintf(model, sizeof model, "%s/my-model", dir2);
    char *shp = shot(model, "--panel tradeoff", ".");
    REQUIRE(shp);
    CHECK_MSG(strstr(shp, "my-model = gqa2 by shape (GQA, 2 KV heads)") != NULL, "%s", shp);
    /* no family.json beside the model nor under the current folder: a message, no plot */
    char *none = shot(model, "--panel tradeoff", dir2);
    REQUIRE(none);
    CHECK_MSG(strstr(none, "no family.json") && strstr(none, "train.py"), "%s", none);
    free(base); free(chg); free(shp); free(none); free(zh); free(chg_zh);
    cJSON_Delete(j);
}

TEST(tradeoff_view_plots_what_family_json_says) {
    if (!have_bundle()) SKIP("bundled models or family.json missing");
    test_in_tmpdir(T_, "tradeoff", view_plots_in);
}

TEST(tradeoff_key_and_action) {
    Scene *sc = scene_new();
    REQUIRE(sc);
    const KeyBinding *b = scene_key_binding(sc, 'f');
    REQUIRE(b);
    CHECK_STR(b->action, "tradeoff.toggle");
    Err e = {0};
    CHECK(scene_do(sc, "tradeoff.toggle", 0, &e));
    CHECK(sc->view.tradeoff);
    CHECK(scene_show_panel(sc, PANEL_KV, &e));   /* a panel key leaves the view */
    CHECK(!sc->view.tradeoff);
    scene_free(sc);
}

/* the compare band's header: "... mean nats/token: loss A x  B y  B−A d  KL(A‖B) k" */
static bool band_means(const Canvas *c, double *a, double *b, double *k) {
    char *d = canvas_to_text(c);
    const char *p = d ? strstr(d, "mean nats/token: loss A ") : NULL;
    bool ok = p && sscanf(p, "mean nats/token: loss A %lf  B %lf", a, b) == 2;
    const char *q = p ? strstr(p, "B) ") : NULL;
    ok = ok && q && sscanf(q, "B) %lf", k) == 1;
    free(d);
    return ok;
}

TEST(compare_band_means_equal_compare_json) {
    if (!have_bundle() || !file_exists("assets/models/story-mqa/model.safetensors")) SKIP("bundled models missing");
    const char *text = "One day, a little dog found a red ball in the park. He";
    Err e = {0};
    Session *s1 = session_new(GQA, 0, &e), *s2 = session_new("assets/models/story-mqa", 0, &e);
    if (!s1 || !s2) { session_free(s1); session_free(s2); REQUIRE(0); }
    App *a = app_new();
    REQUIRE(a);
    app_set_session(a, 0, s1, true);
    app_set_session(a, 1, s2, true);
    CHECK(scene_set_prompt(a->sc, text, true, &e));
    Canvas *c = canvas_new(140, 40);
    REQUIRE(c);
    c->unicode = true;
    c->mono = true;
    app_render(a, c);
    double ma = NAN, mb = NAN, mk = NAN;
    REQUIRE(band_means(c, &ma, &mb, &mk));
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s compare --model %s --model assets/models/story-mqa --text '%s' --json", test_bin(), GQA, text);
    CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    free(out);
    REQUIRE(j);
    CHECK_NEAR(ma, jnum(j, "mean_loss_a"), 5.1e-5);
    CHECK_NEAR(mb, jnum(j, "mean_loss_b"), 5.1e-5);
    CHECK_NEAR(mk, jnum(j, "mean_kl_ab"), 5.1e-5);
    /* the same token count: the band scores A's ids, compare scores [BOS] + the text's tokens */
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "loss_a")), a->cmp.r.n);
    /* each strip ends with its value at the cursor's token (the last one) */
    int last = a->cmp.r.n - 1;
    char want[64];
    snprintf(want, sizeof want, "%.3f", cJSON_GetArrayItem(cJSON_GetObjectItem(j, "loss_b"), last)->valuedouble);
    char *d = canvas_to_text(c);
    const char *lb = d ? strstr(d, "loss B") : NULL;
    const char *eol = lb ? strchr(lb, '\n') : NULL;
    CHECK_MSG(lb && eol && strstr(lb, want) && strstr(lb, want) < eol, "loss B at the cursor should read %s", want);
    free(d);
    /* A and B the same model: KL 0 and equal means */
    Session *s3 = session_new(GQA, 0, &e);
    REQUIRE(s3);
    app_set_session(a, 1, s3, true);
    CHECK(scene_set_prompt(a->sc, text, true, &e));
    app_render(a, c);
    REQUIRE(band_means(c, &ma, &mb, &mk));
    CHECK(ma == mb);
    CHECK(mk == 0.0);
    cJSON_Delete(j);
    canvas_free(c);
    app_free(a);
}

/* ---- each label beside its own point ---------------------------------------------------- */

static bool cell_in(const Cell *k, const char *const *gl, int n) {
    for (int i = 0; k && i < n; i++)
        if (k->len == strlen(gl[i]) && !memcmp(k->ch, gl[i], k->len)) return true;
    return false;
}

/* Every variant's label in the trade-off view touches its own marker (beside it, or on the row
 * above or below, corners included), or sits on the marker's column just past a bar one row long
 * (the bar joins them), and no other point touches it as closely; a variant with no label is named under the
 * plot ("not labelled:").
 * At 80x24 the old view put mqa-ffn432 at the far end of its interval bar, 3 rows below its
 * point and beside another. The points are checked against family.json: left to right in order
 * of KV bytes, higher bits/byte higher up. One model and compare mode, the golden screens' sizes
 * and others, English, Chinese, ASCII. */
TEST(tradeoff_labels_touch_their_points) {
    if (!have_bundle() || !file_exists("assets/models/story-mla/model.safetensors")) SKIP("bundled models or family.json missing");
    cJSON *j = test_read_json(FAMILY);
    REQUIRE(j);
    const cJSON *vs = cJSON_GetObjectItem(j, "variants");
    const int nv = cJSON_GetArraySize(vs);
    REQUIRE(nv > 4 && nv <= 64);
    static const int SIZES[][2] = {{80, 24}, {100, 26}, {100, 30}, {100, 32}, {120, 40}, {70, 22}, {60, 20}, {200, 60}};
    static const char *const MARK[] = {"\xe2\x97\x8f", "\xe2\x97\x86", "o", "@"};
    static const char *const BAR[] = {"\xe2\x95\xb7", "\xe2\x95\xb5", "\xe2\x94\x82", "|"};
    int labels = 0, points = 0, away = 0;
    for (int two = 0; two < 2; two++) {
        App *a = fit_app(T_, GQA, two ? "assets/models/story-mla" : NULL);
        REQUIRE(a);
        Err e = {0};
        CHECK(scene_do(a->sc, "tradeoff.toggle", 0, &e));
        for (size_t z = 0; z < sizeof SIZES / sizeof SIZES[0]; z++)
            for (int mode = 0; mode < 3; mode++) {
                i18n_set_lang(mode == 1 ? LANG_ZH : LANG_EN);
                Canvas *c = canvas_new(SIZES[z][0], SIZES[z][1]);
                REQUIRE(c);
                c->unicode = mode < 2;
                app_render(a, c);
                char *text = canvas_to_text(c);
                const char *unl = text ? strstr(text, mode == 1 ? "\xe6\x9c\xaa\xe6\xa0\x87" : "not labelled") : NULL;
                int px[64], py[64];
                for (int i = 0; i < nv; i++) {
                    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(vs, i), "name"));
                    char tn[96];
                    snprintf(tn, sizeof tn, "tradeoff.point:%s", name);
                    int from = 0;
                    const CanvasTarget *pt = canvas_target_find(c, tn, &from);
                    px[i] = py[i] = -1;
                    if (!pt) { FAILF("%dx%d %s%s: no point for %s", SIZES[z][0], SIZES[z][1], mode == 1 ? "zh" : mode ? "ascii" : "en", two ? " compare" : "", name); continue; }
                    points++;
                    const int mx = pt->r.x, my = pt->r.y;
                    px[i] = mx, py[i] = my;
                    CHECK_MSG(cell_in(canvas_cell(c, mx, my), MARK, 4), "%s: no marker at its point (%d,%d)", name, mx, my);
                    snprintf(tn, sizeof tn, "tradeoff.label:%s", name);
                    from = 0;
                    const CanvasTarget *lt = canvas_target_find(c, tn, &from);
                    if (!lt) {
                        /* named under the plot (the line may end in "…", ASCII "~", where it does not fit) */
                        CHECK_MSG(unl && (strstr(unl, name) || strstr(unl, "\xe2\x80\xa6") || strstr(unl, "~")),
                                  "%dx%d: %s has no label and is not named under the plot", SIZES[z][0], SIZES[z][1], name);
                        continue;
                    }
                    labels++;
                    char got[96] = "";
                    size_t o = 0;
                    for (int x = lt->r.x; x < lt->r.x + lt->r.w && o + 4 < sizeof got; x++) {
                        const Cell *k = canvas_cell(c, x, lt->r.y);
                        if (k && k->len) { memcpy(got + o, k->ch, k->len); o += k->len; }
                    }
                    got[o] = 0;
                    CHECK_MSG(!strcmp(got, name), "label of %s reads \"%s\"", name, got);
                    const int x0 = lt->r.x, x1 = lt->r.x + lt->r.w - 1, ly = lt->r.y;
                    const int dx = mx < x0 ? x0 - mx : mx > x1 ? mx - x1 : 0, dy = abs(ly - my);
                    const bool touch = dx <= 1 && dy <= 1;
                    const bool on_bar = dy == 2 && dx == 0 && cell_in(canvas_cell(c, mx, (ly + my) / 2), BAR, 4);
                    /* how the label touches a point: 3 at its end on its row, 2 over or under it,
                     * 1 at a corner; another point touching it as closely as its own reads as its */
#define TOUCH(px_, py_) ((py_) == ly && ((px_) == x0 - 1 || (px_) == x1 + 1) ? 3 : abs((py_) - ly) == 1 && (px_) >= x0 && (px_) <= x1 ? 2 \
                         : abs((py_) - ly) == 1 && ((px_) == x0 - 1 || (px_) == x1 + 1) ? 1 : 0)
                    const int own = TOUCH(mx, my);
                    int other = -1;
                    for (int q = 0; q < nv && other < 0; q++) {
                        if (q == i) continue;
                        const char *qn = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(vs, q), "name"));
                        snprintf(tn, sizeof tn, "tradeoff.point:%s", qn);
                        int f2 = 0;
                        const CanvasTarget *qt = canvas_target_find(c, tn, &f2);
                        if (qt && TOUCH(qt->r.x, qt->r.y) > 0 && TOUCH(qt->r.x, qt->r.y) >= own) other = q;
                    }
#undef TOUCH
                    if (other >= 0 && away++ < 10)
                        FAILF("%dx%d %s%s: label %s touches the point of %s as closely as its own", SIZES[z][0], SIZES[z][1], mode == 1 ? "zh" : mode ? "ascii" : "en",
                              two ? " compare" : "", name, cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(vs, other), "name")));
                    if (!touch && !on_bar && away++ < 10) {
                        char r0[512], r1[512];
                        row_text(c, my, r0, sizeof r0);
                        row_text(c, ly, r1, sizeof r1);
                        FAILF("%dx%d %s%s: label %s at row %d, columns %d-%d; its point at row %d, column %d\n      %s\n      %s", SIZES[z][0],
                              SIZES[z][1], mode == 1 ? "zh" : mode ? "ascii" : "en", two ? " compare" : "", name, ly, x0, x1, my, mx, r0, r1);
                    }
                }
                /* the points are the variants': left to right by bytes, higher bits/byte higher up */
                for (int p = 0; p < nv; p++)
                    for (int q = 0; q < nv; q++) {
                        if (px[p] < 0 || px[q] < 0) continue;
                        const cJSON *vp = cJSON_GetArrayItem(vs, p), *vq = cJSON_GetArrayItem(vs, q);
                        if (jnum(vp, "kv_bytes_per_token") < jnum(vq, "kv_bytes_per_token"))
                            CHECK_MSG(px[p] < px[q], "point %d left of point %d by bytes", p, q);
                        if (jnum(vp, "bits_per_byte_mean") > jnum(vq, "bits_per_byte_mean") + 0.002)
                            CHECK_MSG(py[p] <= py[q], "point %d above point %d by bits/byte", p, q);
                    }
                free(text);
                canvas_free(c);
            }
        app_free(a);
    }
    i18n_set_lang(LANG_EN);
    CHECK_EQ_INT(away, 0);
    CHECK_MSG(labels > points / 2, "%d labels for %d points", labels, points);
    printf("    %d points, %d labels, %d away from their point or touching another\n", points, labels, away);
    cJSON_Delete(j);
}
