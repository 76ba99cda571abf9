/* Finding a model's chat template and special tokens in Hugging Face files: chat_template.jinja
 * (the newer layout) or tokenizer_config.json's "chat_template" (a string, or a list of named
 * templates of which "default" is used, as transformers does when no name is asked for). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "core/gguf.h"
#include "template/jinja.h"

static char *token_string(const cJSON *v) {
    if (cJSON_IsString(v)) return strdup(v->valuestring);
    if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (cJSON_IsString(c)) return strdup(c->valuestring);
    }
    return NULL;
}

bool chat_template_load_for_model(const char *model_path, char **tmpl, char **bos, char **eos, Err *e) {
    *tmpl = NULL;
    if (bos) *bos = NULL;
    if (eos) *eos = NULL;
    if (!dir_exists(model_path)) {   /* a GGUF file carries its own template */
        size_t hl = 0;
        Err he = {0};
        char *head = file_read_head(model_path, 4, &hl, &he);
        bool gguf = head && gguf_sniff((const uint8_t *)head, hl);
        free(head);
        if (gguf) return chat_template_load_gguf(model_path, tmpl, bos, eos, e);
    }
    char dir[4096];
    if (dir_exists(model_path)) snprintf(dir, sizeof dir, "%s", model_path);
    else {
        snprintf(dir, sizeof dir, "%s", model_path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
    }
    char path[4200];
    path_join(path, sizeof path, dir, "tokenizer_config.json");
    cJSON *cfg = NULL;
    if (file_exists(path)) {
        size_t len;
        char *txt = file_read_all(path, &len, (size_t)64 << 20, e);
        if (!txt) return false;
        cfg = cJSON_ParseWithLength(txt, len);
        free(txt);
        if (!cfg) return err_set(e, ERR_FORMAT, "%s: not valid JSON", path);
        if (bos) *bos = token_string(cJSON_GetObjectItemCaseSensitive(cfg, "bos_token"));
        if (eos) *eos = token_string(cJSON_GetObjectItemCaseSensitive(cfg, "eos_token"));
    }
    char jpath[4200];
    path_join(jpath, sizeof jpath, dir, "chat_template.jinja");
    if (file_exists(jpath)) {
        size_t len;
        *tmpl = file_read_all(jpath, &len, (size_t)16 << 20, e);
        cJSON_Delete(cfg);
        return *tmpl != NULL;
    }
    const cJSON *ct = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "chat_template") : NULL;
    if (cJSON_IsString(ct)) *tmpl = strdup(ct->valuestring);
    else if (cJSON_IsArray(ct)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, ct) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
            const cJSON *tx = cJSON_GetObjectItemCaseSensitive(it, "template");
            if (cJSON_IsString(nm) && cJSON_IsString(tx) && !strcmp(nm->valuestring, "default")) *tmpl = strdup(tx->valuestring);
        }
        if (!*tmpl) {
            cJSON_Delete(cfg);
            return err_set(e, ERR_FORMAT, "%s: \"chat_template\" is a list of named templates without one named \"default\"", path);
        }
    }
    cJSON_Delete(cfg);
    if (!*tmpl)   /* *bos and *eos stay: a --template given instead renders with them */
        return err_set(e, ERR_FORMAT, "%s has no chat template: neither chat_template.jinja nor a \"chat_template\" in tokenizer_config.json "
                       "(give one with --template FILE)", dir);
    return true;
}
