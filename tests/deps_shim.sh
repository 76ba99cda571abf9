#!/usr/bin/env bash
# The two-command promise on a machine that lacks packages, without uninstalling anything:
# a scratch clone of this repository is built with ONE `make -j2` while shims stand first on
# PATH:
#   pkg-config  reports libcjson, gsl and libutf8proc missing until the fake apt-get has
#               "installed" them, then hands every call to the real pkg-config;
#   apt-get     logs its arguments and "installs" (it touches a marker file); its "update"
#               fails, as it does offline, and the install must still be tried;
#   id, sudo    make the build run as an ordinary user with sudo (sudo logs, then runs).
# Passes when that single make exits 0, the binary it built runs, and apt-get install was
# called exactly once, through sudo, with exactly the Debian packages of the missing
# modules. A Makefile that computes its flags before installing fails here: it compiles and
# links with the empty flags the "missing" pkg-config gave it.
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
mkdir -p "$SCR/bin" "$SCR/state"

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
cat > "$SCR/bin/pkg-config" <<EOF
#!/bin/sh
# "missing" until the fake apt-get ran, then the real pkg-config
if [ ! -e "$SCR/state/installed" ]; then
    for a in "\$@"; do
        case "\$a" in libcjson|gsl|libutf8proc) echo "Package \$a was not found in the pkg-config search path." >&2; exit 1 ;; esac
    done
fi
exec "$REAL_PKG_CONFIG" "\$@"
EOF
cat > "$SCR/bin/apt-get" <<EOF
#!/bin/sh
# "update" fails as it does offline (the packages may still be in apt's cache)
echo "uid=\$(id -u) DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-} \$*" >> "$SCR/state/apt.log"
for a in "\$@"; do [ "\$a" = update ] && exit 100; done
for a in "\$@"; do [ "\$a" = install ] && touch "$SCR/state/installed"; done
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
# an ordinary user (uid 1000) unless running under the fake sudo
if [ "\$1" = -u ]; then echo "\${LLMSCOPE_SHIM_UID:-1000}"; exit 0; fi
exec "$REAL_ID" "\$@"
EOF
chmod +x "$SCR/bin/"*

# ---- one make -------------------------------------------------------------------------
# Nothing from an enclosing make (make test) leaks in: no MAKEFLAGS, no jobserver.
# -O0 keeps the build short; the flags from pkg-config are what this test is about.
START=$(date +%s)
( cd "$SCR/repo" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES PATH="$SCR/bin:$PATH" \
    nice make -j2 OPT=-O0 ) > "$SCR/make.log" 2>&1
RC=$?
SECS=$(( $(date +%s) - START ))

FAILS=0
fail() { echo "FAIL  $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok    $*"; }
if [ "$RC" = 0 ]; then ok "one make -j2 exited 0 (${SECS} s)"; else
    fail "one make -j2 exited $RC (${SECS} s); its last lines:"; tail -n 15 "$SCR/make.log" | sed 's/^/      /'; fi
if [ -x "$SCR/repo/build/llmscope" ] && "$SCR/repo/build/llmscope" --help >/dev/null 2>&1; then
    ok "build/llmscope built and runs"
else fail "build/llmscope missing or does not run"; fi
INSTALLS=$(grep -c ' install ' "$SCR/state/apt.log" 2>/dev/null); INSTALLS=${INSTALLS:-0}
if [ "$INSTALLS" = 1 ]; then ok "apt-get install called once"; else fail "apt-get install called $INSTALLS times (want 1)"; fi
GOT=$(grep ' install ' "$SCR/state/apt.log" 2>/dev/null | tr ' ' '\n' | grep -- '-dev$' | sort | tr '\n' ' ')
WANT="libcjson-dev libgsl-dev libutf8proc-dev "
if [ "$GOT" = "$WANT" ]; then ok "packages: $GOT"; else fail "packages: '$GOT' (want '$WANT')"; fi
if grep ' install ' "$SCR/state/apt.log" 2>/dev/null | grep -q '^uid=0 DEBIAN_FRONTEND=noninteractive '; then
    ok "install ran through sudo, non-interactive"
else fail "install did not run as root through sudo with DEBIAN_FRONTEND=noninteractive: $(grep ' install ' "$SCR/state/apt.log" 2>/dev/null)"; fi
if [ "$FAILS" = 0 ]; then echo "deps_shim: pass"; exit 0; fi
if [ "$KEEP" = 1 ]; then echo "deps_shim: $FAILS check(s) failed (make log: $SCR/make.log)"
else echo "deps_shim: $FAILS check(s) failed (--keep keeps the make log)"; fi
exit 1
