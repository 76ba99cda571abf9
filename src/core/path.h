/* File names for display: the last component of a path. */
#ifndef LLMSCOPE_PATH_H
#define LLMSCOPE_PATH_H
#include <stdbool.h>
#include <stddef.h>

/* "models/story-gqa/" -> "story-gqa"; with strip_bin, "x/stories260K.bin" -> "stories260K"
 * (a llama2.c file named as its model). Writes buf and returns it. */
const char *path_base_name(const char *path, bool strip_bin, char *buf, size_t cap);
#endif
