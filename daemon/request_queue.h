// Generation requests: a bounded, fair queue per model served by one worker
// thread (a model's runner evaluates one sequence at a time), and the writer
// that streams each token to the client's file descriptor as one JSON object
// per line.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "engine/session/session.h"

namespace halo {
class Model;
class Runner;
}  // namespace halo

namespace halod {

struct ChatRequest;

enum class RequestState { Queued, Running, Done, Cancelled };
std::string_view request_state_name(RequestState s);  // "queued", "running", "done", "cancelled"

struct Request {
  Request() = default;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request();

  uint64_t id = 0;
  uint64_t model_id = 0;
  std::string sender;  // unique bus name of the caller; it alone may cancel
  std::string prompt;
  std::shared_ptr<const ChatRequest> chat;  // Chat, ChatText: the conversation instead of prompt
  halo::GenerateParams params;
  int stream_fd = -1;         // write end of the stream (owned), -1 for GenerateText
  bool collect_text = false;  // GenerateText: keep the whole text for the reply
  std::atomic<bool> cancelled{false};
  std::atomic<RequestState> state{RequestState::Queued};

  // Written by the worker before on_finish; read by the loop thread after.
  std::string text;
  std::string reasoning;  // ChatText: the answer's reasoning (templates with channels)
  halo::GenerateStats stats;
  std::string error;  // set when stats.reason is Error
};
using RequestPtr = std::shared_ptr<Request>;

// Runs one request to its end on the calling (worker) thread: generates with
// the model's runner (reusing what history says its KV cache holds), streams
// each token, and always finishes the stream with the {"done": true, ...}
// line. Never throws.
void run_generation(const halo::Model& model, halo::Runner& runner, halo::KvHistory& history, Request& request);

class RequestQueue {
 public:
  using Work = std::function<void(Request&)>;        // worker thread
  using Notify = std::function<void(RequestPtr)>;    // worker thread
  // limit: how many requests may wait (not counting the running one).
  RequestQueue(size_t limit, Work work, Notify on_start, Notify on_finish);
  ~RequestQueue();
  RequestQueue(const RequestQueue&) = delete;
  RequestQueue& operator=(const RequestQueue&) = delete;

  // Throws sdbus::Error(Busy) when the queue is full.
  void push(RequestPtr request);
  // Cancels the queued and running requests of one sender (empty: all).
  void cancel_sender(const std::string& sender);
  // Cancels everything and waits for the worker to finish its current request.
  void stop();

 private:
  void worker_loop();
  RequestPtr pop_next_locked();

  const size_t limit_;
  Work work_;
  Notify on_start_, on_finish_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Fairness: one FIFO per sender, served round-robin, so one client with
  // many requests cannot starve the others.
  std::map<std::string, std::deque<RequestPtr>> waiting_;
  std::deque<std::string> turn_;
  size_t n_waiting_ = 0;
  RequestPtr running_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace halod
