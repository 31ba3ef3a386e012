#!/bin/bash
# Source coverage of ioreq-lend/ reached by the fuzz corpora, with llvm-cov:
# the targets are rebuilt with -fprofile-instr-generate -fcoverage-mapping
# (no sanitizers), every input of the seed and found corpora is run once, and
# llvm-cov reports lines, regions, branches and functions per file.
#
#   tests/fuzz/coverage.sh TARGET...      (make fuzz-coverage)
#
# Output in $FUZZ_BUILD/cov/: report.txt (the table), html/ (annotated
# sources), profdata. Needs llvm-profdata and llvm-cov (Debian: llvm-14).
set -eu
cd "$(dirname "$0")/../.."

FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
CC=${FUZZ_CC:-clang}
out="$FUZZ_BUILD/cov"
[ $# -gt 0 ] || { echo "coverage.sh: no targets" >&2; exit 2; }

tool() { # the unversioned name, else the one matching clang's major version
    local v
    command -v "$1" >/dev/null 2>&1 && { echo "$1"; return; }
    v=$($CC --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
    command -v "$1-$v" >/dev/null 2>&1 && { echo "$1-$v"; return; }
    echo "coverage.sh: $1 not found (apt-get install llvm-$v)" >&2
    exit 1
}
PROFDATA=$(tool llvm-profdata)
LLVMCOV=$(tool llvm-cov)

CFLAGS=(-std=c11 -D_GNU_SOURCE -D__XEN_TOOLS__ -DIOREQ_LEND_VERSION='"fuzz"' -Iioreq-lend
        -Itests/fuzz -O1 -g -fprofile-instr-generate -fcoverage-mapping
        $(pkg-config --cflags libpci))
LIBS=($(pkg-config --libs libpci) -lev -lpthread -lm)
srcs=()
for f in ioreq-lend/*.c; do
    case $f in ioreq-lend/main.c | ioreq-lend/xenlend.c) ;; *) srcs+=("$f") ;; esac
done
[ -f ioreq-lend/launcher/lend_spec.c ] && srcs+=(ioreq-lend/launcher/lend_spec.c)

rm -rf "$out"
mkdir -p "$out/obj"
echo "coverage: building"
objs=()
for f in "${srcs[@]}"; do
    o="$out/obj/$(basename "${f%.c}").o"
    "$CC" "${CFLAGS[@]}" -c "$f" -o "$o"
    objs+=("$o")
done
ar rcs "$out/libdaemon.a" "${objs[@]}"
"$CC" "${CFLAGS[@]}" -c tests/fuzz/mock_xen.c -o "$out/obj/mock_xen.o"

bins=()
for t in "$@"; do
    extra=()
    [ "$t" = fuzz_dispatch ] && extra=("$out/obj/mock_xen.o")
    "$CC" "${CFLAGS[@]}" -fsanitize=fuzzer -o "$out/$t" "tests/fuzz/$t.c" "${extra[@]}" \
        "$out/libdaemon.a" "${LIBS[@]}"
    dirs=()
    for d in "$FUZZ_BUILD/corpus/$t" "tests/fuzz/corpus/$t"; do
        [ -d "$d" ] && dirs+=("$d")
    done
    echo "coverage: running $t over ${dirs[*]}"
    LLVM_PROFILE_FILE="$out/$t.profraw" "$out/$t" -runs=0 "${dirs[@]}" >"$out/$t.log" 2>&1
    bins+=("$out/$t")
done

"$PROFDATA" merge -sparse -o "$out/fuzz.profdata" "$out"/*.profraw
objargs=("${bins[0]}")
for b in "${bins[@]:1}"; do
    objargs+=(-object "$b")
done
"$LLVMCOV" report "${objargs[@]}" -instr-profile="$out/fuzz.profdata" "${srcs[@]}" \
    >"$out/report.txt"
"$LLVMCOV" show "${objargs[@]}" -instr-profile="$out/fuzz.profdata" -format=html \
    -output-dir="$out/html" "${srcs[@]}" >/dev/null
cat "$out/report.txt"
echo "coverage: $out/report.txt, annotated sources in $out/html/index.html"
