#!/usr/bin/env bash
# End-to-end test of the terminal UI in tmux: start, step, step back, switch panels,
# resize (including below the minimum), help overlay, quit; then the fallbacks
# (NO_COLOR, a non-UTF-8 locale, TERM=dumb). Checks the pane with capture-pane.
#
#   tests/tui_e2e.sh [path/to/llmscope]      (default: $LLMSCOPE_BIN or build/llmscope)
# Model: the binary's default (the bundled assets/models/story-gqa, or $LLMSCOPE_MODEL).
# Exit status 0 = pass, 1 = fail, 77 = skipped (no tmux or no model). Takes a few seconds.
# Works without a terminal and without TERM (CI): the tmux client gets a TERM of its own
# and the panes a terminfo entry that exists here.
set -u
BIN=${1:-${LLMSCOPE_BIN:-build/llmscope}}
case "$BIN" in /*) ;; *) [ -e "$BIN" ] && BIN="$PWD/$BIN" ;; esac
cd "$(dirname "$0")/.." || exit 1
command -v tmux >/dev/null 2>&1 || { echo "skip: tmux not installed"; exit 77; }
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
if [ -n "${LLMSCOPE_MODEL:-}" ]; then
    [ -e "$LLMSCOPE_MODEL" ] || { echo "skip: model $LLMSCOPE_MODEL not found"; exit 77; }
    MODEL_NAME=$(basename "$LLMSCOPE_MODEL")
else
    [ -e assets/models/story-gqa/config.json ] || { echo "skip: bundled model assets/models/story-gqa not found"; exit 77; }
    MODEL_NAME=story-gqa
fi

CONF=$(mktemp "${TMPDIR:-/tmp}/llmscope-e2e.XXXXXX") || exit 1
. tests/tmux_lib.sh
tmux_setup llmscope-e2e "$CONF"
FAILS=0
trap 'cleanup; rm -f "$CONF" "$SOCK_PATH"' EXIT

HIST=0      # 1: include the pane's scrollback (plain-text output that scrolled)
pane() { if [ "$HIST" = 1 ]; then $T capture-pane -p -S -200 -t e2e 2>/dev/null; else $T capture-pane -p -t e2e 2>/dev/null; fi; }
check() {   # check NAME TEXT [seconds]
    if wait_for "$2" "${3:-10}"; then echo "ok    e2e: $1"
    else echo "FAIL  e2e: $1 (no '$2' in the pane)"; pane | sed 's/^/      | /'; FAILS=$((FAILS + 1)); fi
}
keys() { $T send-keys -t e2e "$@"; }

start() {   # start WIDTH HEIGHT ENV...
    local w=$1 h=$2; shift 2
    cleanup
    $T -f "$CONF" new-session -d -s e2e -x "$w" -y "$h" \
        "env $* '$BIN' tui --prompt 'Once upon a time there was' --ctx 128; echo EXIT=\$?; sleep 30"
}

# ---- main walk-through at 100x30 --------------------------------------------------------
start 100 30 LANG=C.UTF-8 LC_ALL=C.UTF-8
check "starts with the header" "llmscope"
check "default model" "$MODEL_NAME"
check "waits for the first step" "no tokens yet"
keys n
check "prefill runs" "prefill"
keys Space
check "decode one token" "decode"
keys Right
check "cursor advanced" "pos 8/8"
keys b
check "step back (no recompute)" "pos 7/8"
keys Home
check "first token" "pos 0/8"
keys End
check "last token" "pos 8/8"
keys 2
check "KV panel" "KV cache"
keys 8
check "output panel" "next-token probabilities"
keys i i i
check "step into: stage shown (embed -> norm -> QKV -> RoPE)" "L0 RoPE"
check "step into: the stage's panel" "Position · RoPE"
keys 1 ]
check "layer selection" "Attention · L1"
keys '?'
check "help overlay" "Help · Esc closes"
keys Escape
sleep 0.2
$T resize-window -t e2e -x 70 -y 20
check "resize smaller" "llmscope"
$T resize-window -t e2e -x 40 -y 10
check "too small state" "terminal too small"
$T resize-window -t e2e -x 100 -y 30
check "resize back" "Attention"
for k in 1 2 3 4 5 6 7 8 1 2 3; do keys "$k"; done   # fast input
check "panel storm ends on residual" "Residual stream"
keys q
check "quits cleanly" "EXIT=0"

# ---- fallbacks ----------------------------------------------------------------------------
start 90 26 NO_COLOR=1 LANG=C.UTF-8 LC_ALL=C.UTF-8
check "NO_COLOR starts" "llmscope"
keys n
check "NO_COLOR prefill" "prefill"
keys q
check "NO_COLOR quits" "EXIT=0"

start 90 26 LANG=C LC_ALL=C
check "C locale starts (ASCII frames)" "+- Attention"
keys n 6
check "C locale embeddings" "Embeddings"
keys q
check "C locale quits" "EXIT=0"

start 90 26 TERM=dumb LANG=C.UTF-8 LC_ALL=C.UTF-8
HIST=1
check "TERM=dumb explains and prints a frame" "cannot move the cursor"
check "TERM=dumb prints one frame" "Attention"
check "TERM=dumb exits with status 1" "EXIT=1"
HIST=0

# ---- a lesson at 80x24 (a projector): arrows typed in a burst, while the lesson's prefill runs,
# page through the step before the answer field opens (each key sees the pane it acts on)
if [ -e lessons/05-kv-cache.json ]; then
    cleanup
    $T -f "$CONF" new-session -d -s e2e -x 80 -y 24 "env LANG=C.UTF-8 LC_ALL=C.UTF-8 '$BIN' lesson 05; echo EXIT=\$?; sleep 30"
    check "lesson at 80x24: compact pane" "1/6"
    keys Right Right Right
    check "lesson at 80x24: a burst of arrows pages instead of skipping a page" "cache grow?"
    keys Right
    check "lesson at 80x24: then the answer field opens" "Your answer:"
    keys Escape q q
    check "lesson at 80x24 quits" "EXIT=0"
fi

if [ "$FAILS" -ne 0 ]; then echo "tui_e2e: $FAILS failed"; exit 1; fi
echo "tui_e2e: all passed"
