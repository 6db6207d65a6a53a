// image.h — what the cuda shim reads from a module image (fatbin, cubin or PTX) handed
// to cuModuleLoadDataEx: is it code an H100 (compute capability 9.0) can run, and which
// kernel entry points does it hold. Test-only (native/cudashim).
#pragma once
#include <cstddef>
#include <set>
#include <string>

namespace cudashim {

// What a parsed image holds for the device.
struct ImageInfo {
  enum Kind { kUnknown, kFatbin, kCubin, kPtx } kind = kUnknown;
  bool runnable = false;       // has code for sm_90 (a cubin sm_90/sm_90a, or PTX when allowed)
  bool names_known = false;    // entry names read from an uncompressed sm_90 cubin or PTX text
  std::set<std::string> entries;  // kernel entry points (names_known)
  std::string archs;           // "sm_80 cubin, compute_80 PTX (compressed), sm_90a cubin"
  std::string error;           // why the image is invalid or not runnable
  int code = 0;                // 0 ok, else the CUresult for the failure
};

// Parses an image of unknown length (the driver API passes no size): the fatbin and ELF
// headers say how many bytes belong to it; PTX is NUL-terminated text.
// ptx_jit: accept PTX (raw, or a fatbin's PTX when it has no sm_90 cubin) as the driver's
// JIT would; otherwise a fatbin without an sm_90 cubin is CUDA_ERROR_NO_BINARY_FOR_GPU.
ImageInfo parse_image(const void* image, bool ptx_jit);

}  // namespace cudashim
