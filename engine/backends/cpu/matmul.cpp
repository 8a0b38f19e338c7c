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

// GEMM blocking. A micro-tile is kTileRows weight rows × kGroup tokens held
// in 24 zmm accumulators; tokens run along the vector lanes, so decoded
// weight rows are read as broadcasts in their natural row-major order and
// only the activations need a transposed copy (made once per product).
// K is cut into slices of kDepth (or one block of 256 for K-quants) so that
// one group's activation slice (depth × 32 floats) and a tile's weights
// stay in L1 while the tiles of a panel reuse them.
constexpr int64_t kTileRows = 12;
constexpr int64_t kGroup = 32;        // tokens per micro-tile (two 16-lane vectors)
constexpr int64_t kPanelRows = 48;    // weight rows decoded at once (four micro-tiles)
constexpr int64_t kDepth = 256;       // K slice, rounded up to the block size
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
  WeightView v{weight_kernels(w.type), w.host, static_cast<int64_t>(w.ne[0]), static_cast<int64_t>(w.ne[1]), 0};
  v.row_bytes = v.cols / v.k.block_elems * v.k.block_bytes;
  return v;
}

// Work is handed out in chunks from a shared counter so that a thread slowed
// down by other work on the machine does not hold everyone up.
template <class Fn>
void for_chunks(ThreadPool& pool, int64_t n, int64_t chunk, Fn&& fn) {
  std::atomic<int64_t> next{0};
  pool.run([&](unsigned, unsigned) {
    for (;;) {
      int64_t begin = next.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= n) return;
      fn(begin, std::min(n, begin + chunk));
    }
  });
}

// xp (groups × K × 32): xp[g][k][j] = x[g * 32 + j][k], zero past n_tokens.
// Copied in K blocks of 64 so that the destination block (8 KiB) stays in L1
// while the 32 source rows are read.
void pack_tokens(const float* x, int64_t n_tokens, int64_t cols, float* xp, ThreadPool& pool) {
  constexpr int64_t kBlock = 64;
  const int64_t groups = (n_tokens + kGroup - 1) / kGroup;
  pool.parallel_for(groups, [&](uint64_t g_begin, uint64_t g_end) {
    for (int64_t g = g_begin; g < static_cast<int64_t>(g_end); ++g) {
      float* dst = xp + g * cols * kGroup;
      const int64_t tokens = std::min(kGroup, n_tokens - g * kGroup);
      for (int64_t k0 = 0; k0 < cols; k0 += kBlock) {
        const int64_t k1 = std::min(cols, k0 + kBlock);
        for (int64_t j = 0; j < kGroup; ++j) {
          if (j < tokens) {
            const float* src = x + (g * kGroup + j) * cols;
            for (int64_t k = k0; k < k1; ++k) dst[k * kGroup + j] = src[k];
          } else {
            for (int64_t k = k0; k < k1; ++k) dst[k * kGroup + j] = 0.0f;
          }
        }
      }
    }
  });
}

// out[r][j] (+)= sum_k w[r][k] * xp[k][j] for R rows and 32 tokens.
//   w: R rows with stride ldw; xp: (depth × 32); out: (R × 32)
template <int R>
void micro_tile(const float* w, int64_t ldw, const float* xp, int64_t depth, float* out, bool accumulate) {
#if HALO_CPU_AVX512
  __m512 acc[R][2];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    acc[r][0] = accumulate ? _mm512_loadu_ps(out + r * kGroup) : _mm512_setzero_ps();
    acc[r][1] = accumulate ? _mm512_loadu_ps(out + r * kGroup + 16) : _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < depth; ++k) {
    const __m512 x0 = _mm512_loadu_ps(xp + k * kGroup);
    const __m512 x1 = _mm512_loadu_ps(xp + k * kGroup + 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512 wb = _mm512_set1_ps(w[r * ldw + k]);
      acc[r][0] = _mm512_fmadd_ps(wb, x0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(wb, x1, acc[r][1]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_ps(out + r * kGroup, acc[r][0]);
    _mm512_storeu_ps(out + r * kGroup + 16, acc[r][1]);
  }
#else
  for (int r = 0; r < R; ++r) {
    float acc[kGroup] = {};
    if (accumulate) std::copy(out + r * kGroup, out + (r + 1) * kGroup, acc);
    for (int64_t k = 0; k < depth; ++k)
      for (int64_t j = 0; j < kGroup; ++j) acc[j] += w[r * ldw + k] * xp[k * kGroup + j];
    std::copy(acc, acc + kGroup, out + r * kGroup);
  }
#endif
}

using MicroTile = void (*)(const float*, int64_t, const float*, int64_t, float*, bool);

template <int... N>
constexpr auto make_tile_table(std::integer_sequence<int, N...>) {
  return std::array<MicroTile, sizeof...(N)>{micro_tile<N + 1>...};
}
constexpr auto kMicroTiles = make_tile_table(std::make_integer_sequence<int, kTileRows>{});

// y[t0 + j][r0 + r] = sums[r][j] for a panel's rows and one token group;
// each token's panel_rows outputs are written together, whole cache lines
// at a time, rather than in tile-sized pieces.
//   sums: (kPanelRows × 32)
void store_panel(const float* sums, int64_t panel_rows, int64_t t0, int64_t tokens, int64_t r0, float* y, int64_t ldy) {
  for (int64_t j = 0; j < tokens; ++j) {
    float* out = y + (t0 + j) * ldy + r0;
    for (int64_t r = 0; r < panel_rows; ++r) out[r] = sums[r * kGroup + j];
  }
}

// Rows [begin, end) of one product on the matrix-vector path.
void rows_range(const WeightView& v, const float* x, int64_t n_tokens, float* y, int64_t begin, int64_t end) {
  if (n_tokens == 1 && v.k.row_dot) {
    for (int64_t r = begin; r < end; ++r) y[r] = v.k.row_dot(v.data + r * v.row_bytes, x, v.cols);
    return;
  }
  float* row = scratch(0, v.cols).data();
  for (int64_t r = begin; r < end; ++r) {
    v.k.decode(v.data + r * v.row_bytes, row, v.cols);
    for (int64_t t = 0; t < n_tokens; ++t) y[t * v.rows + r] = dot_f32(row, x + t * v.cols, v.cols);
  }
}

// The matrix-vector path for several products at once: their rows are
// numbered one after another and handed out in chunks.
void rows_set(std::span<const MatmulOut> outs, const float* x, int64_t n_tokens, ThreadPool& pool) {
  std::vector<WeightView> views;
  std::vector<int64_t> first_row = {0};
  for (const MatmulOut& o : outs) {
    views.push_back(view(*o.w));
    if (views.back().cols != views.front().cols)
      throw Error(ErrorKind::InvalidArgument, "matmul_set: " + o.w->name + " has another input width");
    first_row.push_back(first_row.back() + views.back().rows);
  }
  const int64_t total = first_row.back();
  const int64_t chunk = std::max<int64_t>(4, total / (pool.size() * 32));
  for_chunks(pool, total, chunk, [&](int64_t begin, int64_t end) {
    for (size_t i = 0; i < views.size(); ++i) {
      const int64_t lo = std::max(begin, first_row[i]), hi = std::min(end, first_row[i + 1]);
      if (lo < hi) rows_range(views[i], x, n_tokens, outs[i].y, lo - first_row[i], hi - first_row[i]);
    }
  });
}

}  // namespace

void decode_row(const Tensor& w, int64_t row, float* dst) {
  const WeightView v = view(w);
  if (row < 0 || row >= v.rows) throw Error(ErrorKind::InvalidArgument, "row out of range in " + w.name);
  v.k.decode(v.data + row * v.row_bytes, dst, v.cols);
}

void matmul_rows(const Tensor& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  const MatmulOut out{&w, y};
  rows_set({&out, 1}, x, n_tokens, pool);
}

void matmul_tiled(const Tensor& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  const WeightView v = view(w);
  const int64_t groups = (n_tokens + kGroup - 1) / kGroup;
  // The caller's scratch holds the packed activations that every thread reads.
  float* xp = scratch(1, groups * kGroup * v.cols).data();
  pack_tokens(x, n_tokens, v.cols, xp, pool);

  const int64_t panels = (v.rows + kPanelRows - 1) / kPanelRows;
  const int64_t slice = std::max<int64_t>(kDepth, v.k.block_elems);
  for_chunks(pool, panels, 1, [&](int64_t panel, int64_t) {
    const int64_t r0 = panel * kPanelRows;
    const int64_t panel_rows = std::min(kPanelRows, v.rows - r0);
    // wbuf (panel_rows × slice): decoded K slice of the panel's rows;
    // acc (groups × kPanelRows × 32): the panel's sums, complete after the last slice
    float* wbuf = scratch(0, kPanelRows * slice + groups * kPanelRows * kGroup).data();
    float* acc = wbuf + kPanelRows * slice;
    for (int64_t k0 = 0; k0 < v.cols; k0 += slice) {
      const int64_t depth = std::min(slice, v.cols - k0);
      const int64_t byte0 = k0 / v.k.block_elems * v.k.block_bytes;
      for (int64_t r = 0; r < panel_rows; ++r)
        v.k.decode(v.data + (r0 + r) * v.row_bytes + byte0, wbuf + r * depth, depth);
      for (int64_t g = 0; g < groups; ++g) {
        const float* xg = xp + (g * v.cols + k0) * kGroup;
        for (int64_t tr = 0; tr < panel_rows; tr += kTileRows) {
          const int64_t rows = std::min(kTileRows, panel_rows - tr);
          kMicroTiles[rows - 1](wbuf + tr * depth, depth, xg, depth, acc + (g * kPanelRows + tr) * kGroup, k0 > 0);
        }
      }
    }
    for (int64_t g = 0; g < groups; ++g)
      store_panel(acc + g * kPanelRows * kGroup, panel_rows, g * kGroup, std::min(kGroup, n_tokens - g * kGroup), r0, y,
                  v.rows);
  });
}

void matmul_set(std::span<const MatmulOut> outs, const float* x, int64_t n_tokens, ThreadPool& pool) {
  if (n_tokens <= kRowsPathMaxTokens) {
    rows_set(outs, x, n_tokens, pool);
    return;
  }
  for (const MatmulOut& o : outs) matmul_tiled(*o.w, x, n_tokens, o.y, pool);
}

void matmul(const Tensor& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  if (n_tokens <= kRowsPathMaxTokens)
    matmul_rows(w, x, n_tokens, y, pool);
  else
    matmul_tiled(w, x, n_tokens, y, pool);
}

}  // namespace halo::cpu
