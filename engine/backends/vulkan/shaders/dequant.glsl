// Picks the dequantizer of the TYPE_* the build defines for this variant.
#if defined(TYPE_F32)
#include "dq_f32.glsl"
#elif defined(TYPE_F16)
#include "dq_f16.glsl"
#elif defined(TYPE_BF16)
#include "dq_bf16.glsl"
#elif defined(TYPE_Q4_0)
#include "dq_q4_0.glsl"
#elif defined(TYPE_Q4_1)
#include "dq_q4_1.glsl"
#elif defined(TYPE_Q5_0)
#include "dq_q5_0.glsl"
#elif defined(TYPE_Q5_1)
#include "dq_q5_1.glsl"
#elif defined(TYPE_Q8_0)
#include "dq_q8_0.glsl"
#elif defined(TYPE_Q2_K)
#include "dq_q2_k.glsl"
#elif defined(TYPE_Q3_K)
#include "dq_q3_k.glsl"
#elif defined(TYPE_Q4_K)
#include "dq_q4_k.glsl"
#elif defined(TYPE_Q5_K)
#include "dq_q5_k.glsl"
#elif defined(TYPE_Q6_K)
#include "dq_q6_k.glsl"
#elif defined(TYPE_IQ4_NL)
#include "dq_iq4_nl.glsl"
#elif defined(TYPE_IQ4_XS)
#include "dq_iq4_xs.glsl"
#elif defined(TYPE_MXFP4)
#include "dq_mxfp4.glsl"
#else
#error "no TYPE_* defined"
#endif

// Four values at element k (a multiple of 4) of the row starting at byte row_off.
vec4 dequant4_at(uint64_t base, uint row_off, uint k) {
  return dequant4(base, row_off + (k / QK) * BLOCK_BYTES, k % QK);
}
