// Integration test harness: a private dbus-daemon, the built halod serving on
// it with a test configuration and a fake sysfs tree (which sets the pool
// budget), an sdbus-c++ connection to drive it through the generated proxies,
// and busctl for the command line side.
#pragma once
#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sdbus-c++/sdbus-c++.h>
#include <string>
#include <vector>

#include "tools/haloctl/client.h"

namespace halod::test {

using haloctl::ManagerProxy;
using haloctl::ModelProxy;
using haloctl::RequestProxy;
using haloctl::VariantMap;

// What the test configuration says.
struct DaemonOptions {
  uint64_t budget_mib = 512;  // pages_limit of the fake sysfs tree (reserve 0)
  int keep_alive = 300;
  uint32_t max_queued = 8;
  uint32_t max_tokens = 4096;
  std::string max_prompt_bytes = "64KiB";
  std::string extra_toml;     // added to halod.toml's top level (tables allowed)
  std::vector<std::string> env;  // extra NAME=VALUE for halod
};

// A temp directory removed at the end.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  const std::filesystem::path& path() const { return path_; }
  void write(const std::filesystem::path& relative, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

// A child process whose stdout can be read; killed (SIGKILL) if still running at the end.
struct Child {
  pid_t pid = -1;
  int stdout_fd = -1;
  Child() = default;
  Child(Child&& other) noexcept { *this = std::move(other); }
  Child& operator=(Child&& other) noexcept;
  ~Child() { reset(); }
  void reset();
  // Sends SIGTERM and waits up to timeout; returns the exit status, or -1.
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(20));
};

class HalodTest : public ::testing::Test {
 protected:
  void SetUp() override { start(DaemonOptions{}); }
  void TearDown() override;

  // Restarts everything with other options (call first in a test body).
  void start(const DaemonOptions& options);
  void stop_daemon();

  // A fixture model (HALO_FIXTURES/models/NAME).
  static std::string model_file(const std::string& name);
  // Loads by path through the proxy; returns the object path.
  std::string load(const std::string& name, const VariantMap& options = {});
  // Runs busctl --address=<private bus> ARGS; returns its stdout; *status gets the exit status.
  std::string busctl(const std::vector<std::string>& args, int* status = nullptr);
  // Runs the built haloctl --session against the private bus.
  std::string haloctl(const std::vector<std::string>& args, int* status = nullptr);
  std::string halod_log() const;

  // Waits until pred() or timeout, dispatching nothing (the test connection
  // makes only synchronous calls).
  static bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

  std::unique_ptr<ScratchDir> dir_;
  std::string address_;
  Child bus_daemon_;
  Child halod_;
  std::unique_ptr<sdbus::IConnection> bus_;
  std::unique_ptr<ManagerProxy> manager_;
};

// Reads the stream of a Generate call, one JSON object per line.
struct StreamResult {
  std::vector<std::string> texts;
  std::vector<int32_t> tokens;
  std::optional<std::map<std::string, std::string>> done;  // final object, values as JSON text
  std::string reason() const { return done ? done->at("reason") : ""; }
};
class StreamReader {
 public:
  explicit StreamReader(int fd) : fd_(fd) {}
  // Reads until the final line, max_lines token lines, EOF or timeout; adds
  // to result() and returns it.
  const StreamResult& read(size_t max_lines = SIZE_MAX, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  const StreamResult& result() const { return result_; }
  bool eof() const { return eof_; }

 private:
  int fd_;
  std::string buffer_;
  bool eof_ = false;
  StreamResult result_;
};

// Calls f and returns the D-Bus error name it threw ("" when none).
std::string error_name_of(const std::function<void()>& f);

}  // namespace halod::test
