// halod's objects in this process, serving on the session bus (the private
// one dbus-run-session starts): what daemon/main.cpp builds, with a small
// pool, a CPU backend, short limits and polkit off, its event loop on a
// thread of its own. The fuzz target talks to it through a second connection,
// as any client would.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace halo::fuzz {

struct DaemonSettings {
  std::vector<std::string> model_dirs;
  uint64_t pool_budget = 256ull << 20;
  uint32_t max_tokens = 16;
  uint64_t max_prompt_bytes = 4096;
  uint32_t queue_limit = 4;
};

class InProcessDaemon {
 public:
  // Takes org.halod.Halod1 on the session bus; exits the process when it cannot.
  explicit InProcessDaemon(const DaemonSettings& settings);
  // Stops the loop, cancels everything and releases the name (as on SIGTERM).
  ~InProcessDaemon();
  InProcessDaemon(const InProcessDaemon&) = delete;
  InProcessDaemon& operator=(const InProcessDaemon&) = delete;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace halo::fuzz
