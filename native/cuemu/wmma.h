// cuemu wmma: nvcuda::wmma for the host (g++) build. Included by prelude.h;
// under nvcc the real <mma.h> is used instead.
//
// Supported (everything else is a compile error, never a silent fallback):
//   fragment<matrix_a,   16,16,16, __half | __nv_bfloat16, row_major | col_major>
//   fragment<matrix_b,   16,16,16, __half | __nv_bfloat16, row_major | col_major>
//   fragment<accumulator,16,16,16, float>
//   fragment<matrix_a,   16,16,8,  precision::tf32, row_major | col_major>   (storage float)
//   fragment<matrix_b,   16,16,8,  precision::tf32, row_major | col_major>
//   fragment<accumulator,16,16,8,  float>
//   fill_fragment, load_matrix_sync, store_matrix_sync (accumulator,
//   mem_row_major | mem_col_major), mma_sync (D = A*B + C, d may alias c),
//   __float_to_tf32.
//
// Emulated fragment layout (deliberately NOT the hardware's). A fragment holds
// an R x C tile (matrix_a: M x K, matrix_b: K x N, accumulator: M x N) in
// logical coordinates; flatten it row-major (index r*C + c); lane l holds the
// E = R*C/32 consecutive indices [l*E, l*E + E) in x[0..E). So for 16x16 tiles
// num_elements = 8 and lane l holds row l/2, columns (l%2)*8 .. +7; for the tf32
// 16x8 A tile num_elements = 4 (row l/2, columns (l%2)*4 ..); for the 8x16 B
// tile num_elements = 4 (row l/4, columns (l%4)*4 ..). On a GPU num_elements and
// the mapping differ (e.g. 16 elements per lane for an __half matrix_a).
//
// Rules for kernel authors (checked where possible, else they are bugs that
// only a GPU would show):
//  * load_matrix_sync, store_matrix_sync and mma_sync are warp-collective: all 32
//    lanes of a full warp call them at the same call site with the same pointer,
//    ldm and layout. A divergent call, a partial warp, or arguments that differ
//    between lanes fail the launch with a message (like __shfl_sync).
//  * The pointer is 256-bit (32-byte) aligned and ldm * sizeof(element) is a
//    multiple of 16 bytes (checked).
//  * fill_fragment and element-wise access to x[] are per-lane, as on the GPU.
//    Code may apply the SAME operation to every x[i] (scale, convert, add a
//    uniform value) but must never assume which matrix element x[i] is, nor
//    num_elements: use store_matrix_sync to get positions.
//  * Memory between lanes: a store_matrix_sync writes each lane's own elements
//    after the call; reading them from other lanes needs __syncwarp() (or
//    __syncthreads()) in between, as on the GPU. TSan reports a missing one.
//
// Numerics of mma_sync: inputs are converted exactly to fp32 (tf32 inputs keep
// their top 19 bits: the low 13 mantissa bits are ignored, as the tensor core
// does; __float_to_tf32 rounds to nearest, ties away, like cvt.rna.tf32.f32);
// each product is then exact in fp32, and for every output element
//   d[i][j] = (((c[i][j] + a[i][0]*b[0][j]) + a[i][1]*b[1][j]) + ... + a[i][K-1]*b[K-1][j])
// with each addition rounded to fp32 (round-to-nearest-even). The tensor core
// sums in a different order (and with different internal rounding), so tests
// compare results with tolerances, never bit-for-bit against a GPU.
//
// Implementation: loads read the calling lane's elements, then join a warp
// collective that checks the lanes agree; stores join the collective, then
// write the lane's own elements; mma_sync publishes pointers to the lane's
// fragments through cuemu::warp_exchange and the last lane to arrive computes
// the whole tile for the warp. The collective gives the same happens-before as
// __syncwarp() (TSan) and all memory accesses are the lanes' own (ASan).
#pragma once

namespace nvcuda {
namespace wmma {

struct row_major;
struct col_major;
struct matrix_a;
struct matrix_b;
struct accumulator;
namespace precision {
struct tf32;
}
enum layout_t { mem_row_major, mem_col_major };

inline float __float_to_tf32(float in) {
  uint32_t u;
  memcpy(&u, &in, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) {  // finite: round to nearest, ties away from zero
    u += 0x1000u;
    u &= 0xffffe000u;
  }
  float r;
  memcpy(&r, &u, 4);
  return r;
}

}  // namespace wmma
}  // namespace nvcuda

namespace cuemu {
namespace wmma_detail {

namespace w = ::nvcuda::wmma;

template <typename T> struct Storage { using type = T; };
template <> struct Storage<w::precision::tf32> { using type = float; };

// Exact conversion of an input element to fp32.
inline float to_f32(float v) { return v; }
inline float to_f32(__half v) { return __half2float(v); }
inline float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
inline float tf32_bits(float v) {  // what the tensor core reads of a tf32 operand
  uint32_t u;
  memcpy(&u, &v, 4);
  u &= 0xffffe000u;
  memcpy(&v, &u, 4);
  return v;
}

template <typename Use, int M, int N, int K> struct Dims;
template <int M, int N, int K> struct Dims<w::matrix_a, M, N, K> { static constexpr int R = M, C = K; };
template <int M, int N, int K> struct Dims<w::matrix_b, M, N, K> { static constexpr int R = K, C = N; };
template <int M, int N, int K> struct Dims<w::accumulator, M, N, K> { static constexpr int R = M, C = N; };

template <typename Use, int M, int N, int K, typename T, typename Layout>
constexpr bool supported() {
  constexpr bool in16 = std::is_same<T, __half>::value || std::is_same<T, __nv_bfloat16>::value;
  constexpr bool tf = std::is_same<T, w::precision::tf32>::value;
  constexpr bool ab = std::is_same<Use, w::matrix_a>::value || std::is_same<Use, w::matrix_b>::value;
  constexpr bool lay = std::is_same<Layout, w::row_major>::value || std::is_same<Layout, w::col_major>::value;
  constexpr bool acc = std::is_same<Use, w::accumulator>::value && std::is_same<T, float>::value &&
                       std::is_same<Layout, void>::value;
  return M == 16 && N == 16 && ((K == 16 && ((ab && in16 && lay) || acc)) || (K == 8 && ((ab && tf && lay) || acc)));
}

inline int lane_id() {
  return int((threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y) & 31u);
}

// What every lane passes to the collective of a load or store: the lanes
// must agree on all of it.
struct LdSt {
  const void* ptr;
  unsigned ldm;
  int layout;  // 0 row-major, 1 col-major
};

inline const char* check_uniform(void* const* lanes, char* buf, size_t cap) {
  const LdSt* l0 = static_cast<const LdSt*>(lanes[0]);
  for (int l = 1; l < 32; ++l) {
    const LdSt* p = static_cast<const LdSt*>(lanes[l]);
    if (p->ptr != l0->ptr || p->ldm != l0->ldm || p->layout != l0->layout) {
      snprintf(buf, cap,
               "lanes disagree on the arguments: lane 0 passes pointer %p, ldm %u, %s; lane %d passes pointer %p, "
               "ldm %u, %s (all lanes must pass the same)",
               l0->ptr, l0->ldm, l0->layout ? "col-major" : "row-major", l, p->ptr, p->ldm,
               p->layout ? "col-major" : "row-major");
      return buf;
    }
  }
  return nullptr;
}

inline void check_args(const void* p, unsigned ldm, size_t elem, const char* what, const char* file, int line) {
  if ((reinterpret_cast<uintptr_t>(p) & 31u) != 0 || (size_t(ldm) * elem) % 16 != 0) {
    char buf[256];
    snprintf(buf, sizeof buf,
             "wmma::%s: pointer %p must be 32-byte aligned and ldm %u a multiple of %zu elements (16 bytes)", what,
             p, ldm, 16 / elem);
    kernel_error(file, line, buf);
  }
}

struct MmaLanes {
  const void* a;
  const void* b;
  const void* c;
  void* d;
};

// Runs once per mma_sync, on the last lane to arrive: gathers the warp's A, B
// and C tiles from the lanes' fragments, computes D, scatters it back.
template <int M, int N, int K, typename AF, typename BF, typename CF, typename DF>
const char* mma_warp(void* const* lanes, char*, size_t) {
  constexpr int EA = M * K / 32, EB = K * N / 32, EC = M * N / 32;
  alignas(32) float A[M * K];  // row-major M x K
  alignas(32) float B[K * N];  // row-major K x N
  alignas(32) float D[M * N];  // row-major M x N
  for (int l = 0; l < 32; ++l) {
    const MmaLanes* p = static_cast<const MmaLanes*>(lanes[l]);
    const AF* a = static_cast<const AF*>(p->a);
    const BF* b = static_cast<const BF*>(p->b);
    const CF* c = static_cast<const CF*>(p->c);
    for (int e = 0; e < EA; ++e) A[l * EA + e] = a->in_f32(e);
    for (int e = 0; e < EB; ++e) B[l * EB + e] = b->in_f32(e);
    for (int e = 0; e < EC; ++e) D[l * EC + e] = c->x[e];
  }
  for (int i = 0; i < M; ++i)
    for (int kk = 0; kk < K; ++kk) {
      const float aik = A[i * K + kk];
      float* __restrict drow = D + i * N;
      const float* __restrict brow = B + kk * N;
      for (int j = 0; j < N; ++j) drow[j] += aik * brow[j];  // exact product, one rounding per add
    }
  for (int l = 0; l < 32; ++l) {
    DF* d = static_cast<DF*>(static_cast<const MmaLanes*>(lanes[l])->d);
    for (int e = 0; e < EC; ++e) d->x[e] = D[l * EC + e];
  }
  return nullptr;
}

}  // namespace wmma_detail
}  // namespace cuemu

namespace nvcuda {
namespace wmma {

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment {
  static_assert(::cuemu::wmma_detail::supported<Use, M, N, K, T, Layout>(),
                "cuemu wmma: unsupported fragment (supported: m16n16k16 __half/__nv_bfloat16 A,B with row_major or "
                "col_major, m16n16k8 precision::tf32 A,B, float accumulator without layout)");

 public:
  using element_type = T;
  using storage_element_type = typename ::cuemu::wmma_detail::Storage<T>::type;
  static constexpr int kRows = ::cuemu::wmma_detail::Dims<Use, M, N, K>::R;
  static constexpr int kCols = ::cuemu::wmma_detail::Dims<Use, M, N, K>::C;
  enum { num_elements = kRows * kCols / 32, num_storage_elements = kRows * kCols / 32 };
  alignas(8) storage_element_type x[num_elements];

  // fp32 value of element e as the tensor core reads it.
  float in_f32(int e) const {
    if constexpr (std::is_same<T, precision::tf32>::value) return ::cuemu::wmma_detail::tf32_bits(x[e]);
    else return ::cuemu::wmma_detail::to_f32(x[e]);
  }
};

template <typename Use, int M, int N, int K, typename T, typename Layout, typename V>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const V& v) {
  using S = typename fragment<Use, M, N, K, T, Layout>::storage_element_type;
  const S s = S(v);
  for (int e = 0; e < fragment<Use, M, N, K, T, Layout>::num_elements; ++e) f.x[e] = s;
}

namespace cuemu_impl {

template <typename Frag, typename S>
inline void load(Frag& f, const S* p, unsigned ldm, int col, const char* what, const char* file, int line) {
  ::cuemu::wmma_detail::check_args(p, ldm, sizeof(S), what, file, line);
  constexpr int E = Frag::num_elements, C = Frag::kCols;
  const int lane = ::cuemu::wmma_detail::lane_id();
  for (int e = 0; e < E; ++e) {  // this lane's elements, read at its own time
    const int idx = lane * E + e, r = idx / C, c = idx % C;
    f.x[e] = p[col ? size_t(c) * ldm + r : size_t(r) * ldm + c];
  }
  ::cuemu::wmma_detail::LdSt me{p, ldm, col};
  ::cuemu::warp_exchange(::cuemu::kWmmaLoad, &me, &::cuemu::wmma_detail::check_uniform, file, line);
}

}  // namespace cuemu_impl

// The call site (for error messages) comes through __builtin_FILE/__builtin_LINE defaults.
template <typename Use, int M, int N, int K, typename T, typename Layout>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f,
                                const typename fragment<Use, M, N, K, T, Layout>::storage_element_type* p,
                                unsigned ldm, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
  static_assert(!std::is_same<Use, accumulator>::value,
                "wmma::load_matrix_sync of an accumulator needs a layout_t argument");
  cuemu_impl::load(f, p, ldm, std::is_same<Layout, col_major>::value ? 1 : 0, "load_matrix_sync", file, line);
}

template <int M, int N, int K>
inline void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm,
                                layout_t layout, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
  cuemu_impl::load(f, p, ldm, layout == mem_col_major ? 1 : 0, "load_matrix_sync", file, line);
}

template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm,
                                 layout_t layout, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
  using Frag = fragment<accumulator, M, N, K, float>;
  ::cuemu::wmma_detail::check_args(p, ldm, sizeof(float), "store_matrix_sync", file, line);
  const int col = layout == mem_col_major ? 1 : 0;
  ::cuemu::wmma_detail::LdSt me{p, ldm, col};
  ::cuemu::warp_exchange(::cuemu::kWmmaStore, &me, &::cuemu::wmma_detail::check_uniform, file, line);
  constexpr int E = Frag::num_elements, C = Frag::kCols;
  const int lane = ::cuemu::wmma_detail::lane_id();
  for (int e = 0; e < E; ++e) {  // this lane's elements, written after the collective
    const int idx = lane * E + e, r = idx / C, c = idx % C;
    p[col ? size_t(c) * ldm + r : size_t(r) * ldm + c] = f.x[e];
  }
}

template <int M, int N, int K, typename T, typename LA, typename LB>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LA>& a,
                        const fragment<matrix_b, M, N, K, T, LB>& b, const fragment<accumulator, M, N, K, float>& c,
                     const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using AF = fragment<matrix_a, M, N, K, T, LA>;
  using BF = fragment<matrix_b, M, N, K, T, LB>;
  using CF = fragment<accumulator, M, N, K, float>;
  ::cuemu::wmma_detail::MmaLanes me{&a, &b, &c, &d};
  ::cuemu::warp_exchange(::cuemu::kWmmaMma, &me, &::cuemu::wmma_detail::mma_warp<M, N, K, AF, BF, CF, CF>, file,
                         line);
}

}  // namespace wmma
}  // namespace nvcuda

