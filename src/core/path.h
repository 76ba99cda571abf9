/* File names for display (the last component of a path), and the source tree the binary runs from. */
#ifndef LLMSCOPE_PATH_H
#define LLMSCOPE_PATH_H
#include <stdbool.h>
#include <stddef.h>

/* "models/story-gqa/" -> "story-gqa"; with strip_bin, "x/stories260K.bin" -> "stories260K"
 * (a llama2.c file named as its model). Writes buf and returns it. */
const char *path_base_name(const char *path, bool strip_bin, char *buf, size_t cap);

/* The folder of the running binary or one of its first `levels` parents (nearest first) that
 * holds `rel` ("lessons/" with its slash: a folder), written to out as that folder; NULL when
 * none does or /proc/self/exe cannot be read. The binary sits in build/ or build/<sanitizer>/
 * of the source tree, where the bundled models and lessons are. */
const char *path_find_above_exe(const char *rel, int levels, char *out, size_t cap);
#endif
