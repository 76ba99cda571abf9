#!/usr/bin/env bash
# The two-command promise on machines that lack packages, without uninstalling anything: a
# scratch clone of this repository is built with `make -j2` while shims stand first on PATH and
# the real pkg-config, sudo and apt-get are hidden (PATH is the shims plus a folder of links to
# every other program), in six situations, one make each:
#   1. libcjson, gsl and libutf8proc missing; an ordinary user with sudo; "apt-get update"
#      fails (offline) and the install must still be tried. The clone is built from nothing:
#      a Makefile that computes its flags before installing compiles and links with the empty
#      flags the "missing" pkg-config gave it, and fails here.
#   2. every package missing, the pkg-config program too; root (no sudo).
#   3. only the pkg-config program missing (every library's -dev package is there); sudo.
#   4. a package missing, an ordinary user without sudo: make fails before compiling and
#      prints the exact command to run; apt-get is not called.
#   5. apt-get install fails (sudo): make fails before compiling and names the command.
#   6. no apt-get (not Debian), root: make fails before compiling and names the package.
# 2-6 run in the clone 1 built, with build/llmscope removed first: 2 and 3 must link it again,
# 4-6 must not compile or link anything.
# The shims: pkg-config reports the situation's modules missing until the fake apt-get has
# "installed" them, then hands every call to the real one (where the program itself is
# missing, the fake install puts it on PATH); apt-get logs its arguments and the uid, and its
# "update" fails; id -u says 1000 (0 for root and under the fake sudo); sudo logs and runs.
#
#   tests/deps_shim.sh [--makefile FILE] [--keep]
#     --makefile FILE   build the clone with FILE as its Makefile (e.g. an older one:
#                       git show OLDCOMMIT:Makefile > /tmp/old.mk)
#     --keep            leave the scratch directory (printed) for a look
# The clone is HEAD plus this working tree's uncommitted changes to tracked and new files.
# Exit status 0 = pass, 1 = fail, 77 = skipped (no git, make, cc or pkg-config).
set -u
cd "$(dirname "$0")/.." || exit 1
MAKEFILE_OVERRIDE=""
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
    --makefile) MAKEFILE_OVERRIDE=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: tests/deps_shim.sh [--makefile FILE] [--keep]" >&2; exit 2 ;;
    esac
done
for tool in git make pkg-config; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skip: $tool not installed"; exit 77; }
done
git rev-parse --verify -q HEAD >/dev/null 2>&1 || { echo "skip: not a git checkout"; exit 77; }
REAL_PKG_CONFIG=$(command -v pkg-config)
REAL_ID=$(command -v id)
TOP=$(git rev-parse --show-toplevel)

SCR=$(mktemp -d "${TMPDIR:-/tmp}/llmscope-shim.XXXXXX") || exit 1
if [ "$KEEP" = 1 ]; then echo "scratch: $SCR"; else trap 'rm -rf "$SCR"' EXIT; fi


# ---- the scratch clone: HEAD + uncommitted changes ----------------------------------
git clone -q --shared --no-checkout "$TOP" "$SCR/repo" || { echo "FAIL: git clone"; exit 1; }
git -C "$SCR/repo" checkout -q --detach "$(git rev-parse HEAD)" || { echo "FAIL: checkout"; exit 1; }
{ git diff --name-only --diff-filter=d HEAD; git ls-files --others --exclude-standard; } |
while IFS= read -r f; do
    [ -f "$f" ] || continue
    mkdir -p "$SCR/repo/$(dirname "$f")" && cp -p "$f" "$SCR/repo/$f"
done
git diff --name-only --diff-filter=D HEAD | while IFS= read -r f; do rm -f "$SCR/repo/$f"; done
[ -n "$MAKEFILE_OVERRIDE" ] && cp "$MAKEFILE_OVERRIDE" "$SCR/repo/Makefile"


# ---- shims ------------------------------------------------------------------------
# sysbin: a link to every program on PATH except those the shims stand for or hide
mkdir -p "$SCR/sysbin"
IFS=: read -r -a PATH_DIRS <<< "$PATH"
for d in "${PATH_DIRS[@]}"; do
    [ -d "$d" ] || continue
    for f in "$d"/*; do
        b=${f##*/}
        case "$b" in pkg-config|pkgconf|*-pkg-config|*-pkgconf|sudo|apt-get|id) continue ;; esac
        [ -x "$f" ] && [ ! -e "$SCR/sysbin/$b" ] && ln -s "$f" "$SCR/sysbin/$b"
    done
done
ALL_MODULES="ncursesw libcjson gsl openblas libpcre2-8 libutf8proc"
ALL_DEBS="libcjson-dev libgsl-dev libncurses-dev libopenblas-dev libpcre2-dev libutf8proc-dev pkg-config "

write_shims() {   # $1: the modules reported missing; $2: 1 = apt-get install fails
    rm -rf "$SCR/bin" "$SCR/pcbin" "$SCR/state"
    mkdir -p "$SCR/bin" "$SCR/pcbin" "$SCR/state"
    cat > "$SCR/pkg-config.shim" <<EOF
#!/bin/sh
# "missing" until the fake apt-get ran, then the real pkg-config
if [ ! -e "$SCR/state/installed" ]; then
    for a in "\$@"; do
        for m in $1; do
            [ "\$a" = "\$m" ] && { echo "Package \$a was not found in the pkg-config search path." >&2; exit 1; }
        done
    done
fi
exec "$REAL_PKG_CONFIG" "\$@"
EOF
    chmod +x "$SCR/pkg-config.shim"
    cat > "$SCR/bin/apt-get" <<EOF
#!/bin/sh
# "update" fails as it does offline (the packages may still be in apt's cache)
echo "uid=\$(id -u) DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-} \$*" >> "$SCR/state/apt.log"
for a in "\$@"; do [ "\$a" = update ] && exit 100; done
[ "$2" = 1 ] && { echo "E: Unable to locate package (a pretend failure)" >&2; exit 100; }
for a in "\$@"; do
    [ "\$a" = install ] && touch "$SCR/state/installed"
    [ "\$a" = pkg-config ] && cp "$SCR/pkg-config.shim" "$SCR/pcbin/pkg-config"
done
exit 0
EOF
    cat > "$SCR/bin/sudo" <<EOF
#!/bin/sh
# like sudo's env_reset: variables set before sudo do not reach the command
echo "\$*" >> "$SCR/state/sudo.log"
exec env -u DEBIAN_FRONTEND LLMSCOPE_SHIM_UID=0 "\$@"
EOF
    cat > "$SCR/bin/id" <<EOF
#!/bin/sh
# an ordinary user (uid 1000) unless root or under the fake sudo
if [ "\$1" = -u ]; then echo "\${LLMSCOPE_SHIM_UID:-1000}"; exit 0; fi
exec "$REAL_ID" "\$@"
EOF
    chmod +x "$SCR/bin/"*
}

FAILS=0
fail() { echo "FAIL  $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok    $*"; }

# run_make TAG PKGCONFIG SUDO APTGET ROOT (1: the program is there / uid 0)
# Nothing from an enclosing make (make test) leaks in: no MAKEFLAGS, no jobserver.
# -O0 keeps the build short; the flags from pkg-config are what this test is about.
run_make() {
    [ "$2" = 1 ] && cp "$SCR/pkg-config.shim" "$SCR/pcbin/pkg-config"
    [ "$3" = 1 ] || rm -f "$SCR/bin/sudo"
    [ "$4" = 1 ] || rm -f "$SCR/bin/apt-get"
    local uid=1000 start
    [ "$5" = 1 ] && uid=0
    start=$(date +%s)
    ( cd "$SCR/repo" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES LLMSCOPE_SHIM_UID=$uid \
        PATH="$SCR/bin:$SCR/pcbin:$SCR/sysbin" nice make -j2 OPT=-O0 ) > "$SCR/make-$1.log" 2>&1
    RC=$?
    SECS=$(( $(date +%s) - start ))
    LOG="$SCR/make-$1.log"
}
installs() { local n; n=$(grep -c ' install ' "$SCR/state/apt.log" 2>/dev/null); echo "${n:-0}"; }
packages() { grep ' install ' "$SCR/state/apt.log" 2>/dev/null | tr ' ' '\n' | grep -E -- '-dev$|^pkg-config$' | sort | tr '\n' ' '; }
log_tail() { tail -n 15 "$LOG" | sed 's/^/      /'; }
built_and_runs() {
    if [ -x "$SCR/repo/build/llmscope" ] && "$SCR/repo/build/llmscope" --help >/dev/null 2>&1; then ok "$S: build/llmscope built and runs"
    else fail "$S: build/llmscope missing or does not run"; fi
}
refused() {   # $1: what the make must print
    if [ "$RC" != 0 ]; then ok "$S: make failed (exit $RC)"; else fail "$S: make exited 0"; fi
    if grep -qF -- "$1" "$LOG"; then ok "$S: it says '$1'"; else fail "$S: no '$1' in its output:"; log_tail; fi
    if [ ! -e "$SCR/repo/build/llmscope" ] && ! grep -q '^  \(CC\|LD\) ' "$LOG"; then ok "$S: nothing compiled or linked"
    else fail "$S: it compiled or linked without the packages:"; log_tail; fi
}

# ---- 1. three modules missing; a user with sudo; update fails: the build from nothing ----
S="1 (libcjson, gsl, libutf8proc missing; sudo)"
write_shims "libcjson gsl libutf8proc" 0
run_make 1 1 1 1 0
if [ "$RC" = 0 ]; then ok "$S: one make -j2 exited 0 (${SECS} s)"; else
    fail "$S: one make -j2 exited $RC (${SECS} s); its last lines:"; log_tail; fi
built_and_runs
INSTALLS=$(installs)
if [ "$INSTALLS" = 1 ]; then ok "$S: apt-get install called once"; else fail "$S: apt-get install called $INSTALLS times (want 1)"; fi
GOT=$(packages); WANT="libcjson-dev libgsl-dev libutf8proc-dev "
if [ "$GOT" = "$WANT" ]; then ok "$S: packages: $GOT"; else fail "$S: packages: '$GOT' (want '$WANT')"; fi
if grep ' install ' "$SCR/state/apt.log" 2>/dev/null | grep -q '^uid=0 DEBIAN_FRONTEND=noninteractive '; then
    ok "$S: install ran through sudo, non-interactive"
else fail "$S: install did not run as root through sudo with DEBIAN_FRONTEND=noninteractive: $(grep ' install ' "$SCR/state/apt.log" 2>/dev/null)"; fi

if [ "$RC" = 0 ]; then
    # ---- 2. every package missing, the pkg-config program too; root ----
    S="2 (every package and the pkg-config program missing; root)"
    write_shims "$ALL_MODULES" 0
    rm -f "$SCR/repo/build/llmscope"
    run_make 2 0 0 1 1
    if [ "$RC" = 0 ]; then ok "$S: make exited 0 (${SECS} s)"; else fail "$S: make exited $RC; its last lines:"; log_tail; fi
    built_and_runs
    INSTALLS=$(installs); GOT=$(packages)
    if [ "$INSTALLS" = 1 ] && [ "$GOT" = "$ALL_DEBS" ]; then ok "$S: apt-get install once with $GOT"
    else fail "$S: apt-get install $INSTALLS times with '$GOT' (want once with '$ALL_DEBS')"; fi
    if grep ' install ' "$SCR/state/apt.log" 2>/dev/null | grep -q '^uid=0 DEBIAN_FRONTEND=noninteractive ' && [ ! -e "$SCR/state/sudo.log" ]; then
        ok "$S: install ran as root without sudo, non-interactive"
    else fail "$S: install did not run as root without sudo, non-interactive: $(grep ' install ' "$SCR/state/apt.log" 2>/dev/null)"; fi

    # ---- 3. only the pkg-config program missing; sudo ----
    S="3 (only the pkg-config program missing; sudo)"
    write_shims "" 0
    rm -f "$SCR/repo/build/llmscope"
    run_make 3 0 1 1 0
    if [ "$RC" = 0 ]; then ok "$S: make exited 0 (${SECS} s)"; else fail "$S: make exited $RC; its last lines:"; log_tail; fi
    built_and_runs
    if [ "$(installs)" = 1 ] && packages | grep -qw pkg-config && grep ' install ' "$SCR/state/apt.log" | grep -q '^uid=0 '; then
        ok "$S: apt-get install once through sudo, with pkg-config"
    else fail "$S: apt-get install: '$(grep ' install ' "$SCR/state/apt.log" 2>/dev/null)'"; fi

    # ---- 4. a package missing; an ordinary user without sudo ----
    S="4 (libcjson missing; no sudo, not root)"
    write_shims "libcjson" 0
    rm -f "$SCR/repo/build/llmscope"
    run_make 4 1 0 1 0
    refused "please run:  sudo apt-get install -y libcjson-dev"
    if [ ! -e "$SCR/state/apt.log" ]; then ok "$S: apt-get not called"; else fail "$S: apt-get called: $(cat "$SCR/state/apt.log")"; fi

    # ---- 5. apt-get install fails; sudo ----
    S="5 (gsl missing; apt-get install fails; sudo)"
    write_shims "gsl" 1
    run_make 5 1 1 1 0
    refused "apt-get failed; please run:  sudo apt-get install -y libgsl-dev"

    # ---- 6. no apt-get; root ----
    S="6 (libpcre2-8 missing; no apt-get; root)"
    write_shims "libpcre2-8" 0
    run_make 6 1 0 0 1
    refused "sudo apt-get install -y libpcre2-dev"
fi

if [ "$FAILS" = 0 ]; then echo "deps_shim: pass"; exit 0; fi
if [ "$KEEP" = 1 ]; then echo "deps_shim: $FAILS check(s) failed (make logs: $SCR/make-N.log)"
else echo "deps_shim: $FAILS check(s) failed (--keep keeps the make logs)"; fi
exit 1
