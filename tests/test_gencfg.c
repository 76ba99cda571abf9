/* Generation defaults as transformers and llama.cpp read them, and options over them:
 *  - generation_config.json's do_sample / temperature / top_k / top_p, each field the file leaves
 *    out taking transformers' GenerationConfig default (do_sample false, 1, 50, 1), null switching
 *    a filter off; a field of the wrong type or value recorded with file, field and value;
 *  - GGUF general.sampling.temp / top_k / top_p (gguf-py's Keys.General.SAMPLING_*, written by
 *    gguf-py's metadata from generation_config.json; llama.cpp's common.cpp takes them as the
 *    model's defaults), any of them meaning do_sample;
 *  - each option overriding only its own field, as generate(temperature=0.7) keeps the file's
 *    top_k and top_p (GenerationConfig.update on a copy of the model's config);
 *  - the CLI: the settings each combination decodes with (outputs compared with the explicit
 *    options they stand for), the note naming where each setting came from, the error and exit
 *    status for a bad field a command needs. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "gencfg_fx.h"
#include "gguf_fx.h"
#include <cjson/cJSON.h>
#include "core/gguf.h"
#include "core/path.h"
#include "engine/gencfg.h"
#include "model/model.h"

static bool from_json(GenDefaults *g, const char *json) {
    return gen_defaults_from_json(g, json, strlen(json), "m/generation_config.json");
}

/* generation_config.json fields transformers applies and our sampler lacks: a warning naming them
 * (Qwen2.5-Instruct's file sets repetition_penalty 1.05), none at their neutral values; for a greedy
 * decode only the logits processors that act then (repetition_penalty, no_repeat_ngram_size), for a
 * sampling one the warpers too (min_p, typical_p, ...), whatever the file's do_sample */
TEST(gencfg_generation_config_unapplied_fields_warned) {
    static const struct { const char *json, *greedy, *sampling; } cases[] = {
        {"{\"do_sample\": true, \"repetition_penalty\": 1.05, \"temperature\": 0.7, \"top_p\": 0.8, \"top_k\": 20}",
         "m/generation_config.json: \"repetition_penalty\" 1.05: not applied (llmscope samples with temperature, top_k and top_p only; "
         "transformers' generate() would apply it)",
         "m/generation_config.json: \"repetition_penalty\" 1.05: not applied (llmscope samples with temperature, top_k and top_p only; "
         "transformers' generate() would apply it)"},
        {"{\"do_sample\": true, \"min_p\": 0.05, \"no_repeat_ngram_size\": 3, \"typical_p\": \"x\"}",
         "m/generation_config.json: \"no_repeat_ngram_size\" 3: not applied",
         "\"no_repeat_ngram_size\" 3, \"min_p\" 0.05, \"typical_p\" the string \"x\": not applied"},
        {"{\"do_sample\": true, \"min_p\": 0.05}", "", "m/generation_config.json: \"min_p\" 0.05: not applied"},
        {"{\"min_p\": 0.05, \"typical_p\": 0.9}", "", "\"min_p\" 0.05, \"typical_p\" 0.9: not applied"},
        {"{\"do_sample\": true, \"repetition_penalty\": 1.0, \"min_p\": null, \"typical_p\": 1, \"epsilon_cutoff\": 0, "
         "\"eta_cutoff\": 0, \"no_repeat_ngram_size\": 0}", "", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        GenDefaults g;
        REQUIRE(from_json(&g, cases[i].json));
        for (int smp = 0; smp < 2; smp++) {
            const char *want = smp ? cases[i].sampling : cases[i].greedy, *got = gen_defaults_unapplied(&g, smp);
            CHECK_MSG(want[0] ? strstr(got, want) != NULL : !got[0], "%s (%s): note \"%s\", wanted \"%s\"", cases[i].json,
                      smp ? "sampling" : "greedy", got, want);
        }
    }
}

TEST(gencfg_generation_config_fields_as_transformers) {
    static const struct {
        const char *json;
        bool do_sample;
        float temp;
        int top_k;
        float top_p;
        int bad;                 /* GenField with a message, -1: none */
        const char *msg;         /* substring of that message */
    } cases[] = {
        {"{}", false, 1, 50, 1, -1, NULL},
        {"{\"bos_token_id\": 0, \"eos_token_id\": 0}", false, 1, 50, 1, -1, NULL},
        {"{\"do_sample\": true}", true, 1, 50, 1, -1, NULL},   /* top_k left out: 50, as generate() */
        {"{\"do_sample\": true, \"temperature\": 0.6, \"top_k\": 20, \"top_p\": 0.95}", true, 0.6f, 20, 0.95f, -1, NULL},
        {"{\"do_sample\": true, \"temperature\": null, \"top_k\": null, \"top_p\": null}", true, 1, 0, 1, -1, NULL},
        /* temperature 0: transformers' TemperatureLogitsWarper refuses it (0 and 0.0), so sampling cannot use it */
        {"{\"do_sample\": false, \"temperature\": 0}", false, 1, 50, 1, GEN_TEMPERATURE,
         "m/generation_config.json: \"temperature\" is 0: sampling needs a temperature above 0 (transformers' generate() refuses 0; "
         "\"do_sample\": false or --greedy decodes greedily)"},
        {"{\"do_sample\": true, \"temperature\": 0.0}", true, 1, 50, 1, GEN_TEMPERATURE, "\"temperature\" is 0.0: sampling needs a temperature above 0"},
        {"{\"top_k\": 0}", false, 1, 0, 1, -1, NULL},
        {"{\"top_k\": 1000000000000}", false, 1, 2147483647, 1, -1, NULL},
        /* the number's Python type, as transformers' warpers check it: a temperature written as an int
         * other than 1 and a top_k written as a float other than 0 are refused */
        {"{\"do_sample\": true, \"temperature\": 1, \"top_k\": 0.0}", true, 1, 0, 1, -1, NULL},
        {"{\"temperature\": 2.0, \"top_k\": 40}", false, 2, 40, 1, -1, NULL},
        {"{\"temperature\": 2e0}", false, 2, 50, 1, -1, NULL},
        {"{\"do_sample\": true, \"temperature\": 2}", true, 1, 50, 1, GEN_TEMPERATURE,
         "m/generation_config.json: \"temperature\" is 2: an integer, and transformers' generate() takes a float only (write 2.0)"},
        {"{ \"temperature\" :\n -3 }", false, 1, 50, 1, GEN_TEMPERATURE, "\"temperature\" is -3: it must be above 0"},
        {"{\"top_k\": 50.0}", false, 1, 50, 1, GEN_TOP_K,
         "m/generation_config.json: \"top_k\" is 50.0: a float, and transformers' generate() takes an integer only (write 50)"},
        {"{\"top_k\": 5E1}", false, 1, 50, 1, GEN_TOP_K, "\"top_k\" is 5E1: a float"},
        {"{\"top_k\": 1e12}", false, 1, 50, 1, GEN_TOP_K, "\"top_k\" is 1e12: a float, and transformers' generate() takes an integer only (write 1000000000000)"},
        /* the top-level member only, the first one as cJSON reads it */
        {"{\"a\": {\"top_k\": 5.0, \"b\": [1, {\"temperature\": 3}]}, \"s\": \"\\\"top_k\\\": 6.0\", \"top_k\": 7, \"temperature\": 3.5}",
         false, 3.5f, 7, 1, -1, NULL},
        {"{\"top_p\": 1}", false, 1, 50, 1, -1, NULL},
        /* wrong types: kept out of the values, each named with the file, the field and the value */
        {"{\"do_sample\": true, \"top_k\": \"50\"}", true, 1, 50, 1, GEN_TOP_K,
         "m/generation_config.json: \"top_k\" must be a whole number or null, not the string \"50\""},
        {"{\"do_sample\": true, \"temperature\": [1]}", true, 1, 50, 1, GEN_TEMPERATURE,
         "m/generation_config.json: \"temperature\" must be a number or null, not an array"},
        {"{\"do_sample\": \"true\"}", false, 1, 50, 1, GEN_DO_SAMPLE, "\"do_sample\" must be true or false, not the string \"true\""},
        {"{\"do_sample\": 1}", false, 1, 50, 1, GEN_DO_SAMPLE, "\"do_sample\" must be true or false, not the number 1"},
        {"{\"do_sample\": null}", false, 1, 50, 1, GEN_DO_SAMPLE, "\"do_sample\" must be true or false, not null"},
        {"{\"top_p\": {\"a\": 1}}", false, 1, 50, 1, GEN_TOP_P, "\"top_p\" must be a number or null, not an object"},
        {"{\"top_k\": true}", false, 1, 50, 1, GEN_TOP_K, "\"top_k\" must be a whole number or null, not true"},   /* torch.topk takes no bool */
        /* Python's bool is an int: generate() builds no warper for a temperature or top_p == 1.0 or a
         * top_k == 0, so true, true and false there act as 1, 1 and 0; the others reach a warper */
        {"{\"do_sample\": true, \"temperature\": true, \"top_p\": true, \"top_k\": false}", true, 1, 0, 1, -1, NULL},
        {"{\"temperature\": false}", false, 1, 50, 1, GEN_TEMPERATURE, "\"temperature\" is false (0 to Python): sampling needs a temperature above 0"},
        {"{\"do_sample\": true, \"top_p\": false}", true, 1, 50, 1, GEN_TOP_P, "\"top_p\" is false (0 to Python): it must be above 0 and at most 1"},
        /* bad values */
        {"{\"top_k\": -1}", false, 1, 50, 1, GEN_TOP_K, "\"top_k\" is -1: it must be at least 0"},
        {"{\"top_k\": 20.5}", false, 1, 50, 1, GEN_TOP_K, "\"top_k\" is 20.5: it must be a whole number"},
        {"{\"top_p\": 0}", false, 1, 50, 1, GEN_TOP_P, "\"top_p\" is 0: it must be above 0 and at most 1"},
        {"{\"top_p\": 1.5}", false, 1, 50, 1, GEN_TOP_P, "\"top_p\" is 1.5: it must be above 0 and at most 1"},
        {"{\"top_p\": -0.1}", false, 1, 50, 1, GEN_TOP_P, "\"top_p\" is -0.1"},
        {"{\"temperature\": -0.5}", false, 1, 50, 1, GEN_TEMPERATURE, "\"temperature\" is -0.5: it must be above 0 (\"do_sample\": false decodes greedily)"},
        {"{\"temperature\": 1e999}", false, 1, 50, 1, GEN_TEMPERATURE, "\"temperature\" is inf: it must be a finite number"},
        {"{\"temperature\": 1e300}", false, 1, 50, 1, GEN_TEMPERATURE, "\"temperature\" is 1e+300: it must be a finite number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        GenDefaults g;
        REQUIRE(from_json(&g, cases[i].json));
        CHECK_MSG(g.source == GEN_SRC_JSON && !strcmp(g.file, "generation_config.json"), "%s: source %d", cases[i].json, g.source);
        CHECK_MSG(g.do_sample == cases[i].do_sample, "%s: do_sample %d", cases[i].json, g.do_sample);
        CHECK_MSG(g.temperature == cases[i].temp, "%s: temperature %g", cases[i].json, (double)g.temperature);
        CHECK_MSG(g.top_k == cases[i].top_k, "%s: top_k %d", cases[i].json, g.top_k);
        CHECK_MSG(g.top_p == cases[i].top_p, "%s: top_p %g", cases[i].json, (double)g.top_p);
        for (int f = 0; f < GEN_NFIELDS; f++) {
            if (f == cases[i].bad)
                CHECK_MSG(strstr(g.bad[f], cases[i].msg), "%s: field %d: message \"%s\", wanted \"%s\"", cases[i].json, f, g.bad[f], cases[i].msg);
            else CHECK_MSG(!g.bad[f][0], "%s: field %d: unexpected message \"%s\"", cases[i].json, f, g.bad[f]);
        }
    }
    GenDefaults g;
    CHECK(!from_json(&g, "[1, 2]"));   /* not an object: the loader warns and ignores the file, as transformers */
    CHECK(!from_json(&g, "{\"top_k\": "));
    CHECK(g.source == GEN_SRC_NONE && g.top_k == 50 && !g.do_sample);
}

/* What each combination of options decodes with, over the model's defaults. */
TEST(gencfg_options_override_only_their_field) {
    typedef struct { bool greedy, ht, hk, hp; float t; int k; float p; } Ov;
    static const struct {
        const char *json;        /* NULL: no generation_config.json */
        Ov o;
        bool greedy;             /* the result */
        float t;
        int k;
        float p;
        bool merged;
        const char *desc;        /* gen_describe with the seed (NULL: not checked) */
    } cases[] = {
        /* no options: the file (or transformers' defaults) alone */
        {NULL, {0}, true, 1, 0, 1, false, "greedy (transformers' default: do_sample false)"},
        {"{\"do_sample\": true, \"temperature\": 0.6, \"top_k\": 20, \"top_p\": 0.95}", {0}, false, 0.6f, 20, 0.95f, false,
         "sampling with temperature 0.6, top_k 20, top_p 0.95 (generation_config.json), seed 42"},
        {"{\"do_sample\": false, \"temperature\": 0.6}", {0}, true, 1, 0, 1, false, "greedy (generation_config.json: do_sample false)"},
        /* one option: that field only, the rest from the file; transformers' default for what it lacks */
        {"{\"do_sample\": true, \"temperature\": 0.6, \"top_k\": 20, \"top_p\": 0.95}", {.ht = true, .t = 0.7f}, false, 0.7f, 20, 0.95f, true,
         "sampling with temperature 0.7 (--temp), top_k 20, top_p 0.95 (generation_config.json), seed 42"},
        {"{\"do_sample\": true, \"temperature\": 0.6, \"top_k\": 20, \"top_p\": 0.95}", {.hk = true, .k = 0}, false, 0.6f, 0, 0.95f, true,
         "sampling with temperature 0.6 (generation_config.json), no top_k (--top-k), top_p 0.95 (generation_config.json), seed 42"},
        {"{\"do_sample\": true, \"temperature\": 0.6}", {.hp = true, .p = 0.5f}, false, 0.6f, 50, 0.5f, true,
         "sampling with temperature 0.6 (generation_config.json), top_k 50 (transformers' default), top_p 0.5 (--top-p), seed 42"},
        /* an option on a greedy model samples (transformers would warn and stay greedy), with the file's other fields */
        {"{\"do_sample\": false, \"temperature\": 0.6, \"top_p\": 0.9}", {.hk = true, .k = 5}, false, 0.6f, 5, 0.9f, true, NULL},
        {NULL, {.ht = true, .t = 0.8f}, false, 0.8f, 50, 1, true,
         "sampling with temperature 0.8 (--temp), top_k 50, top_p 1 (transformers' default), seed 42"},
        /* all three given: nothing from the model, no note */
        {"{\"do_sample\": true, \"temperature\": 0.6, \"top_k\": 20, \"top_p\": 0.95}",
         {.ht = true, .t = 1, .hk = true, .k = 0, .hp = true, .p = 1}, false, 1, 0, 1, false, NULL},
        /* greedy: --greedy, --temp 0 */
        {"{\"do_sample\": true, \"temperature\": 0.6}", {.greedy = true}, true, 1, 0, 1, false, "greedy (--greedy)"},
        {"{\"do_sample\": true, \"temperature\": 0.6}", {.ht = true, .t = 0, .hk = true, .k = 3}, true, 1, 0, 1, false, "greedy (--temp 0)"},
        /* the file's temperature 0 is not needed by a greedy decode, nor when --temp replaces it */
        {"{\"temperature\": 0}", {0}, true, 1, 0, 1, false, "greedy (transformers' default: do_sample false)"},
        {"{\"do_sample\": true, \"temperature\": 0}", {.greedy = true}, true, 1, 0, 1, false, "greedy (--greedy)"},
        {"{\"do_sample\": true, \"temperature\": 0, \"top_k\": 7}", {.ht = true, .t = 0.5f}, false, 0.5f, 7, 1, true, NULL},
        /* a bad field that is not used: no error */
        {"{\"do_sample\": \"yes\"}", {.ht = true, .t = 0.5f}, false, 0.5f, 50, 1, true, NULL},
        {"{\"top_k\": \"50\"}", {0}, true, 1, 0, 1, false, NULL},
        {"{\"do_sample\": true, \"top_k\": \"50\"}", {.hk = true, .k = 7}, false, 1, 7, 1, true, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ModelSpec s;
        memset(&s, 0, sizeof s);
        if (cases[i].json) REQUIRE(from_json(&s.gen, cases[i].json));
        else gen_defaults_reset(&s.gen);
        const Ov *v = &cases[i].o;
        GenOverride o = {.greedy = v->greedy, .has_temp = v->ht, .has_top_k = v->hk, .has_top_p = v->hp,
                         .temperature = v->t, .top_k = v->k, .top_p = v->p, .seed = 42};
        GenChoice c;
        Err e = {0};
        const char *j = cases[i].json ? cases[i].json : "(none)";
        REQUIRE(gen_choose(&s, &o, &c, &e));
        CHECK_MSG(c.cfg.greedy == cases[i].greedy, "case %zu %s: greedy %d", i, j, c.cfg.greedy);
        if (!cases[i].greedy) {
            CHECK_MSG(c.cfg.temperature == cases[i].t && c.cfg.top_k == cases[i].k && c.cfg.top_p == cases[i].p,
                      "case %zu %s: T %g k %d p %g, wanted %g %d %g", i, j, (double)c.cfg.temperature, c.cfg.top_k,
                      (double)c.cfg.top_p, (double)cases[i].t, cases[i].k, (double)cases[i].p);
        }
        CHECK_MSG(c.cfg.seed == 42, "case %zu: seed", i);
        CHECK_MSG(c.merged == cases[i].merged, "case %zu %s: merged %d", i, j, c.merged);
        if (cases[i].desc) {
            char d[400];
            gen_describe(&c, true, d, sizeof d);
            CHECK_MSG(!strcmp(d, cases[i].desc), "case %zu %s: \"%s\", wanted \"%s\"", i, j, d, cases[i].desc);
        }
    }
}

/* A bad field the choice needs: an error naming the file, the field and the option that replaces it. */
TEST(gencfg_bad_field_used_is_an_error) {
    static const struct { const char *json; bool ht; float t; const char *a, *b; } cases[] = {
        {"{\"do_sample\": \"yes\"}", false, 0, "\"do_sample\" must be true or false", "give --greedy or a sampling option"},
        {"{\"do_sample\": true, \"top_k\": \"50\"}", false, 0, "\"top_k\" must be a whole number or null, not the string \"50\"", "give --top-k"},
        {"{\"top_k\": \"50\"}", true, 0.5f, "\"top_k\" must be a whole number", "give --top-k"},   /* --temp samples: top_k needed */
        {"{\"do_sample\": true, \"temperature\": -1}", false, 0, "\"temperature\" is -1", "give --temp"},
        {"{\"do_sample\": true, \"top_p\": 2}", false, 0, "\"top_p\" is 2", "give --top-p"},
        /* temperature 0 with do_sample true: transformers' generate() raises ("has to be a strictly positive
         * float ... set `do_sample=False`"); here an error naming the file and the field */
        {"{\"do_sample\": true, \"temperature\": 0}", false, 0, "\"temperature\" is 0: sampling needs a temperature above 0", "give --temp"},
        {"{\"do_sample\": true, \"temperature\": 0.0, \"top_k\": 20}", false, 0, "\"temperature\" is 0.0", "give --temp"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ModelSpec s;
        memset(&s, 0, sizeof s);
        REQUIRE(from_json(&s.gen, cases[i].json));
        GenOverride o = {.has_temp = cases[i].ht, .temperature = cases[i].t, .seed = 1};
        GenChoice c;
        Err e = {0};
        CHECK_MSG(!gen_choose(&s, &o, &c, &e), "%s: accepted", cases[i].json);
        CHECK_MSG(strstr(e.msg, "m/generation_config.json: ") && strstr(e.msg, cases[i].a) && strstr(e.msg, cases[i].b),
                  "%s: \"%s\"", cases[i].json, e.msg);
    }
}

/* Every bad field the choice needs is named at once, one line each with the option replacing it;
 * an option given for a field takes it off the list; fields the choice does not need are not named. */
TEST(gencfg_every_bad_field_named_at_once) {
    static const struct {
        const char *json;
        bool ht, hk, greedy_ok;
        const char *head;            /* first line; NULL: accepted */
        const char *lines[4];        /* the lines after it, in order */
    } cases[] = {
        {"{\"do_sample\": true, \"temperature\": 2, \"top_k\": 50.0, \"top_p\": 2}", false, false, false,
         "3 sampling fields of generation_config.json are wrong; fix the file, or give the options named:",
         {"  m/generation_config.json: \"temperature\" is 2: an integer, and transformers' generate() takes a float only (write 2.0); --temp replaces it",
          "  m/generation_config.json: \"top_k\" is 50.0: a float, and transformers' generate() takes an integer only (write 50); --top-k replaces it",
          "  m/generation_config.json: \"top_p\" is 2: it must be above 0 and at most 1 (1 = all tokens); --top-p replaces it"}},
        {"{\"do_sample\": true, \"temperature\": 2, \"top_k\": 50.0, \"top_p\": 2}", true, false, false,
         "2 sampling fields of generation_config.json are wrong", {"\"top_k\" is 50.0", "\"top_p\" is 2"}},
        {"{\"do_sample\": \"yes\", \"top_k\": \"x\"}", false, false, false, "2 sampling fields",
         {"\"do_sample\" must be true or false, not the string \"yes\"; --greedy or a sampling option (--temp, --top-k, --top-p) replaces it",
          "\"top_k\" must be a whole number or null, not the string \"x\"; --top-k replaces it"}},
        {"{\"do_sample\": true, \"temperature\": 2, \"top_k\": 50.0}", true, true, false, NULL, {NULL}},
        /* greedy: nothing needed */
        {"{\"temperature\": 2, \"top_k\": 50.0, \"top_p\": 2}", false, false, true, NULL, {NULL}},
        /* a temperature of 0 is named with the other fields sampling would need */
        {"{\"do_sample\": true, \"temperature\": 0, \"top_k\": -4, \"top_p\": 7}", false, false, false,
         "3 sampling fields of generation_config.json are wrong", {"\"temperature\" is 0: sampling needs", "\"top_k\" is -4", "\"top_p\" is 7"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ModelSpec s;
        memset(&s, 0, sizeof s);
        REQUIRE(from_json(&s.gen, cases[i].json));
        GenOverride o = {.has_temp = cases[i].ht, .temperature = 0.5f, .has_top_k = cases[i].hk, .top_k = 3, .seed = 1};
        GenChoice c;
        Err e = {0};
        bool ok = gen_choose(&s, &o, &c, &e);
        if (!cases[i].head) {
            CHECK_MSG(ok && c.cfg.greedy == cases[i].greedy_ok, "%s: %d %s", cases[i].json, ok, e.msg);
            continue;
        }
        CHECK_MSG(!ok && !strncmp(e.msg, cases[i].head, strlen(cases[i].head)), "%s: \"%s\"", cases[i].json, e.msg);
        char lines[8][400];   /* the message's lines after the first */
        int nl = 0;
        for (const char *p = strchr(e.msg, '\n'); p && nl < 8; p = strchr(p + 1, '\n'), nl++)
            snprintf(lines[nl], sizeof lines[nl], "%.*s", (int)strcspn(p + 1, "\n"), p + 1);
        int n = 0;
        while (n < 4 && cases[i].lines[n]) n++;
        CHECK_MSG(nl == n, "%s: %d lines after the first, wanted %d: \"%s\"", cases[i].json, nl, n, e.msg);
        for (int l = 0; l < n && l < nl; l++)
            CHECK_MSG(strstr(lines[l], cases[i].lines[l]), "%s: line %d \"%s\", wanted \"%s\"", cases[i].json, l + 1, lines[l], cases[i].lines[l]);
    }
}

/* ---- GGUF ------------------------------------------------------------------------------------ */

/* The sampling defaults a GGUF holding only these keys gives (parsed from bytes). */
static void gguf_defaults(const Kv *kvs, int n, GenDefaults *g) {
    Bytes b = {0};
    gfx_add(&b, "GGUF", 4);
    gfx_u32(&b, 3);
    gfx_u64(&b, 0);
    gfx_u64(&b, (uint64_t)n);
    for (int i = 0; i < n; i++) gfx_kv(&b, &kvs[i]);
    while (b.n % 32) gfx_add(&b, "", 1);
    Err e = {0};
    GgufFile *f = gguf_parse(b.p, b.n, "x.gguf", &e);
    if (!f) { fprintf(stderr, "gguf_parse: %s\n", e.msg); abort(); }
    gen_defaults_from_gguf(g, f, "x.gguf");
    gguf_free(f);
    free(b.p);
}

TEST(gencfg_gguf_sampling_keys_as_llama_cpp) {
    GenDefaults g;
    /* no key: transformers' defaults, greedy (no source) */
    Kv arch = {"general.architecture", GGUF_STRING, "llama"};
    gguf_defaults(&arch, 1, &g);
    CHECK(g.source == GEN_SRC_NONE && !g.do_sample && g.temperature == 1 && g.top_k == 50 && g.top_p == 1 && !g.unapplied[0]);
    /* the three, as gguf-py's writer types them (i32 top_k, f32 temp and top_p): sample with them */
    Kv all[] = {{"general.sampling.top_k", GGUF_INT32, "20"}, {"general.sampling.top_p", GGUF_FLOAT32, "0.8"},
                {"general.sampling.temp", GGUF_FLOAT32, "0.7"}};
    gguf_defaults(all, 3, &g);
    CHECK(g.source == GEN_SRC_GGUF && g.do_sample && g.top_k == 20 && g.top_p == 0.8f && g.temperature == 0.7f);
    CHECK(!strcmp(g.file, "the GGUF file") && !g.unapplied[0]);
    /* one key: the others transformers' defaults (as generation_config.json with only that field) */
    gguf_defaults(&all[2], 1, &g);
    CHECK(g.do_sample && g.temperature == 0.7f && g.top_k == 50 && g.top_p == 1);
    CHECK(g.given[GEN_TEMPERATURE] && !g.given[GEN_TOP_K] && !g.given[GEN_TOP_P]);
    /* other integer and float widths convert; temp 0 stays 0 (greedy when chosen) */
    Kv widths[] = {{"general.sampling.top_k", GGUF_UINT32, "40"}, {"general.sampling.temp", GGUF_FLOAT64, "0"}};
    gguf_defaults(widths, 2, &g);
    CHECK(g.top_k == 40 && g.temperature == 0 && g.do_sample);
    ModelSpec s;
    memset(&s, 0, sizeof s);
    s.gen = g;
    GenOverride none = {.seed = 42};
    GenChoice c;
    Err e = {0};
    CHECK(gen_choose(&s, &none, &c, &e) && c.cfg.greedy);
    char d[300];
    gen_describe(&c, false, d, sizeof d);
    CHECK_MSG(!strcmp(d, "greedy (the GGUF file: temperature 0)"), "%s", d);
    /* bad values: named with the file and the key (the types llama.cpp reads: the next test) */
    static const struct { Kv kv; GenField f; const char *msg; } bad[] = {
        {{"general.sampling.top_k", GGUF_INT64, "5000000000"}, GEN_TOP_K,
         "x.gguf: GGUF key \"general.sampling.top_k\" is 5e+09: it must fit in 32 bits (llama.cpp reads an int32)"},
        {{"general.sampling.top_k", GGUF_STRING, "-3"}, GEN_TOP_K, "\"general.sampling.top_k\" is -3: it must be at least 0"},
        {{"general.sampling.top_k", GGUF_INT32, "-1"}, GEN_TOP_K, "\"general.sampling.top_k\" is -1: it must be at least 0"},
        {{"general.sampling.top_p", GGUF_FLOAT32, "0"}, GEN_TOP_P, "\"general.sampling.top_p\" is 0: it must be above 0 and at most 1"},
        {{"general.sampling.top_p", GGUF_FLOAT32, "1.5"}, GEN_TOP_P, "is 1.5: it must be above 0 and at most 1"},
        {{"general.sampling.temp", GGUF_FLOAT32, "-0.5"}, GEN_TEMPERATURE, "\"general.sampling.temp\" is -0.5: it must be at least 0"},
        {{"general.sampling.temp", GGUF_FLOAT32, "nan"}, GEN_TEMPERATURE, "\"general.sampling.temp\" is nan: it must be a finite number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gguf_defaults(&bad[i].kv, 1, &g);
        CHECK_MSG(strstr(g.bad[bad[i].f], bad[i].msg), "%s %s: \"%s\"", bad[i].kv.key, bad[i].kv.val, g.bad[bad[i].f]);
        CHECK_MSG(g.source == GEN_SRC_GGUF && g.do_sample, "%s: a key present means sampling", bad[i].kv.key);
        memset(&s, 0, sizeof s);
        s.gen = g;
        CHECK_MSG(!gen_choose(&s, &none, &c, &e) && strstr(e.msg, bad[i].msg), "%s: not refused: %s", bad[i].kv.key, e.msg);
    }
    /* keys llama.cpp would apply and we do not: a warning naming them; at their "off" values: none */
    Kv others[] = {{"general.sampling.min_p", GGUF_FLOAT32, "0.05"}, {"general.sampling.penalty_repeat", GGUF_FLOAT32, "1.1"},
                   {"general.sampling.mirostat", GGUF_INT32, "0"}, {"general.sampling.xtc_probability", GGUF_FLOAT32, "0"}};
    gguf_defaults(others, 4, &g);
    CHECK_MSG(strstr(g.unapplied_sampling, "x.gguf: GGUF general.sampling.min_p 0.05, general.sampling.penalty_repeat 1.1: not applied") &&
              !strstr(g.unapplied_sampling, "mirostat") && !strstr(g.unapplied_sampling, "xtc"), "%s", g.unapplied_sampling);
    /* at temperature 0 (greedy) llama.cpp's min_p keeps the top token: only the penalty acts */
    CHECK_MSG(strstr(g.unapplied, "x.gguf: GGUF general.sampling.penalty_repeat 1.1: not applied"), "%s", g.unapplied);
    CHECK(g.source == GEN_SRC_NONE && !g.do_sample);   /* none of temp/top_k/top_p: greedy */
    gguf_defaults(&others[2], 2, &g);
    CHECK_MSG(!g.unapplied[0] && !g.unapplied_sampling[0], "%s", g.unapplied_sampling);
}

/* Every value type of general.sampling.top_k / temp / top_p as llama.cpp's common library reads it
 * (tests/fixtures/gguf/sampling.json, from make_sampling.py: llama_sampling_probe.cpp loading the
 * qwen3 model file with that one key): integers, floats (a float top_k cut toward 0, "%f"'s six
 * decimals: a temperature of 1e-7 is 0), strings that start with a number; a bool, an array or a
 * string that is no number leaves llama.cpp's default, and here counts as left out, with a note. */
TEST(gencfg_gguf_sampling_types_as_llama_cpp) {
    Err e = {0};
    size_t len;
    char *txt = file_read_all("tests/fixtures/gguf/sampling.json", &len, 1 << 20, &e);
    if (!txt) SKIP("tests/fixtures/gguf/sampling.json missing");
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    REQUIRE(j);
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(j, "defaults"), *c;
    REQUIRE(def);
    static const struct { const char *name; GgufValueType t; } types[] = {
        {"i32", GGUF_INT32}, {"u32", GGUF_UINT32}, {"u8", GGUF_UINT8}, {"i64", GGUF_INT64}, {"f32", GGUF_FLOAT32},
        {"f64", GGUF_FLOAT64}, {"bool", GGUF_BOOL}, {"string", GGUF_STRING}, {"array", GGUF_ARRAY}};
    int n = 0, taken = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "cases")) {
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "key"));
        const char *tn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "type"));
        const char *val = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "value"));
        REQUIRE(key && tn && val);
        Kv kv = {key, GGUF_NTYPES, val};
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcmp(tn, types[i].name)) kv.type = types[i].t;
        REQUIRE(kv.type != GGUF_NTYPES);
        GenField f = strstr(key, "top_k") ? GEN_TOP_K : strstr(key, "top_p") ? GEN_TOP_P : GEN_TEMPERATURE;
        const char *jf = f == GEN_TOP_K ? "top_k" : f == GEN_TOP_P ? "top_p" : "temp";
        double want = cJSON_GetObjectItemCaseSensitive(c, jf)->valuedouble;
        GenDefaults g;
        gguf_defaults(&kv, 1, &g);
        CHECK_MSG(!g.bad[f][0], "%s %s \"%s\": %s", key, tn, val, g.bad[f]);
        if (want == cJSON_GetObjectItemCaseSensitive(def, jf)->valuedouble) {   /* llama.cpp kept its default */
            CHECK_MSG(!g.given[f] && g.source == GEN_SRC_NONE && strstr(g.unapplied, key) && strstr(g.unapplied, "ignored as llama.cpp"),
                      "%s %s \"%s\": given %d, note \"%s\"", key, tn, val, g.given[f], g.unapplied);
        } else {
            double got = f == GEN_TOP_K ? (double)g.top_k : f == GEN_TOP_P ? (double)g.top_p : (double)g.temperature;
            bool same = f == GEN_TOP_K ? got == want : (float)got == (float)want;
            CHECK_MSG(g.given[f] && same && g.source == GEN_SRC_GGUF && g.do_sample, "%s %s \"%s\": %g, llama.cpp %g", key, tn, val,
                      got, want);
            taken++;
        }
        n++;
    }
    CHECK_MSG(n == 25 && taken == 19, "%d cases (%d taken), 25 (19) expected", n, taken);
    cJSON_Delete(j);
}

/* ---- through the CLI ------------------------------------------------------------------------- */

#define MODEL "assets/models/story-gqa"
#define GGUF_FX "tests/fixtures/gguf/llama/llama-Q4_K_M.gguf"

/* The ids `generate` gives on model M with ARGS (40 ids past eos), "" on failure (checked). */
static char *ids_of(TestCtx *T_, const char *model, const char *args, char **note) {
    char a[1024], *out, *err;
    snprintf(a, sizeof a, "generate --model '%s' --ids 0,1 -n 40 --ignore-eos --json %s", model, args);
    int rc = gencfg_cli(a, &out, &err);
    CHECK_MSG(rc == 0 && strstr(out, "\"ids\""), "`%s`: status %d: %.300s %.300s", a, rc, out, err);
    if (note) *note = err;
    else {   /* no note (every setting given) and no error; a loader warning is fine */
        CHECK_MSG(!strstr(err, "llmscope: generate:"), "`%s`: stderr %.300s", a, err);
        free(err);
    }
    return out;
}

/* With generation_config.json (or the GGUF's keys) giving some settings and options giving others,
 * the ids are exactly those of the explicit options for every setting, and differ from the old
 * reading (the options alone, the rest temperature 1 / every token), and a note says which came
 * from where. */
static void merge_body(TestCtx *T_, const char *dir) {
    snprintf(gencfg_tmp, sizeof gencfg_tmp, "%s", dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir '%s/g' && for f in config.json model.safetensors tokenizer.json tokenizer_config.json; do "
             "ln -s \"$PWD/" MODEL "/$f\" '%s/g/'; done", dir, dir);
    REQUIRE(system(cmd) == 0);
    char model[1100], gguf[1100];
    snprintf(model, sizeof model, "%s/g", dir);
    snprintf(gguf, sizeof gguf, "%s/sampling.gguf", dir);
    static const Kv keys[] = {{"general.sampling.temp", GGUF_FLOAT32, "1.5"}, {"general.sampling.top_k", GGUF_INT32, "5"},
                              {"general.sampling.top_p", GGUF_FLOAT32, "0.9"}, {"general.sampling.min_p", GGUF_FLOAT32, "0.05"}};
    REQUIRE(gguf_with(GGUF_FX, gguf, keys, 4));
    static const struct {
        const char *gcfg;        /* generation_config.json; NULL: the GGUF with general.sampling.* */
        const char *dflt_same;   /* what no options stand for */
        const char *args, *same, *old, *note;
    } cases[] = {
        {"{\"do_sample\": true, \"temperature\": 1.5, \"top_k\": 5, \"top_p\": 0.9}", "--temp 1.5 --top-k 5 --top-p 0.9",
         "--top-k 20", "--temp 1.5 --top-k 20 --top-p 0.9", "--top-k 20 --temp 1 --top-p 1",
         "generate: sampling with temperature 1.5 (generation_config.json), top_k 20 (--top-k), top_p 0.9 (generation_config.json), seed 42"},
        {"{\"do_sample\": true, \"temperature\": 1.5, \"top_k\": 5, \"top_p\": 0.9}", NULL,
         "--temperature 0.8 --seed 7", "--temp 0.8 --top-k 5 --top-p 0.9 --seed 7", "--temp 0.8 --top-k 0 --top-p 1 --seed 7",
         "sampling with temperature 0.8 (--temperature), top_k 5, top_p 0.9 (generation_config.json), seed 7"},
        /* greedy by default (no do_sample): an option samples, with the file's other fields */
        {"{\"temperature\": 1.5, \"top_k\": 5}", "--greedy", "--top-p 0.9", "--temp 1.5 --top-k 5 --top-p 0.9", "--top-p 0.9 --temp 1 --top-k 0",
         "temperature 1.5, top_k 5 (generation_config.json), top_p 0.9 (--top-p)"},
        /* what the file leaves out is transformers' default: top_k 50 */
        {"{\"do_sample\": true}", "--temp 1 --top-k 50 --top-p 1", "--temp 1.5", "--temp 1.5 --top-k 50 --top-p 1", "--temp 1.5 --top-k 0 --top-p 1",
         "temperature 1.5 (--temp), top_k 50, top_p 1 (transformers' default)"},
        /* a GGUF's general.sampling.*: the model's defaults, as llama.cpp reads them */
        {NULL, "--temp 1.5 --top-k 5 --top-p 0.9", "--top-k 40", "--temp 1.5 --top-k 40 --top-p 0.9", "--top-k 40 --temp 1 --top-p 1",
         "temperature 1.5 (the GGUF file), top_k 40 (--top-k), top_p 0.9 (the GGUF file)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *m = cases[i].gcfg ? model : gguf;
        if (cases[i].gcfg) {
            snprintf(cmd, sizeof cmd, "%s/generation_config.json", model);
            FILE *f = fopen(cmd, "w");
            REQUIRE(f);
            fputs(cases[i].gcfg, f);
            fclose(f);
        }
        char *note = NULL, *dnote = NULL;
        char *got = ids_of(T_, m, cases[i].args, &note);
        char *same = ids_of(T_, m, cases[i].same, NULL);
        char *old = ids_of(T_, m, cases[i].old, NULL);
        CHECK_MSG(!strcmp(got, same), "%s / `%s`: not the ids of `%s`:\n%s\nvs\n%s", cases[i].gcfg ? cases[i].gcfg : "GGUF",
                  cases[i].args, cases[i].same, got, same);
        CHECK_MSG(strcmp(got, old), "%s / `%s`: the same ids as `%s`: the case cannot fail", cases[i].gcfg ? cases[i].gcfg : "GGUF",
                  cases[i].args, cases[i].old);
        CHECK_MSG(strstr(note, cases[i].note) && strstr(note, "llmscope: generate: sampling with"), "`%s`: note \"%s\", wanted \"%s\"",
                  cases[i].args, note, cases[i].note);
        if (cases[i].dflt_same) {   /* no options: the model's defaults, silently (the GGUF's min_p warned) */
            char *dflt = ids_of(T_, m, "", &dnote);
            char *ref = ids_of(T_, m, cases[i].dflt_same, NULL);
            CHECK_MSG(!strcmp(dflt, ref), "%s: the default is not `%s`", cases[i].gcfg ? cases[i].gcfg : "GGUF", cases[i].dflt_same);
            CHECK_MSG(cases[i].gcfg ? !dnote[0] : !!strstr(dnote, "general.sampling.min_p 0.05: not applied"), "default: stderr \"%s\"", dnote);
            free(dflt); free(ref); free(dnote);
        }
        free(got); free(same); free(old); free(note);
    }
    /* the default differs from greedy on this GGUF: the keys are read (else the case above cannot fail) */
    char *gnote = NULL;
    char *dflt = ids_of(T_, gguf, "", &gnote), *greedy = ids_of(T_, gguf, "--greedy", NULL);
    CHECK_MSG(strcmp(dflt, greedy), "the GGUF's sampling keys change nothing");
    free(dflt); free(greedy); free(gnote);
    /* run and trace take the same settings as generate (one code path; checked once each) */
    char *out, *err;
    snprintf(cmd, sizeof cmd, "run --model '%s' --prompt 'Once upon a time' -n 5 --top-k 40", gguf);
    CHECK_MSG(gencfg_cli(cmd, &out, &err) == 0 && strstr(err, "llmscope: run: sampling with temperature 1.5 (the GGUF file), top_k 40"), "run: %s", err);
    free(out); free(err);
    snprintf(cmd, sizeof cmd, "trace --model '%s' --ids 0,1 -n 3 --hooks hook_logits --json --top-p 0.5", gguf);
    CHECK_MSG(gencfg_cli(cmd, &out, &err) == 0 && strstr(err, "llmscope: trace: sampling with temperature 1.5, top_k 5 (the GGUF file), top_p 0.5 (--top-p)"),
              "trace: %s", err);
    free(out); free(err);
    /* info shows the defaults */
    snprintf(cmd, sizeof cmd, "info --model '%s'", gguf);
    CHECK_MSG(gencfg_cli(cmd, &out, &err) == 0 && strstr(out, "sampling        sampling with temperature 1.5, top_k 5, top_p 0.9 (the GGUF file)\n"),
              "info: %s", out);
    free(out); free(err);
}

TEST(gencfg_cli_options_merge_with_model_defaults) {
    if (access(test_bin(), X_OK) || access(MODEL "/config.json", R_OK) || access(GGUF_FX, R_OK)) SKIP("needs %s, %s and %s", test_bin(), MODEL, GGUF_FX);
    test_in_tmpdir(T_, "gencfg", merge_body);
}

/* A field of the wrong type or value: the commands that would sample with it fail (exit 1) naming
 * the file, the field and the option that replaces it; with that option, with --greedy, or in a
 * command that samples nothing, they run; info names the problem. */
static void bad_body(TestCtx *T_, const char *dir) {
    snprintf(gencfg_tmp, sizeof gencfg_tmp, "%s", dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir '%s/g' && for f in config.json model.safetensors tokenizer.json tokenizer_config.json; do "
             "ln -s \"$PWD/" MODEL "/$f\" '%s/g/'; done && printf 'Once upon a time there was a cat.' > '%s/t.txt'", dir, dir, dir);
    REQUIRE(system(cmd) == 0);
    static const struct {
        const char *gcfg, *msg;
        const char *fix;          /* options that replace the bad field */
        bool greedy_default;      /* the default decode needs no bad field */
    } cases[] = {
        {"{\"do_sample\": true, \"top_k\": \"50\"}", "generation_config.json: \"top_k\" must be a whole number or null, not the string \"50\"; fix the file, or give --top-k to replace it", "--top-k 50", false},
        {"{\"do_sample\": true, \"temperature\": [1]}", "generation_config.json: \"temperature\" must be a number or null, not an array; fix the file, or give --temp", "--temp 1", false},
        {"{\"do_sample\": \"true\"}", "generation_config.json: \"do_sample\" must be true or false, not the string \"true\"", "--temp 1", false},
        {"{\"do_sample\": true, \"top_p\": 1.5}", "generation_config.json: \"top_p\" is 1.5: it must be above 0 and at most 1", "--top-p 1", false},
        {"{\"do_sample\": true, \"top_k\": -1}", "generation_config.json: \"top_k\" is -1: it must be at least 0", "--top-k 0", false},
        {"{\"do_sample\": true, \"temperature\": -0.5}", "generation_config.json: \"temperature\" is -0.5: it must be above 0", "--temp 0.5", false},
        {"{\"do_sample\": true, \"temperature\": 0.0}", "generation_config.json: \"temperature\" is 0.0: sampling needs a temperature above 0 "
         "(transformers' generate() refuses 0; \"do_sample\": false or --greedy decodes greedily); fix the file, or give --temp to replace it", "--temp 0.5", false},
        /* greedy by default: the bad top_k is not used until an option samples */
        {"{\"top_k\": 20.5}", "generation_config.json: \"top_k\" is 20.5: it must be a whole number", "--top-k 3 --temp 1", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        REQUIRE(gencfg_write_g(dir, cases[i].gcfg));
        char *out, *err;
        /* the commands that sample */
        /* formats: %%D becomes the %D that gencfg_cli() expands */
        static const char *const cmds[] = {"generate --model %%D/g --ids 0,1 -n 4 %s", "run --model %%D/g --prompt hi -n 4 %s",
                                           "trace --model %%D/g --ids 0,1 -n 4 --hooks hook_logits --json %s"};
        for (size_t c = 0; c < 3; c++) {
            snprintf(cmd, sizeof cmd, cmds[c], cases[i].greedy_default ? "--temp 0.9" : "");
            int rc = gencfg_cli(cmd, &out, &err);
            CHECK_MSG(rc == 1 && strstr(err, cases[i].msg) && strstr(err, "/g/generation_config.json"),
                      "%s: `%s`: status %d, stderr \"%s\"", cases[i].gcfg, cmd, rc, err);
            free(out); free(err);
            /* the option that replaces the field; --greedy */
            snprintf(cmd, sizeof cmd, cmds[c], cases[i].fix);
            int rc2 = gencfg_cli(cmd, &out, &err);
            CHECK_MSG(rc2 == 0 && !strstr(err, "must"), "%s: `%s`: status %d: %s", cases[i].gcfg, cmd, rc2, err);
            free(out); free(err);
            snprintf(cmd, sizeof cmd, cmds[c], "--greedy");
            rc2 = gencfg_cli(cmd, &out, &err);
            CHECK_MSG(rc2 == 0 && !err[0], "%s: `%s`: status %d: %s", cases[i].gcfg, cmd, rc2, err);
            free(out); free(err);
        }
        /* the default decode: fails when it needs the field, else runs greedy */
        int rc = gencfg_cli("generate --model %D/g --ids 0,1 -n 4", &out, &err);
        CHECK_MSG(cases[i].greedy_default ? rc == 0 && !err[0] : rc == 1 && strstr(err, cases[i].msg), "%s: default: status %d, %s",
                  cases[i].gcfg, rc, err);
        free(out); free(err);
        /* nothing sampled: trace without -n, eval; info names the problem */
        CHECK_MSG(gencfg_cli("trace --model %D/g --ids 0,1 --hooks hook_logits --json", &out, &err) == 0, "%s: trace -n 0: %s", cases[i].gcfg, err);
        free(out); free(err);
        CHECK_MSG(gencfg_cli("eval --model %D/g --text-file %D/t.txt", &out, &err) == 0, "%s: eval: %s", cases[i].gcfg, err);
        free(out); free(err);
        char what[300];   /* the message without the remedy */
        snprintf(what, sizeof what, "%s", cases[i].msg);
        if (strstr(what, "; fix")) *strstr(what, "; fix") = 0;
        /* a problem when the default decode samples with it; with do_sample false (here left out) a
         * warning, as transformers' GenerationConfig.validate() only warns then (info_severity_as_transformers) */
        CHECK_MSG(gencfg_cli("info --model %D/g", &out, &err) == 0 && strstr(out, cases[i].greedy_default ? "  warning " : "  problem ") &&
                  !strstr(out, cases[i].greedy_default ? "  problem " : "  warning ") && strstr(out, what),
                  "%s: info: %s", cases[i].gcfg, out);
        free(out); free(err);
    }
    /* several bad fields: all named in one error, one line each with the option replacing it; with
     * those options it runs */
    {
        REQUIRE(gencfg_write_g(dir, "{\"do_sample\": true, \"temperature\": 2, \"top_k\": 50.0}"));
        char *out, *err;
        int rc = gencfg_cli("run --model %D/g --prompt hi -n 4", &out, &err);
        CHECK_MSG(rc == 1 && strstr(err, "llmscope: 2 sampling fields of generation_config.json are wrong; fix the file, or give the options named:\n") &&
                  strstr(err, "/g/generation_config.json: \"temperature\" is 2: an integer, and transformers' generate() takes a float only (write 2.0); --temp replaces it\n") &&
                  strstr(err, "/g/generation_config.json: \"top_k\" is 50.0: a float, and transformers' generate() takes an integer only (write 50); --top-k replaces it\n"),
                  "two bad fields: status %d: %s", rc, err);
        free(out); free(err);
        rc = gencfg_cli("run --model %D/g --prompt hi -n 4 --temp 2.0 --top-k 50", &out, &err);
        CHECK_MSG(rc == 0, "two bad fields replaced: status %d: %s", rc, err);
        free(out); free(err);
    }
    /* a GGUF key with a bad value: the same, naming the file and the key */
    char gguf[1100];
    snprintf(gguf, sizeof gguf, "%s/bad.gguf", dir);
    Kv k = {"general.sampling.top_k", GGUF_STRING, "-40"};
    REQUIRE(gguf_with(GGUF_FX, gguf, &k, 1));
    char *out, *err;
    int rc = gencfg_cli("generate --model %D/bad.gguf --ids 0,1 -n 4", &out, &err);
    CHECK_MSG(rc == 1 && strstr(err, "bad.gguf: GGUF key \"general.sampling.top_k\" is -40: it must be at least 0 (0 = no top-k filter); "
                                "fix the file, or give --top-k"), "GGUF: status %d: %s", rc, err);
    free(out); free(err);
    CHECK_MSG(gencfg_cli("generate --model %D/bad.gguf --ids 0,1 -n 4 --top-k 3", &out, &err) == 0, "GGUF --top-k: %s", err);
    free(out); free(err);
    /* --top-p 0 is refused as an option too (exit 2): it meant every token before */
    rc = gencfg_cli("generate --model %D/g --ids 0,1 -n 4 --top-p 0", &out, &err);
    CHECK_MSG(rc == 2 && strstr(err, "--top-p: 0 is out of range: it must be above 0 and at most 1"), "--top-p 0: %d %s", rc, err);
    free(out); free(err);
}

TEST(gencfg_cli_bad_fields_named) {
    if (access(test_bin(), X_OK) || access(MODEL "/config.json", R_OK) || access(GGUF_FX, R_OK)) SKIP("needs %s, %s and %s", test_bin(), MODEL, GGUF_FX);
    test_in_tmpdir(T_, "gencfg", bad_body);
}

/* Fields our sampler lacks (repetition_penalty here) are said by the commands that decode (run,
 * generate, trace -n N, and the TUI's screenshot, which decodes with the same settings), on
 * stderr; info lists them as information on stdout (text and --json); eval, trace without -n
 * and info print no warning. */
static void note_body(TestCtx *T_, const char *dir) {
    snprintf(gencfg_tmp, sizeof gencfg_tmp, "%s", dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir '%s/g' && for f in config.json model.safetensors tokenizer.json tokenizer_config.json; do "
             "ln -s \"$PWD/" MODEL "/$f\" '%s/g/'; done && printf 'Once upon a time there was a cat.' > '%s/t.txt' && "
             "printf '{\"repetition_penalty\": 1.05, \"bos_token_id\": 0}' > '%s/g/generation_config.json'", dir, dir, dir, dir);
    REQUIRE(system(cmd) == 0);
    static const char note[] = "/g/generation_config.json: \"repetition_penalty\" 1.05: not applied (llmscope samples with temperature, "
                               "top_k and top_p only; transformers' generate() would apply it)";
    static const struct { const char *args; bool warns; } cases[] = {
        {"generate --model %D/g --ids 0,1 -n 2", true},
        {"run --model %D/g --prompt hi -n 2", true},
        {"trace --model %D/g --ids 0,1 -n 2 --hooks hook_logits --json", true},
        {"screenshot --model %D/g --prompt hi --size 80x24", true},
        {"trace --model %D/g --ids 0,1 --hooks hook_logits --json", false},
        {"eval --model %D/g --text-file %D/t.txt", false},
        {"info --model %D/g", false},
        {"info --model %D/g --json", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out, *err;
        int rc = gencfg_cli(cases[i].args, &out, &err);
        const char *w = strstr(err, "llmscope: warning: ");
        CHECK_MSG(rc == 0, "`%s`: status %d: %s", cases[i].args, rc, err);
        if (cases[i].warns) CHECK_MSG(w && strstr(w, note) && strstr(w, note) < strchr(w, '\n'), "`%s`: no note: %s", cases[i].args, err);
        else CHECK_MSG(!strstr(err, "not applied"), "`%s`: note on stderr: %s", cases[i].args, err);
        if (!strncmp(cases[i].args, "info", 4) && !strstr(cases[i].args, "--json"))
            CHECK_MSG(strstr(out, "\n  note            ") && strstr(out, note), "info: %s", out);
        if (strstr(cases[i].args, "--json") && !strncmp(cases[i].args, "info", 4))
            CHECK_MSG(strstr(out, "\"not_applied\": \"") && strstr(out, "\\\"repetition_penalty\\\" 1.05: not applied"), "info --json: %s", out);
        free(out); free(err);
    }
    /* a field that acts only when sampling (min_p): said by a decode that samples, not by a greedy one */
    snprintf(cmd, sizeof cmd, "printf '{\"do_sample\": true, \"min_p\": 0.05}' > '%s/g/generation_config.json'", dir);
    REQUIRE(system(cmd) == 0);
    static const struct { const char *args; bool warns; } smp[] = {
        {"run --model %D/g --prompt hi -n 2", true}, {"run --model %D/g --prompt hi -n 2 --greedy", false},
        {"generate --model %D/g --ids 0,1 -n 2 --temp 0", false}, {"screenshot --model %D/g --prompt hi --size 80x24 --greedy", false},
        {"screenshot --model %D/g --prompt hi --size 80x24", true}};
    for (size_t i = 0; i < sizeof smp / sizeof smp[0]; i++) {
        char *out, *err;
        int rc = gencfg_cli(smp[i].args, &out, &err);
        const char *w = strstr(err, "\"min_p\" 0.05: not applied");
        CHECK_MSG(rc == 0 && (smp[i].warns ? w != NULL : !strstr(err, "not applied")), "min_p: `%s`: status %d: %s", smp[i].args, rc, err);
        free(out); free(err);
    }
    /* a generation_config.json beside a GGUF file: not read (llama.cpp reads none), and info says so */
    snprintf(cmd, sizeof cmd, "mkdir '%s/q' && ln -s \"$PWD/" GGUF_FX "\" '%s/q/m.gguf'", dir, dir);
    REQUIRE(system(cmd) == 0);
    for (int with = 0; with < 2; with++) {
        if (with) {
            snprintf(cmd, sizeof cmd, "printf '{\"do_sample\": true, \"temperature\": 1.5}' > '%s/q/generation_config.json'", dir);
            REQUIRE(system(cmd) == 0);
        }
        char *o, *er;
        CHECK(gencfg_cli("info --model %D/q/m.gguf", &o, &er) == 0);
        const char *n = strstr(o, "/q/generation_config.json is not read: a GGUF file's sampling defaults are its own general.sampling.* keys");
        CHECK_MSG(with ? n != NULL : n == NULL, "GGUF %s generation_config.json: %s", with ? "with" : "without", o);
        CHECK_MSG(strstr(o, "  sampling        greedy (transformers' default: do_sample false)"), "GGUF: %s", o);
        free(o); free(er);
    }
    /* without such a field: null */
    char *out, *err;
    CHECK_MSG(gencfg_cli("info --model " MODEL " --json", &out, &err) == 0 && strstr(out, "\"not_applied\": null"), "info --json: %s", out);
    free(out); free(err);
}

TEST(gencfg_cli_unapplied_note_only_when_decoding) {
    if (access(test_bin(), X_OK) || access(MODEL "/config.json", R_OK) || access(GGUF_FX, R_OK)) SKIP("needs %s, %s and %s", test_bin(), MODEL, GGUF_FX);
    test_in_tmpdir(T_, "gencfg", note_body);
}

/* The TUI samples as `run` does (screenshot renders it without a terminal): the model's defaults,
 * each option over its own field; the token strip holds run's text, the header the settings; a
 * wrong field the decode needs stops it as it stops run. */
static char *strip_text(const char *screen) {   /* the token strip (row 3) as text: chips joined, ␣ a space */
    const char *l = screen;
    for (int i = 0; i < 2 && l; i++) l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL;
    char *t = calloc(1, 2048);
    if (!l || !t) return t;
    size_t n = 0;
    const char *p = strstr(l, "<|endoftext|>");
    p = p ? p + strlen("<|endoftext|>") : l;
    for (; *p && *p != '\n' && n + 2 < 2048; p++) {
        if (*p == ' ') continue;
        if (!strncmp(p, "\xe2\x90\xa3", 3)) { t[n++] = ' '; p += 2; continue; }
        t[n++] = *p;
    }
    return t;
}

static void tui_body(TestCtx *T_, const char *dir) {
    snprintf(gencfg_tmp, sizeof gencfg_tmp, "%s", dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "for d in g b; do mkdir '%s/'$d && for f in config.json model.safetensors tokenizer.json tokenizer_config.json; do "
             "ln -s \"$PWD/" MODEL "/$f\" '%s/'$d/; done; done && "
             "printf '{\"do_sample\": true, \"temperature\": 1.5, \"top_k\": 5, \"top_p\": 0.9}' > '%s/g/generation_config.json' && "
             "printf '{\"do_sample\": true, \"temperature\": 2, \"top_k\": 50.0}' > '%s/b/generation_config.json'", dir, dir, dir, dir);
    REQUIRE(system(cmd) == 0);
    static const char shot[] = "screenshot --model %D/g --prompt 'Once upon a time' --steps 16 --full --size 160x30 ";
    static const struct { const char *args, *same, *header; } cases[] = {
        {"", "--temp 1.5 --top-k 5 --top-p 0.9", "T1.5 k5 p0.9 \xe2\x94\x82 decode"},
        {"--top-k 40", "--temp 1.5 --top-k 40 --top-p 0.9", "T1.5 k40 p0.9 \xe2\x94\x82 decode"},
        {"--temperature 1.2 --seed 5", "--temp 1.2 --top-k 5 --top-p 0.9 --seed 5", "T1.2 k5 p0.9 \xe2\x94\x82 decode"},
    };
    char *greedy_out, *err;
    snprintf(cmd, sizeof cmd, "%s--greedy", shot);
    REQUIRE(gencfg_cli(cmd, &greedy_out, &err) == 0);
    free(err);
    char *greedy = strip_text(greedy_out);
    const char *nl = strchr(greedy_out, '\n'), *t15 = strstr(greedy_out, "T1.5");
    CHECK_MSG(nl && (!t15 || t15 > nl) && strstr(greedy_out, "decode"), "--greedy: the header names a sampler: %.200s", greedy_out);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *o1, *o2, *o3, *e1, *e2, *e3, run[512];
        snprintf(cmd, sizeof cmd, "%s%s", shot, cases[i].args);
        int rc = gencfg_cli(cmd, &o1, &e1);
        snprintf(cmd, sizeof cmd, "%s%s", shot, cases[i].same);
        int rc2 = gencfg_cli(cmd, &o2, &e2);
        snprintf(run, sizeof run, "run --model %%D/g --prompt 'Once upon a time' -n 15 %s", cases[i].args);
        int rc3 = gencfg_cli(run, &o3, &e3);
        CHECK_MSG(rc == 0 && rc2 == 0 && rc3 == 0, "`%s`: %d %d %d: %s %s", cases[i].args, rc, rc2, rc3, e1, e3);
        char *s1 = strip_text(o1), *s2 = strip_text(o2);
        CHECK_MSG(!strcmp(s1, s2), "`%s`: strip \"%s\", with every option \"%s\"", cases[i].args, s1, s2);
        CHECK_MSG(strcmp(s1, greedy), "`%s`: the greedy strip \"%s\" (the case cannot fail)", cases[i].args, s1);
        o3[strcspn(o3, "\n")] = 0;
        CHECK_MSG(!strcmp(s1, o3), "`%s`: the strip \"%s\" is not run's text \"%s\"", cases[i].args, s1, o3);
        CHECK_MSG(strstr(o1, cases[i].header) && strstr(o1, cases[i].header) < strchr(o1, '\n'), "`%s`: header %.170s", cases[i].args, o1);
        free(s1); free(s2); free(o1); free(o2); free(o3); free(e1); free(e2); free(e3);
    }
    free(greedy); free(greedy_out);
    /* wrong fields the decode needs: refused as run refuses them; the options replacing them, or --greedy, run */
    char *out;
    int rc = gencfg_cli("screenshot --model %D/b --steps 2", &out, &err);
    CHECK_MSG(rc == 1 && strstr(err, "2 sampling fields of generation_config.json are wrong") && strstr(err, "--top-k replaces it"),
              "bad: status %d: %s", rc, err);
    free(out); free(err);
    CHECK(gencfg_cli("screenshot --model %D/b --steps 2 --temp 2.0 --top-k 50", &out, &err) == 0);
    free(out); free(err);
    CHECK(gencfg_cli("screenshot --model %D/b --steps 2 --greedy", &out, &err) == 0);
    free(out); free(err);
    /* a --compare model samples with its own defaults: its wrong fields stop the start as A's do */
    rc = gencfg_cli("screenshot --model %D/g --compare %D/b --steps 2", &out, &err);
    CHECK_MSG(rc == 1 && strstr(err, "--compare ") && strstr(err, "/b: 2 sampling fields of generation_config.json are wrong"), "compare bad: %d %s", rc, err);
    free(out); free(err);
    CHECK(gencfg_cli("screenshot --model %D/b --compare %D/g --steps 2 --greedy", &out, &err) == 0);
    free(out); free(err);
}

TEST(gencfg_tui_samples_as_run) {
    if (access(test_bin(), X_OK) || access(MODEL "/config.json", R_OK)) SKIP("needs %s and %s", test_bin(), MODEL);
    test_in_tmpdir(T_, "gencfg", tui_body);
}
