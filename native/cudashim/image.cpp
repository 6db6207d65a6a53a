// image.cpp — fatbin / cubin / PTX inspection for cuModuleLoadDataEx in the cuda shim.
//
// Fatbin layout as nvcc 13 writes it (found by reading target/.../softmax.fatbin):
//   file header, 16 bytes: u32 magic 0xBA55ED50, u16 version (1), u16 header size (16),
//                          u64 size of the entries that follow
//   entry header (64 bytes for a cubin, 80 for PTX; its own size is at +4):
//     +0  u16 kind (1 PTX, 2 cubin)      +2  u16 version (0x0101)
//     +4  u32 header size                +8  u64 payload size (padded)
//     +16 u32 compressed size (0 = stored as is)
//     +24 u16 minor, +26 u16 major (PTX ISA version for PTX, 1.8 for cubins)
//     +28 u32 arch (80, 90, ...)         +32 u32 name offset, +36 u32 name length
//     +40 u64 flags: 0x11 plain; 0x100000 set on the arch-specific sm_90a cubin;
//                    0x8000 on the PTX, which CUDA 13 stores compressed (0x2000 was
//                    the older LZ4 flag)
//   payload: a cubin is an ELF64 file (EI_OSABI 0x41, e_machine 190 EM_CUDA, ABI
//   version 8: the SM number is in bits 8..15 of e_flags); kernel entry points are
//   its global STT_FUNC symbols with st_other 0x10 (STO_CUDA_ENTRY).
// Only the first fatbin of the image is read: the API passes no length, so the shim
// reads no further than the header says.
#include "image.h"

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>

namespace cudashim {
namespace {

constexpr uint32_t kFatbinMagic = 0xBA55ED50u;
constexpr uint32_t kFatbinWrapperMagic = 0x466243B1u;  // __fatBinC_Wrapper_t {magic, version, data*, filename*}
constexpr uint16_t kEmCuda = 190;
constexpr int kDeviceSm = 90;  // H100

template <class T>
T rd(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

bool sm_runs_here(int sm) { return sm == kDeviceSm; }  // sm_90 and sm_90a cubins run on 9.0 only

std::string sm_name(int sm, bool arch_specific) {
  return "sm_" + std::to_string(sm) + (arch_specific ? "a" : "");
}

// Reads the entry symbols of an ELF64 cubin of `size` bytes. False if malformed.
bool cubin_entries(const unsigned char* e, uint64_t size, std::set<std::string>& out) {
  if (size < 64) return false;
  const uint64_t shoff = rd<uint64_t>(e + 0x28);
  const uint16_t shentsize = rd<uint16_t>(e + 0x3A), shnum = rd<uint16_t>(e + 0x3C);
  if (shentsize < 64 || shoff > size || uint64_t(shnum) * shentsize > size - shoff) return false;
  auto sec = [&](unsigned i) { return e + shoff + uint64_t(i) * shentsize; };
  for (unsigned i = 0; i < shnum; i++) {
    const unsigned char* s = sec(i);
    if (rd<uint32_t>(s + 4) != 2 /*SHT_SYMTAB*/) continue;
    const uint64_t off = rd<uint64_t>(s + 0x18), sz = rd<uint64_t>(s + 0x20);
    const uint32_t link = rd<uint32_t>(s + 0x28);
    uint64_t entsize = rd<uint64_t>(s + 0x38);
    if (entsize < 24) entsize = 24;
    if (link >= shnum || off > size || sz > size - off) return false;
    const unsigned char* st = sec(link);
    const uint64_t stroff = rd<uint64_t>(st + 0x18), strsz = rd<uint64_t>(st + 0x20);
    if (stroff > size || strsz > size - stroff) return false;
    for (uint64_t k = 0; k + 24 <= sz; k += entsize) {
      const unsigned char* sym = e + off + k;
      const uint32_t name = rd<uint32_t>(sym);
      const unsigned char info = sym[4], other = sym[5];
      if ((info & 0xf) != 2 /*STT_FUNC*/ || (info >> 4) != 1 /*STB_GLOBAL*/ || !(other & 0x10)) continue;
      if (name >= strsz) continue;
      const char* n = reinterpret_cast<const char*>(e + stroff + name);
      out.insert(std::string(n, strnlen(n, strsz - name)));
    }
  }
  return true;
}

// SM number of a cubin ELF header, or -1 if it is not a CUDA ELF.
int cubin_sm(const unsigned char* e) {
  if (std::memcmp(e, "\x7f" "ELF", 4) != 0 || e[4] != 2 /*ELFCLASS64*/ || e[5] != 1 /*LE*/) return -1;
  if (rd<uint16_t>(e + 0x12) != kEmCuda) return -1;
  const uint32_t flags = rd<uint32_t>(e + 0x30);
  return e[8] >= 8 ? int((flags >> 8) & 0xff) : int(flags & 0xff);
}

// The extent of a raw ELF image: the end of its section header table or of its last section.
uint64_t elf_extent(const unsigned char* e) {
  const uint64_t shoff = rd<uint64_t>(e + 0x28);
  const uint16_t shentsize = rd<uint16_t>(e + 0x3A), shnum = rd<uint16_t>(e + 0x3C);
  if (shentsize < 64 || shnum == 0 || shoff > (1ull << 32)) return 0;
  uint64_t end = shoff + uint64_t(shnum) * shentsize;
  for (unsigned i = 0; i < shnum; i++) {
    const unsigned char* s = e + shoff + uint64_t(i) * shentsize;
    if (rd<uint32_t>(s + 4) == 8 /*SHT_NOBITS*/) continue;
    const uint64_t o = rd<uint64_t>(s + 0x18), z = rd<uint64_t>(s + 0x20);
    if (o + z > end && z < (1ull << 32)) end = o + z;
  }
  return end;
}

// PTX text: .target sm_NN and the .entry names.
void ptx_scan(const char* text, size_t len, int& target, std::set<std::string>& entries) {
  std::string s(text, len);
  target = -1;
  size_t t = s.find(".target");
  if (t != std::string::npos) {
    size_t sm = s.find("sm_", t);
    if (sm != std::string::npos && sm < t + 64) target = std::atoi(s.c_str() + sm + 3);
  }
  for (size_t p = s.find(".entry"); p != std::string::npos; p = s.find(".entry", p + 6)) {
    size_t b = p + 6;
    while (b < s.size() && (s[b] == ' ' || s[b] == '\t')) b++;
    size_t e = b;
    while (e < s.size() && (std::isalnum((unsigned char)s[e]) || s[e] == '_' || s[e] == '$')) e++;
    if (e > b) entries.insert(s.substr(b, e - b));
  }
}

bool looks_like_ptx(const char* p) {
  // NUL-terminated text with .version and .target near the start. Only text that starts
  // as PTX does (a comment or a directive) is scanned, so garbage is not read far.
  const char c = p[0];
  if (c != '/' && c != '.' && c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  size_t n = strnlen(p, 1 << 16);
  std::string head(p, n);
  return head.find(".version") != std::string::npos && head.find(".target") != std::string::npos;
}

void parse_fatbin(const unsigned char* base, bool ptx_jit, ImageInfo& info) {
  info.kind = ImageInfo::kFatbin;
  const unsigned char* p = base;
  bool any_entry = false, sm90_cubin = false, sm90_names = false, ptx_ok = false, ptx_names = false;
  std::set<std::string> cubin_names, ptx_entry_names;
  {  // one fatbin: nothing tells how long the caller's buffer is, so nothing past it is read
    const uint16_t hsize = rd<uint16_t>(p + 6);
    const uint64_t fsize = rd<uint64_t>(p + 8);
    if (hsize < 16 || hsize > 256 || fsize > (1ull << 31)) {
      info.error = "fatbin header is corrupt (header size " + std::to_string(hsize) + ", size " + std::to_string(fsize) + ")";
      info.code = 200;  // CUDA_ERROR_INVALID_IMAGE
      return;
    }
    uint64_t off = hsize;
    const uint64_t end = hsize + fsize;
    while (off + 64 <= end) {
      const unsigned char* e = p + off;
      const uint16_t kind = rd<uint16_t>(e);
      const uint32_t ehs = rd<uint32_t>(e + 4);
      const uint64_t psize = rd<uint64_t>(e + 8);
      const uint32_t csize = rd<uint32_t>(e + 16);
      const uint32_t arch = rd<uint32_t>(e + 28);
      const uint64_t flags = rd<uint64_t>(e + 40);
      if (ehs < 64 || ehs > 4096 || psize > end - off - ehs) {
        info.error = "fatbin entry at offset " + std::to_string(p - base + off) + " is corrupt";
        info.code = 200;
        return;
      }
      any_entry = true;
      const bool compressed = csize != 0 || (flags & 0xA000);
      const unsigned char* payload = e + ehs;
      if (!info.archs.empty()) info.archs += ", ";
      if (kind == 2) {
        info.archs += sm_name(arch, flags & 0x100000) + " cubin" + (compressed ? " (compressed)" : "");
        if (sm_runs_here(int(arch))) {
          sm90_cubin = true;
          if (!compressed) {
            if (cubin_sm(payload) < 0 || !cubin_entries(payload, psize, cubin_names)) {
              info.error = "the " + sm_name(arch, flags & 0x100000) + " cubin in the fatbin is not a valid CUDA ELF";
              info.code = 200;
              return;
            }
            sm90_names = true;
          }
        }
      } else if (kind == 1) {
        info.archs += "compute_" + std::to_string(arch) + " PTX" + (compressed ? " (compressed)" : "");
        if (int(arch) <= kDeviceSm) {
          ptx_ok = true;
          if (!compressed) {
            int t;
            ptx_scan(reinterpret_cast<const char*>(payload), strnlen(reinterpret_cast<const char*>(payload), psize), t,
                     ptx_entry_names);
            ptx_names = true;
          }
        }
      } else {
        info.archs += "entry kind " + std::to_string(kind);
      }
      off += ehs + psize;
    }
  }
  if (!any_entry) {
    info.error = "fatbin holds no code";
    info.code = 200;
    return;
  }
  if (sm90_cubin) {
    info.runnable = true;
    info.names_known = sm90_names;
    info.entries = cubin_names;
  } else if (ptx_ok && ptx_jit) {
    info.runnable = true;
    info.names_known = ptx_names;
    info.entries = ptx_entry_names;
  } else {
    info.error = "no code for sm_90 in the fatbin (" + info.archs + ")" +
                 (ptx_ok ? "; a real driver would JIT the PTX (the shim does with ptx_jit=1)" : "");
    info.code = 209;  // CUDA_ERROR_NO_BINARY_FOR_GPU
  }
}

}  // namespace

ImageInfo parse_image(const void* image, bool ptx_jit) {
  ImageInfo info;
  const unsigned char* p = static_cast<const unsigned char*>(image);
  if (rd<uint32_t>(p) == kFatbinWrapperMagic) {
    const void* data = rd<const void*>(p + 8);
    if (!data) {
      info.error = "fatbin wrapper with a NULL data pointer";
      info.code = 200;
      return info;
    }
    p = static_cast<const unsigned char*>(data);
  }
  if (rd<uint32_t>(p) == kFatbinMagic) {
    parse_fatbin(p, ptx_jit, info);
    return info;
  }
  const int sm = cubin_sm(p);
  if (sm >= 0) {
    info.kind = ImageInfo::kCubin;
    info.archs = sm_name(sm, false) + " cubin";
    if (!sm_runs_here(sm)) {
      info.error = "the cubin is for sm_" + std::to_string(sm) + ", the device is sm_90";
      info.code = 209;
      return info;
    }
    const uint64_t size = elf_extent(p);
    if (size == 0 || !cubin_entries(p, size, info.entries)) {
      info.error = "the cubin is not a valid CUDA ELF";
      info.code = 200;
      return info;
    }
    info.runnable = info.names_known = true;
    return info;
  }
  if (looks_like_ptx(reinterpret_cast<const char*>(p))) {
    info.kind = ImageInfo::kPtx;
    int target = -1;
    const char* s = reinterpret_cast<const char*>(p);
    ptx_scan(s, std::strlen(s), target, info.entries);
    info.archs = "PTX .target sm_" + std::to_string(target);
    if (target < 0 || target > kDeviceSm) {
      info.error = "PTX for " + (target < 0 ? std::string("no .target") : "sm_" + std::to_string(target)) +
                   " cannot be compiled for sm_90";
      info.code = 218;  // CUDA_ERROR_INVALID_PTX
      return info;
    }
    info.runnable = info.names_known = true;
    return info;
  }
  char hex[64];
  std::snprintf(hex, sizeof hex, "%02x %02x %02x %02x", p[0], p[1], p[2], p[3]);
  info.error = std::string("not a fatbin, cubin or PTX image (first bytes ") + hex + ")";
  info.code = 200;  // CUDA_ERROR_INVALID_IMAGE
  return info;
}

}  // namespace cudashim
