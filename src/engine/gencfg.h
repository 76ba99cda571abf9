/* Which sampler settings a command decodes with: the model's own defaults (ModelSpec.gen:
 * generation_config.json or GGUF general.sampling.*, else transformers' GenerationConfig
 * defaults), each field the caller gives overriding only itself, as generate(temperature=0.7)
 * keeps the file's top_k and top_p. One difference from transformers, for a command line:
 * giving a sampling field (temperature above 0, top_k or top_p) samples even where the model's
 * do_sample is false (transformers warns and stays greedy); --greedy or --temp 0 is greedy, and so
 * is a GGUF file's temperature 0 (llama.cpp). generation_config.json's temperature 0 cannot sample
 * (transformers' generate() raises on it): a choice that samples with it fails, naming the file. */
#ifndef LLMSCOPE_GENCFG_H
#define LLMSCOPE_GENCFG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "engine/sampler.h"
#include "model/model.h"

/* What the caller sets itself (a command's options); the names are for messages. */
typedef struct {
    bool greedy;                       /* --greedy */
    bool has_temp, has_top_k, has_top_p;
    float temperature, top_p;          /* temperature 0 = greedy */
    int top_k;                         /* 0 = no top-k filter */
    uint64_t seed;                     /* the option's, else 42 (run's default) */
    bool has_seed;                     /* --seed was given (gen_override_cfg) */
    const char *greedy_name, *temp_name, *top_k_name, *top_p_name;   /* "--greedy", "--temp", ...; NULL: those */
} GenOverride;

/* The settings chosen, and where each came from: an option name, the model's file
 * ("generation_config.json", "the GGUF file") or "transformers' default". */
typedef struct {
    SamplerCfg cfg;                    /* greedy: temperature, top_k and top_p hold what sampling would take */
    const char *src_mode, *src_temp, *src_top_k, *src_top_p;   /* src_temp.. NULL when greedy */
    bool by_temp;                      /* greedy because the temperature is 0 */
    bool merged;                       /* sampling, with some fields from options and some from the model */
} GenChoice;

/* The settings for spec's model under o. False when fields the choice needs are ones the model's
 * source gives with a wrong type or value (GenDefaults.bad): e names every such field at once,
 * each with the file, the value and the option that would replace it (one line each when there
 * are several). A GGUF file's temperature 0 is greedy and needs no other field. */
bool gen_choose(const ModelSpec *s, const GenOverride *o, GenChoice *out, Err *e);
/* A sampler someone else set (base: a lesson's greedy start, or a step's `sampler` action) under
 * the options o, as gen_choose puts them over a model's defaults: each option given replaces only
 * its own field; --greedy or a temperature of 0 is greedy; a temperature above 0, a top_k or a
 * top_p given samples, base's other fields kept; the seed is o's only when given. With no option
 * given, base unchanged. */
SamplerCfg gen_override_cfg(SamplerCfg base, const GenOverride *o);
/* One line saying what c samples with and where each setting came from:
 * "sampling with temperature 0.7 (--temp), top_k 20 and top_p 0.8 (generation_config.json), seed 42",
 * or "greedy (generation_config.json: do_sample false)" (the seed only with with_seed). */
void gen_describe(const GenChoice *c, bool with_seed, char *out, size_t cap);
#endif
