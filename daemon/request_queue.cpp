#include "daemon/request_queue.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "daemon/chat_request.h"
#include "daemon/errors.h"
#include "daemon/log.h"
#include "engine/backend/backend.h"
#include "engine/error.h"

namespace halod {

std::string_view request_state_name(RequestState s) {
  switch (s) {
    case RequestState::Queued: return "queued";
    case RequestState::Running: return "running";
    case RequestState::Done: return "done";
    case RequestState::Cancelled: return "cancelled";
  }
  return "done";
}

Request::~Request() {
  if (stream_fd >= 0) close(stream_fd);
}

namespace {

// Writes whole lines to a non-blocking stream. A client that stops reading
// only stalls its own request, and one that closes the stream (EPIPE, or
// POLLERR/POLLHUP while waiting) cancels it.
bool write_line(Request& r, const nlohmann::json& object) {
  if (r.stream_fd < 0) return !r.cancelled;
  // The engine's detokenizer yields valid UTF-8; replacing is a safety net
  // so a bad byte can never throw out of the worker.
  std::string line = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = write(r.stream_fd, line.data() + done, line.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return false;  // EPIPE: the reader is gone
    pollfd p{r.stream_fd, POLLOUT, 0};
    if (poll(&p, 1, 100) > 0 && (p.revents & (POLLERR | POLLHUP))) return false;
    if (r.cancelled && done == 0) return false;
  }
  return true;
}

void finish_stream(Request& r) {
  nlohmann::json done = {{"done", true},
                         {"reason", std::string(halo::stop_reason_name(r.stats.reason))},
                         {"prompt_tokens", r.stats.prompt_tokens},
                         {"cached_tokens", r.stats.cached_tokens},
                         {"generated_tokens", r.stats.generated_tokens},
                         {"prompt_tps", r.stats.prompt_tps()},
                         {"generate_tps", r.stats.generate_tps()}};
  if (!r.error.empty()) done["error"] = r.error;
  write_line(r, done);  // the result is in stats either way; a closed stream is fine here
}

}  // namespace

void run_generation(const halo::Model& model, halo::Runner& runner, halo::KvHistory& history, Request& r) {
  if (r.stream_fd >= 0) {
    // Non-blocking, so a stalled reader cannot pin the worker (see write_line).
    int flags = fcntl(r.stream_fd, F_GETFL);
    fcntl(r.stream_fd, F_SETFL, flags | O_NONBLOCK);
  }
  if (r.cancelled) {
    r.stats.reason = halo::StopReason::Cancelled;
  } else {
    try {
      halo::Session session(model, runner, &history);
      // Each piece of text as a line {"<key>": text, "token": N}.
      auto stream = [&r](const char* key, std::string& collected) {
        return [&r, key, &collected](std::string_view text, int32_t token) {
          if (r.cancelled) return false;
          if (r.collect_text) collected.append(text);
          if (!write_line(r, {{key, std::string(text)}, {"token", token}})) {
            r.cancelled = true;  // the client closed its stream
            return false;
          }
          return true;
        };
      };
      r.stats = r.chat ? generate_chat(model, session, runner.n_ctx(), r, stream("text", r.text),
                                       stream("reasoning", r.reasoning))
                       : session.generate(r.prompt, r.params, stream("text", r.text));
      if (r.cancelled) r.stats.reason = halo::StopReason::Cancelled;
    } catch (const std::exception& e) {
      r.stats.reason = halo::StopReason::Error;
      r.error = e.what();
    }
  }
  finish_stream(r);
  if (r.stream_fd >= 0) {
    close(r.stream_fd);
    r.stream_fd = -1;
  }
}

RequestQueue::RequestQueue(size_t limit, Work work, Notify on_start, Notify on_finish)
    : limit_(limit), work_(std::move(work)), on_start_(std::move(on_start)),
      on_finish_(std::move(on_finish)) {
  worker_ = std::thread([this] { worker_loop(); });
}

RequestQueue::~RequestQueue() { stop(); }

void RequestQueue::push(RequestPtr request) {
  std::lock_guard lock(mu_);
  if (stopping_) errors::fail(errors::kNotFound, "The model is being unloaded");
  if (n_waiting_ >= limit_)
    errors::fail(errors::kBusy, "The model's queue is full (" + std::to_string(limit_) +
                                    " requests waiting); try again when one has finished");
  auto& fifo = waiting_[request->sender];
  if (fifo.empty()) turn_.push_back(request->sender);
  fifo.push_back(std::move(request));
  ++n_waiting_;
  cv_.notify_one();
}

void RequestQueue::cancel_sender(const std::string& sender) {
  std::lock_guard lock(mu_);
  for (auto& [who, fifo] : waiting_)
    if (sender.empty() || who == sender)
      for (auto& r : fifo) r->cancelled = true;
  if (running_ && (sender.empty() || running_->sender == sender)) running_->cancelled = true;
}

void RequestQueue::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
  }
  cancel_sender("");
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

RequestPtr RequestQueue::pop_next_locked() {
  std::string sender = turn_.front();
  turn_.pop_front();
  auto& fifo = waiting_[sender];
  RequestPtr r = std::move(fifo.front());
  fifo.pop_front();
  if (fifo.empty())
    waiting_.erase(sender);
  else
    turn_.push_back(sender);  // its next request waits for everyone else's turn
  --n_waiting_;
  return r;
}

void RequestQueue::worker_loop() {
  for (;;) {
    RequestPtr r;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return n_waiting_ > 0 || stopping_; });
      if (n_waiting_ == 0) return;  // stopping, and every request has been answered
      r = pop_next_locked();
      running_ = r;
    }
    r->state = RequestState::Running;
    on_start_(r);
    work_(*r);
    r->state = r->stats.reason == halo::StopReason::Cancelled ? RequestState::Cancelled : RequestState::Done;
    {
      std::lock_guard lock(mu_);
      running_.reset();
    }
    on_finish_(r);
  }
}

}  // namespace halod
