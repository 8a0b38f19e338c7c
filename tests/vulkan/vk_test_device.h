// The Vulkan device for tests. A machine without any Vulkan device FAILS the
// suite (CI has Mesa's lavapipe); HALO_VULKAN_ALLOW_NONE=1 turns that into a
// skip for developer machines that have none.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/backends/vulkan/vk_context.h"
#include "engine/backends/vulkan/vk_ops.h"
#include "engine/backends/vulkan/vk_shaders.h"
#include "engine/error.h"

namespace halo::test {

inline bool vulkan_may_be_missing() {
  const char* v = std::getenv("HALO_VULKAN_ALLOW_NONE");
  return v && std::strcmp(v, "1") == 0;
}

// HALO_VULKAN_TEST_FULL=1 runs every reference case and decode step of the
// fixture models (tests/vulkan/h100_run.sh sets it on the GPU machine). By
// default a model runs one case and a few decode steps: on lavapipe each
// position costs seconds (the 32000-row output product), and one case
// already passes through every kernel the model uses.
inline bool full_size_run() {
  const char* v = std::getenv("HALO_VULKAN_TEST_FULL");
  return v && std::strcmp(v, "1") == 0;
}

// Skips or fails the calling test (per HALO_VULKAN_ALLOW_NONE) when no device opens.
#define HALO_REQUIRE_VULKAN(gpu_ptr)                                                        \
  do {                                                                                      \
    if (!(gpu_ptr)) {                                                                       \
      if (::halo::test::vulkan_may_be_missing()) GTEST_SKIP() << ::halo::test::gpu_error(); \
      FAIL() << "no Vulkan device: " << ::halo::test::gpu_error();                          \
    }                                                                                       \
  } while (0)

struct Gpu {
  std::unique_ptr<vk::Context> ctx;
  std::unique_ptr<vk::Pipelines> pipelines;
  std::unique_ptr<vk::CommandStream> stream;
  std::unique_ptr<vk::Ops> ops;
};

inline std::string& gpu_error() {
  static std::string e;
  return e;
}

// One device for the whole test binary (creating it costs time on lavapipe).
inline Gpu* gpu() {
  static std::unique_ptr<Gpu> g = [] {
    try {
      auto x = std::make_unique<Gpu>();
      x->ctx = vk::Context::create();
      x->pipelines = std::make_unique<vk::Pipelines>(*x->ctx);
      x->stream = std::make_unique<vk::CommandStream>(*x->ctx);
      x->ops = std::make_unique<vk::Ops>(*x->ctx, *x->pipelines);
      return x;
    } catch (const Error& e) {
      gpu_error() = e.what();
      return std::unique_ptr<Gpu>();
    }
  }();
  return g.get();
}

// A host-visible buffer holding bytes (or zeros when data is null).
inline vk::Buffer upload(const void* data, uint64_t bytes) {
  vk::Buffer b(*gpu()->ctx, bytes, vk::MemoryUse::Readback, "test data");
  if (data) std::memcpy(b.host(), data, bytes);
  else std::memset(b.host(), 0, b.size());
  return b;
}

template <typename T>
vk::Buffer upload(const std::vector<T>& v) {
  return upload(v.data(), v.size() * sizeof(T));
}

inline std::vector<float> read_floats(const vk::Buffer& b, size_t n) {
  const float* p = static_cast<const float*>(b.host());
  return std::vector<float>(p, p + n);
}

// Normalised mean squared error: sum (a - ref)^2 / sum ref^2.
// y[t][r] = sum_k w[r][k] x[t][k] in double: the reference of the products.
inline std::vector<double> reference_product(const std::vector<float>& w, const std::vector<float>& x,
                                             uint32_t rows, uint32_t cols, uint32_t ntok) {
  std::vector<double> y(uint64_t{ntok} * rows);
  for (uint32_t t = 0; t < ntok; ++t)
    for (uint32_t r = 0; r < rows; ++r) {
      double s = 0;
      for (uint32_t k = 0; k < cols; ++k) s += double(w[uint64_t{r} * cols + k]) * x[uint64_t{t} * cols + k];
      y[uint64_t{t} * rows + r] = s;
    }
  return y;
}

inline double nmse(const std::vector<float>& a, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (a[i] - ref[i]) * (a[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den > 0 ? num / den : num;
}

}  // namespace halo::test
