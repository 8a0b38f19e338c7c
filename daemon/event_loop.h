// The daemon's single event loop: the D-Bus connection, SIGTERM/SIGINT (via
// signalfd), tasks posted from worker threads (via an eventfd), timers
// (keep_alive expiry, watchdog pings) and further connections whose replies
// it dispatches (polkit's bus). Every bus object is touched only from this
// loop's thread; workers hand results back with post().
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

namespace sdbus { class IConnection; }

namespace halod {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using Task = std::function<void()>;

  // Blocks SIGTERM and SIGINT for the whole process (call before starting
  // threads) and receives them through a signalfd instead.
  explicit EventLoop(sdbus::IConnection& bus);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Thread-safe: runs task on the loop's thread soon.
  void post(Task task);
  // Loop thread only. Returns an id for cancel_timer().
  uint64_t add_timer(Clock::time_point when, Task task);
  void cancel_timer(uint64_t id);
  // Loop thread only. Dispatches conn's messages too (replies to async calls
  // made on it) until unwatch(); when conn fails (its bus went away) it is
  // no longer watched and on_lost runs. Returns an id for unwatch().
  uint64_t watch(sdbus::IConnection& conn, Task on_lost);
  void unwatch(uint64_t id);
  // Runs until quit() or a termination signal; returns the signal number (0 for quit()).
  int run();
  void quit() { quit_ = true; }
  // Runs the tasks posted so far (at shutdown, after the workers stopped).
  void drain() { run_posted_tasks(); }

 private:
  struct Watched {
    sdbus::IConnection* conn;
    Task on_lost;
  };
  int poll_timeout_ms(uint64_t bus_timeout_usec) const;
  void run_posted_tasks();
  void run_due_timers();
  void process_watched(const std::vector<uint64_t>& ids);

  sdbus::IConnection& bus_;
  int signal_fd_ = -1;
  int wake_fd_ = -1;
  bool quit_ = false;
  std::mutex mu_;
  std::deque<Task> posted_;
  uint64_t next_timer_id_ = 1;
  std::multimap<Clock::time_point, std::pair<uint64_t, Task>> timers_;
  uint64_t next_watch_id_ = 1;
  std::map<uint64_t, Watched> watched_;
};

}  // namespace halod
