#include "daemon/event_loop.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sdbus-c++/IConnection.h>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/log.h"

namespace halod {
namespace {

// A failing task is logged and dropped: one bad request must not stop the daemon.
void run_task(const EventLoop::Task& task) {
  try {
    task();
  } catch (const std::exception& e) {
    log_error(std::string("Internal task failed: ") + e.what() + ", ignoring");
  }
}

}  // namespace

EventLoop::EventLoop(sdbus::IConnection& bus) : bus_(bus) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  signal_fd_ = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (signal_fd_ < 0 || wake_fd_ < 0)
    throw std::runtime_error(std::string("Failed to create the event loop's descriptors: ") +
                             std::strerror(errno));
}

EventLoop::~EventLoop() {
  if (signal_fd_ >= 0) close(signal_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void EventLoop::post(Task task) {
  {
    std::lock_guard lock(mu_);
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);  // a full counter still wakes the loop
}

uint64_t EventLoop::add_timer(Clock::time_point when, Task task) {
  uint64_t id = next_timer_id_++;
  timers_.emplace(when, std::make_pair(id, std::move(task)));
  return id;
}

void EventLoop::cancel_timer(uint64_t id) {
  for (auto it = timers_.begin(); it != timers_.end(); ++it)
    if (it->second.first == id) {
      timers_.erase(it);
      return;
    }
}

uint64_t EventLoop::watch(sdbus::IConnection& conn, Task on_lost) {
  uint64_t id = next_watch_id_++;
  watched_.emplace(id, Watched{&conn, std::move(on_lost)});
  return id;
}

void EventLoop::unwatch(uint64_t id) { watched_.erase(id); }

int EventLoop::poll_timeout_ms(uint64_t bus_timeout_usec) const {
  // The bus gives an absolute CLOCK_MONOTONIC deadline (UINT64_MAX: none);
  // steady_clock is CLOCK_MONOTONIC on Linux.
  auto now = Clock::now();
  auto deadline = Clock::time_point::max();
  if (bus_timeout_usec != UINT64_MAX)
    deadline = Clock::time_point(std::chrono::microseconds(bus_timeout_usec));
  if (!timers_.empty() && timers_.begin()->first < deadline) deadline = timers_.begin()->first;
  if (deadline == Clock::time_point::max()) return -1;
  if (deadline <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return ms > 60'000 ? 60'000 : static_cast<int>(ms);
}

void EventLoop::run_posted_tasks() {
  uint64_t counter;
  (void)!read(wake_fd_, &counter, sizeof counter);  // EAGAIN when nothing was posted
  std::deque<Task> tasks;
  {
    std::lock_guard lock(mu_);
    tasks.swap(posted_);
  }
  for (auto& t : tasks) run_task(t);
}

void EventLoop::run_due_timers() {
  auto now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    Task task = std::move(timers_.begin()->second.second);
    timers_.erase(timers_.begin());
    run_task(task);
  }
}

void EventLoop::process_watched(const std::vector<uint64_t>& ids) {
  // A watched connection that fails is dropped; the daemon's own bus failing
  // ends run() instead (its exception leaves the loop).
  for (uint64_t id : ids) {
    auto it = watched_.find(id);  // an earlier one's callbacks may have unwatched it
    if (it == watched_.end()) continue;
    try {
      while (it->second.conn->processPendingRequest()) {
        it = watched_.find(id);
        if (it == watched_.end()) break;
      }
    } catch (const std::exception& e) {
      log_warning(std::string("Failed to read a watched bus connection: ") + e.what());
      it = watched_.find(id);
      if (it == watched_.end()) continue;
      Task on_lost = std::move(it->second.on_lost);
      watched_.erase(it);
      run_task(on_lost);
    }
  }
}

int EventLoop::run() {
  while (!quit_) {
    auto bus = bus_.getEventLoopPollData();
    std::vector<pollfd> fds = {{bus.fd, bus.events, 0}, {signal_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    uint64_t deadline_usec = bus.timeout_usec;
    std::vector<uint64_t> watched_ids;
    for (auto& [id, w] : watched_) {
      try {
        auto data = w.conn->getEventLoopPollData();
        fds.push_back({data.fd, data.events, 0});
        deadline_usec = std::min(deadline_usec, data.timeout_usec);
      } catch (const std::exception&) {
        // A dead connection: process_watched() finds out and drops it.
        deadline_usec = 0;
      }
      watched_ids.push_back(id);
    }
    int n = poll(fds.data(), fds.size(), poll_timeout_ms(deadline_usec));
    if (n < 0 && errno != EINTR) {
      log_error(std::string("Failed to wait for events: ") + std::strerror(errno));
      return 0;
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      if (read(signal_fd_, &info, sizeof info) == sizeof info) return static_cast<int>(info.ssi_signo);
    }
    // The bus is processed every round: its own timeouts (method call
    // deadlines) are due even when the fd is quiet.
    while (bus_.processPendingRequest()) {
    }
    process_watched(watched_ids);
    run_posted_tasks();
    run_due_timers();
  }
  return 0;
}

}  // namespace halod
