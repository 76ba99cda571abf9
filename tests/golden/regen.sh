#!/usr/bin/env bash
# Rewrites the golden screens listed in tests/golden/cases.txt from the current build:
#   tests/golden/regen.sh [path/to/llmscope]     (default: $LLMSCOPE_BIN or build/llmscope)
# Look at every changed file (git diff tests/golden) before committing it.
set -eu
cd "$(dirname "$0")/../.."
BIN=${1:-${LLMSCOPE_BIN:-build/llmscope}}
[ -x "$BIN" ] || { echo "regen: $BIN not built (make)" >&2; exit 1; }
# The same environment as tests/test_golden.c: one matvec thread, no model override.
unset LLMSCOPE_MODEL
export LLMSCOPE_THREADS=1
export LLMSCOPE_LANG=en      # English unless a case says --lang zh (as tests/harness.c)
n=0
while read -r name args; do
    case "$name" in ''|'#'*) continue ;; esac
    eval "set -- $args"
    "$BIN" screenshot "$@" > "tests/golden/$name.txt.new"
    mv "tests/golden/$name.txt.new" "tests/golden/$name.txt"
    n=$((n + 1))
done < tests/golden/cases.txt
echo "regen: wrote $n golden screens in tests/golden"
