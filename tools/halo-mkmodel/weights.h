// Deterministic random weights, generated and quantized row by row on several
// threads and streamed to the GGUF writer, so no tensor is ever held whole.
#pragma once
#include <cstdint>
#include <string_view>

#include "engine/gguf/writer.h"
#include "tools/halo-mkmodel/model_spec.h"

namespace halo::mkmodel {

// Standard deviation of the random matrices: small enough that activations
// stay in a sane range through the residual stream of a 32-layer model.
constexpr float kWeightStd = 0.02f;

uint64_t tensor_seed(uint64_t seed, std::string_view tensor_name);

// Row `row` of a tensor: n approximately normal values with the given
// standard deviation, a pure function of (tensor_seed, row), so the output
// does not depend on the number of threads.
void fill_row(uint64_t tensor_seed, uint64_t row, float stddev, float* out, uint64_t n);

gguf::Writer::Producer weight_producer(const TensorSpec& spec, uint64_t seed, unsigned threads);

}  // namespace halo::mkmodel
