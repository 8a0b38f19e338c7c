#include "engine/backends/cpu/thread_pool.h"

#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#define HALO_CPU_RELAX() _mm_pause()
#else
#define HALO_CPU_RELAX() std::this_thread::yield()
#endif

namespace halo::cpu {
namespace {

// How long a thread waits actively for the next event before it blocks.
// Long enough to bridge the gap between the steps of one forward pass.
constexpr auto kSpinTime = std::chrono::microseconds(300);
// After this long the waiting thread yields between checks, so that on a
// busy machine the thread it waits for can run on this core.
constexpr auto kPureSpinTime = std::chrono::microseconds(20);

// Waits until pred() holds or the spin time runs out; returns pred().
template <class Pred>
bool spin_until(Pred pred) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 128; ++i) {
      if (pred()) return true;
      HALO_CPU_RELAX();
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    if (waited > kSpinTime) return pred();
    if (waited > kPureSpinTime) std::this_thread::yield();
  }
}

}  // namespace

ThreadPool::ThreadPool(unsigned n_threads) {
  if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
  n_threads_ = n_threads;
  for (unsigned i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::dispatch(void* fn, Trampoline call) {
  job_fn_ = fn;
  job_call_ = call;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  call(fn, 0, n_threads_);
  if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
    for (unsigned left; (left = pending_.load(std::memory_order_acquire)) != 0;)
      pending_.wait(left);
  }
}

void ThreadPool::worker(unsigned index) {
  uint64_t seen = 0;
  for (;;) {
    if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
      generation_.wait(seen, std::memory_order_acquire);
    }
    uint64_t now = generation_.load(std::memory_order_acquire);
    if (now == seen) continue;  // spurious wake-up
    seen = now;
    if (stop_.load()) return;
    job_call_(job_fn_, index, n_threads_);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace halo::cpu
