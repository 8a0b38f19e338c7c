// TTM check: how much memory the kernel lets the GPU address (GTT), whether
// the limits are set well for keeping LLMs resident, and what to change.
//
// Sources, all below a root that tests redirect (default "/"):
//   <root>/sys/module/ttm/parameters/pages_limit     pages of 4 KiB TTM may hand to GPUs
//   <root>/sys/module/ttm/parameters/page_pool_size  pages TTM keeps pooled for reuse
//   <root>/sys/module/amdgpu/parameters/gttsize      amdgpu's GTT size in MiB, -1 = default
//   <root>/proc/meminfo                              MemTotal
//   <root>/dev/dri/renderD*                          amdgpu GTT heap through libdrm (DrmProbe)
//
// Users: the daemon (TtmStatus/TtmWarnings/GttTotal/PoolBudget properties and
// the pool budget) and `haloctl ttm check|recommend|apply`.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace halo::ttm {

inline constexpr uint64_t kPageSize = 4096;  // TTM counts pages of 4 KiB on x86-64
inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;

// GTT of one amdgpu device as its driver reports it.
struct DrmGtt {
  std::string device;  // render node, e.g. "/dev/dri/renderD128" (below the root)
  uint64_t total = 0;  // bytes the GTT heap can hold
  uint64_t used = 0;   // bytes allocated in it now, by every process
};

// The seam to libdrm. The real probe opens <root>/dev/dri/renderD* and keeps
// the first node whose kernel driver is "amdgpu"; tests pass a fake.
class DrmProbe {
 public:
  virtual ~DrmProbe() = default;
  // The GTT of the first amdgpu device, or nullopt when there is none (no
  // render node, another driver, or no permission to open it).
  virtual std::optional<DrmGtt> gtt() = 0;
};

// The libdrm implementation, probing below root ("/" in production).
std::unique_ptr<DrmProbe> make_libdrm_probe(const std::filesystem::path& root);

enum class Verdict {
  Ok,             // limits set for a resident-model server
  Warning,        // works, but memory is left unused or loads may be slow
  Misconfigured,  // limits that can starve the system or contradict each other
  Unavailable,    // no TTM module parameters at all (no GPU driver using TTM)
};
// "ok", "warning", "misconfigured", "unavailable" (the D-Bus TtmStatus values).
std::string_view to_string(Verdict verdict);

// Memory kept back for the OS and other programs when none is configured:
// the larger of 4 GiB and RAM/16 (8 GiB on a 128 GiB machine), but never more
// than half of RAM, so small machines still get a GPU budget.
uint64_t default_reserve(uint64_t ram_bytes);

struct Report {
  Verdict verdict = Verdict::Unavailable;
  std::vector<std::string> warnings;  // one sentence each: what, the numbers, what to do

  uint64_t mem_total = 0;                     // bytes, from /proc/meminfo MemTotal
  std::optional<uint64_t> pages_limit;        // as read; nullopt when the file is missing/unreadable
  std::optional<uint64_t> page_pool_size;     // as read
  std::optional<int64_t> amdgpu_gttsize_mib;  // as read; -1 means "driver default"
  std::optional<DrmGtt> drm;                  // from the DrmProbe

  uint64_t reserve = 0;    // bytes kept back (configured or default_reserve)
  uint64_t ttm_limit = 0;  // pages_limit x 4 KiB, or RAM/2 when unset (the kernel default)
  // Most the resident pool may hold: min(ttm_limit, drm->total when known) - reserve,
  // never below zero.
  uint64_t budget = 0;
};

class Checker {
 public:
  // root: where /sys, /proc and /dev are (tests pass a temp dir). probe: null
  // uses make_libdrm_probe(root).
  explicit Checker(std::filesystem::path root = "/", std::unique_ptr<DrmProbe> probe = nullptr);
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  // Reads everything now (values change at runtime: GTT usage, and pages_limit
  // is writable by root). reserve: bytes to keep back; nullopt uses
  // default_reserve(MemTotal). Never throws for a missing or odd file: that
  // becomes a warning or the Unavailable verdict.
  Report check(std::optional<uint64_t> reserve = std::nullopt) const;

 private:
  std::filesystem::path root_;
  std::unique_ptr<DrmProbe> probe_;
};

// What to put in /etc/modprobe.d for a machine with ram_bytes of RAM.
struct Recommendation {
  uint64_t ram = 0;
  uint64_t reserve = 0;
  uint64_t pages = 0;        // pages_limit = page_pool_size = (ram - reserve) / 4 KiB,
                             // rounded down to whole MiB so gttsize matches exactly
  uint64_t gttsize_mib = 0;  // amdgpu.gttsize giving the same number of bytes
  std::string conf_text;     // the modprobe.d file, commented
};
// Throws std::invalid_argument when reserve leaves less than 1 GiB for the GPU.
Recommendation recommend(uint64_t ram_bytes, uint64_t reserve_bytes);

inline constexpr std::string_view kDefaultConfPath = "/etc/modprobe.d/halod-ttm.conf";

struct ApplyResult {
  std::filesystem::path written;
  std::optional<std::filesystem::path> backup;  // where the previous file went, if any
  std::string next_steps;                       // "reboot (update the initramfs first if ...)" for the user
};
struct ApplyOptions {
  std::filesystem::path conf_path{kDefaultConfPath};
  bool require_root = true;  // tests writing to a temp dir turn this off
};
// Writes recommendation.conf_text to conf_path atomically; an existing file is
// first copied to "<conf_path>.<YYYYmmdd-HHMMSS>.bak". Throws
// std::runtime_error with a message for people (not root, cannot write, ...).
ApplyResult apply(const Recommendation& recommendation, const ApplyOptions& options = {});

// "120 GiB", "512 MiB", "1.5 GiB", "4096 B": for messages.
std::string format_bytes(uint64_t bytes);

}  // namespace halo::ttm
