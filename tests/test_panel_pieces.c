/* Panels that compute in pieces between frames when the UI is interactive (PanelCtx.deadline):
 * the Residual panel's logit lens (pieces of the unembedding) and the FFN panel's activations of
 * every layer. Each frame computes at least one piece and no more once its deadline has passed;
 * what the panel shows once done is the frame drawn without a deadline, cell for cell. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "scene/scene.h"
#include "session/session.h"
#include "trace/trace.h"
#include "tui/app.h"
#include "tui/canvas.h"

#define MP "assets/models/story-gqa"
#define PROMPT "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."

static App *app_on(const char *model, bool chunked, Err *e) {
    App *a = app_new();
    Session *s = a ? session_new(model, 0, e) : NULL;
    if (!s) { if (a) app_free(a); return NULL; }
    app_set_session(a, 0, s, true);
    if (!session_set_prompt(s, PROMPT, e) || !session_step(s, e)) { app_free(a); return NULL; }
    a->sc->chunked = chunked;
    a->panel_budget_ms = 0;   /* interactive: one piece per frame */
    return a;
}

static char *panel_text(App *a, Canvas *c, int panel) {
    app_render_panel(a, c, panel);
    return canvas_to_text(c);
}

/* The lens of story-gqa's 2,048-token vocabulary is two pieces of 1,024 rows: the first frame
 * says how far it is ("computing: 50%", no token yet) and asks for another; the second is the
 * frame drawn in one go. The old panel drew the whole lens in the first frame. */
TEST(residual_lens_in_pieces_draws_the_same_frame) {
    Err e = {0};
    if (!file_exists(MP "/model.safetensors")) SKIP(MP " not available");
    const int sizes[2][2] = {{100, 30}, {130, 40}};   /* the table under the map, and beside it */
    for (int z = 0; z < 2; z++) {
        App *ref = app_on(MP, false, &e), *a = app_on(MP, true, &e);
        Canvas *c = canvas_new(sizes[z][0], sizes[z][1]);
        REQUIRE(ref && a && c);
        c->unicode = true;
        char *want = panel_text(ref, c, PANEL_RESIDUAL);
        CHECK(!ref->panels_more);
        REQUIRE(want && !strstr(want, "computing"));
        char *first = panel_text(a, c, PANEL_RESIDUAL);
        CHECK(a->panels_more);
        CHECK_MSG(first && strstr(first, "computing: 50%"), "%dx%d first frame:\n%s", sizes[z][0], sizes[z][1], first ? first : "");
        CHECK(first && strcmp(first, want) != 0);
        int frames = 1;
        char *got = NULL;
        while (a->panels_more && frames < 10) {
            free(got);
            got = panel_text(a, c, PANEL_RESIDUAL);
            frames++;
        }
        CHECK_EQ_INT(frames, 2);
        CHECK_MSG(got && !strcmp(got, want), "%dx%d after %d frames:\n%s\nwanted:\n%s", sizes[z][0], sizes[z][1], frames, got ? got : "", want);
        /* a later frame with nothing new computes nothing and asks for nothing */
        free(got);
        got = panel_text(a, c, PANEL_RESIDUAL);
        CHECK(!a->panels_more && got && !strcmp(got, want));
        /* another position: the lens starts over, in pieces again */
        REQUIRE(session_back(a->sc->ses[0]) && session_back(ref->sc->ses[0]));
        free(got);
        free(want);
        want = panel_text(ref, c, PANEL_RESIDUAL);
        got = panel_text(a, c, PANEL_RESIDUAL);
        CHECK(a->panels_more && got && strstr(got, "computing: 50%"));
        free(got);
        got = panel_text(a, c, PANEL_RESIDUAL);
        CHECK(!a->panels_more && got && want && !strcmp(got, want));
        free(got); free(want); free(first);
        canvas_free(c);
        app_free(a);
        app_free(ref);
    }
}

static int layers_ready(App *a) {
    const Trace *t = session_trace(a->sc->ses[0]);
    int n = 0;
    for (int l = 0; l < trace_dims(t)->n_layers; l++) n += trace_mlp_post_ready(t, session_cursor(a->sc->ses[0]), l);
    return n;
}

/* The FFN panel recomputes the activation of each layer at the cursor (two matvecs a layer; the
 * sparkline reads all of them): with one piece per frame, the first frame computes the selected
 * layer only (the others drawn as '·'), each later frame one more layer, and the last frame is
 * the one drawn in one go. The old panel computed every layer in its first frame. */
TEST(ffn_layers_in_pieces_one_a_frame) {
    Err e = {0};
    if (!file_exists(MP "/model.safetensors")) SKIP(MP " not available");
    App *ref = app_on(MP, false, &e), *a = app_on(MP, true, &e);
    Canvas *c = canvas_new(100, 30);
    REQUIRE(ref && a && c);
    c->unicode = true;
    const int L = session_model(a->sc->ses[0])->spec.n_layers;
    REQUIRE(L > 2);
    char *want = panel_text(ref, c, PANEL_FFN);
    CHECK(!ref->panels_more);
    CHECK_EQ_INT(layers_ready(ref), L);
    CHECK_EQ_INT(layers_ready(a), 0);
    char *got = NULL;
    int frames = 0;
    do {
        free(got);
        got = panel_text(a, c, PANEL_FFN);
        frames++;
        CHECK_EQ_INT(layers_ready(a), frames);
        if (frames == 1) CHECK_MSG(got && strstr(got, "\xc2\xb7"), "first frame without a pending layer:\n%s", got ? got : "");
    } while (a->panels_more && frames <= L);
    CHECK_EQ_INT(frames, L);
    CHECK_MSG(got && want && !strcmp(got, want), "after %d frames:\n%s\nwanted:\n%s", frames, got ? got : "", want ? want : "");
    free(got); free(want);
    canvas_free(c);
    app_free(a);
    app_free(ref);
}
