// TTM check: reads the kernel's limits below a root and judges them.
#include "daemon/ttm/ttm.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <system_error>

namespace halo::ttm {
namespace {

// pages_limit counts as the kernel default when it is within this share of
// RAM/2: the kernel computes it from totalram, which can differ slightly from
// MemTotal as /proc reports it.
constexpr double kDefaultTolerance = 0.01;

uint64_t saturating_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// Bytes of a page or kB count read from the kernel; a value too large to
// express (a corrupt or hostile file) saturates instead of wrapping around.
uint64_t saturating_mul(uint64_t count, uint64_t unit) {
  uint64_t bytes = 0;
  return __builtin_mul_overflow(count, unit, &bytes) ? UINT64_MAX : bytes;
}

std::optional<std::string> read_first_line(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  if (in.bad()) return std::nullopt;
  return line;
}

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Reads one module parameter. Missing file: nullopt, silently (the module may
// be absent). Present but not a number: nullopt and a warning.
template <typename T>
std::optional<T> read_param(const std::filesystem::path& path, std::vector<std::string>& warnings) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  auto line = read_first_line(path);
  if (!line) {
    warnings.push_back("Cannot read " + path.string() + "; ignoring it.");
    return std::nullopt;
  }
  auto value = parse_number<T>(*line);
  if (!value) warnings.push_back(path.string() + " holds \"" + *line + "\", not a number; ignoring it.");
  return value;
}

// MemTotal from /proc/meminfo in bytes; 0 when unknown.
uint64_t read_mem_total(const std::filesystem::path& meminfo) {
  std::ifstream in(meminfo);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemTotal:", 0) != 0) continue;
    std::istringstream fields(line.substr(9));
    uint64_t kib = 0;
    std::string unit;
    if (fields >> kib >> unit && unit == "kB") return saturating_mul(kib, 1024);
    return 0;
  }
  return 0;
}

std::string pages_text(uint64_t pages) {
  return std::to_string(pages) + " pages (" + format_bytes(saturating_mul(pages, kPageSize)) + ")";
}

bool is_kernel_default(uint64_t pages, uint64_t mem_total) {
  if (pages == 0) return true;
  if (mem_total == 0) return false;
  double half = static_cast<double>(mem_total / 2 / kPageSize);
  return std::fabs(static_cast<double>(pages) - half) <= half * kDefaultTolerance;
}

constexpr const char* kFixHint = " Run `haloctl ttm recommend` to see a modprobe.d file for this machine.";

// Adds the warnings about the limits; returns true when one of them makes the
// setup misconfigured rather than merely suboptimal.
bool judge_limits(Report& r) {
  bool misconfigured = false;
  const uint64_t usable = saturating_sub(r.mem_total, r.reserve);
  const uint64_t limit = r.pages_limit.value_or(0);

  if (r.pages_limit && is_kernel_default(limit, r.mem_total)) {
    r.warnings.push_back("ttm.pages_limit is " + (limit == 0 ? std::string("unset (0)") : pages_text(limit)) +
                         ", the kernel default of half of RAM: the GPU may use only " + format_bytes(r.ttm_limit) +
                         " of " + format_bytes(r.mem_total) + "." + kFixHint);
  } else if (r.pages_limit && r.mem_total > 0 && saturating_mul(limit, kPageSize) > usable) {
    misconfigured = true;
    r.warnings.push_back("ttm.pages_limit is " + pages_text(limit) + ", more than RAM (" + format_bytes(r.mem_total) +
                         ") minus a reserve of " + format_bytes(r.reserve) +
                         ": GPU allocations can starve the system. Lower it to at most " +
                         pages_text(usable / kPageSize) + "." + kFixHint);
  }

  if (r.page_pool_size && r.pages_limit && limit != 0 && *r.page_pool_size < limit) {
    r.warnings.push_back("ttm.page_pool_size is " + pages_text(*r.page_pool_size) + ", smaller than ttm.pages_limit (" +
                         pages_text(limit) +
                         "): large allocations fragment and model loads are slower. Set page_pool_size=" +
                         std::to_string(limit) + "." + kFixHint);
  }

  if (r.drm && r.drm->total > 0 && r.drm->total + r.ttm_limit / 100 < r.ttm_limit) {
    r.warnings.push_back("amdgpu reports a GTT of " + format_bytes(r.drm->total) + " on " + r.drm->device +
                         ", less than the TTM limit of " + format_bytes(r.ttm_limit) +
                         ": the driver caps GPU memory below TTM (older kernels default GTT to 3/4 of "
                         "RAM). Set amdgpu.gttsize to match." +
                         kFixHint);
  }

  if (r.amdgpu_gttsize_mib && *r.amdgpu_gttsize_mib != -1) {
    const int64_t mib = *r.amdgpu_gttsize_mib;
    const uint64_t limit_mib = r.ttm_limit / kMiB;
    if (mib <= 0 || static_cast<uint64_t>(mib) != limit_mib) {
      misconfigured = true;
      r.warnings.push_back("amdgpu.gttsize is " + std::to_string(mib) + " MiB but the TTM limit is " +
                           std::to_string(limit_mib) + " MiB (" + format_bytes(r.ttm_limit) +
                           "): the GPU gets the smaller of the two. Set amdgpu.gttsize=" + std::to_string(limit_mib) +
                           " or -1." + kFixHint);
    }
  }
  return misconfigured;
}

}  // namespace

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::Ok:
      return "ok";
    case Verdict::Warning:
      return "warning";
    case Verdict::Misconfigured:
      return "misconfigured";
    case Verdict::Unavailable:
      return "unavailable";
  }
  return "unavailable";
}

uint64_t default_reserve(uint64_t ram_bytes) {
  uint64_t reserve = std::max<uint64_t>(4 * kGiB, ram_bytes / 16);
  return std::min(reserve, ram_bytes / 2);
}

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  uint64_t scale = 1;
  while (unit < 4 && bytes >= scale * 1024) {
    scale *= 1024;
    ++unit;
  }
  char text[32];
  if (bytes % scale == 0) {
    std::snprintf(text, sizeof text, "%llu %s", static_cast<unsigned long long>(bytes / scale), kUnits[unit]);
  } else {
    std::snprintf(text, sizeof text, "%.1f %s", static_cast<double>(bytes) / static_cast<double>(scale), kUnits[unit]);
  }
  return text;
}

Checker::Checker(std::filesystem::path root, std::unique_ptr<DrmProbe> probe)
    : root_(std::move(root)), probe_(probe ? std::move(probe) : make_libdrm_probe(root_)) {}

Checker::~Checker() = default;

Report Checker::check(std::optional<uint64_t> reserve) const {
  Report r;
  const auto ttm_params = root_ / "sys/module/ttm/parameters";
  r.pages_limit = read_param<uint64_t>(ttm_params / "pages_limit", r.warnings);
  r.page_pool_size = read_param<uint64_t>(ttm_params / "page_pool_size", r.warnings);
  r.amdgpu_gttsize_mib = read_param<int64_t>(root_ / "sys/module/amdgpu/parameters/gttsize", r.warnings);
  r.mem_total = read_mem_total(root_ / "proc/meminfo");
  if (r.mem_total == 0) r.warnings.push_back("Cannot read MemTotal from " + (root_ / "proc/meminfo").string() + ".");
  r.drm = probe_->gtt();
  r.reserve = reserve.value_or(default_reserve(r.mem_total));

  const bool has_ttm = r.pages_limit || r.page_pool_size;
  const uint64_t limit = r.pages_limit.value_or(0);
  r.ttm_limit = limit != 0 ? saturating_mul(limit, kPageSize) : r.mem_total / 2;
  uint64_t gpu_limit = r.ttm_limit;
  if (r.drm && r.drm->total > 0) gpu_limit = std::min(gpu_limit, r.drm->total);
  r.budget = saturating_sub(gpu_limit, r.reserve);

  if (!has_ttm) {
    r.verdict = Verdict::Unavailable;
    r.warnings.push_back("No TTM module parameters under " + ttm_params.string() +
                         ": no GPU driver using TTM is loaded, so there is no GTT to use.");
    return r;
  }
  const bool misconfigured = judge_limits(r);
  if (r.budget == 0) {
    r.warnings.push_back("The pool budget is 0: the GPU limit (" + format_bytes(gpu_limit) +
                         ") is not above the reserve (" + format_bytes(r.reserve) + ").");
  }
  if (misconfigured) {
    r.verdict = Verdict::Misconfigured;
  } else {
    r.verdict = r.warnings.empty() ? Verdict::Ok : Verdict::Warning;
  }
  return r;
}

}  // namespace halo::ttm
