#include "engine/backends/cpu/matmul.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <utility>
#include <vector>

#include "engine/backends/cpu/kernels.h"
#include "engine/backends/cpu/simd.h"
#include "engine/error.h"

namespace halo::cpu {
namespace {

constexpr int64_t kPanelRows = 32;    // weight rows per GEMM panel (two zmm registers)
constexpr int64_t kTokenGroup = 12;   // tokens per micro-kernel call (24 accumulators)
constexpr int64_t kMaxDepth = 4096;   // longest K slice decoded at once (L2-sized panel)
constexpr int64_t kRowsPathMaxTokens = 3;

// Per-thread scratch, grown on demand and reused across calls.
std::vector<float>& scratch(int which, size_t n) {
  thread_local std::vector<float> buffers[2];
  auto& b = buffers[which];
  if (b.size() < n) b.resize(n);
  return b;
}

struct WeightView {
  WeightKernels k;
  const uint8_t* data;
  int64_t cols;       // K
  int64_t rows;       // M
  int64_t row_bytes;  // bytes of one row
};

WeightView view(const Tensor& w) {
  if (!w.host) throw Error(ErrorKind::Device, "tensor " + w.name + " is not readable from the CPU");
  WeightView v{weight_kernels(w.type), w.host, static_cast<int64_t>(w.ne[0]),
               static_cast<int64_t>(w.ne[1]), 0};
  v.row_bytes = v.cols / v.k.block_elems * v.k.block_bytes;
  return v;
}

// Rows are handed out in chunks from a shared counter so that a thread slowed
// down by other work on the machine does not hold everyone up.
template <class Fn>
void for_row_chunks(ThreadPool& pool, int64_t rows, int64_t chunk, Fn&& fn) {
  std::atomic<int64_t> next{0};
  pool.run([&](unsigned, unsigned) {
    for (;;) {
      int64_t begin = next.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= rows) return;
      fn(begin, std::min(rows, begin + chunk));
    }
  });
}

// Length of the K slice decoded at once: whole rows when they fit, else a
// multiple of the block size.
int64_t depth_slice(const WeightView& v) {
  if (v.cols <= kMaxDepth) return v.cols;
  return std::max<int64_t>(v.k.block_elems, kMaxDepth / 2 / v.k.block_elems * v.k.block_elems);
}

// packed (depth × 32): packed[k][r] = rows[r][k], rows has `valid` rows of
// length depth with stride depth; missing rows are zero.
void pack_panel(const float* rows, int64_t valid, int64_t depth, float* packed) {
  for (int64_t r = 0; r < kPanelRows; ++r) {
    if (r < valid) {
      const float* src = rows + r * depth;
      for (int64_t k = 0; k < depth; ++k) packed[k * kPanelRows + r] = src[k];
    } else {
      for (int64_t k = 0; k < depth; ++k) packed[k * kPanelRows + r] = 0.0f;
    }
  }
}

// y[t][0..valid) (+)= sum_k packed[k][r] * x[t][k] for NT tokens.
//   packed: (depth × 32), x: NT rows with stride ldx, y: NT rows with stride ldy.
template <int NT>
void micro_kernel(const float* packed, const float* x, int64_t ldx, int64_t depth, float* y,
                  int64_t ldy, int64_t valid, bool accumulate) {
#if HALO_CPU_AVX512
  __m512 acc[NT][2];
#pragma GCC unroll 12
  for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < depth; ++k) {
    const __m512 w0 = _mm512_loadu_ps(packed + k * kPanelRows);
    const __m512 w1 = _mm512_loadu_ps(packed + k * kPanelRows + 16);
#pragma GCC unroll 12
    for (int t = 0; t < NT; ++t) {
      const __m512 xb = _mm512_set1_ps(x[t * ldx + k]);
      acc[t][0] = _mm512_fmadd_ps(w0, xb, acc[t][0]);
      acc[t][1] = _mm512_fmadd_ps(w1, xb, acc[t][1]);
    }
  }
  const __mmask16 m0 = valid >= 16 ? 0xffff : static_cast<__mmask16>((1u << valid) - 1);
  const __mmask16 m1 = valid >= 32 ? 0xffff : valid <= 16 ? 0 : static_cast<__mmask16>((1u << (valid - 16)) - 1);
#pragma GCC unroll 12
  for (int t = 0; t < NT; ++t) {
    float* out = y + t * ldy;
    if (accumulate) {
      acc[t][0] = _mm512_add_ps(acc[t][0], _mm512_maskz_loadu_ps(m0, out));
      acc[t][1] = _mm512_add_ps(acc[t][1], _mm512_maskz_loadu_ps(m1, out + 16));
    }
    _mm512_mask_storeu_ps(out, m0, acc[t][0]);
    _mm512_mask_storeu_ps(out + 16, m1, acc[t][1]);
  }
#else
  float acc[NT][kPanelRows] = {};
  for (int64_t k = 0; k < depth; ++k)
    for (int t = 0; t < NT; ++t) {
      const float xv = x[t * ldx + k];
      for (int64_t r = 0; r < kPanelRows; ++r) acc[t][r] += packed[k * kPanelRows + r] * xv;
    }
  for (int t = 0; t < NT; ++t)
    for (int64_t r = 0; r < valid; ++r) y[t * ldy + r] = (accumulate ? y[t * ldy + r] : 0.0f) + acc[t][r];
#endif
}

using MicroKernel = void (*)(const float*, const float*, int64_t, int64_t, float*, int64_t, int64_t, bool);

template <int... N>
constexpr auto make_kernel_table(std::integer_sequence<int, N...>) {
  return std::array<MicroKernel, sizeof...(N)>{micro_kernel<N + 1>...};
}
constexpr auto kMicroKernels = make_kernel_table(std::make_integer_sequence<int, kTokenGroup>{});

}  // namespace

void decode_row(const Tensor& w, int64_t row, float* dst) {
  const WeightView v = view(w);
  if (row < 0 || row >= v.rows) throw Error(ErrorKind::InvalidArgument, "row out of range in " + w.name);
  v.k.decode(v.data + row * v.row_bytes, dst, v.cols);
}

void matmul_rows(const Tensor& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  const WeightView v = view(w);
  const int64_t chunk = std::max<int64_t>(4, v.rows / (pool.size() * 32));
  for_row_chunks(pool, v.rows, chunk, [&](int64_t begin, int64_t end) {
    float* row = scratch(0, v.cols).data();
    for (int64_t r = begin; r < end; ++r) {
      v.k.decode(v.data + r * v.row_bytes, row, v.cols);
      for (int64_t t = 0; t < n_tokens; ++t) y[t * v.rows + r] = dot_f32(row, x + t * v.cols, v.cols);
    }
  });
}

void matmul_tiled(const Tensor& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  const WeightView v = view(w);
  const int64_t depth_max = depth_slice(v);
  const int64_t panels = (v.rows + kPanelRows - 1) / kPanelRows;
  for_row_chunks(pool, panels, 1, [&](int64_t panel, int64_t) {
    const int64_t r0 = panel * kPanelRows;
    const int64_t valid = std::min(kPanelRows, v.rows - r0);
    float* rows = scratch(0, kPanelRows * depth_max).data();
    float* packed = scratch(1, kPanelRows * depth_max).data();
    for (int64_t k0 = 0; k0 < v.cols; k0 += depth_max) {
      const int64_t depth = std::min(depth_max, v.cols - k0);
      const int64_t byte0 = k0 / v.k.block_elems * v.k.block_bytes;
      for (int64_t r = 0; r < valid; ++r)
        v.k.decode(v.data + (r0 + r) * v.row_bytes + byte0, rows + r * depth, depth);
      pack_panel(rows, valid, depth, packed);
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenGroup) {
        const int64_t nt = std::min(kTokenGroup, n_tokens - t0);
        kMicroKernels[nt - 1](packed, x + t0 * v.cols + k0, v.cols, depth, y + t0 * v.rows + r0,
                              v.rows, valid, k0 > 0);
      }
    }
  });
}

void matmul(const Tensor& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  if (n_tokens <= kRowsPathMaxTokens)
    matmul_rows(w, x, n_tokens, y, pool);
  else
    matmul_tiled(w, x, n_tokens, y, pool);
}

}  // namespace halo::cpu
