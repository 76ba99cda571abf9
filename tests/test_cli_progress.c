/* tui --run before the UI opens (cli_run_with_progress): the prompt in pieces and the steps, with
 * a progress line, leave the session exactly as the same number of session_step calls. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "cli/cli.h"
#include "session/session.h"
#include "trace/trace.h"

#define MA "assets/models/story-gqa"

TEST(cli_run_with_progress_equals_steps) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors")) SKIP(MA " not available");
    /* a prompt of some hundred tokens, so that it runs in several pieces of 64 */
    char text[4096] = "";
    for (int i = 0; i < 24; i++) strcat(text, "Once upon a time there was a little dog. ");
    Session *a = session_new(MA, 0, &e), *b = session_new(MA, 0, &e);
    REQUIRE(a && b);
    REQUIRE(session_set_prompt(a, text, &e) && session_set_prompt(b, text, &e));
    const int n = session_n_prompt(a);
    CHECK_MSG(n > 3 * 64, "the prompt has %d tokens: fewer than three pieces", n);
    FILE *f = tmpfile();
    REQUIRE(f);
    CHECK_MSG(cli_run_with_progress(a, 4, 64, f, &e), "%s", e.msg);
    for (int i = 0; i < 4; i++) REQUIRE(session_step(b, &e));
    /* the same positions, ids, next ids, phases and residuals */
    CHECK_EQ_INT(session_len(a), session_len(b));
    CHECK_EQ_INT(session_cursor(a), session_cursor(b));
    const int D = session_model(a)->spec.d_model, L = session_model(a)->spec.n_layers;
    double worst = 0;
    int differ = 0;
    for (int p = 0; p < session_len(a); p++) {
        const TraceTok *x = trace_tok(session_trace(a), p), *y = trace_tok(session_trace(b), p);
        if (!x || !y || x->id != y->id || x->next_id != y->next_id || x->phase != y->phase) { differ++; continue; }
        for (int i = 0; i < (L + 1) * D; i++) worst = fmax(worst, fabs((double)x->resid[i] - (double)y->resid[i]));
    }
    CHECK_EQ_INT(differ, 0);
    CHECK_MSG(worst < 1e-4, "residuals differ by %g", worst);
    /* the progress: each piece, then each decode step, and the line cleared at the end */
    rewind(f);
    char out[4096] = "";
    size_t got = fread(out, 1, sizeof out - 1, f);
    out[got] = 0;
    fclose(f);
    char want[64];
    snprintf(want, sizeof want, "running the prompt: 64/%d", n);
    CHECK_MSG(strstr(out, want) != NULL, "no '%s' in '%s'", want, out);
    snprintf(want, sizeof want, "running the prompt: %d/%d", n, n);
    CHECK_MSG(strstr(out, want) != NULL, "no '%s' in '%s'", want, out);
    CHECK_MSG(strstr(out, "step 2/4") && strstr(out, "step 4/4") && !strstr(out, "step 1/4"), "%s", out);
    CHECK(got >= 4 && !strcmp(out + got - 4, "\r\033[K"));
    /* no progress file: the same run, nothing printed */
    Session *c = session_new(MA, 0, &e);
    REQUIRE(c);
    REQUIRE(session_set_prompt(c, text, &e));
    CHECK(cli_run_with_progress(c, 4, 64, NULL, &e));
    CHECK_EQ_INT(session_len(c), session_len(b));
    session_free(a);
    session_free(b);
    session_free(c);
}
