// The backend interface every compute backend implements (cpu, vulkan, rocm).
//
// A Backend is a device; attach() binds a loaded Model to it and returns a
// Runner, which owns the KV cache and scratch of that binding and evaluates
// batches of tokens. The forward pass of each architecture lives inside each
// backend (engine/backends/<name>/), driven by HParams flags.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace halo {

class Model;
class Pool;

struct RunnerOptions {
  uint32_t n_ctx = 0;      // KV cache length; 0: min(model's training context, 4096)
  uint32_t n_threads = 0;  // CPU threads; 0: all cores
};

class Runner {
 public:
  virtual ~Runner() = default;
  // Evaluates tokens at positions [n_past, n_past + tokens.size()). The KV
  // cache keeps entries [0, n_past) and drops anything after (rewinding is
  // allowed). logits receives n_vocab floats for the last token, or
  // tokens.size() x n_vocab (row-major) when all_logits.
  // Throws halo::Error(InvalidArgument) past n_ctx or for ids outside the
  // vocabulary, halo::Error(Device) when the device fails.
  virtual void eval(std::span<const int32_t> tokens, uint32_t n_past, bool all_logits,
                    std::vector<float>& logits) = 0;
  virtual uint32_t n_ctx() const = 0;
  virtual uint64_t memory_bytes() const = 0;  // KV cache + scratch owned by this runner
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;         // "cpu", "vulkan", "rocm"
  virtual std::string device_name() const = 0;  // e.g. "AMD Radeon 8060S (RADV GFX1151)"
  virtual std::unique_ptr<Runner> attach(const Model& model, const RunnerOptions& opts) = 0;
  // The pool weights should be loaded into so this backend uses them in
  // place; null when host memory is right (the CPU backend).
  virtual Pool* pool() { return nullptr; }
};

struct BackendInfo {
  std::string name;
  std::string device;
};

// Backends compiled in and usable on this machine, best first.
std::vector<BackendInfo> list_backends();
// Creates a backend by name ("cpu", "vulkan", "rocm", or "auto": the best
// usable). Throws halo::Error(Device) saying why it is unavailable.
std::unique_ptr<Backend> create_backend(std::string_view name);

}  // namespace halo
