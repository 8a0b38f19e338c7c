#include "engine/backends/vulkan/vk_shaders.h"

#include <cstdint>
#include <cstring>

#include "engine/error.h"

namespace halo::vk {
namespace {

struct ShaderCode {
  const char* name;
  const uint32_t* words;
  size_t bytes;
};

#include "engine/backends/vulkan/shader_table.inc"

const ShaderCode* find_shader(const std::string& name) {
  for (const auto& s : kShaders)
    if (name == s.name) return &s;
  return nullptr;
}

}  // namespace

bool Pipelines::has(const std::string& variant) { return find_shader(variant) != nullptr; }

Pipelines::~Pipelines() {
  for (auto& [name, p] : built_) vkDestroyPipeline(ctx_.device(), p, nullptr);
}

VkPipeline Pipelines::get(const std::string& variant) {
  std::lock_guard lock(mu_);
  if (auto it = built_.find(variant); it != built_.end()) return it->second;
  const ShaderCode* code = find_shader(variant);
  if (!code) throw Error(ErrorKind::Device, "Vulkan: no shader variant " + variant + " is built in");

  VkShaderModuleCreateInfo mci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  mci.codeSize = code->bytes;
  mci.pCode = code->words;
  VkShaderModule module;
  check(vkCreateShaderModule(ctx_.device(), &mci, nullptr, &module), ("loading shader " + variant).c_str());
  VkComputePipelineCreateInfo pci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  pci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  pci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  pci.stage.module = module;
  pci.stage.pName = "main";
  pci.layout = ctx_.pipeline_layout();
  VkPipeline pipeline;
  VkResult r = vkCreateComputePipelines(ctx_.device(), ctx_.pipeline_cache(), 1, &pci, nullptr, &pipeline);
  vkDestroyShaderModule(ctx_.device(), module, nullptr);
  check(r, ("building pipeline " + variant).c_str());
  built_.emplace(variant, pipeline);
  return pipeline;
}

}  // namespace halo::vk
