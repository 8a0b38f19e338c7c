// Push-constant structs shared by the C++ host code and the GLSL kernels.
// Included by C++ (vk_ops.h) and by each .comp after it defines the PUSH_*
// name of its struct. Buffers are passed as device addresses
// (VK_KHR_buffer_device_address), so no kernel has descriptor sets.
// Every struct stays within the 128 bytes Vulkan guarantees.
#ifndef HALO_VK_PUSH_H
#define HALO_VK_PUSH_H

#ifdef __cplusplus
#include <cstdint>
namespace halo::vk {
using uint = uint32_t;
#define HALO_PUSH(name) struct name
#define HALO_PUSH_END(name) ;
#else
#define HALO_PUSH(name) layout(push_constant) uniform name
#define HALO_PUSH_END(name) pc;
#endif

#define PUSH_FLAG_ACCUMULATE 1u  // y += W x instead of y = W x
#define PUSH_FLAG_RMS_SCALE 2u   // MV_XQ: scale by 1 / rms(x) from the input's block sums (the norm's weights are in it)

// The 8-bit decode input (QuantizePush, MatmulPush::xq_out) of n values, n a
// multiple of 32, in words: qs (n/4 words, 4 signed bytes each), then per
// block of 32: its scale d (n/32 f32), its raw sum of squares (n/32 f32, for
// the RMS norm), and a counter (n/32 u32, zero between dispatches) the
// workgroups writing the block count their rows in.
#define XQ_D_WORD(n) ((n) / 4u)
#define XQ_SUMSQ_WORD(n) ((n) / 4u + (n) / 32u)
#define XQ_COUNTER_WORD(n) ((n) / 4u + 2u * ((n) / 32u))
#define XQ_WORDS(n) ((n) / 4u + 3u * ((n) / 32u))

// y[t][r] = sum_k W[r][k] * x'[t][k] (+ bias[r]) (+ y[t][r] when accumulating)
// W: nrows rows of ncols elements, row_bytes apart; x: ntok x ncols f32;
// y: ntok x nrows f32. Fused input transforms (decode path, matvec only):
//   x2 != 0:   x' = silu(x) * x2             (SwiGLU before the down projection)
//   norm != 0: x' = x / rms(x[t]) * norm     (RMS norm before a projection)
#if defined(__cplusplus) || defined(PUSH_MATMUL)
HALO_PUSH(MatmulPush) {
  uint64_t weight;
  uint64_t x;
  uint64_t y;
  uint64_t bias;  // 0: none; else nrows f32
  uint64_t x2;    // 0: none; else ntok x ncols f32
  uint64_t norm;  // 0: none; else ncols f32
  uint64_t weight2;  // matvec1d variants: the up projection (W is gate)
  // One-token builds: when xq_out != 0, y (nrows values, a multiple of 32)
  // is also written quantized there (times xq_norm when != 0), as the next
  // product's 8-bit input; the last workgroup to finish a block of 32 rows
  // quantizes it. x is such an input in the MV_XQ builds.
  uint64_t xq_out;
  uint64_t xq_norm;
  uint ncols;
  uint nrows;
  uint row_bytes;
  uint ntok;
  uint flags;
  float eps;      // for norm
  // One-token Q/K/V epilogue (matvec builds with even ROWS_PER_WG): rows in
  // pairs (2i, 2i+1) of heads of head_dim, the first rope_dim of each
  // rotated by table's angles at pos (table: RopePush's), then stored as f16
  // pairs at cache (one KV cache row) instead of f32 at y. 0: not used.
  uint64_t table;
  uint64_t cache;
  uint pos;
  uint head_dim;
  uint rope_dim;
} HALO_PUSH_END(MatmulPush)
#endif

// dst[r][k] = f16(dequant(src[r][k])) for k < ncols, 0 for ncols <= k < ldk:
// the f16 pre-pass of the cooperative-matrix GEMM (to_f16.comp), for weight
// rows and (TYPE_F32) the activations. ldk is a multiple of 8; one invocation
// writes 8 halves (16 bytes).
#if defined(__cplusplus) || defined(PUSH_TO_F16)
HALO_PUSH(ToF16Push) {
  uint64_t src;   // the weight's first row: device addresses must stay aligned,
                  // so the chunk starts row0 rows in (2-byte-aligned blocks)
  uint64_t dst;   // nrows x ldk f16
  uint row_bytes;
  uint ncols;
  uint nrows;
  uint ldk;
  uint row0;
} HALO_PUSH_END(ToF16Push)
#endif

// The cooperative-matrix GEMM on f16 operands that to_f16.comp wrote
// (matmul_cm.comp built with CM_F16): y[t][r] = sum_k W[r][k] x[t][k]
// (+ bias[r]) (+ y[t][r] when accumulating), W: nrows x ldk f16 (one chunk of
// a weight's rows), x: ntok x ldk f16, y: rows ldy floats apart, and y and
// bias already offset to the chunk's first row. ldk (named ncols, as in
// MatmulPush, so the kernel's code is shared) is a multiple of the K slice.
// Stacked products (Ops::matmul_stacked): W's rows from row2 on (y2 != 0)
// and from row3 on (y3 != 0) belong to other products, written to y2 / y3
// (rows ldy2 / ldy3 floats apart, biases bias2 / bias3) from their row 0.
#if defined(__cplusplus) || defined(PUSH_GEMM_F16)
HALO_PUSH(GemmF16Push) {
  uint64_t weight;
  uint64_t x;
  uint64_t y;
  uint64_t bias;  // 0: none
  uint64_t y2, y3;
  uint64_t bias2, bias3;
  uint ncols;     // ldk: halves between rows of W and of x
  uint nrows;
  uint ntok;
  uint ldy;
  uint flags;
  uint row2, row3;
  uint ldy2, ldy3;
} HALO_PUSH_END(GemmF16Push)
#endif

// out[t][k] = dequant(W[ids[t]][k]): embedding lookup (get_rows).
#if defined(__cplusplus) || defined(PUSH_GET_ROWS)
HALO_PUSH(GetRowsPush) {
  uint64_t weight;
  uint64_t ids;  // ntok int32
  uint64_t dst;  // ntok x ncols f32
  uint ncols;
  uint row_bytes;
  uint ntok;
  uint nrows;  // ids outside [0, nrows) give zeros (the host checks them first)
} HALO_PUSH_END(GetRowsPush)
#endif

// y[r][i] = x[r][i] / rms(x[r]) * w[i]: one workgroup per row of ncols.
#if defined(__cplusplus) || defined(PUSH_RMS_NORM)
HALO_PUSH(RmsNormPush) {
  uint64_t x;
  uint64_t y;
  uint64_t w;  // ncols f32
  uint ncols;
  uint nrows;
  float eps;
} HALO_PUSH_END(RmsNormPush)
#endif

// One token's decode input as 8-bit integers for the matvec's MV_XQ builds
// (quantize_input.comp): x' = x * norm (norm != 0) quantized per block of 32
// to int8 with scale d = max|x'| / 127, in the XQ_ layout above (the block
// sums of squares are of x; counters are left alone).
#if defined(__cplusplus) || defined(PUSH_QUANTIZE)
HALO_PUSH(QuantizePush) {
  uint64_t x;     // ncols f32
  uint64_t norm;  // 0: none; else ncols f32
  uint64_t dst;
  uint ncols;
  float eps;
} HALO_PUSH_END(QuantizePush)
#endif

// Rotates pairs of x (ntok x nheads x head_dim f32) in place by the angles of
// table (n_ctx x rope_dim/2 of (cos, sin)) at positions pos0 + t.
#if defined(__cplusplus) || defined(PUSH_ROPE)
HALO_PUSH(RopePush) {
  uint64_t x;
  uint64_t table;
  uint ntok;
  uint nheads;
  uint head_dim;
  uint rope_dim;
  uint pos0;
  uint neox;  // 1: pairs (i, i + rope_dim/2); 0: pairs (2i, 2i+1)
} HALO_PUSH_END(RopePush)
#endif

// Writes K and V rows (ntok x kv_dim f32) into the f16 caches at rows pos0.. .
// rope_kv.comp also rotates Q (in place) and K (on the way) first, with the
// table and layout of RopePush.
#if defined(__cplusplus) || defined(PUSH_KV_STORE)
HALO_PUSH(KvStorePush) {
  uint64_t k;
  uint64_t v;
  uint64_t k_cache;  // n_ctx x kv_dim f16, two per 32-bit word
  uint64_t v_cache;
  uint ntok;
  uint kv_dim;
  uint pos0;
  // rope_kv.comp only:
  uint64_t q;
  uint64_t table;
  uint n_head;
  uint head_dim;
  uint rope_dim;
  uint neox;
} HALO_PUSH_END(KvStorePush)
#endif

// out[t][h] = softmax(q[t][h] . K[0..pos0+t] * scale) V: causal attention of
// each query over the f16 cache (attention.comp). A workgroup takes a block
// of rows_per_block query rows (token, head) that share one KV head, ordered
// (token, head in the GQA group), and the keys [split * chunk, (split + 1) *
// chunk) in tiles of keys_per_tile staged in shared memory. With n_split > 1
// each workgroup writes a partial (max, sum, unnormalised output) and
// attention_combine.comp merges them. Ops::attention fills the tiling fields.
// attention_head.comp and attention_prompt.comp read the fields up to scale.
#if defined(__cplusplus) || defined(PUSH_ATTENTION)
HALO_PUSH(AttentionPush) {
  uint64_t q;        // ntok x n_head x head_dim f32
  uint64_t k_cache;  // n_ctx x n_head_kv x head_dim f16
  uint64_t v_cache;
  uint64_t dst;      // ntok x n_head x head_dim f32
  uint ntok;
  uint n_head;
  uint n_head_kv;
  uint head_dim;
  uint pos0;
  float scale;
  uint64_t partials;  // n_split x ntok x n_head x (max, sum, head_dim outputs) f32; 0: none
  uint rows_per_block;
  uint keys_per_tile;
  uint chunk;         // keys per split
  uint n_split;
} HALO_PUSH_END(AttentionPush)
#endif

// Shared-memory budgets of attention.comp's two builds, in 32-bit words
// (they fit the 32 KiB lavapipe allows). Q_PAIRS: query (f32 pairs);
// KV_WORDS: each of the K and V tiles (f16 pairs, rows padded by one word);
// S_FLOATS: the score tile. ROWS_PER_THREAD bounds the query rows one
// invocation scores or accumulates (registers). The decode build takes few
// rows (one token's GQA group) and long key tiles.
#define ATTN_WG 128
#define ATTN_MAX_SPLITS 64
#define ATTN_PROMPT_MAX_ROWS 32
#define ATTN_PROMPT_Q_PAIRS 1024
#define ATTN_PROMPT_KV_WORDS 2080
#define ATTN_PROMPT_S_FLOATS 1536
#define ATTN_PROMPT_ROWS_PER_THREAD 16
#define ATTN_DECODE_MAX_ROWS 8
#define ATTN_DECODE_Q_PAIRS 512
#define ATTN_DECODE_KV_WORDS 3264
#define ATTN_DECODE_S_FLOATS 512
#define ATTN_DECODE_ROWS_PER_THREAD 8

// attention_prompt.comp's configurations (HALO_VULKAN_ATTN_PROMPT picks one):
// query rows per workgroup (BQ) and invocations; key tiles of ATTNP_BK keys.
// q32 keeps its Q tile in shared memory (32 KiB at head_dim 128, what
// lavapipe allows) and gives each invocation 2x2 scores and 4 rows x 8 dims
// of output; q64 reads Q through the cache, shares each K/V tile with twice
// the rows and doubles the rows per invocation (4x2 scores, 8 rows x 8 dims).
// The generic build (any even head_dim) has q32's shape.
#define ATTNP_BK 16u
#define ATTNP_Q32_WG 128
#define ATTNP_Q32_BQ 32u
#define ATTNP_Q64_WG 128
#define ATTNP_Q64_BQ 64u

// Elementwise: SwiGLU out = silu(a) * b, or add out = a + b.
#if defined(__cplusplus) || defined(PUSH_ELEMENTWISE)
HALO_PUSH(ElementwisePush) {
  uint64_t a;
  uint64_t b;
  uint64_t dst;
  uint n;
} HALO_PUSH_END(ElementwisePush)
#endif

// Streaming read of n 16-byte words, for the device's read bandwidth.
#if defined(__cplusplus) || defined(PUSH_READ_BW)
HALO_PUSH(ReadBandwidthPush) {
  uint64_t src;
  uint64_t dst;  // one word per workgroup, so the reads are not optimised away
  uint n_vec4;
} HALO_PUSH_END(ReadBandwidthPush)
#endif

#ifdef __cplusplus
}  // namespace halo::vk
#endif
#undef HALO_PUSH
#undef HALO_PUSH_END
#endif
