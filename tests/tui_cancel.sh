#!/usr/bin/env bash
# Esc cancels the Embeddings panel's work on a worker thread, end to end in tmux: the real
# binary on a real-size model ($LLMSCOPE_BIG_MODEL, e.g. `llmscope bench --gen qwen3-0.6b
# --out DIR`; skipped without it: the bundled models index and fit in milliseconds, too fast
# to press a key meanwhile). The map fit (v) is cancelled by Esc (the status line says so, the
# panel is back on the prompt's tokens and the process goes idle), v starts it again and the
# map is drawn; the window is resized while the fit runs; q quits with status 0 and nothing on
# stderr. The unit tests (tests/test_work.c) hold a job at its start to test the same on the
# bundled models.
#
#   LLMSCOPE_BIG_MODEL=DIR tests/tui_cancel.sh [path/to/llmscope]   exit 0 = pass, 1 = fail, 77 = skipped
set -u
BIN=${1:-${LLMSCOPE_BIN:-build/llmscope}}
case "$BIN" in /*) ;; *) [ -e "$BIN" ] && BIN="$PWD/$BIN" ;; esac
cd "$(dirname "$0")/.." || exit 1
command -v tmux >/dev/null 2>&1 || { echo "skip: tmux not installed"; exit 77; }
[ -x "$BIN" ] || { echo "skip: $BIN not built"; exit 77; }
BIG=${LLMSCOPE_BIG_MODEL:-}
[ -n "$BIG" ] || { echo "skip: set LLMSCOPE_BIG_MODEL to a Qwen3-0.6B-shaped directory"; exit 77; }
[ -e "$BIG/config.json" ] || { echo "skip: $BIG/config.json not found"; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/llmscope-cancel.XXXXXX") || exit 1
. tests/tmux_lib.sh
tmux_setup llmscope-cancel "$WORK/conf"
FAILS=0
WAIT=120
SAN_ENV=
[ "${LLMSCOPE_SANITIZER:-}" = address ] && SAN_ENV="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
trap 'cleanup; rm -rf "$WORK" "$SOCK_PATH"' EXIT

pane() { $T capture-pane -p -t s 2>/dev/null; }
ok() { echo "ok    cancel: $1 ($SECONDS s)"; }
bad() { echo "FAIL  cancel: $1 ($SECONDS s)"; pane | sed 's/^/      | /'; FAILS=$((FAILS + 1)); }
check() { if wait_for "$2" "${3:-$WAIT}"; then ok "$1"; else bad "$1 (no '$2')"; fi; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

$T -f "$WORK/conf" new-session -d -s s -x 120 -y 40 \
    "env $SAN_ENV LANG=C.UTF-8 LC_ALL=C.UTF-8 '$BIN' tui --threads 2 --model '$BIG' --panel embeddings --prompt 'The cat sat on the mat' 2>'$WORK/err'; echo EXIT=\$?; sleep 60"
check "starts" "press n"
$T send-keys -t s n
check "the vocabulary index, then the neighbours" "tok_emb rows nearest"
$T send-keys -t s v
check "v: the map fit runs on a worker" "fitting the vocabulary map"
$T send-keys -t s Escape
check "Esc: the fit is cancelled" "vocabulary map fit cancelled: v starts it again" 30
check "back on the prompt's tokens" "layer 0 of"
pid=$($T list-panes -t s -F '#{pane_pid}')
child=$(pgrep -P "$pid" | head -n 1)
if [ -n "$child" ] && [ -r "/proc/$child/stat" ]; then
    t0=$(ticks "$child"); sleep 2; t1=$(ticks "$child")
    # the fit takes seconds of two threads; idle, the UI wakes four times a second
    if [ $((t1 - t0)) -le 50 ]; then ok "idle after the cancel ($((t1 - t0)) ticks in 2 s)"; else bad "still busy after the cancel ($((t1 - t0)) ticks in 2 s)"; fi
fi
$T send-keys -t s v
check "v again: the fit starts again" "fitting the vocabulary map"
$T resize-window -t s -x 80 -y 24
check "resized during the fit, the map is drawn" "vocabulary map: PCA of "
if pane | grep -q "cancelled"; then bad "the cancel message outlived the new fit"; else ok "the cancel message is gone"; fi
$T send-keys -t s q
check "quits with status 0" "EXIT=0"
if [ -s "$WORK/err" ]; then bad "stderr: $(head -c 600 "$WORK/err")"; else ok "nothing on stderr"; fi

if [ "$FAILS" -ne 0 ]; then echo "tui_cancel: $FAILS failed"; exit 1; fi
echo "tui_cancel: all passed ($SECONDS s)"
