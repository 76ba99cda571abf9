# Shared by the tmux-driven UI tests (tests/tui_e2e.sh, tests/tui_sizes.sh); sourced, not run.
# tmux_setup NAME CONF: a usable TERM for tmux itself (CI has none, or "dumb"), the panes' TERM
# (tmux's default-terminal) set to a terminfo entry this machine has (tmux's key sequences must
# match the terminfo in use), CONF written, a private server socket in $SOCK / $SOCK_PATH,
# $T the tmux command on it, and cleanup() that stops the server and waits until it is gone.
# wait_for TEXT [seconds] polls the caller's pane() until TEXT appears (or the seconds pass).
tmux_setup() {
    case "${TERM:-}" in ''|dumb|unknown) export TERM=xterm-256color ;; esac
    unset TMUX TMUX_PANE
    PANE_TERM=screen
    local t
    for t in tmux-256color screen-256color; do
        if infocmp "$t" >/dev/null 2>&1; then PANE_TERM=$t; break; fi
    done
    printf 'set -g default-terminal "%s"\nset -g status off\n' "$PANE_TERM" > "$2"
    SOCK="$1-$$"
    SOCK_PATH="${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCK"
    T="tmux -L $SOCK"
}
cleanup() {
    $T kill-server >/dev/null 2>&1
    local end=$((SECONDS + 30))
    while ((SECONDS < end)); do $T list-sessions >/dev/null 2>&1 || break; sleep 0.1; done
}
# Waits are deadlines in seconds (bash's SECONDS), not counts of polls: on a loaded machine
# each poll (a tmux client and a grep) can take far longer than its 0.1 s sleep.
wait_for() {
    local want=$1 end=$((SECONDS + ${2:-10}))
    while :; do
        if pane | grep -qF -- "$want"; then return 0; fi
        ((SECONDS <= end)) || return 1
        sleep 0.1
    done
}
