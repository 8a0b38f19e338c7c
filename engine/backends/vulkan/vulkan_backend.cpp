#include "engine/backends/vulkan/vulkan_backend.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>

#include "engine/backends/vulkan/vk_context.h"
#include "engine/backends/vulkan/vk_ops.h"
#include "engine/backends/vulkan/vk_pool.h"
#include "engine/backends/vulkan/vk_runner.h"
#include "engine/backends/vulkan/vk_shaders.h"
#include "engine/error.h"
#include "engine/quant/types.h"

namespace halo {
namespace {

class VulkanBackend final : public Backend {
 public:
  explicit VulkanBackend(uint64_t budget) : budget_(budget) { open(); }
  ~VulkanBackend() override {
    pool_.reset();  // before the device it allocated from
    pipelines_.reset();
  }

  std::string name() const override { return "vulkan"; }
  std::string device_name() const override { return ctx_->name(); }

  std::unique_ptr<Runner> attach(const Model& model, const RunnerOptions& opts) override {
    recover_if_lost();
    return std::make_unique<vk::VulkanRunner>(ctx_, pipelines_, *pool_, model, opts);
  }

  Pool* pool() override {
    recover_if_lost();
    return pool_.get();
  }

  vk::Context& context() { return *ctx_; }
  vk::Pipelines& pipelines() { return *pipelines_; }

 private:
  void open() {
    ctx_ = std::shared_ptr<vk::Context>(vk::Context::create());
    pipelines_ = std::make_shared<vk::Pipelines>(*ctx_);
    pool_ = std::make_unique<vk::VulkanPool>(*ctx_, budget_);
  }

  // After a device loss the device is recreated once nothing lives in the
  // old pool (the caller unloaded its models); until then loads fail clearly.
  void recover_if_lost() {
    if (!ctx_->lost()) return;
    if (pool_->used() != 0)
      throw Error(ErrorKind::Device, "Vulkan: device " + ctx_->name() +
                                         " was lost; unload the models on it before loading again");
    pool_.reset();
    pipelines_.reset();
    ctx_.reset();
    open();
  }

  uint64_t budget_;
  std::shared_ptr<vk::Context> ctx_;
  std::shared_ptr<vk::Pipelines> pipelines_;
  std::unique_ptr<vk::VulkanPool> pool_;
};

VulkanBackend& as_vulkan(Backend& backend) {
  auto* vb = dynamic_cast<VulkanBackend*>(&backend);
  if (!vb) throw Error(ErrorKind::InvalidArgument, "backend " + backend.name() + " is not the Vulkan backend");
  return *vb;
}

}  // namespace

std::unique_ptr<Backend> make_vulkan_backend() { return std::make_unique<VulkanBackend>(0); }
std::unique_ptr<Backend> make_vulkan_backend(uint64_t pool_budget) {
  return std::make_unique<VulkanBackend>(pool_budget);
}

double vulkan_read_bandwidth(Backend& backend, uint64_t bytes, int reps) {
  VulkanBackend& vb = as_vulkan(backend);
  vk::Context& ctx = vb.context();
  bytes = std::max<uint64_t>(bytes & ~uint64_t{15}, 1 << 20);
  if (bytes / 16 > 0xFFFFFFFFull) bytes = 0xFFFFFFFFull * 16;
  vk::Buffer src(ctx, bytes, vk::MemoryUse::Device, "bandwidth test");
  constexpr uint32_t kGroups = 8192;
  vk::Buffer sink(ctx, kGroups * 4, vk::MemoryUse::Device, "bandwidth sink");
  vk::CommandStream stream(ctx);
  vk::Ops ops(ctx, vb.pipelines());
  VkCommandBuffer cmd = stream.begin();
  vkCmdFillBuffer(cmd, src.handle(), 0, VK_WHOLE_SIZE, 0x9E3779B9u);  // not zeros: nothing to compress
  stream.transfer_barrier();
  stream.submit_and_wait();
  constexpr int kPassesPerSubmit = 10;
  double best = 0;
  for (int r = 0; r <= reps; ++r) {  // the first round warms up and is not counted
    cmd = stream.begin();
    for (int p = 0; p < kPassesPerSubmit; ++p)
      ops.read_bandwidth(cmd, src.address(), sink.address(), static_cast<uint32_t>(bytes / 16), kGroups);
    auto t0 = std::chrono::steady_clock::now();
    stream.submit_and_wait();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::max(best, static_cast<double>(bytes) * kPassesPerSubmit / s);
  }
  return best;
}

bool vulkan_reads_quantized_input(Backend& backend, uint32_t type) {
  std::optional<TypeInfo> ti = type_info(type);
  return ti && as_vulkan(backend).context().features().integer_dot_product && vk::Ops::reads_quantized_input(ti->type);
}

double vulkan_matvec_seconds(Backend& backend, uint32_t type, uint32_t rows, uint32_t cols, bool dependent,
                             MatvecInput input, int dispatches, int reps) {
  VulkanBackend& vb = as_vulkan(backend);
  vk::Context& ctx = vb.context();
  std::optional<TypeInfo> ti = type_info(type);
  std::optional<uint64_t> rb = ti ? row_bytes(ti->type, cols) : std::nullopt;
  if (!rb) throw Error(ErrorKind::InvalidArgument, "matvec bench: unknown type or cols not a whole number of blocks");
  vk::WeightView w{ti->type, 0, cols, rows, static_cast<uint32_t>(*rb)};
  vk::check_weight(w, "bench");
  if (input != MatvecInput::Float && !vulkan_reads_quantized_input(backend, type))
    throw Error(ErrorKind::InvalidArgument, "matvec bench: this type or device has no products on a quantized input");
  const uint64_t matrix_bytes = (uint64_t{w.row_bytes} * rows + 255) / 256 * 256;
  const uint64_t copies = std::max<uint64_t>(1, ((uint64_t{256} << 20) + matrix_bytes - 1) / matrix_bytes);
  vk::Buffer weights(ctx, matrix_bytes * copies + 256, vk::MemoryUse::Device, "bench weights");
  vk::Buffer x(ctx, uint64_t{cols} * 4, vk::MemoryUse::Device, "bench input");
  vk::Buffer xq(ctx, vk::Ops::quantized_input_bytes(cols), vk::MemoryUse::Device, "bench quantized input");
  vk::Buffer y(ctx, uint64_t{rows} * 4, vk::MemoryUse::Device, "bench output");
  vk::CommandStream stream(ctx);
  vk::Ops ops(ctx, vb.pipelines());
  VkCommandBuffer cmd = stream.begin();
  vkCmdFillBuffer(cmd, weights.handle(), 0, VK_WHOLE_SIZE, 0x3C1F2A55u);  // f16 scales 1.03...; mixed nibbles
  vkCmdFillBuffer(cmd, x.handle(), 0, VK_WHOLE_SIZE, 0x3F800000u);        // 1.0f
  stream.transfer_barrier();
  vk::InputFusion fuse;
  fuse.quantized = input != MatvecInput::Float;
  if (fuse.quantized) ops.quantize_input(cmd, x.address(), 0, 0, cols, xq.address());
  stream.submit_and_wait();
  const uint64_t product_input = fuse.quantized ? xq.address() : x.address();
  double best = 1e30;
  for (int r = 0; r <= reps; ++r) {  // the first round warms up
    cmd = stream.begin();
    for (int d = 0; d < dispatches; ++d) {
      if (input == MatvecInput::QuantizeEachStep) {
        ops.quantize_input(cmd, x.address(), 0, 0, cols, xq.address());
        stream.compute_barrier();
      }
      w.address = weights.address() + matrix_bytes * (d % copies);
      ops.matmul(cmd, w, product_input, y.address(), 1, 0, false, fuse);
      if (dependent) stream.compute_barrier();
    }
    auto t0 = std::chrono::steady_clock::now();
    stream.submit_and_wait();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::min(best, s / dispatches);
  }
  return best;
}

void vulkan_simulate_device_lost(Backend& backend) { as_vulkan(backend).context().simulate_device_lost(); }

}  // namespace halo
