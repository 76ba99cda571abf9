#!/usr/bin/env bash
# Rewrites the captures in docs/screenshots.md (and the theme SVGs in docs/img/) from the
# current build, after a retrain of the bundled models or a change to a panel:
#   docs/regen_screenshots.sh [path/to/llmscope]     (default: $LLMSCOPE_BIN or build/llmscope)
# Each capture is the ```text block that follows a ``` block holding one
# `llmscope screenshot ...` command; the command is run as written (from the repository root,
# with `llmscope` replaced by the binary) and its output replaces the block. A command that
# redirects into docs/img/theme-dark.svg is run for the three themes. Prose is not touched:
# read every changed capture (git diff docs) and fix the sentences that describe it.
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-${LLMSCOPE_BIN:-build/llmscope}}
[ -x "$BIN" ] || { echo "regen_screenshots: $BIN not built (make)" >&2; exit 1; }
# The environment of tests/golden/regen.sh: default model, one matvec thread, English UI.
unset LLMSCOPE_MODEL LLMSCOPE_THEME LLMSCOPE_COLOR
export LLMSCOPE_THREADS=1
export LLMSCOPE_LANG=en
DOC=docs/screenshots.md
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.cap"' EXIT
captures=0 svgs=0 prev2='' prev1='' cmd='' skipping=0
while IFS= read -r line || [ -n "$line" ]; do
    if [ "$skipping" = 1 ]; then                 # inside an old capture: drop it
        if [ "$line" = '```' ]; then skipping=0; printf '%s\n' "$line" >> "$tmp"; fi
        continue
    fi
    printf '%s\n' "$line" >> "$tmp"
    # a ``` / llmscope screenshot ... / ``` triple names the command of what follows
    if [ "$line" = '```' ] && [ "$prev2" = '```' ]; then
        case "$prev1" in
        'llmscope screenshot '*'> docs/img/theme-dark.svg')
            c=${prev1#llmscope }
            c=${c% > docs/img/theme-dark.svg}
            for theme in dark light contrast; do
                eval "set -- ${c/--theme dark/--theme $theme}"
                "$BIN" "$@" > "docs/img/theme-$theme.svg.new"
                mv "docs/img/theme-$theme.svg.new" "docs/img/theme-$theme.svg"
                svgs=$((svgs + 1))
            done ;;
        'llmscope screenshot '*) cmd=${prev1#llmscope } ;;
        esac
    fi
    if [ "$line" = '```text' ] && [ -n "$cmd" ]; then
        eval "set -- $cmd"
        "$BIN" "$@" > "$tmp.cap"
        cat "$tmp.cap" >> "$tmp"
        cmd='' skipping=1 captures=$((captures + 1))
    fi
    prev2=$prev1 prev1=$line
done < "$DOC"
[ "$skipping" = 0 ] || { echo "regen_screenshots: $DOC: unclosed \`\`\`text block" >&2; exit 1; }
cat "$tmp" > "$DOC"
echo "regen_screenshots: rewrote $captures captures in $DOC and $svgs theme SVGs in docs/img"
