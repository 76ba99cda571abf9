#!/bin/sh
# Runs the libFuzzer targets built by tests/fuzz/fuzz.mk and prints a summary.
#   sh tests/fuzz/run.sh run SECONDS JOBS TARGET...      fuzz each target for SECONDS
#   sh tests/fuzz/run.sh regress 0 JOBS TARGET...        replay the committed seeds once
#   sh tests/fuzz/run.sh one MODE SECONDS TARGET         (internal: one target)
# Run from the repository root. Exit status 1 when any target reported a finding.
set -u
B=${FUZZ_DIR:-build/fuzz}

one() {
    mode=$1 secs=$2 t=$3
    mkdir -p "$B/corpus/$t" "$B/artifacts/$t" "$B/logs"
    case $t in
        safetensors|st_index|config|loader|tokenizer_json|lesson) dict="-dict=tests/fuzz/json.dict" ;;
        *) dict="" ;;
    esac
    extra=""
    [ "$t" = lesson ] && [ -d lessons ] && extra=lessons   # the shipped lessons are seeds too
    log="$B/logs/$t.log"
    if [ "$mode" = regress ]; then
        "$B/fuzz_$t" -runs=0 -timeout=25 -rss_limit_mb=3072 -close_fd_mask=1 \
            -artifact_prefix="$B/artifacts/$t/" "tests/fuzz/corpus/$t" $extra >"$log" 2>&1
    else
        # new inputs go to the first (build) directory; the committed seeds are read only
        "$B/fuzz_$t" "$B/corpus/$t" "tests/fuzz/corpus/$t" $extra $dict -max_total_time="$secs" -timeout=25 \
            -rss_limit_mb=3072 -malloc_limit_mb=2048 -max_len=65536 -print_final_stats=1 -close_fd_mask=1 \
            -artifact_prefix="$B/artifacts/$t/" >"$log" 2>&1
    fi
    echo $? >"$B/logs/$t.rc"
}

case ${1:-} in
one) one "$2" "$3" "$4"; exit 0 ;;
run|regress) ;;
*) echo "usage: sh tests/fuzz/run.sh run|regress SECONDS JOBS TARGET..." >&2; exit 2 ;;
esac
mode=$1 secs=$2 jobs=$3
shift 3
echo "fuzz: $mode $* (${secs}s each, $jobs at a time); logs in $B/logs/"
for t in "$@"; do echo "$t"; done | xargs -P "$jobs" -I{} sh "$0" one "$mode" "$secs" {}

bad=0
printf '%-16s %12s %9s %8s %6s  %s\n' target executions exec/s corpus cov findings
for t in "$@"; do
    log="$B/logs/$t.log"
    rc=$(cat "$B/logs/$t.rc" 2>/dev/null || echo "?")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    [ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    found=$(grep -c 'Test unit written to' "$log")
    what=$(grep -E '^(==[0-9]+==ERROR|SUMMARY|FUZZ PROPERTY)|runtime error' "$log" | head -2 | tr '\n' ' ')
    if [ "$rc" != 0 ] || [ "$found" != 0 ]; then bad=1; fi
    printf '%-16s %12s %9s %8s %6s  %s\n' "$t" "${execs:--}" "${eps:--}" "${corp:--}" "${cov:--}" \
        "$found${what:+ ($what)}$( [ "$rc" != 0 ] && echo " [exit $rc]")"
done
[ $bad = 0 ] && echo "fuzz: no findings" || echo "fuzz: FINDINGS - inputs in $B/artifacts/<target>/, details in $B/logs/"
exit $bad
