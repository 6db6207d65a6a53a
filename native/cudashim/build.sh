#!/usr/bin/env bash
# Builds the test-only CUDA driver shim over cuemu:
#   bash native/cudashim/build.sh OUT_DIR CUEMU_DIR
# OUT_DIR:   where libgatun_cudashim.so goes (created if missing)
# CUEMU_DIR: the directory holding libcuemu.so to link against (DT_NEEDED libcuemu.so, no
#            rpath: the process loads libcuemu.so and the kernel libraries before the shim,
#            so the soname resolves to that copy and the shim sees its kernel registry).
# CXX overrides g++; the CUDA headers come from the newest /usr/local/cuda*/include with
# cuda.h (CUDA_INC overrides).
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: bash native/cudashim/build.sh OUT_DIR CUEMU_DIR" >&2
  exit 2
fi
OUT=$1
CUEMU_DIR=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CXX=${CXX:-g++}
if [[ -z ${CUDA_INC:-} ]]; then
  for d in $(ls -d /usr/local/cuda*/include 2>/dev/null | sort -V); do
    [[ -f $d/cuda.h ]] && CUDA_INC=$d
  done
fi
if [[ -z ${CUDA_INC:-} || ! -f $CUDA_INC/cuda.h ]]; then
  echo "native/cudashim/build.sh: cuda.h not found under /usr/local/cuda*/include (set CUDA_INC)" >&2
  exit 1
fi
if [[ ! -f $CUEMU_DIR/libcuemu.so ]]; then
  echo "native/cudashim/build.sh: $CUEMU_DIR/libcuemu.so not found" >&2
  exit 1
fi
mkdir -p "$OUT"
TMP=$(mktemp "$OUT/.libgatun_cudashim.so.XXXXXX")
trap 'rm -f "$TMP"' EXIT
"$CXX" -O2 -g -fPIC -std=c++17 -pthread -Wall -Wextra -Wno-unused-parameter \
  -fvisibility=hidden -I "$HERE/.." -I "$CUDA_INC" \
  -shared -Wl,-soname,libgatun_cudashim.so -Wl,--version-script="$HERE/exports.map" -Wl,--no-undefined \
  -o "$TMP" "$HERE/shim_state.cpp" "$HERE/driver_api.cpp" "$HERE/module_api.cpp" "$HERE/control.cpp" \
  "$HERE/errors.cpp" "$HERE/image.cpp" "$HERE/cublas.cpp" \
  -L "$CUEMU_DIR" -lcuemu -ldl
mv -f "$TMP" "$OUT/libgatun_cudashim.so"
trap - EXIT
