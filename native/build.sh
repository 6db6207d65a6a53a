#!/usr/bin/env bash
# Builds every native artifact of Gatun. Called by Maven from the repo root:
#   bash native/build.sh <main-out-dir> <test-out-dir>
#
# main-out: libcuemu.so, libgatun_kernels_emu.so, libgatun_cpu_x86-64-v3.so,
#           libgatun_cpu_avx512.so, <kernel>.fatbin per kernels/*.cu,
#           kernel-resources.txt (ptxas report for sm_80 and sm_90a), INDEX
# test-out: libcuemu_asan.so, libcuemu_tsan.so, libgatun_kernels_emu_{asan,tsan}.so,
#           libgatun_testkernels_emu{,_asan,_tsan}.so, libgatun_cudashim.so (test-only
#           CUDA driver shim over cuemu, native/cudashim), INDEX
#
# Skips everything when the hash of all inputs matches the stamp in both out
# dirs. Uses all cores (GATUN_NATIVE_JOBS overrides). Any compile error fails
# the build with the compiler's output shown.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: bash native/build.sh <main-out-dir> <test-out-dir>" >&2
  exit 2
fi
MAIN_OUT=$1
TEST_OUT=$2
JOBS=${GATUN_NATIVE_JOBS:-$(nproc 2>/dev/null || echo 2)}
CXX=${CXX:-g++}

# ---------------------------------------------------------------- toolchain
NVCC=""
if command -v nvcc >/dev/null 2>&1; then
  NVCC=$(command -v nvcc)
else
  for c in $(ls -d /usr/local/cuda*/bin/nvcc 2>/dev/null | sort -V); do NVCC=$c; done
fi
CUDA_INC=""
if [[ -n $NVCC ]]; then
  d=$(cd "$(dirname "$(readlink -f "$NVCC")")/../include" 2>/dev/null && pwd || true)
  [[ -n $d && -f $d/cuda_fp16.h ]] && CUDA_INC=$d
fi
if [[ -z $CUDA_INC ]]; then
  for d in $(ls -d /usr/local/cuda*/include 2>/dev/null | sort -V); do
    [[ -f $d/cuda_fp16.h ]] && CUDA_INC=$d
  done
fi
if [[ -z $CUDA_INC ]]; then
  echo "native/build.sh: cuemu needs the CUDA toolkit headers (cuda_fp16.h, cuda_bf16.h) and found none under /usr/local/cuda*/include; install the CUDA toolkit." >&2
  exit 1
fi

# ---------------------------------------------------------------- up to date?
shopt -s nullglob
hash_inputs() {
  {
    echo "script $(sha256sum native/build.sh)"
    echo "cxx $($CXX --version | head -n1)"
    echo "nvcc ${NVCC:-none} $([[ -n $NVCC ]] && "$NVCC" --version | tail -n1 || true)"
    echo "cudainc $CUDA_INC"
    find kernels native src/test/kernels -type f ! -name '*~' ! -name '.*' -print0 2>/dev/null \
      | LC_ALL=C sort -z | xargs -0 -r sha256sum
  } | sha256sum | cut -d' ' -f1
}
HASH=$(hash_inputs)
STAMP=.gatun-native-stamp
if [[ -f $MAIN_OUT/$STAMP && -f $TEST_OUT/$STAMP ]] &&
   [[ $(cat "$MAIN_OUT/$STAMP") == "$HASH" && $(cat "$TEST_OUT/$STAMP") == "$HASH" ]]; then
  echo "native: up to date (inputs $HASH)"
  exit 0
fi

START=$SECONDS
B=$(mktemp -d "${TMPDIR:-/tmp}/gatun-native.XXXXXX")
trap 'rm -rf "$B"' EXIT
mkdir -p "$B/obj" "$B/log" "$B/main" "$B/test" "$B/res"

KERNELS=(kernels/*.cu)
TESTKERNELS=(src/test/kernels/*.cu)
CPUSRC=(native/cpu/*.cpp)
RUNTIME=(native/cuemu/*.cpp)
ASMSRC=(native/cuemu/*.S)

COMMON="-fPIC -std=c++17 -pthread -I native -I $CUDA_INC"
PLAIN="-O2 -g $COMMON"
# No UBSan bounds or object-size check: either would stop an out-of-bounds
# __shared__ access (a redzoned global here) before ASan reports it, with its
# shadow and origin; ASan catches every case those two would.
ASAN="-O1 -g -fsanitize=address,undefined -fno-sanitize=bounds,object-size -fno-sanitize-recover=all -fno-omit-frame-pointer -DCUEMU_ASAN $COMMON"
TSAN="-O1 -g -fsanitize=thread -DCUEMU_TSAN $COMMON"
# The TSan runtime itself is not instrumented: fibers switch without
# synchronization, so its own bookkeeping would read as races. It models the
# happens-before of barriers and collectives with __tsan_acquire/release.
TSAN_RT="-O1 -g -DCUEMU_TSAN $COMMON"
# hidden: only the gatun_cpu_* API is exported, so the two builds never bind to each other
CPU_V3="-O3 -march=x86-64-v3 -fPIC -pthread -fvisibility=hidden -fvisibility-inlines-hidden -I native"
CPU_V4="-O3 -march=x86-64-v4 -mavx512bf16 -fPIC -pthread -fvisibility=hidden -fvisibility-inlines-hidden -I native"
NVCC_FLAGS="-std=c++17 -O3 -I native -gencode arch=compute_80,code=[sm_80,compute_80] -gencode arch=compute_90a,code=sm_90a -fatbin"

# ---------------------------------------------------------------- job runner
# Each job is one shell command line; its output goes to a log that is shown
# when it fails. The first failure stops the build.
JOBFILE=$B/jobs
: >"$JOBFILE"
job() { printf '%s\n' "$*" >>"$JOBFILE"; }
run_jobs() {
  local phase=$1
  [[ -s $JOBFILE ]] || return 0
  if ! xargs -d '\n' -P "$JOBS" -n 1 bash -c '
      log=$(mktemp "'"$B"'/log/job.XXXXXX")
      if ! eval "$1" >"$log" 2>&1; then
        echo "native/build.sh: FAILED: $1" >&2
        cat "$log" >&2
        exit 255
      fi
      [[ -s $log ]] && cat "$log" >&2
      exit 0' _ <"$JOBFILE"; then
    echo "native/build.sh: $phase failed" >&2
    exit 1
  fi
  : >"$JOBFILE"
}
q() { printf '%q' "$1"; }
base() { local f=${1##*/}; echo "${f%.*}"; }

# ---------------------------------------------------------------- phase 1: compile
for s in "${RUNTIME[@]}"; do
  n=$(base "$s")
  job "$CXX $PLAIN -c $(q "$s") -o $B/obj/rtp_$n.o"
  job "$CXX $ASAN -c $(q "$s") -o $B/obj/rta_$n.o"
  job "$CXX $TSAN_RT -c $(q "$s") -o $B/obj/rtt_$n.o"
done
for s in "${ASMSRC[@]}"; do
  job "$CXX -c $(q "$s") -o $B/obj/asm_$(base "$s").o"
done
for s in "${KERNELS[@]}"; do
  n=$(base "$s")
  job "$CXX $PLAIN -x c++ -c $(q "$s") -o $B/obj/kp_$n.o"
  job "$CXX $ASAN -x c++ -c $(q "$s") -o $B/obj/ka_$n.o"
  job "$CXX $TSAN -x c++ -c $(q "$s") -o $B/obj/kt_$n.o"
  if [[ -n $NVCC ]]; then
    job "$NVCC $NVCC_FLAGS --resource-usage -o $B/main/$n.fatbin $(q "$s") > $B/res/$n.txt 2>&1 || { cat $B/res/$n.txt; exit 1; }"
  fi
done
for s in "${TESTKERNELS[@]}"; do
  n=$(base "$s")
  job "$CXX $PLAIN -x c++ -c $(q "$s") -o $B/obj/tp_$n.o"
  job "$CXX $ASAN -x c++ -c $(q "$s") -o $B/obj/ta_$n.o"
  job "$CXX $TSAN -x c++ -c $(q "$s") -o $B/obj/tt_$n.o"
done
for s in "${CPUSRC[@]}"; do
  n=$(base "$s")
  job "$CXX $CPU_V3 -c $(q "$s") -o $B/obj/cpu_${n}_v3.o"
  job "$CXX $CPU_V4 -c $(q "$s") -o $B/obj/cpu_${n}_v4.o"
done
if [[ -z $NVCC ]]; then
  echo "native/build.sh: WARNING: nvcc not found (PATH, /usr/local/cuda*/bin): no fatbins built, kernels checked by g++ only" >&2
fi
run_jobs compile

# ---------------------------------------------------------------- phase 2: link runtimes and CPU libs
objs() { ls "$B"/obj/$1 2>/dev/null | tr '\n' ' '; }
shlib() { echo "-shared -Wl,-soname,$1 -Wl,-rpath,'\$ORIGIN' -o"; }
ASMOBJ=$(objs 'asm_*.o')
job "$CXX $(shlib libcuemu.so) $B/main/libcuemu.so $(objs 'rtp_*.o') $ASMOBJ -pthread"
job "$CXX -fsanitize=address,undefined $(shlib libcuemu_asan.so) $B/test/libcuemu_asan.so $(objs 'rta_*.o') $ASMOBJ -pthread"
job "$CXX -fsanitize=thread $(shlib libcuemu_tsan.so) $B/test/libcuemu_tsan.so $(objs 'rtt_*.o') $ASMOBJ -pthread"
if [[ ${#CPUSRC[@]} -gt 0 ]]; then
  job "$CXX -O3 $(shlib libgatun_cpu_x86-64-v3.so) $B/main/libgatun_cpu_x86-64-v3.so $(objs 'cpu_*_v3.o') -pthread"
  job "$CXX -O3 $(shlib libgatun_cpu_avx512.so) $B/main/libgatun_cpu_avx512.so $(objs 'cpu_*_v4.o') -pthread"
else
  echo "native/build.sh: note: native/cpu has no .cpp yet; CPU libraries skipped" >&2
fi
run_jobs link-runtime

# ---------------------------------------------------------------- phase 3: link kernel libraries
# Kernel libs carry DT_NEEDED on their libcuemu variant (matched by soname)
# and route assert() in kernels to cuemu (--wrap=__assert_fail).
KLINK="-Wl,--wrap=__assert_fail -Wl,--no-as-needed"
kernel_lib() {  # dir name flags objglob runtime runtime-dir
  local objlist
  objlist=$(objs "$4")
  [[ -n $objlist ]] || return 0
  job "$CXX $3 $(shlib "$2") $1/$2 $objlist $KLINK -L$6 -l:$5 -pthread"
}
kernel_lib "$B/main" libgatun_kernels_emu.so "" 'kp_*.o' libcuemu.so "$B/main"
kernel_lib "$B/test" libgatun_kernels_emu_asan.so "-fsanitize=address,undefined" 'ka_*.o' libcuemu_asan.so "$B/test"
kernel_lib "$B/test" libgatun_kernels_emu_tsan.so "-fsanitize=thread" 'kt_*.o' libcuemu_tsan.so "$B/test"
kernel_lib "$B/test" libgatun_testkernels_emu.so "" 'tp_*.o' libcuemu.so "$B/main"
kernel_lib "$B/test" libgatun_testkernels_emu_asan.so "-fsanitize=address,undefined" 'ta_*.o' libcuemu_asan.so "$B/test"
kernel_lib "$B/test" libgatun_testkernels_emu_tsan.so "-fsanitize=thread" 'tt_*.o' libcuemu_tsan.so "$B/test"
# the test-scope CUDA driver shim over cuemu (native/cudashim): the cuda device's Java code runs on it in CI
job "bash native/cudashim/build.sh $B/test $B/main"
run_jobs link-kernels

if [[ -n $NVCC && ${#KERNELS[@]} -gt 0 ]]; then
  {
    echo "# ptxas resource usage per kernel file (sm_80, sm_90a), from nvcc --resource-usage"
    for s in "${KERNELS[@]}"; do
      n=$(base "$s")
      echo "== $n.cu"
      cat "$B/res/$n.txt"
    done
  } >"$B/main/kernel-resources.txt"
fi

# ---------------------------------------------------------------- install
install_dir() {  # staging out
  mkdir -p "$2"
  rm -f "$2"/*.so "$2"/*.fatbin "$2"/kernel-resources.txt "$2"/INDEX "$2/$STAMP"
  local f
  for f in "$1"/*; do cp -f "$f" "$2/"; done
  (cd "$2" && for f in *; do [[ -f $f && $f != INDEX && $f != INDEX.tmp ]] && sha256sum "$f"; done) >"$2/INDEX.tmp" || true
  mv "$2/INDEX.tmp" "$2/INDEX"
  echo "$HASH" >"$2/$STAMP"
}
install_dir "$B/main" "$MAIN_OUT"
install_dir "$B/test" "$TEST_OUT"
echo "native: built $(ls "$B/main" | wc -l) main and $(ls "$B/test" | wc -l) test artifacts in $((SECONDS - START)) s (${#KERNELS[@]} kernel files, ${#TESTKERNELS[@]} test kernel files, ${#CPUSRC[@]} cpu files)"
