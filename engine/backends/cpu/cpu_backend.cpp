#include "engine/backends/cpu/cpu_backend.h"

#include <fstream>
#include <string>

#include "engine/backends/cpu/runner.h"

namespace halo {
namespace cpu {

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    if (start != std::string::npos) return line.substr(start);
  }
  return "CPU";
}

namespace {

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  std::string device_name() const override { return cpu_model_name(); }
  std::unique_ptr<Runner> attach(const Model& model, const RunnerOptions& opts) override {
    return std::make_unique<CpuRunner>(model, opts);
  }
};

}  // namespace
}  // namespace cpu

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<cpu::CpuBackend>(); }

}  // namespace halo
