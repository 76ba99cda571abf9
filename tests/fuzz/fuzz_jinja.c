/* Fuzzes the chat-template interpreter (src/template: lexer, parser, evaluator, JSON reader,
 * filters, methods). Input: a template, optionally followed by a NUL byte and the messages JSON
 * (else a fixed conversation with tools, content parts and tool calls is used). Properties: a
 * failure leaves a message that says "chat template" or names the messages; a success returns
 * exactly out_len readable bytes, NUL-terminated, within the output cap; rendering twice gives
 * the same bytes (no state leaks between renders). Limits are small so runaway templates stop
 * fast. */
#include "fuzz_common.h"
#include "template/jinja.h"

static const char *k_messages =
    "{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"x\": [1, 2.5, null, true]}}}],"
    " \"messages\": [{\"role\": \"system\", \"content\": \"Sys \\u00e9\"}, {\"role\": \"user\", \"content\": \"Hi \\n there\"},"
    " {\"role\": \"assistant\", \"content\": \"<think>r</think>Yo\", \"tool_calls\": [{\"id\": \"call_123456789\", \"type\": \"function\","
    " \"function\": {\"name\": \"f\", \"arguments\": {\"x\": 1}}}]}, {\"role\": \"tool\", \"content\": \"42\"},"
    " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"look\"}, {\"type\": \"image\"}]}], \"extra\": {\"k\": [\"v\"]}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t)(nul - data) : size;
    char *msgs = NULL;
    if (nul) {
        size_t mlen = size - tlen - 1;
        msgs = malloc(mlen + 1);
        if (!msgs) return 0;
        memcpy(msgs, nul + 1, mlen);
        msgs[mlen] = 0;
    }
    JinjaVar extra[2] = {{"enable_thinking", "false", true}, {"date_string", "26 Jul 2024", false}};
    ChatRequest rq = {0};
    rq.messages_json = msgs ? msgs : k_messages;
    rq.add_generation_prompt = size & 1;
    rq.bos_token = "<s>";
    rq.eos_token = "</s>";
    rq.extra = extra;
    rq.nextra = 2;
    rq.opt.max_output = 1 << 20;
    rq.opt.max_memory = 64u << 20;
    rq.opt.max_steps = 200000;
    rq.opt.max_depth = 32;
    rq.opt.now_set = true;
    rq.opt.now = 1741944413;
    char *out = NULL, *out2 = NULL;
    size_t n = 0, n2 = 0;
    Err e = {0};
    bool ok = chat_template_apply((const char *)data, tlen, &rq, &out, &n, &e);
    if (!ok) {
        if (out) fuzz_fail("failed render left an output");
        if (!strstr(e.msg, "chat template") && !strstr(e.msg, "messages") && !strstr(e.msg, "variable"))
            fuzz_fail("message names neither the template nor the messages: %s", e.msg);
        fuzz_check_err(&e, NULL, "chat_template_apply");
    } else {
        if (!out) fuzz_fail("success without output");
        if (n > rq.opt.max_output) fuzz_fail("output of %zu bytes beyond the cap", n);
        fuzz_touch(out, n + 1);
        if (out[n] != 0) fuzz_fail("output not NUL-terminated");
        Err e2 = {0};
        if (!chat_template_apply((const char *)data, tlen, &rq, &out2, &n2, &e2)) fuzz_fail("second render failed: %s", e2.msg);
        if (n2 != n || memcmp(out, out2, n)) fuzz_fail("two renders differ");
    }
    free(out);
    free(out2);
    free(msgs);
    return 0;
}
