#!/usr/bin/env bash
# The terminal UI at odd sizes and on odd terminals, in tmux: starts too small (20x6, 1 column,
# 1 row) and says so, grows to 300x80, is resized to 1x1 and back in the middle of a prefill
# and still answers keys, and starts, steps and quits cleanly on TERM=vt100, linux, xterm,
# xterm-256color, with NO_COLOR and with LANG=C (where the pane must be pure ASCII). Anything
# on stderr (a sanitizer report, a curses complaint) fails the case.
#
#   tests/tui_sizes.sh [path/to/llmscope]     exit 0 = pass, 1 = fail, 77 = skipped
set -u
BIN=${1:-${LLMSCOPE_BIN:-build/llmscope}}
case "$BIN" in /*) ;; *) [ -e "$BIN" ] && BIN="$PWD/$BIN" ;; esac
cd "$(dirname "$0")/.." || exit 1
command -v tmux >/dev/null 2>&1 || { echo "skip: tmux not installed"; exit 77; }
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
[ -e assets/models/story-gqa/config.json ] || { echo "skip: assets/models/story-gqa not found"; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/llmscope-sizes.XXXXXX") || exit 1
. tests/tmux_lib.sh
tmux_setup llmscope-sizes "$WORK/conf"
FAILS=0
trap 'cleanup; rm -rf "$WORK" "$SOCK_PATH"' EXIT

pane() { $T capture-pane -p -t s 2>/dev/null; }
wait_gone() {   # wait_gone TEXT [seconds]: until TEXT is no longer in the pane
    local i
    for ((i = 0; i < ${2:-10} * 10; i++)); do
        if ! pane | grep -qF -- "$1"; then return 0; fi
        sleep 0.1
    done
    return 1
}
ok() { echo "ok    sizes: $1 ($SECONDS s)"; }
bad() { echo "FAIL  sizes: $1"; pane | sed 's/^/      | /'; FAILS=$((FAILS + 1)); }
check() { if wait_for "$2" "${3:-10}"; then ok "$1"; else bad "$1 (no '$2')"; fi; }
resize() { $T resize-window -t s -x "$1" -y "$2"; }
# stderr of the run must be empty (the UI holds its own stderr while it runs and prints it after)
check_stderr() {
    if [ -s "$WORK/err" ]; then echo "FAIL  sizes: $1: stderr: $(head -c 600 "$WORK/err")"; FAILS=$((FAILS + 1)); else ok "$1: nothing on stderr"; fi
}
start() {   # start W H PROMPT ENV...
    local w=$1 h=$2 prompt=$3; shift 3
    cleanup
    : > "$WORK/err"
    printf '%s' "$prompt" > "$WORK/prompt"
    $T -f "$WORK/conf" new-session -d -s s -x "$w" -y "$h" \
        "env $* '$BIN' tui --threads 1 --prompt \"\$(cat '$WORK/prompt')\" --ctx 1024 2>'$WORK/err'; echo EXIT=\$?; sleep 30"
}
quit() { $T send-keys -t s q; check "$1: quits with status 0" "EXIT=0"; check_stderr "$1"; }

# ---- too small at start, then every odd size -----------------------------------------------
start 20 6 "Once upon a time" LANG=C.UTF-8 LC_ALL=C.UTF-8
check "20x6 says it is too small" "too small"
check "20x6 names the size it needs" "need"
for s in 1x10 10x1 1x1 2x2 40x10 59x16; do
    resize "${s%x*}" "${s#*x}"
    sleep 0.3
done
check "59x16 still too small" "too small"
resize 60 16
check "60x16 draws the UI" "llmscope"
resize 300 80
check "300x80 draws the UI" "Attention"
$T send-keys -t s n
check "300x80 prefill" "pos 4/4"
resize 80 24
quit "odd sizes"

# ---- resized to 1x1 and back in the middle of a prefill -------------------------------------
LONG=$(for i in $(seq 25); do printf 'the little dog ran to the park and saw a big red ball. '; done)
start 100 30 "$LONG" LANG=C.UTF-8 LC_ALL=C.UTF-8
check "long prompt loaded" "llmscope"
$T send-keys -t s n
for s in 20x6 1x1 300x80 40x10 1x30 100x30; do resize "${s%x*}" "${s#*x}"; sleep 0.05; done
check "prefill survives resizes and ends" "pos 352/352" 60
quit "resize during prefill"

# ---- terminals and locales -----------------------------------------------------------------
for env in "TERM=vt100" "TERM=linux" "TERM=xterm" "TERM=xterm-256color" "NO_COLOR=1" "LANG=C LC_ALL=C"; do
    case "$env" in LANG=*) loc="";; *) loc="LANG=C.UTF-8 LC_ALL=C.UTF-8";; esac
    start 80 24 "Once upon a time" $loc $env
    check "$env starts" "llmscope"
    $T send-keys -t s n
    check "$env prefill" "pos 4/4"
    for p in 2 3 4 5 6 7 8 1; do $T send-keys -t s "$p"; done
    check "$env panels" "Attention"
    if [ "$env" = "LANG=C LC_ALL=C" ]; then
        if pane | LC_ALL=C grep -q '[^ -~]'; then bad "$env: the pane has non-ASCII bytes"; else ok "$env: pure ASCII"; fi
        # the header's and titles' separators (U+00B7) have an ASCII stand-in, not '?'
        if pane | grep -qF ' ? '; then bad "$env: separators drawn as '?'"; else ok "$env: separators readable"; fi
    fi
    quit "$env"
done

if [ "$FAILS" -ne 0 ]; then echo "tui_sizes: $FAILS failed"; exit 1; fi
echo "tui_sizes: all passed"
