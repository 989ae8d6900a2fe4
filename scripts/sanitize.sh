#!/usr/bin/env bash
# Builds the RCU and answer-table tests with AddressSanitizer (build-asan/)
# and ThreadSanitizer (build-tsan/) and runs them: the lock-free table code
# is where a use-after-free or a data race would hide. Only those targets are
# built, so a clean run takes a couple of minutes on two cores (ccache, when
# present, makes reruns quick). Prints one line per binary; exits non-zero if
# any fails to build or run cleanly.
#
# WARPDNS_SANITIZE_SLOWPATH=1 also runs the publisher's test under both. It
# links the whole slow path, which costs about five more minutes per
# sanitizer on a cold cache, so it is off by default.
set -uo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
[ "$jobs" -gt 2 ] && jobs=2  # the machine is shared

fastpath_tests=(
  fastpath_rcu_rcu_test
  fastpath_rcu_rcu_concurrency_test
  fastpath_table_query_key_test
  fastpath_table_answer_table_test
  fastpath_table_answer_table_concurrency_test
)

# Stop at the first report: its stack is the useful one. Leaks count (the
# reclaimer and the table destructors must free every entry).
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# GCC 12's TSan runtime cannot map its shadow with the 32-bit mmap
# randomisation of recent kernels; running without ASLR avoids that.
run_prefix=()
if setarch "$(uname -m)" -R true 2>/dev/null; then run_prefix=(setarch "$(uname -m)" -R); fi

failed=0

# $1: address|thread; rest: targets.
build_and_run() {
  local san=$1
  shift
  local dir=build-${san/address/asan}
  dir=${dir/thread/tsan}
  if [ ! -f "$dir/build.ninja" ]; then
    mkdir -p "$dir"
    if ! cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DWARPDNS_SANITIZE="$san" -DWARPDNS_BUILD_BENCHMARKS=OFF >"$dir/configure.log" 2>&1; then
      echo "FAIL $san configure (see $dir/configure.log)"
      failed=1
      return
    fi
  fi
  local start=$SECONDS
  if ! cmake --build "$dir" -j "$jobs" --target "$@" >"$dir/sanitize-build.log" 2>&1; then
    tail -n 30 "$dir/sanitize-build.log"
    echo "FAIL $san build (see $dir/sanitize-build.log)"
    failed=1
    return
  fi
  echo "built $san: $# targets in $((SECONDS - start))s"
  mkdir -p "$dir/sanitize-logs"
  local t
  for t in "$@"; do
    local log=$dir/sanitize-logs/$t.log
    start=$SECONDS
    if "${run_prefix[@]}" "$dir/tests/$t" >"$log" 2>&1; then
      echo "PASS $san $t ($((SECONDS - start))s)"
    else
      tail -n 40 "$log"
      echo "FAIL $san $t (see $log)"
      failed=1
    fi
  done
}

targets=("${fastpath_tests[@]}")
if [ "${WARPDNS_SANITIZE_SLOWPATH:-0}" = 1 ]; then
  targets+=(slowpath_publish_publisher_test)
fi
build_and_run address "${targets[@]}"
build_and_run thread "${targets[@]}"

if [ "$failed" -ne 0 ]; then
  echo "sanitize: FAILED"
  exit 1
fi
echo "sanitize: all passed"
