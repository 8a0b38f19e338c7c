#include "engine/backends/vulkan/vk_profile.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace halo::vk {

std::unique_ptr<Profiler> Profiler::from_env(Context& ctx) {
  const char* v = std::getenv("HALO_VULKAN_PROFILE");
  if (!v || !*v || std::string(v) == "0") return nullptr;
  if (ctx.properties().limits.timestampPeriod <= 0) {
    std::fprintf(stderr, "halo: HALO_VULKAN_PROFILE ignored: the device has no timestamps\n");
    return nullptr;
  }
  return std::make_unique<Profiler>(ctx);
}

Profiler::Profiler(Context& ctx) : ctx_(ctx) {
  VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
  qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
  qi.queryCount = kMaxQueries;
  check(vkCreateQueryPool(ctx.device(), &qi, nullptr, &pool_), "creating a timestamp query pool");
}

Profiler::~Profiler() {
  if (submissions_ > 0) {
    std::vector<std::pair<std::string, Totals>> rows(totals_.begin(), totals_.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
    std::fprintf(stderr, "halo vulkan profile: %llu submissions, %.3f ms GPU time (%.1f us each)\n",
                 static_cast<unsigned long long>(submissions_), total_ns_ / 1e6, total_ns_ / 1e3 / submissions_);
    std::fprintf(stderr, "%-18s %10s %12s %10s %7s\n", "kernel", "count", "total ms", "avg us", "share");
    for (const auto& [name, t] : rows)
      std::fprintf(stderr, "%-18s %10llu %12.3f %10.2f %6.1f%%\n", name.c_str(),
                   static_cast<unsigned long long>(t.count), t.ns / 1e6, t.ns / 1e3 / t.count,
                   100.0 * t.ns / total_ns_);
  }
  vkDestroyQueryPool(ctx_.device(), pool_, nullptr);
}

void Profiler::begin(VkCommandBuffer cmd) {
  used_ = 0;
  names_.clear();
  vkCmdResetQueryPool(cmd, pool_, 0, kMaxQueries);
  vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool_, used_++);
}

void Profiler::mark(VkCommandBuffer cmd, const std::string& what) {
  if (used_ == 0 || used_ >= kMaxQueries) return;  // not begun, or full: later dispatches go untimed
  vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool_, used_++);
  names_.push_back(what);
}

void Profiler::collect() {
  if (used_ < 2) return;
  std::vector<uint64_t> ticks(used_);
  check(vkGetQueryPoolResults(ctx_.device(), pool_, 0, used_, ticks.size() * sizeof(uint64_t), ticks.data(),
                              sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
        "reading timestamps");
  const double period = ctx_.properties().limits.timestampPeriod;  // ns per tick
  for (uint32_t i = 1; i < used_; ++i) {
    double ns = static_cast<double>(ticks[i] - ticks[i - 1]) * period;
    Totals& t = totals_[names_[i - 1]];
    t.count++;
    t.ns += ns;
  }
  total_ns_ += static_cast<double>(ticks[used_ - 1] - ticks[0]) * period;
  submissions_++;
  used_ = 0;
}

}  // namespace halo::vk
