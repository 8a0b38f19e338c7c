// A small persistent thread pool for the CPU backend. One forward pass issues
// hundreds of short parallel steps, so workers spin briefly between steps
// (waking a sleeping thread costs more than a small matrix-vector product)
// and fall back to blocking waits when idle.
#pragma once
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace halo::cpu {

class ThreadPool {
 public:
  // n_threads counts the calling thread; 0 means all hardware threads.
  explicit ThreadPool(unsigned n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return n_threads_; }

  // Calls fn(thread_index, n_threads) once on every thread (the caller is
  // thread 0) and returns when all calls have returned. fn must not throw.
  template <class Fn>
  void run(Fn&& fn) {
    if (n_threads_ == 1) {
      fn(0u, 1u);
      return;
    }
    dispatch(&fn, [](void* f, unsigned i, unsigned n) { (*static_cast<Fn*>(f))(i, n); });
  }

  // Splits [0, n) into contiguous ranges, one per thread, and calls
  // fn(begin, end) for each non-empty range. A single item runs on the
  // caller without waking the workers.
  template <class Fn>
  void parallel_for(uint64_t n, Fn&& fn) {
    if (n <= 1) {
      if (n == 1) fn(uint64_t{0}, uint64_t{1});
      return;
    }
    run([&](unsigned i, unsigned t) {
      uint64_t begin = n * i / t, end = n * (i + 1) / t;
      if (begin < end) fn(begin, end);
    });
  }

 private:
  using Trampoline = void (*)(void*, unsigned, unsigned);
  void dispatch(void* fn, Trampoline call);
  void worker(unsigned index);

  unsigned n_threads_;
  std::vector<std::thread> workers_;
  void* job_fn_ = nullptr;
  Trampoline job_call_ = nullptr;
  std::atomic<uint64_t> generation_{0};  // bumped once per job
  std::atomic<unsigned> pending_{0};     // workers still running the current job
  std::atomic<bool> stop_{false};
};

}  // namespace halo::cpu
