#include "tools/halo-bench/kernels.h"

#include <cstdio>
#include <exception>

#include "engine/backend/backend.h"
#include "engine/quant/types.h"
#ifdef HALO_HAVE_VULKAN
#include "engine/backends/vulkan/vulkan_backend.h"
#endif

namespace halo::bench {
namespace {

struct MatvecSpec {
  GgmlType type;
  uint32_t rows, cols;
};

std::optional<GgmlType> type_named(const std::string& name) {
  for (uint32_t raw = 0; raw < 64; ++raw) {
    std::optional<TypeInfo> ti = type_info(raw);
    if (ti && ti->name == name) return ti->type;
  }
  return std::nullopt;
}

std::optional<MatvecSpec> parse_spec(const std::string& spec) {
  size_t colon = spec.find(':'), x = spec.find('x', colon == std::string::npos ? 0 : colon);
  if (colon == std::string::npos || x == std::string::npos) return std::nullopt;
  std::optional<GgmlType> type = type_named(spec.substr(0, colon));
  unsigned rows = 0, cols = 0;
  if (!type || std::sscanf(spec.c_str() + colon + 1, "%ux%u", &rows, &cols) != 2 || rows == 0 || cols == 0)
    return std::nullopt;
  return MatvecSpec{*type, rows, cols};
}

}  // namespace

bool bench_matvec(Backend& backend, const std::vector<std::string>& specs, std::optional<double> read_bw) {
#ifdef HALO_HAVE_VULKAN
  if (backend.name() == "vulkan") {
    std::printf("\n## matvec on %s (%s)\n\n", backend.name().c_str(), backend.device_name().c_str());
    std::printf("| kernel | MB | us dependent | GB/s | us overlapped | GB/s |\n|---|---:|---:|---:|---:|---:|\n");
    for (const std::string& s : specs) {
      std::optional<MatvecSpec> m = parse_spec(s);
      if (!m) {
        std::fprintf(stderr, "halo-bench: error: --matvec %s: expected TYPE:ROWSxCOLS, e.g. q4_0:4096x4096\n",
                     s.c_str());
        return false;
      }
      try {
        double mb = static_cast<double>(*row_bytes(m->type, m->cols)) * m->rows / 1e6;
        const uint32_t type = static_cast<uint32_t>(m->type);
        auto row = [&](const char* input, MatvecInput in) {
          double dep = vulkan_matvec_seconds(backend, type, m->rows, m->cols, true, in);
          double ovl = vulkan_matvec_seconds(backend, type, m->rows, m->cols, false, in);
          std::printf("| %s, %s | %.1f | %.2f | %.0f | %.2f | %.0f |\n", s.c_str(), input, mb, dep * 1e6,
                      mb / 1e3 / dep, ovl * 1e6, mb / 1e3 / ovl);
        };
        row("f32 input", MatvecInput::Float);
        if (vulkan_reads_quantized_input(backend, type)) {
          row("8-bit input", MatvecInput::Quantized);
          row("quantized each step", MatvecInput::QuantizeEachStep);
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "halo-bench: error: --matvec %s: %s\n", s.c_str(), e.what());
        return false;
      }
    }
    if (read_bw) std::printf("\nread bandwidth: %.1f GB/s\n", *read_bw);
    std::fflush(stdout);
    return true;
  }
#endif
  (void)specs;
  (void)read_bw;
  std::fprintf(stderr, "halo-bench: error: --matvec needs the Vulkan backend, not %s\n", backend.name().c_str());
  return false;
}

}  // namespace halo::bench
