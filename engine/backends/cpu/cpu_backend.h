// The CPU backend: the reference every other backend is tested against.
// f32 activations and KV cache; weights read in place, still quantized.
#pragma once
#include <memory>

#include "engine/backend/backend.h"

namespace halo {

std::unique_ptr<Backend> make_cpu_backend();

namespace cpu {
// The CPU's model name from /proc/cpuinfo ("CPU" when unknown).
std::string cpu_model_name();
}  // namespace cpu

}  // namespace halo
