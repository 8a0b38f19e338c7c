// The daemon's single event loop: the D-Bus connection, SIGTERM/SIGINT (via
// signalfd), tasks posted from worker threads (via an eventfd) and timers
// (keep_alive expiry, watchdog pings). Every bus object is touched only from
// this loop's thread; workers hand results back with post().
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

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
  // Runs until quit() or a termination signal; returns the signal number (0 for quit()).
  int run();
  void quit() { quit_ = true; }
  // Runs the tasks posted so far (at shutdown, after the workers stopped).
  void drain() { run_posted_tasks(); }

 private:
  int poll_timeout_ms(uint64_t bus_timeout_usec) const;
  void run_posted_tasks();
  void run_due_timers();

  sdbus::IConnection& bus_;
  int signal_fd_ = -1;
  int wake_fd_ = -1;
  bool quit_ = false;
  std::mutex mu_;
  std::deque<Task> posted_;
  uint64_t next_timer_id_ = 1;
  std::multimap<Clock::time_point, std::pair<uint64_t, Task>> timers_;
};

}  // namespace halod
