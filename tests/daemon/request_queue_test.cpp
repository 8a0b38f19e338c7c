// The request queue without a model: fairness between clients, the bound,
// cancellation of queued and running requests.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sdbus-c++/Error.h>
#include <thread>

#include "daemon/request_queue.h"

namespace halod {
namespace {

using namespace std::chrono_literals;

RequestPtr make(const std::string& sender, uint64_t id) {
  auto r = std::make_shared<Request>();
  r->sender = sender;
  r->id = id;
  return r;
}

// Work that blocks until released, so tests can fill the queue behind it.
struct GatedWork {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::vector<uint64_t> order;
  std::vector<bool> saw_cancel;

  void run(Request& r) {
    std::unique_lock lock(mu);
    order.push_back(r.id);
    // Cancellation only sets a flag (as in the daemon), so poll for it.
    for (int i = 0; i < 1000 && !open && !r.cancelled; ++i) cv.wait_for(lock, 10ms);
    saw_cancel.push_back(r.cancelled);
    r.stats.reason = r.cancelled ? halo::StopReason::Cancelled : halo::StopReason::Stop;
  }
  void release() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

struct Finished {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RequestPtr> done;
  void add(RequestPtr r) {
    std::lock_guard lock(mu);
    done.push_back(std::move(r));
    cv.notify_all();
  }
  bool wait_for(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 10s, [&] { return done.size() >= n; });
  }
};

TEST(RequestQueue, ServesClientsRoundRobin) {
  GatedWork work;
  Finished finished;
  RequestQueue q(
      16, [&](Request& r) { work.run(r); }, [](RequestPtr) {}, [&](RequestPtr r) { finished.add(r); });
  q.push(make("A", 1));  // starts at once and waits at the gate
  std::this_thread::sleep_for(50ms);
  q.push(make("A", 2));
  q.push(make("A", 3));
  q.push(make("A", 4));
  q.push(make("B", 5));
  q.push(make("C", 6));
  work.release();
  ASSERT_TRUE(finished.wait_for(6));
  // A's backlog does not hold B and C back until it is done.
  EXPECT_EQ(work.order, (std::vector<uint64_t>{1, 2, 5, 6, 3, 4}));
}

TEST(RequestQueue, RefusesWithBusyWhenFull) {
  GatedWork work;
  Finished finished;
  RequestQueue q(
      2, [&](Request& r) { work.run(r); }, [](RequestPtr) {}, [&](RequestPtr r) { finished.add(r); });
  q.push(make("A", 1));
  std::this_thread::sleep_for(50ms);  // 1 is running, not waiting
  q.push(make("A", 2));
  q.push(make("B", 3));
  try {
    q.push(make("C", 4));
    FAIL() << "a third waiting request was accepted";
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), "org.halod.Halod1.Error.Busy");
  }
  work.release();
  ASSERT_TRUE(finished.wait_for(3));
}

TEST(RequestQueue, CancelsOneSendersQueuedAndRunningRequests) {
  GatedWork work;
  Finished finished;
  RequestQueue q(
      8, [&](Request& r) { work.run(r); }, [](RequestPtr) {}, [&](RequestPtr r) { finished.add(r); });
  q.push(make("A", 1));
  std::this_thread::sleep_for(50ms);
  q.push(make("B", 2));
  q.push(make("A", 3));
  q.cancel_sender("A");
  ASSERT_TRUE(finished.wait_for(1));  // 1 was cancelled while running; B's 2 now waits at the gate
  work.release();
  ASSERT_TRUE(finished.wait_for(3));
  for (auto& r : finished.done) {
    EXPECT_EQ(r->cancelled.load(), r->sender == "A") << r->id;
    EXPECT_EQ(r->state.load(), r->sender == "A" ? RequestState::Cancelled : RequestState::Done);
  }
}

TEST(RequestQueue, StopAnswersEveryRequestBeforeReturning) {
  GatedWork work;
  Finished finished;
  auto q = std::make_unique<RequestQueue>(
      8, [&](Request& r) { work.run(r); }, [](RequestPtr) {}, [&](RequestPtr r) { finished.add(r); });
  q->push(make("A", 1));
  q->push(make("B", 2));
  q->push(make("C", 3));
  q->stop();
  EXPECT_EQ(finished.done.size(), 3u);
  for (auto& r : finished.done) EXPECT_TRUE(r->cancelled);
  try {
    q->push(make("D", 4));
    FAIL();
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), "org.halod.Halod1.Error.NotFound");
  }
}

}  // namespace
}  // namespace halod
