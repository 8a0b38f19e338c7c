// `haloctl ttm check|recommend|apply`: haloctl's main hands everything after
// "ttm" to run_ttm_command(), which parses it (CLI11) and prints the result.
//
//   haloctl ttm check     [--reserve SIZE] [--config FILE] [--root DIR]
//   haloctl ttm recommend [--reserve SIZE] [--ram SIZE] [--config FILE] [--root DIR]
//   haloctl ttm apply     [--reserve SIZE] [--ram SIZE] [--output FILE] [--config FILE] [--root DIR]
//
// The reserve is --reserve, else the config's `reserve`, else
// halo::ttm::default_reserve(RAM). RAM is MemTotal under the root (--root,
// else the config's sysfs_root, else /) unless --ram gives it. apply writes
// /etc/modprobe.d/halod-ttm.conf (root only) or --output FILE (any user).
#pragma once
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "daemon/ttm/ttm.h"

namespace halo::haloctl {

// Exit codes of `haloctl ttm`.
inline constexpr int kTtmExitOk = 0;             // done; for check: status ok or warning
inline constexpr int kTtmExitFailed = 1;         // could not do it: not root, cannot write, bad config
inline constexpr int kTtmExitUsage = 2;          // bad arguments (message on err)
inline constexpr int kTtmExitMisconfigured = 3;  // check: status misconfigured or unavailable

// args: the words after "ttm", e.g. {"recommend", "--reserve", "8GiB"}.
// json: print one JSON object instead of text (haloctl --json). Prints to
// std::cout / std::cerr.
int run_ttm_command(const std::vector<std::string>& args, bool json);

// The same with the streams and the libdrm probe replaceable (tests).
// probe: null uses the real libdrm probe under the root.
int run_ttm_command(const std::vector<std::string>& args, bool json, std::ostream& out, std::ostream& err,
                    std::unique_ptr<ttm::DrmProbe> probe = nullptr);

}  // namespace halo::haloctl
