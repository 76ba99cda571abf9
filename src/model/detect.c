/* What kind of model file a path is, decided from its bytes, not its name.
 *
 *   GGUF          "GGUF" magic (bytes 0..3), then a u32 version (llama.cpp's format)
 *   safetensors   u64 little-endian header length N, then N bytes of JSON starting with '{'
 *   PyTorch       a ZIP archive ("PK\3\4", torch.save since 1.6) or a raw pickle (0x80 proto)
 *   llama2.c      7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len)
 *                 whose sizes add up to the file's length (llama2c_sniff), or any file named
 *                 *.bin that is nothing else (its loader then says what is wrong with it)
 *   directory     a Hugging Face model directory (config.json beside the weights)
 *
 * Only the first 64 bytes and the size are read; nothing is mapped. Non-regular files (FIFOs,
 * devices) are left to the loaders, which refuse them by name without blocking. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "model/model.h"
#include "model/tensorfile.h"

const char *model_format_name(ModelFormat f) {
    switch (f) {
    case MODEL_FMT_HF_DIR: return "Hugging Face model directory";
    case MODEL_FMT_CONFIG_JSON: return "config.json";
    case MODEL_FMT_SAFETENSORS: return "safetensors file";
    case MODEL_FMT_GGUF: return "GGUF file";
    case MODEL_FMT_LLAMA2C: return "llama2.c checkpoint";
    case MODEL_FMT_PYTORCH: return "PyTorch checkpoint";
    case MODEL_FMT_UNKNOWN: break;
    }
    return "unknown file";
}

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* A short, printable picture of the first bytes for "what we found" messages. */
static void describe_bytes(const uint8_t *b, size_t n, char *out, size_t cap) {
    size_t printable = 0;
    for (size_t i = 0; i < n; i++)
        if ((b[i] >= 0x20 && b[i] < 0x7f) || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') printable++;
    if (n && printable == n) {
        char txt[24];
        size_t k = 0;
        for (size_t i = 0; i < n && k < 20; i++) txt[k++] = (char)(b[i] < 0x20 ? ' ' : b[i]);
        txt[k] = 0;
        snprintf(out, cap, "a text file starting \"%s\"", txt);
        return;
    }
    size_t k = (size_t)snprintf(out, cap, "first bytes");
    for (size_t i = 0; i < n && i < 8 && k + 4 < cap; i++) k += (size_t)snprintf(out + k, cap - k, " %02x", b[i]);
}

ModelFormat model_detect_format(const char *path, char *what, size_t cap) {
    if (what && cap) what[0] = 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (what) snprintf(what, cap, "no such file or directory");
        return MODEL_FMT_UNKNOWN;
    }
    if (S_ISDIR(st.st_mode)) return MODEL_FMT_HF_DIR;
    if (ends_with(path, ".json")) return MODEL_FMT_CONFIG_JSON;
    if (!S_ISREG(st.st_mode)) return MODEL_FMT_LLAMA2C;   /* the mapper names FIFOs and devices */
    uint8_t b[64] = {0};
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = read(fd, b, sizeof b);
        n = r > 0 ? (size_t)r : 0;
        close(fd);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (n >= 8 && !memcmp(b, "GGUF", 4)) {
        uint32_t ver;
        memcpy(&ver, b + 4, 4);
        if (what) snprintf(what, cap, "GGUF version %u", ver);
        return MODEL_FMT_GGUF;
    }
    if (n >= 9) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = (hl << 8) | b[i];
        if (b[8] == '{' && hl >= 2 && hl <= size - 8) {
            if (what) snprintf(what, cap, "safetensors header of %llu bytes", (unsigned long long)hl);
            return MODEL_FMT_SAFETENSORS;
        }
    }
    if (n >= 4 && !memcmp(b, "PK\x03\x04", 4)) {
        if (what) snprintf(what, cap, "a ZIP archive (torch.save format)");
        return MODEL_FMT_PYTORCH;
    }
    if (n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) {
        if (what) snprintf(what, cap, "a Python pickle (protocol %d)", b[1]);
        return MODEL_FMT_PYTORCH;
    }
    if (n >= LLAMA2C_HEADER_BYTES && llama2c_sniff(b, (size_t)size)) return MODEL_FMT_LLAMA2C;
    if (ends_with(path, ".bin")) return MODEL_FMT_LLAMA2C;   /* its loader names what is wrong */
    if (what) {
        if (!n) snprintf(what, cap, "an empty file");
        else describe_bytes(b, n < 20 ? n : 20, what, cap);
    }
    return MODEL_FMT_UNKNOWN;
}
