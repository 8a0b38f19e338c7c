// Compute pipelines of the embedded shader variants, built on first use and
// kept for the life of the backend (through the context's pipeline cache).
#pragma once
#include <mutex>
#include <string>
#include <unordered_map>

#include "engine/backends/vulkan/vk_context.h"

namespace halo::vk {

class Pipelines {
 public:
  explicit Pipelines(Context& ctx) : ctx_(ctx) {}
  ~Pipelines();
  Pipelines(const Pipelines&) = delete;
  Pipelines& operator=(const Pipelines&) = delete;

  // The pipeline of a variant ("matvec_q4_0", "rms_norm", ...). Throws
  // halo::Error(Device) for a name that is not embedded.
  VkPipeline get(const std::string& variant);
  static bool has(const std::string& variant);

 private:
  Context& ctx_;
  std::mutex mu_;
  std::unordered_map<std::string, VkPipeline> built_;
};

}  // namespace halo::vk
