// The service side: sd_notify messages (READY after the name is owned,
// watchdog pings, STOPPING), and the signals clients watch (models appearing
// and vanishing, load progress).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "tests/daemon/halod_fixture.h"

namespace halod::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kLlama = "llama-spm-q4_k_m.gguf";

// A NOTIFY_SOCKET that collects what the service sends.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{0, 100'000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() { close(fd_); }
  // Everything received so far, messages separated by '|'.
  std::string drain() {
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd_, buf, sizeof buf, 0)) > 0) received_ += std::string(buf, n) + "|";
    return received_;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::string received_;
};

class UnderSystemd : public HalodTest {
 protected:
  void SetUp() override {}  // each test starts the daemon with its socket
  void start_notified(const std::string& socket_path) {
    DaemonOptions o;
    o.env = {"NOTIFY_SOCKET=" + socket_path, "WATCHDOG_USEC=200000"};
    start(o);
  }
};

TEST_F(UnderSystemd, SaysReadyPingsTheWatchdogAndSaysStopping) {
  auto socket_dir = std::make_unique<ScratchDir>();
  NotifySocket notify(socket_dir->path() / "notify");
  start_notified((socket_dir->path() / "notify").string());
  // start() returned once the name was owned; READY comes right after it.
  EXPECT_TRUE(eventually([&] { return notify.drain().find("READY=1") != std::string::npos; }, 5s)) << notify.drain();
  EXPECT_NE(notify.drain().find("STATUS=Serving"), std::string::npos);
  // WatchdogSec=0.2s: pings every 0.1 s from the event loop, even while idle.
  EXPECT_TRUE(eventually([&] {
    std::string all = notify.drain();
    size_t count = 0;
    for (size_t at = all.find("WATCHDOG=1"); at != std::string::npos; at = all.find("WATCHDOG=1", at + 1)) ++count;
    return count >= 3;
  }, 5s));
  load(kLlama);
  EXPECT_TRUE(eventually([&] { return notify.drain().find("STATUS=1 model(s) loaded") != std::string::npos; }, 5s))
      << notify.drain();
  stop_daemon();
  EXPECT_NE(notify.drain().find("STOPPING=1"), std::string::npos) << notify.drain();
}

TEST_F(UnderSystemd, LogsToStderrWhenJournalStreamIsNotItsStderr) {
  // An inherited JOURNAL_STREAM that names another file must not swallow the log.
  DaemonOptions o;
  o.env = {"JOURNAL_STREAM=1:1"};
  start(o);
  EXPECT_NE(halod_log().find("Serving org.halod.Halod1"), std::string::npos) << halod_log();
}

class ObjectSignals : public HalodTest {
 protected:
  void watch() {
    watcher_ = sdbus::createSessionBusConnectionWithAddress(address_);
    added_ = watcher_->addMatch(
        "type='signal',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesAdded'",
        [this](sdbus::Message& m) {
          sdbus::ObjectPath path;
          m >> path;
          std::lock_guard lock(mu_);
          events_.push_back("added " + std::string(path));
        });
    removed_ = watcher_->addMatch(
        "type='signal',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesRemoved'",
        [this](sdbus::Message& m) {
          sdbus::ObjectPath path;
          m >> path;
          std::lock_guard lock(mu_);
          events_.push_back("removed " + std::string(path));
        });
    changed_ = watcher_->addMatch(
        "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
        "path_namespace='/org/halod/Halod1'",
        [this](sdbus::Message& m) {
          std::string iface;
          VariantMap props;
          m >> iface >> props;
          std::lock_guard lock(mu_);
          for (auto& [k, v] : props) {
            if (k == "LoadProgress") progress_.push_back(v.get<double>());
            events_.push_back("changed " + k);
          }
        });
    watcher_->enterEventLoopAsync();
  }
  void TearDown() override {
    if (watcher_) watcher_->leaveEventLoop();
    HalodTest::TearDown();
  }
  bool saw(const std::string& event) {
    std::lock_guard lock(mu_);
    return std::find(events_.begin(), events_.end(), event) != events_.end();
  }

  std::unique_ptr<sdbus::IConnection> watcher_;
  sdbus::Slot added_, removed_, changed_;
  std::mutex mu_;
  std::vector<std::string> events_;
  std::vector<double> progress_;
};

TEST_F(ObjectSignals, AnnounceModelsAppearingChangingAndVanishing) {
  watch();
  std::string path = load(kLlama);
  EXPECT_TRUE(eventually([&] { return saw("added " + path); }, 5s));
  EXPECT_TRUE(eventually([&] { return saw("changed State"); }, 5s));
  EXPECT_TRUE(eventually([&] { return saw("changed PoolUsed"); }, 5s));
  {
    std::lock_guard lock(mu_);
    ASSERT_FALSE(progress_.empty());
    EXPECT_DOUBLE_EQ(progress_.back(), 1.0);
    EXPECT_TRUE(std::is_sorted(progress_.begin(), progress_.end()));
  }
  ModelProxy(*bus_, path).Unload();
  EXPECT_TRUE(eventually([&] { return saw("removed " + path); }, 5s));
}

}  // namespace
}  // namespace halod::test
