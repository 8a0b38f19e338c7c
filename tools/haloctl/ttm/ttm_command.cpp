// haloctl ttm check|recommend|apply.
#include "tools/haloctl/ttm/ttm_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "daemon/config/config.h"

namespace halo::haloctl {
namespace {

using nlohmann::json;

struct Arguments {
  std::string reserve;  // empty: from the config or the default
  std::string ram;      // empty: MemTotal
  std::string output;   // empty: /etc/modprobe.d/halod-ttm.conf
  std::string config_file{config::kDefaultPath};
  std::string root;  // empty: the config's sysfs_root
};

// What every subcommand needs: the check of this machine and the reserve.
struct Context {
  ttm::Report report;
  uint64_t ram = 0;
  uint64_t reserve = 0;
};

Context read_machine(const Arguments& a, std::unique_ptr<ttm::DrmProbe> probe) {
  const config::Config cfg = config::load(a.config_file);
  const std::filesystem::path root = a.root.empty() ? cfg.sysfs_root : std::filesystem::path(a.root);
  std::optional<uint64_t> reserve = cfg.reserve;
  if (!a.reserve.empty()) reserve = config::parse_size(a.reserve);

  Context c;
  c.report = ttm::Checker(root, std::move(probe)).check(reserve);
  c.ram = a.ram.empty() ? c.report.mem_total : config::parse_size(a.ram);
  if (c.ram == 0) throw std::runtime_error("Cannot read MemTotal under " + root.string() + "; give --ram SIZE.");
  c.reserve = reserve.value_or(ttm::default_reserve(c.ram));
  return c;
}

template <typename T>
json optional_json(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

std::string pages_text(const std::optional<uint64_t>& pages) {
  if (!pages) return "not present";
  return std::to_string(*pages) + " pages (" + ttm::format_bytes(*pages * ttm::kPageSize) + ")";
}

void print_check(const ttm::Report& r, bool json_output, std::ostream& out) {
  if (json_output) {
    json j{{"status", ttm::to_string(r.verdict)},
           {"warnings", r.warnings},
           {"mem_total", r.mem_total},
           {"pages_limit", optional_json(r.pages_limit)},
           {"page_pool_size", optional_json(r.page_pool_size)},
           {"amdgpu_gttsize_mib", optional_json(r.amdgpu_gttsize_mib)},
           {"gtt_device", r.drm ? json(r.drm->device) : json(nullptr)},
           {"gtt_total", r.drm ? json(r.drm->total) : json(nullptr)},
           {"gtt_used", r.drm ? json(r.drm->used) : json(nullptr)},
           {"reserve", r.reserve},
           {"ttm_limit", r.ttm_limit},
           {"budget", r.budget}};
    out << j.dump(2) << '\n';
    return;
  }
  auto row = [&](const char* name, const std::string& value) {
    out << "  " << std::left << std::setw(20) << name << value << '\n';
  };
  out << "TTM status: " << ttm::to_string(r.verdict) << '\n';
  row("RAM", ttm::format_bytes(r.mem_total));
  row("ttm.pages_limit", pages_text(r.pages_limit));
  row("ttm.page_pool_size", pages_text(r.page_pool_size));
  row("amdgpu.gttsize", !r.amdgpu_gttsize_mib         ? "not present"
                        : *r.amdgpu_gttsize_mib == -1 ? "-1 (driver default)"
                                                      : std::to_string(*r.amdgpu_gttsize_mib) + " MiB");
  row("GTT (amdgpu)",
      r.drm ? ttm::format_bytes(r.drm->total) + ", " + ttm::format_bytes(r.drm->used) + " used (" + r.drm->device + ")"
            : "no amdgpu device found");
  row("reserve", ttm::format_bytes(r.reserve));
  row("pool budget", ttm::format_bytes(r.budget));
  if (!r.warnings.empty()) out << "Warnings:\n";
  for (const auto& w : r.warnings) out << "  - " << w << '\n';
}

json recommendation_json(const ttm::Recommendation& r) {
  return json{{"ram", r.ram},
              {"reserve", r.reserve},
              {"pages_limit", r.pages},
              {"page_pool_size", r.pages},
              {"gttsize_mib", r.gttsize_mib},
              {"conf", r.conf_text}};
}

int check(const Arguments& a, bool json_output, std::ostream& out, std::unique_ptr<ttm::DrmProbe> probe) {
  const Context c = read_machine(a, std::move(probe));
  print_check(c.report, json_output, out);
  const bool bad = c.report.verdict == ttm::Verdict::Misconfigured || c.report.verdict == ttm::Verdict::Unavailable;
  return bad ? kTtmExitMisconfigured : kTtmExitOk;
}

int recommend(const Arguments& a, bool json_output, std::ostream& out, std::unique_ptr<ttm::DrmProbe> probe) {
  const Context c = read_machine(a, std::move(probe));
  const ttm::Recommendation r = ttm::recommend(c.ram, c.reserve);
  if (json_output) {
    out << recommendation_json(r).dump(2) << '\n';
  } else {
    out << r.conf_text;
  }
  return kTtmExitOk;
}

int apply(const Arguments& a, bool json_output, std::ostream& out, std::unique_ptr<ttm::DrmProbe> probe) {
  const Context c = read_machine(a, std::move(probe));
  const ttm::Recommendation r = ttm::recommend(c.ram, c.reserve);
  ttm::ApplyOptions options;
  if (!a.output.empty()) {
    options.conf_path = a.output;
    options.require_root = false;  // a file of the user's choosing needs no root
  }
  const ttm::ApplyResult result = ttm::apply(r, options);
  if (json_output) {
    json j = recommendation_json(r);
    j["written"] = result.written.string();
    j["backup"] = result.backup ? json(result.backup->string()) : json(nullptr);
    j["next_steps"] = result.next_steps;
    out << j.dump(2) << '\n';
    return kTtmExitOk;
  }
  out << "Wrote " << result.written.string() << ": pages_limit=page_pool_size=" << r.pages << " ("
      << ttm::format_bytes(r.pages * ttm::kPageSize) << "), amdgpu.gttsize=" << r.gttsize_mib << ".\n";
  if (result.backup) out << "The previous file is saved as " << result.backup->string() << ".\n";
  if (c.report.verdict == ttm::Verdict::Unavailable) {
    out << "Note: no TTM module is loaded now; the limits apply once amdgpu (and with it ttm) loads.\n";
  }
  out << result.next_steps << '\n';
  return kTtmExitOk;
}

void add_common_options(CLI::App& sub, Arguments& a) {
  sub.add_option("--reserve", a.reserve,
                 "Memory kept for the system, e.g. 8GiB (default: config, else max(4GiB, RAM/16))");
  sub.add_option("--config", a.config_file, "halod configuration file (reserve, sysfs_root)");
  sub.add_option("--root", a.root, "Read /sys, /proc and /dev under this folder");
}

}  // namespace

int run_ttm_command(const std::vector<std::string>& args, bool json_output) {
  return run_ttm_command(args, json_output, std::cout, std::cerr);
}

int run_ttm_command(const std::vector<std::string>& args, bool json_output, std::ostream& out, std::ostream& err,
                    std::unique_ptr<ttm::DrmProbe> probe) {
  CLI::App app{"haloctl ttm: check and set the kernel's GPU memory limits (TTM/GTT)", "haloctl ttm"};
  app.require_subcommand(1);
  Arguments a;
  auto* check_cmd = app.add_subcommand("check", "Show the limits in effect, the pool budget and what is wrong");
  auto* recommend_cmd = app.add_subcommand("recommend", "Print a modprobe.d file with limits for this machine");
  auto* apply_cmd =
      app.add_subcommand("apply", "Write that file to /etc/modprobe.d/halod-ttm.conf (root; keeps a .bak)");
  for (auto* sub : {check_cmd, recommend_cmd, apply_cmd}) add_common_options(*sub, a);
  for (auto* sub : {recommend_cmd, apply_cmd})
    sub->add_option("--ram", a.ram, "RAM to plan for, e.g. 64GiB (default: MemTotal)");
  apply_cmd->add_option("--output", a.output, "Write here instead of /etc/modprobe.d/halod-ttm.conf");

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses from the back
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kTtmExitOk;
  } catch (const CLI::ParseError& e) {
    err << "haloctl ttm: " << e.what() << "\n"
        << "Run `haloctl ttm --help` for usage.\n";
    return kTtmExitUsage;
  }
  try {
    if (check_cmd->parsed()) return check(a, json_output, out, std::move(probe));
    if (recommend_cmd->parsed()) return recommend(a, json_output, out, std::move(probe));
    return apply(a, json_output, out, std::move(probe));
  } catch (const std::invalid_argument& e) {  // a bad --reserve/--ram, or a reserve leaving nothing
    err << "haloctl ttm: " << e.what() << '\n';
    return kTtmExitUsage;
  } catch (const std::exception& e) {  // config errors, not root, cannot write
    err << "haloctl ttm: " << e.what() << '\n';
    return kTtmExitFailed;
  }
}

}  // namespace halo::haloctl
