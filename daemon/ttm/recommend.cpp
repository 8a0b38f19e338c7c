// recommend(): the modprobe.d limits for a machine; apply(): writing them.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "daemon/ttm/ttm.h"

namespace halo::ttm {
namespace {

// Below this the GPU could not hold even a small model; refuse to recommend.
constexpr uint64_t kMinimumGpuShare = kGiB;

std::string render_conf(const Recommendation& r) {
  const uint64_t gpu_bytes = r.pages * kPageSize;
  std::ostringstream out;
  out << "# halod-ttm.conf: GPU memory limits for halod, written by `haloctl ttm recommend`.\n"
      << "# This machine: " << format_bytes(r.ram) << " of RAM; " << format_bytes(r.reserve)
      << " kept for the system and other programs;\n"
      << "# " << format_bytes(gpu_bytes) << " (" << r.pages << " pages of 4 KiB) may be mapped by the GPU (GTT).\n"
      << "# Takes effect after a reboot (update the initramfs first if ttm/amdgpu load from it).\n"
      << "\n"
      << "# ttm.pages_limit: the most 4 KiB pages TTM hands to GPUs in system memory. The\n"
      << "# kernel default is half of RAM; an LLM server wants nearly all of it.\n"
      << "# ttm.page_pool_size: pages TTM keeps pooled for reuse. Equal to pages_limit so a\n"
      << "# large model's buffers are served from the pool instead of fragmenting.\n"
      << "options ttm pages_limit=" << r.pages << " page_pool_size=" << r.pages << "\n"
      << "\n"
      << "# amdgpu.gttsize: the GTT size amdgpu advertises, in MiB (-1: driver default, which\n"
      << "# is 3/4 of RAM on older kernels). Set to the same " << format_bytes(gpu_bytes) << " as pages_limit.\n"
      << "options amdgpu gttsize=" << r.gttsize_mib << "\n";
  return out.str();
}

std::string timestamp_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", &local);
  return text;
}

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, const std::error_code& ec) {
  throw std::runtime_error("Failed to " + what + " " + path.string() + ": " + ec.message());
}

// Writes text to path through a temporary file in the same folder and a
// rename, so a crash never leaves a half-written modprobe.d file.
void write_atomically(const std::filesystem::path& path, const std::string& text) {
  const auto temp = std::filesystem::path(path.string() + ".tmp");
  {
    std::ofstream out(temp, std::ios::trunc);
    if (!out) fail("create", temp, std::error_code(errno, std::generic_category()));
    out << text;
    out.flush();
    if (!out) fail("write", temp, std::error_code(errno, std::generic_category()));
  }
  std::error_code ec;
  std::filesystem::permissions(temp, std::filesystem::perms(0644), ec);
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::filesystem::remove(temp);
    fail("rename a temporary file onto", path, ec);
  }
}

}  // namespace

Recommendation recommend(uint64_t ram_bytes, uint64_t reserve_bytes) {
  if (reserve_bytes >= ram_bytes || ram_bytes - reserve_bytes < kMinimumGpuShare) {
    throw std::invalid_argument("A reserve of " + format_bytes(reserve_bytes) + " leaves less than " +
                                format_bytes(kMinimumGpuShare) + " of " + format_bytes(ram_bytes) +
                                " RAM for the GPU; choose a smaller reserve.");
  }
  Recommendation r;
  r.ram = ram_bytes;
  r.reserve = reserve_bytes;
  r.gttsize_mib = (ram_bytes - reserve_bytes) / kMiB;  // whole MiB, so gttsize matches exactly
  r.pages = r.gttsize_mib * (kMiB / kPageSize);
  r.conf_text = render_conf(r);
  return r;
}

ApplyResult apply(const Recommendation& recommendation, const ApplyOptions& options) {
  if (options.require_root && geteuid() != 0) {
    throw std::runtime_error("Writing " + options.conf_path.string() + " needs root; run `sudo haloctl ttm apply`.");
  }
  ApplyResult result;
  result.written = options.conf_path;
  std::error_code ec;
  const auto folder = options.conf_path.has_parent_path() ? options.conf_path.parent_path() : ".";
  if (!std::filesystem::is_directory(folder, ec)) {
    throw std::runtime_error("Cannot write " + options.conf_path.string() + ": the folder " + folder.string() +
                             " does not exist.");
  }
  if (std::filesystem::exists(options.conf_path, ec)) {
    auto backup = std::filesystem::path(options.conf_path.string() + "." + timestamp_now() + ".bak");
    std::filesystem::copy_file(options.conf_path, backup, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) fail("back up", options.conf_path, ec);
    result.backup = backup;
  }
  write_atomically(options.conf_path, recommendation.conf_text);
  result.next_steps =
      "The new limits take effect after a reboot. If ttm or amdgpu is loaded from the initramfs, "
      "update it first (Debian/Ubuntu: `update-initramfs -u`; Fedora: `dracut -f`), then reboot.";
  return result;
}

}  // namespace halo::ttm
