/* The chat template stored in a GGUF file: tokenizer.chat_template (the default template, as
 * llama.cpp's common_chat_templates_init takes it), with bos_token / eos_token the text of the
 * vocabulary's BOS and EOS ids (llama.cpp's default ids where the file names none, core/gguf_vocab.h),
 * as llama.cpp passes them to the template. The file is mapped read-only; only its metadata is read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/gguf.h"
#include "core/gguf_vocab.h"
#include "template/jinja.h"

static char *gstr_dup(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) { memcpy(p, s, n); p[n] = 0; }
    return p;
}

/* the text of token id as llama.cpp shows it with special tokens (its token_to_piece(special=true)):
 * the file's text, with U+2581 as a space for a NORMAL sentencepiece token; NULL when id is none */
static char *token_text(const GgufKV *toks, const GgufVocab *v, int32_t id) {
    if (id < 0 || id >= v->n_tokens) return NULL;
    const GgufStr *t = &toks->arr_strs[id];
    char *p = gstr_dup(t->s, t->len);
    if (!p || v->kind != GV_SPM || !(v->attr[id] & GV_NORMAL)) return p;
    size_t w = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (i + 2 < t->len && !memcmp(p + i, "\xe2\x96\x81", 3)) { p[w++] = ' '; i += 2; }
        else p[w++] = p[i];
    }
    p[w] = 0;
    return p;
}

bool chat_template_load_gguf(const char *path, char **tmpl, char **bos, char **eos, Err *e) {
    *tmpl = NULL;
    if (bos) *bos = NULL;
    if (eos) *eos = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(e, ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        close(fd);
        return err_set(e, ERR_IO, "%s: not a regular, non-empty file", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return err_set(e, ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    GgufFile *g = gguf_parse(map, size, path, e);
    bool ok = g != NULL;
    const GgufKV *ct = ok ? gguf_find(g, "tokenizer.chat_template") : NULL;
    const bool none = ok && (!ct || ct->type != GGUF_STRING);   /* bos and eos are still read: a --template renders with them */
    if (ok && !none && !(*tmpl = gstr_dup(ct->str.s, ct->str.len))) ok = err_set(e, ERR_MEMORY, "out of memory");
    GgufVocab v;
    if (ok && gguf_find(g, "tokenizer.ggml.tokens")) {
        if (!gguf_vocab_read(g, &v, e)) ok = false;
        else {
            const GgufKV *toks = gguf_find(g, "tokenizer.ggml.tokens");
            if (bos) *bos = token_text(toks, &v, v.bos);
            if (eos) *eos = token_text(toks, &v, v.eos);
            gguf_vocab_done(&v);
        }
    }
    if (ok && none)
        ok = err_set(e, ERR_FORMAT, "%s has no chat template: no string tokenizer.chat_template in this GGUF file "
                     "(give one with --template FILE)", path);
    else if (!ok) {
        free(*tmpl); *tmpl = NULL;
        if (bos) { free(*bos); *bos = NULL; }
        if (eos) { free(*eos); *eos = NULL; }
    }
    gguf_free(g);
    munmap(map, size);
    return ok;
}
