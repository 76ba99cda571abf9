/* Fuzzes gen_defaults_from_json (model/gendefaults.c: generation_config.json's do_sample,
 * temperature, top_k, top_p, its scan of a number's text for the int/float type transformers'
 * warpers check, and the note on fields our sampler lacks), then gen_choose (engine/gencfg.c)
 * under every combination of options. Accepted values are in range; every bad field keeps a
 * message naming the file; a refused choice names the file and the option that replaces it; an
 * accepted one is a sampler the engine can use. */
#include <math.h>
#include "fuzz_common.h"
#include "engine/gencfg.h"
#include "model/model.h"

static void check_str(const char *s, size_t cap, const char *what) {
    if (!memchr(s, 0, cap)) fuzz_fail("%s not terminated", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *name = "fuzz/generation_config.json";
    ModelSpec s;
    memset(&s, 0, sizeof s);
    if (!gen_defaults_from_json(&s.gen, (const char *)data, size, name)) return 0;   /* not a JSON object: ignored */
    const GenDefaults *g = &s.gen;
    if (g->source != GEN_SRC_JSON) fuzz_fail("source %d after a parse", g->source);
    if (!(g->temperature >= 0) || !isfinite(g->temperature)) fuzz_fail("temperature %g accepted", (double)g->temperature);
    if (g->top_k < 0) fuzz_fail("top_k %d accepted", g->top_k);
    if (!(g->top_p > 0 && g->top_p <= 1)) fuzz_fail("top_p %g accepted", (double)g->top_p);
    for (int f = 0; f < GEN_NFIELDS; f++) {
        check_str(g->bad[f], sizeof g->bad[f], "a bad field's message");
        if (g->bad[f][0] && !strstr(g->bad[f], name)) fuzz_fail("message does not name the file: %s", g->bad[f]);
    }
    for (int smp = 0; smp < 2; smp++) {   /* the notes of a greedy and of a sampling decode; the first's fields are the second's too */
        const char *note = gen_defaults_unapplied(g, smp);
        check_str(note, sizeof g->unapplied, "the note");
        if (note[0] && !strstr(note, name)) fuzz_fail("note does not name the file: %s", note);
    }
    if (g->unapplied[0] && !g->unapplied_sampling[0]) fuzz_fail("a greedy decode's note without a sampling one: %s", g->unapplied);
    for (int m = 0; m < 16; m++) {   /* --greedy, --temp 0.5, --top-k 3, --top-p 0.5 in every combination */
        GenOverride o = {.greedy = m & 1, .has_temp = (m >> 1) & 1, .temperature = 0.5f, .has_top_k = (m >> 2) & 1, .top_k = 3,
                         .has_top_p = (m >> 3) & 1, .top_p = 0.5f, .seed = 1};
        GenChoice c;
        Err e = {0};
        if (!gen_choose(&s, &o, &c, &e)) {
            fuzz_check_err(&e, name, "gen_choose");
            if (!strstr(e.msg, "--")) fuzz_fail("refusal names no option: %s", e.msg);
            continue;
        }
        if (!c.cfg.greedy && (!(c.cfg.temperature > 0) || !isfinite(c.cfg.temperature) || c.cfg.top_k < 0 ||
                              !(c.cfg.top_p > 0 && c.cfg.top_p <= 1)))
            fuzz_fail("sampler T %g k %d p %g chosen", (double)c.cfg.temperature, c.cfg.top_k, (double)c.cfg.top_p);
        char d[400];
        gen_describe(&c, true, d, sizeof d);
        check_str(d, sizeof d, "the description");
    }
    return 0;
}
