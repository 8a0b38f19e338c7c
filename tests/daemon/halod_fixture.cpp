#include "tests/daemon/halod_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/fixtures.h"

namespace halod::test {
namespace {

using namespace std::chrono_literals;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// Starts argv with extra environment entries; stdout to a pipe (when
// capture) and stderr to log_path (when given).
Child spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, bool capture,
            const std::string& log_path = "") {
  int out[2] = {-1, -1};
  if (capture && pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    if (capture) dup2(out[1], STDOUT_FILENO);
    if (!log_path.empty()) {
      int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log >= 0) dup2(log, STDERR_FILENO);
    }
    for (auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  if (capture) {
    close(out[1]);
    c.stdout_fd = out[0];
  }
  return c;
}

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

int wait_status(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool name_has_owner(sdbus::IConnection& bus, const std::string& name) {
  auto proxy = sdbus::createProxy(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus");
  bool has = false;
  proxy->callMethod("NameHasOwner").onInterface("org.freedesktop.DBus").withArguments(name).storeResultsTo(has);
  return has;
}

}  // namespace

ScratchDir::ScratchDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "halod-bus-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void ScratchDir::write(const std::filesystem::path& relative, const std::string& text) const {
  auto file = path_ / relative;
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::trunc) << text;
}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    reset();
    pid = std::exchange(other.pid, -1);
    stdout_fd = std::exchange(other.stdout_fd, -1);
  }
  return *this;
}

void Child::reset() {
  if (pid > 0) {
    kill(pid, SIGKILL);
    wait_status(pid);
  }
  if (stdout_fd >= 0) close(stdout_fd);
  pid = -1;
  stdout_fd = -1;
}

int Child::terminate(std::chrono::milliseconds timeout) {
  if (pid <= 0) return -1;
  kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(20ms);
  }
  return -1;  // the destructor kills it
}

std::string HalodTest::model_file(const std::string& name) { return halo::test::fixture("models/" + name); }

void HalodTest::start(const DaemonOptions& o) {
  TearDown();
  dir_ = std::make_unique<ScratchDir>();
  const auto& d = dir_->path();
  dir_->write("bus.conf",
              "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
              " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
              "<busconfig><type>session</type><listen>unix:path=" + (d / "bus").string() + "</listen>"
              "<auth>EXTERNAL</auth><policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
              "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n");
  // The fake tree gives the pool budget: pages_limit x 4 KiB, reserve 0.
  const uint64_t pages = o.budget_mib * 256;
  dir_->write("sys/sys/module/ttm/parameters/pages_limit", std::to_string(pages) + "\n");
  dir_->write("sys/sys/module/ttm/parameters/page_pool_size", std::to_string(pages) + "\n");
  dir_->write("sys/proc/meminfo", "MemTotal:       16777216 kB\n");
  std::filesystem::create_directories(d / "models");
  std::ostringstream toml;
  toml << "model_dirs = [\"" << (d / "models").string() << "\", \"" << halo::test::fixture("models") << "\"]\n"
       << "keep_alive = " << o.keep_alive << "\nreserve = 0\n"
       << "sysfs_root = \"" << (d / "sys").string() << "\"\ndefault_backend = \"cpu\"\n"
       << o.extra_toml << "\n[queue]\nmax_queued = " << o.max_queued << "\nmax_tokens = " << o.max_tokens
       << "\nmax_prompt_bytes = \"" << o.max_prompt_bytes << "\"\n";
  dir_->write("halod.toml", toml.str());

  bus_daemon_ = spawn({"dbus-daemon", "--config-file=" + (d / "bus.conf").string(), "--nofork", "--print-address=1"},
                      {}, true, (d / "dbus.log").string());
  std::string line;
  char c;
  while (read(bus_daemon_.stdout_fd, &c, 1) == 1 && c != '\n') line += c;
  ASSERT_FALSE(line.empty()) << "dbus-daemon did not start";
  address_ = line;

  std::vector<std::string> env = o.env;
  env.push_back("DBUS_SESSION_BUS_ADDRESS=" + address_);
  for (auto& e : env) {
    auto at = e.find("@BUS@");  // the private bus's address, not known before it starts
    if (at != std::string::npos) e.replace(at, 5, address_);
  }
  halod_ = spawn({env_or("HALOD_BIN", "halod"), "--session", "--config", (d / "halod.toml").string()}, env, false,
                 (d / "halod.log").string());
  bus_ = sdbus::createSessionBusConnectionWithAddress(address_);
  ASSERT_TRUE(eventually([&] { return name_has_owner(*bus_, "org.halod.Halod1"); }, 20s))
      << "halod did not take its name; log:\n" << halod_log();
  manager_ = std::make_unique<ManagerProxy>(*bus_);
}

void HalodTest::stop_daemon() {
  if (halod_.pid > 0) {
    int status = halod_.terminate();
    EXPECT_EQ(status, 0) << "halod did not exit cleanly on SIGTERM; log:\n" << halod_log();
  }
}

void HalodTest::TearDown() {
  manager_.reset();
  stop_daemon();
  bus_.reset();
  bus_daemon_.terminate();
  dir_.reset();
}

std::string HalodTest::halod_log() const {
  std::ifstream in(dir_->path() / "halod.log");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string HalodTest::load(const std::string& name, const VariantMap& options) {
  return manager_->LoadModel(model_file(name), options);
}

std::string HalodTest::busctl(const std::vector<std::string>& args, int* status) {
  std::vector<std::string> argv = {"busctl", "--address=" + address_};
  argv.insert(argv.end(), args.begin(), args.end());
  Child c = spawn(argv, {}, true);
  std::string out = read_all(c.stdout_fd);
  int st = wait_status(c.pid);
  c.pid = -1;
  if (status) *status = st;
  return out;
}

std::string HalodTest::haloctl(const std::vector<std::string>& args, int* status) {
  std::vector<std::string> argv = {env_or("HALOCTL_BIN", "haloctl"), "--session"};
  argv.insert(argv.end(), args.begin(), args.end());
  Child c = spawn(argv, {"DBUS_SESSION_BUS_ADDRESS=" + address_}, true, (dir_->path() / "haloctl.log").string());
  std::string out = read_all(c.stdout_fd);
  int st = wait_status(c.pid);
  c.pid = -1;
  if (status) *status = st;
  return out;
}

bool HalodTest::eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

const StreamResult& StreamReader::read(size_t max_lines, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t lines = 0;
  while (!result_.done && lines < max_lines) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      auto j = nlohmann::json::parse(buffer_.substr(0, nl));
      buffer_.erase(0, nl + 1);
      if (j.value("done", false)) {
        std::map<std::string, std::string> done;
        for (auto& [k, v] : j.items()) done[k] = v.is_string() ? v.get<std::string>() : v.dump();
        result_.done = done;
      } else {
        result_.texts.push_back(j.at("text").get<std::string>());
        result_.tokens.push_back(j.at("token").get<int32_t>());
        ++lines;
      }
      continue;
    }
    if (eof_) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n > 0)
      buffer_.append(buf, static_cast<size_t>(n));
    else if (n == 0)
      eof_ = true;
  }
  return result_;
}

std::string error_name_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const sdbus::Error& e) {
    return e.getName();
  }
  return "";
}

}  // namespace halod::test
